"""Public consent pages: double opt-in confirmation, the preference centre and unsubscribe.

Nobody logs in here. The signed, timestamped token in the URL (consent/tokens.py) is the authority: it
names the contact, it cannot be forged or altered, and each kind has its own signing salt, so a
preference link cannot be replayed as a confirmation or unsubscribe link (it fails the signature check).

These pages never touch the login session: they render without the app's menu or a CSRF token, so
opening a link from an email sets no cookie. Every change is appended to the consent ledger with the
visitor's IP address and user agent as evidence, and committed here (entry points commit, services never do).

GET never changes anything: mail scanners and link previewers fetch every link in a message, so a
confirmation or unsubscribe that happened on GET would be done by a machine, not the person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse

from pitboard.api.deps import SessionDep
from pitboard.consent import choices, ledger, tokens
from pitboard.consent.purposes import load_purposes
from pitboard.consent.suppression import SELF_LIFTABLE_REASONS, active_for
from pitboard.kit.errors import NotFound, PitboardError, ValidationFailed
from pitboard.models import ConsentPurpose, ConsentRecord, Contact
from pitboard.models.consent import CHANNELS
from pitboard.settings import Settings
from pitboard.web.render import SECURITY_HEADERS, TEMPLATES

router = APIRouter(include_in_schema=False)

# The token in the path is a credential: no Referer may carry it anywhere, and search engines keep out.
PUBLIC_HEADERS = {**SECURITY_HEADERS, "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
CHANNEL_LABELS = {"email": "Email", "sms": "Text messages (SMS)", "phone": "Phone calls"}
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


async def _form(request: Request) -> FormData:
    return await request.form()


# No CSRF check on the POSTs below, on purpose. CSRF abuses a credential the browser adds by itself (a
# session cookie); here the only credential is the unguessable signed token in the URL, which a forging
# site would have to know already, and anyone who knows it can post to us directly anyway. RFC 8058
# one-click requests come from mail providers without cookies, so a session-bound token could not work
# for them. Unsubscribing only ever reduces contact, and saving preferences needs the same token.
PublicForm = Annotated[FormData, Depends(_form)]


@dataclass(frozen=True)
class Choice:
    """One checkbox of the preference centre: a purpose on a channel, ticked when we may contact them."""

    channel: str
    purpose: ConsentPurpose
    checked: bool

    @property
    def name(self) -> str:
        return f"{self.channel}:{self.purpose.key}"


# --- helpers -------------------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code, headers=PUBLIC_HEADERS)


def _client(request: Request) -> tuple[str | None, str | None]:
    """The evidence of who acted: the client's address and browser, as the ledger records them."""
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")


def _contact_id(payload: dict[str, Any]) -> int:
    value = payload.get("c")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("this link is not valid")
    return value


def _contact(session: Session, payload: dict[str, Any]) -> Contact:
    return choices.resolve_contact(session, _contact_id(payload))


def _path(url: str) -> str:
    """The path of a link made for emails: the page links it relative to wherever it is served."""
    return urlsplit(url).path


def _preferences_path(request: Request, contact_id: int) -> str:
    return _path(tokens.preferences_url(_settings(request), contact_id=contact_id))


