"""Consent and privacy administration: a contact's consent section, the purposes, the suppression list,
and data-subject requests (export, erasure, rejection).

Everyone signed in reads; editors and admins act. Changes go through the consent services with the
signed-in person as the actor, behind the CSRF check every form of the app has, and are committed here
before the redirect (entry points commit, services never do).

Suppressions store no addresses, only salted hashes, so the list cannot show them; a typed address is
hashed the same way (suppression.hash_for) to find its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.api.deps import SessionDep
from pitboard.consent import ledger, suppression, tokens
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import load_purposes
from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.errors import PitboardError, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import ConsentPurpose, ConsentRecord, ConsentState, Contact, Suppression, User
from pitboard.models.consent import (
    CHANNELS,
    CONSENT_STATUSES,
    LAWFUL_BASES,
    PRIVACY_REQUEST_KINDS,
    PRIVACY_REQUEST_STATUSES,
    SUPPRESSION_REASONS,
)
from pitboard.privacy import export
from pitboard.privacy import requests as privacy_requests
from pitboard.privacy.masking import is_masked
from pitboard.settings import Settings
from pitboard.web import queries
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, form_text, web_actor
from pitboard.web.render import SECURITY_HEADERS, error_page, render, url_with

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
SUPPRESSION_STATES = ("active", "lifted", "all")
# Erasure suppressions are made by the erasure itself, with the request that caused it; not by hand.
MANUAL_REASONS = tuple(r for r in SUPPRESSION_REASONS if r != "erasure")


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _notice(value: str | None) -> str | None:
    return (value or "").strip()[:300] or None


# --- the contact page's consent section ----------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One channel of one purpose on a contact: not offered, a stored state, or no record yet."""

    applies: bool
    state: ConsentState | None = None
    default_on: bool = False


@dataclass(frozen=True)
class SuppressedAddress:
    address: str
    suppression: Suppression


@dataclass
class ConsentSection:
    channels: tuple[str, ...]
    grid: list[tuple[ConsentPurpose, list[Cell]]]
    history: list[ConsentRecord]
    suppressed: list[SuppressedAddress]
    purposes: list[ConsentPurpose]
    preferences_url: str | None
    can_write: bool
    notice: str | None
    error: str | None
    statuses: tuple[str, ...] = CONSENT_STATUSES
    bases: tuple[str, ...] = LAWFUL_BASES
    reasons: tuple[str, ...] = MANUAL_REASONS
    purpose_labels: dict[str, str] = field(default_factory=dict)


def _suppressed_addresses(session: Session, contact: Contact) -> list[SuppressedAddress]:
    return [SuppressedAddress(address, row) for address, row in suppression.of_contact(session, contact)]


def contact_consent(request: Request, session: Session, contact: Contact, user: User) -> ConsentSection:
    """Everything the contact page's consent section shows; the contact detail route calls this."""
    purposes = load_purposes(session)
    states = {(s.channel, s.purpose): s for s in ledger.states(session, contact.id)}
    grid = []
    for purpose in purposes.values():
        cells = [
            Cell(applies=channel in purpose.channels, state=states.get((channel, purpose.key)),
                 default_on=purpose.regime == "opt_out")
            for channel in CHANNELS
        ]  # fmt: skip
        # An inactive purpose stays visible while the contact has a state for it: the ledger still refers to it.
        if purpose.active or any(c.state for c in cells):
            grid.append((purpose, cells))
    writable = can_write(user)
    return ConsentSection(
        channels=CHANNELS,
        grid=grid,
        history=ledger.history(session, contact.id),
        suppressed=_suppressed_addresses(session, contact),
        purposes=[p for p in purposes.values() if p.active],
        # The link lets whoever holds it change this person's consent, so only those who may change it see it.
        preferences_url=tokens.preferences_url(_settings(request), contact_id=contact.id) if writable else None,
        can_write=writable,
        notice=_notice(request.query_params.get("consent_notice")),
        error=_notice(request.query_params.get("consent_error")),
        purpose_labels={k: p.label for k, p in purposes.items()},
    )


def _back_to_contact(contact_id: int, **params: str) -> Response:
    return RedirectResponse(url_with(f"/contacts/{contact_id}", **params) + "#consent", status_code=303)


@router.post("/contacts/{contact_id:int}/consent")
def record_consent(
    contact_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Recording consent needs the editor or admin role.")
    entry = ConsentEntry(
        channel=form_text(form, "channel"), purpose=form_text(form, "purpose"), status=form_text(form, "status"),
        lawful_basis=form_text(form, "lawful_basis") or "consent", source="admin",
        consent_text=form_text(form, "consent_text") or None,
    )  # fmt: skip
    try:
        ledger.record(session, contact_id=contact_id, entry=entry, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        if exc.status_code == 404:
            return error_page(request, 404, exc.message)
        return _back_to_contact(contact_id, consent_error=f"Not recorded: {exc.message}.")
    session.commit()
    return _back_to_contact(contact_id, consent_notice=f"Recorded {entry.purpose} by {entry.channel}: {entry.status}.")


@router.post("/contacts/{contact_id:int}/consent/suppress")
def suppress_contact_email(
    contact_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Suppressing an address needs the editor or admin role.")
    contact = session.get(Contact, contact_id)
    if contact is None:
        return error_page(request, 404, f"There is no contact {contact_id}.")
    if not contact.email:
        return _back_to_contact(contact_id, consent_error="This contact has no email address to suppress.")
    reason = form_text(form, "reason") or "manual"
    if reason not in MANUAL_REASONS:
        return _back_to_contact(contact_id, consent_error=f"Choose a reason: {', '.join(MANUAL_REASONS)}.")
    hashed = suppression.hash_for(session, "email", contact.email)
    if suppression.active_for(session, [hashed], "email"):
        return _back_to_contact(contact_id, consent_notice=f"{contact.email} was already suppressed for email.")
    suppression.suppress(
        session, channel="email", reason=reason, source="admin", actor=web_actor(user), hashed=hashed,
        contact_id=contact.id, note=form_text(form, "note") or None,
    )  # fmt: skip
    session.commit()
    return _back_to_contact(contact_id, consent_notice=f"{contact.email} is suppressed for email ({reason}).")


# --- purposes ------------------------------------------------------------------------------------


@router.get("/consent")
def purposes_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    purposes = load_purposes(session)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    stmt = select(ConsentState.purpose, ConsentState.channel, ConsentState.status, func.count()).group_by(
        ConsentState.purpose, ConsentState.channel, ConsentState.status
    )
    for purpose, channel, status, n in session.execute(stmt):
        counts.setdefault((purpose, channel), {})[status] = n
    context = {"nav": "consent", "tab": "purposes", "purposes": list(purposes.values()), "counts": counts,
               "statuses": CONSENT_STATUSES, "policy_version": ledger.current_policy_version(session)}  # fmt: skip
    return render(request, "consent/purposes.html", context)


# --- suppressions --------------------------------------------------------------------------------


def _search_hash(session: Session, query: str) -> str:
    """The hash a typed address is stored under: emails in one space, phone numbers (sms and phone) in another."""
    return suppression.hash_for(session, "email" if "@" in query else "sms", query)


def _suppressions_page(
    request: Request,
    session: Session,
    *,
    channel: str | None = None,
    reason: str | None = None,
    state: str = "active",
    q: str | None = None,
    before: int | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    stmt = select(Suppression)
    if channel:
        stmt = stmt.where(Suppression.channel == channel)
    if reason:
        stmt = stmt.where(Suppression.reason == reason)
    if state == "active":
        stmt = stmt.where(Suppression.lifted_at.is_(None))
    elif state == "lifted":
        stmt = stmt.where(Suppression.lifted_at.is_not(None))
    if q:
        stmt = stmt.where(Suppression.subject_hash == _search_hash(session, q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    # Keyset by id, newest first: as fast on page 1,000 as on page 1.
    page_stmt = stmt.where(Suppression.id < before) if before else stmt
    rows = list(session.scalars(page_stmt.order_by(Suppression.id.desc()).limit(PAGE_SIZE + 1)))
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    params: dict[str, Any] = {"channel": channel, "reason": reason, "state": state, "q": q}
    context = {
        "nav": "consent", "tab": "suppressions", "rows": rows, "total": total, "params": params,
        "channels": CHANNELS, "reasons": SUPPRESSION_REASONS, "manual_reasons": MANUAL_REASONS,
        "states": SUPPRESSION_STATES, "contact_names": queries.contact_names(session, (r.contact_id for r in rows)),
        "is_first_page": before is None, "first_url": url_with("/consent/suppressions", **params),
        "next_url": url_with("/consent/suppressions", **params, before=rows[-1].id) if more else None,
        "notice": notice, "error": error,
    }  # fmt: skip
    return render(request, "consent/suppressions.html", context, status_code=status_code)


@router.get("/consent/suppressions")
def suppression_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    channel: str | None = None,
    reason: str | None = None,
    state: str | None = None,
    q: str | None = None,
    before: str | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    return _suppressions_page(
        request, session, channel=_choice(channel, CHANNELS), reason=_choice(reason, SUPPRESSION_REASONS),
        state=_choice(state, SUPPRESSION_STATES) or "active", q=(q or "").strip()[:320] or None,
        before=int(before) if before and before.isdigit() and len(before) < 19 else None,
        notice=_notice(notice), error=_notice(error),
    )  # fmt: skip


def _checked_address(channel: str, address: str) -> str:
    """The address as it will be hashed, after the same syntax check as every other write path."""
    if channel == "email":
        try:
            return normalize_email(address)
        except InvalidEmail as exc:
            raise ValidationFailed(f"{address!r} is not an email address: {exc}") from exc
    if sum(ch.isdigit() for ch in address) < 6:
        raise ValidationFailed(f"{address!r} is not a phone number")
    return address


def _suppressions_back(**params: str) -> Response:
    return RedirectResponse(url_with("/consent/suppressions", **params), status_code=303)


@router.post("/consent/suppressions")
def suppression_add(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Adding a suppression needs the editor or admin role.")
    channel, reason = form_text(form, "channel"), form_text(form, "reason") or "manual"
    try:
        if channel not in CHANNELS:
            raise ValidationFailed(f"choose a channel: {', '.join(CHANNELS)}")
        if reason not in MANUAL_REASONS:
            raise ValidationFailed(f"choose a reason: {', '.join(MANUAL_REASONS)}")
        address = _checked_address(channel, form_text(form, "address", 320))
        hashed = suppression.hash_for(session, channel, address)
        if suppression.active_for(session, [hashed], channel):
            return _suppressions_back(notice=f"That address was already suppressed for {channel}.")
        contact_id = (
            session.scalar(select(Contact.id).where(Contact.email_normalized == address).order_by(Contact.id))
            if channel == "email"
            else None
        )
        suppression.suppress(
            session, channel=channel, reason=reason, source="admin", actor=web_actor(user), hashed=hashed,
            contact_id=contact_id, note=form_text(form, "note") or None,
        )  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return _suppressions_page(request, session, error=f"Not added: {exc.message}.", status_code=exc.status_code)
    session.commit()
    return _suppressions_back(notice=f"Suppressed for {channel} ({reason}).")


@router.post("/consent/suppressions/{suppression_id:int}/lift")
def suppression_lift(
    suppression_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Lifting a suppression needs the editor or admin role.")
    try:
        row = suppression.lift(
            session, suppression_id=suppression_id, reason=form_text(form, "reason"), actor=web_actor(user)
        )
    except PitboardError as exc:
        session.rollback()
        if exc.status_code == 404:
            return error_page(request, 404, exc.message)
        return _suppressions_page(request, session, error=f"Not lifted: {exc.message}.", state="all",
                                  status_code=exc.status_code)  # fmt: skip
    session.commit()
    return _suppressions_back(notice=f"Suppression {row.id} lifted.", state="all")


# --- data-subject requests -----------------------------------------------------------------------
# Opening a request needs the editor role; answering one (export, erasure, rejection) needs an admin, as
# the privacy services themselves require (they raise Forbidden otherwise).

REQUEST_LIMIT = 500


def _privacy_back(request_id: int | None = None, **params: str) -> Response:
    target = f"/privacy/requests/{request_id}" if request_id is not None else "/privacy/requests"
    return RedirectResponse(url_with(target, **params), status_code=303)


def _received_on(value: str) -> datetime | None:
    """A date typed into the form (a letter logged days after it arrived) as the start of that UTC day."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"received on must be a date like 2024-05-31, not {value!r}") from exc
    return datetime.combine(day, time.min, tzinfo=UTC)


def _requests_page(
    request: Request,
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    overdue: bool | None = None,
    notice: str | None = None,
    error: str | None = None,
    draft: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = privacy_requests.list_requests(session, status, kind, overdue=overdue, limit=REQUEST_LIMIT)
    now = utcnow()
    context = {
        "nav": "privacy", "rows": rows, "overdue": {r.id for r in rows if privacy_requests.is_overdue(r, now)},
        "params": {"status": status, "kind": kind, "overdue": "yes" if overdue else None},
        "statuses": PRIVACY_REQUEST_STATUSES, "kinds": PRIVACY_REQUEST_KINDS, "limit": REQUEST_LIMIT,
        "notice": notice, "error": error, "draft": draft or {"kind": "export", "email": "", "notes": "",
                                                              "received_on": ""},
        "due_days": _settings(request).privacy_request_due_days,
    }  # fmt: skip
    return render(request, "consent/privacy_list.html", context, status_code=status_code)


@router.get("/privacy/requests")
def privacy_request_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    status: str | None = None,
    kind: str | None = None,
    overdue: str | None = None,
    notice: str | None = None,
) -> Response:
    return _requests_page(
        request, session, status=_choice(status, PRIVACY_REQUEST_STATUSES), kind=_choice(kind, PRIVACY_REQUEST_KINDS),
        overdue=True if overdue == "yes" else None, notice=_notice(notice),
    )  # fmt: skip


@router.post("/privacy/requests")
def privacy_request_open(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Recording a request needs the editor or admin role.")
    draft = {name: form_text(form, name, 2000) for name in ("kind", "email", "notes", "received_on")}
    try:
        opened = privacy_requests.open_request(
            session, kind=draft["kind"], email=draft["email"], actor=web_actor(user), settings=_settings(request),
            notes=draft["notes"] or None, received_at=_received_on(draft["received_on"]),
        )  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return _requests_page(request, session, error=f"Not recorded: {exc.message}.", draft=draft,
                              status_code=exc.status_code)  # fmt: skip
    session.commit()
    return _privacy_back(opened.id, notice=f"Request {opened.id} recorded; it is due {opened.due_at:%d %b %Y}.")


def _request_page(
    request: Request, session: Session, request_id: int, *, notice: str | None = None, error: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    try:
        row = privacy_requests.get_request(session, request_id)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    context = {
        "nav": "privacy", "row": row, "is_overdue": privacy_requests.is_overdue(row),
        "contact_names": queries.contact_names(session, [row.contact_id]), "notice": notice, "error": error,
    }  # fmt: skip
    return render(request, "consent/privacy_detail.html", context, status_code=status_code)


@router.get("/privacy/requests/{request_id:int}")
def privacy_request_detail(
    request_id: int, request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None
) -> Response:
    return _request_page(request, session, request_id, notice=_notice(notice))


def _failed(request: Request, session: Session, request_id: int, exc: PitboardError) -> Response:
    session.rollback()
    if exc.status_code in (403, 404):
        return error_page(request, exc.status_code, exc.message)
    return _request_page(request, session, request_id, error=exc.message, status_code=exc.status_code)


@router.post("/privacy/requests/{request_id:int}/export")
def privacy_request_export(
    request_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    del form  # checked for its CSRF token; it carries nothing else
    try:
        document = privacy_requests.complete_export(session, request_id=request_id, actor=web_actor(user))
    except PitboardError as exc:
        return _failed(request, session, request_id, exc)
    # Committed before the file leaves: the request is answered with exactly these bytes, whose hash it records.
    session.commit()
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="privacy-request-{request_id}-export.json"',
    }
    return Response(export.document_bytes(document), media_type="application/json", headers=headers)


def _same_address(typed: str, label: str) -> bool:
    """The erasure form's confirmation: the address typed again (the masked label, once it is masked)."""
    if is_masked(label):
        return typed.strip() == label.strip()
    try:
        return normalize_email(typed) == normalize_email(label)
    except InvalidEmail:
        return False


@router.post("/privacy/requests/{request_id:int}/erase")
def privacy_request_erase(
    request_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if user.role != "admin":
        return error_page(request, 403, "Erasing a person's data needs the admin role.")
    try:
        row = privacy_requests.get_request(session, request_id)
        if not _same_address(form_text(form, "confirm_email", 320), row.subject_label):
            raise ValidationFailed("type the request's email address again to confirm the erasure; nothing was erased")
        result = privacy_requests.complete_erasure(session, request_id=request_id, actor=web_actor(user))
    except PitboardError as exc:
        return _failed(request, session, request_id, exc)
    session.commit()
    erased = "no data was held" if result.no_data_held else f"{len(result.contact_ids)} contact(s) erased"
    return _privacy_back(request_id, notice=f"Erasure completed: {erased}.")


@router.post("/privacy/requests/{request_id:int}/reject")
def privacy_request_reject(
    request_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    try:
        privacy_requests.reject(session, request_id=request_id, reason=form_text(form, "reason"), actor=web_actor(user))
    except PitboardError as exc:
        return _failed(request, session, request_id, exc)
    session.commit()
    return _privacy_back(request_id, notice="Request rejected.")