def _mask(email: str | None) -> str | None:
    """a***@example.com: enough for people to recognise their address, little for whoever sees a forwarded link."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _problem(request: Request, kind: str, exc: PitboardError) -> HTMLResponse:
    if isinstance(exc, tokens.LinkExpired):
        status, title = 410, "This link has expired"
        if kind == "double_opt_in":
            hours = _settings(request).double_opt_in_max_age_hours
            message = f"Confirmation links work for {hours} hours. Sign up again and we will send you a new one."
        else:
            message = "Use the link in a more recent email from us, or reply to any of our emails to ask."
    elif isinstance(exc, NotFound):
        status, title = 404, "We hold no data about you"
        message = "There is nothing to manage for this link: we no longer hold any data about you."
    else:
        status, title = 400, "This link is not valid"
        message = "It may have been cut off or changed. Copy the whole link from the email and try again."
    context = {"title": title, "message": message, "detail": exc.message if status == 400 else None}
    return _page(request, "public/problem.html", context, status_code=status)


# --- double opt-in -------------------------------------------------------------------------------


def _pending_records(session: Session, payload: dict[str, Any]) -> list[ConsentRecord]:
    raw = payload.get("r")
    if not isinstance(raw, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in raw):
        raise ValidationFailed("this link is not valid")
    if not raw:
        return []
    rows = session.scalars(select(ConsentRecord).where(ConsentRecord.id.in_(raw)).order_by(ConsentRecord.id))
    return list(rows)


def _labels(session: Session, keys: Iterable[str]) -> list[str]:
    purposes = load_purposes(session)
    labels = [purposes[k].label if k in purposes else k for k in keys]
    return list(dict.fromkeys(labels))


@router.get("/consent/confirm/{token}")
def confirm_form(request: Request, token: str, session: SessionDep) -> Response:
    try:
        payload = tokens.read_token(_settings(request), "double_opt_in", token)
        _contact(session, payload)
        pending = _pending_records(session, payload)
    except PitboardError as exc:
        return _problem(request, "double_opt_in", exc)
    context = {"token": token, "purposes": _labels(session, (r.purpose for r in pending))}
    return _page(request, "public/confirm.html", context)


@router.post("/consent/confirm/{token}")
def confirm_submit(request: Request, token: str, session: SessionDep) -> Response:
    ip, user_agent = _client(request)
    try:
        payload = tokens.read_token(_settings(request), "double_opt_in", token)
        contact = _contact(session, payload)
        pending = _pending_records(session, payload)
        outcome = choices.confirm(session, token_payload=payload, ip_address=ip, user_agent=user_agent)
    except PitboardError as exc:
        session.rollback()
        return _problem(request, "double_opt_in", exc)
    # Sort each purpose the link named into what this click did, by the state it leaves behind.
    confirmed = {(r.channel, r.purpose) for r in outcome.records}
    states = {(s.channel, s.purpose): s for s in ledger.states(session, contact.id)}
    already, changed = [], []
    for rec in pending:
        key = (rec.channel, rec.purpose)
        if key in confirmed:
            continue
        state = states.get(key)
        if state is not None and state.status == "granted" and state.source == "double_opt_in":
            already.append(rec.purpose)
        else:
            changed.append(rec.purpose)
    session.commit()
    context = {
        "confirmed": _labels(session, (p for _, p in sorted(confirmed))),
        "already": _labels(session, already),
        "changed": _labels(session, changed),
        "preferences_path": _preferences_path(request, contact.id),
    }
    return _page(request, "public/confirmed.html", context)


# --- preference centre ---------------------------------------------------------------------------


def _channels(contact: Contact) -> list[str]:
    """Email always (the link came by email); phone channels only for a contact we have a number for."""
    return [c for c in CHANNELS if c == "email" or contact.phone]


def _choices(session: Session, contact: Contact) -> list[Choice]:
    purposes = load_purposes(session)
    current = {(s.channel, s.purpose): s.status for s in ledger.states(session, contact.id)}
    found = []
    for channel in _channels(contact):
        for purpose in purposes.values():
            if not purpose.active or channel not in purpose.channels:
                continue
            status = current.get((channel, purpose.key))
            # The same rule as choices.set_preferences: no record means "on" only for opt-out purposes.
            checked = status == "granted" if status is not None else purpose.regime == "opt_out"
            found.append(Choice(channel, purpose, checked))
    return found


def _email_block(session: Session, contact: Contact) -> str | None:
    """Why marketing email cannot reach the contact right now: 'unsubscribed', 'blocked', or None."""
    rows = active_for(session, choices.email_hashes(session, contact), "email").values()
    reasons = {r.reason for r in rows}
    if not reasons:
        return None
    return "unsubscribed" if reasons <= SELF_LIFTABLE_REASONS else "blocked"


def _preferences_page(
    request: Request, session: Session, contact: Contact, token: str, changes: list[ConsentRecord] | None = None
) -> HTMLResponse:
    found = _choices(session, contact)
    purposes = load_purposes(session)
    groups = [(CHANNEL_LABELS[c], [ch for ch in found if ch.channel == c]) for c in _channels(contact)]
    context = {
        "token": token,
        "groups": [(label, items) for label, items in groups if items],
        "email": _mask(contact.email),
        "email_block": _email_block(session, contact),
        "saved": changes is not None,
        "changes": [
            (purposes[r.purpose].label if r.purpose in purposes else r.purpose, CHANNEL_LABELS[r.channel], r.status)
            for r in changes or []
        ],
    }
    return _page(request, "public/preferences.html", context)


@router.get("/preferences/{token}")
def preferences_form(request: Request, token: str, session: SessionDep) -> Response:
    try:
        payload = tokens.read_token(_settings(request), "preferences", token)
        contact = _contact(session, payload)
    except PitboardError as exc:
        return _problem(request, "preferences", exc)
    return _preferences_page(request, session, contact, token)


@router.post("/preferences/{token}")
def preferences_save(request: Request, token: str, session: SessionDep, form: PublicForm) -> Response:
    ip, user_agent = _client(request)
    try:
        payload = tokens.read_token(_settings(request), "preferences", token)
        contact = _contact(session, payload)
        # Only the choices the form showed are applied: a purpose added since the page was loaded was not
        # seen, so leaving its unsent checkbox out must not read as "no".
        shown = {v for v in form.getlist("shown") if isinstance(v, str)}
        ticked = {v for v in form.getlist("choice") if isinstance(v, str)}
        all_off = form.get("unsubscribe_all") == "yes"
        wanted = {
            (c.channel, c.purpose.key): c.name in ticked and not (all_off and c.channel == "email")
            for c in _choices(session, contact)
            if c.name in shown
        }
        changes = choices.set_preferences(
            session, contact_id=contact.id, wanted=wanted, ip_address=ip, user_agent=user_agent
        ).records
        if all_off:
            changes += choices.unsubscribe(
                session, contact_id=contact.id, purpose=None, ip_address=ip, user_agent=user_agent,
                evidence={"method": "preference_page"},
            ).records  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return _problem(request, "preferences", exc)
    session.commit()
    return _preferences_page(request, session, contact, token, changes=changes)


# --- unsubscribe ---------------------------------------------------------------------------------


def _unsubscribe_target(session: Session, payload: dict[str, Any]) -> ConsentPurpose | None:
    """The purpose an unsubscribe link is for; None means every marketing email."""
    key = payload.get("p")
    if key is None:
        return None
    purposes = load_purposes(session)
    if not isinstance(key, str) or key not in purposes:
        raise ValidationFailed("this link is not valid")
    return purposes[key]


@router.get("/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str, session: SessionDep) -> Response:
    try:
        payload = tokens.read_token(_settings(request), "unsubscribe", token)
        contact = _contact(session, payload)
        purpose = _unsubscribe_target(session, payload)
    except PitboardError as exc:
        return _problem(request, "unsubscribe", exc)
    context = {
        "token": token,
        "purpose": purpose,
        "email": _mask(contact.email),
        "done": False,
        "preferences_path": _preferences_path(request, contact.id),
    }
    return _page(request, "public/unsubscribe.html", context)


@router.post("/unsubscribe/{token}")
def unsubscribe_submit(request: Request, token: str, session: SessionDep, form: PublicForm) -> Response:
    """RFC 8058: a mail client's one-click POST (body ``List-Unsubscribe=One-Click``, no cookies) gets a
    short plain-text answer; the page's own button gets the confirmation page. Both do the same, and
    repeating either records nothing new."""
    one_click = form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    ip, user_agent = _client(request)
    try:
        payload = tokens.read_token(_settings(request), "unsubscribe", token)
        contact = _contact(session, payload)
        purpose = _unsubscribe_target(session, payload)
        message_id = payload.get("m")
        choices.unsubscribe(
            session, contact_id=contact.id, purpose=purpose.key if purpose else None, ip_address=ip,
            user_agent=user_agent, evidence={"method": "one_click" if one_click else "page", "message_id": message_id},
        )  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        if one_click:
            status = 410 if isinstance(exc, tokens.LinkExpired) else 404 if isinstance(exc, NotFound) else 400
            return PlainTextResponse(f"Not unsubscribed: {exc.message}.\n", status_code=status, headers=PUBLIC_HEADERS)
        return _problem(request, "unsubscribe", exc)
    session.commit()
    if one_click:
        return PlainTextResponse("Unsubscribed.\n", headers=PUBLIC_HEADERS)
    context = {
        "token": token,
        "purpose": purpose,
        "email": _mask(contact.email),
        "done": True,
        "preferences_path": _preferences_path(request, contact.id),
    }
    return _page(request, "public/unsubscribe.html", context)
