"""REST routes for consent, suppression, the send check and audience export."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit
from pitboard.consent import audience, choices, gate, ledger, suppression, tokens
from pitboard.consent.purposes import load_purposes
from pitboard.consent.schemas import (
    AudienceExportIn,
    ConsentIn,
    ConsentOutcomeOut,
    ConsentRecordOut,
    ConsentStateOut,
    ContactConsentOut,
    LiftIn,
    PurposeOut,
    SuppressionIn,
    SuppressionOut,
    UnsubscribeIn,
    VerdictOut,
)
from pitboard.contacts.identities import contact_id_for_email
from pitboard.kit.crud import get_or_404
from pitboard.kit.emails import InvalidEmail
from pitboard.models import Contact, Suppression
from pitboard.settings import Settings

router = APIRouter()


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _outcome(outcome: choices.Outcome) -> ConsentOutcomeOut:
    return ConsentOutcomeOut(
        records=[ConsentRecordOut.model_validate(r) for r in outcome.records],
        confirmation_message_id=outcome.confirmation_message_id,
        notes=outcome.notes,
    )


@router.get("/consent/purposes", response_model=list[PurposeOut], tags=["consent"])
def list_purposes(session: SessionDep, actor: ActorDep) -> list[PurposeOut]:
    actor.require("viewer")
    return [PurposeOut.model_validate(p) for p in load_purposes(session).values()]


@router.get("/contacts/{contact_id}/consent", response_model=ContactConsentOut, tags=["consent"])
def contact_consent(contact_id: int, session: SessionDep, actor: ActorDep) -> ContactConsentOut:
    actor.require("viewer")
    contact = get_or_404(session, Contact, contact_id, "contact")
    return ContactConsentOut(
        contact_id=contact_id,
        states=[ConsentStateOut.model_validate(s) for s in ledger.states(session, contact_id)],
        history=[ConsentRecordOut.model_validate(r) for r in ledger.history(session, contact_id)],
        suppressions=[SuppressionOut.model_validate(row) for _, row in suppression.of_contact(session, contact)],
    )


@router.post("/contacts/{contact_id}/consent", response_model=ConsentOutcomeOut, status_code=201, tags=["consent"])
def record_consent(
    contact_id: int, body: ConsentIn, request: Request, session: SessionDep, actor: ActorDep
) -> ConsentOutcomeOut:
    """Append consent entries to the ledger. Email grants for double opt-in purposes from a form or the API
    are recorded as pending and a confirmation email is queued, unless ``confirmed`` is true."""
    actor.require("editor")
    get_or_404(session, Contact, contact_id, "contact")
    outcome = choices.give(session, contact_id=contact_id, entries=[e.to_entry() for e in body.entries],
                           actor=actor, settings=_settings(request), confirmed=body.confirmed)  # fmt: skip
    return _outcome(outcome)


@router.post("/contacts/{contact_id}/unsubscribe", response_model=ConsentOutcomeOut, tags=["consent"])
def unsubscribe_contact(
    contact_id: int, body: UnsubscribeIn, session: SessionDep, actor: ActorDep
) -> ConsentOutcomeOut:
    """Withdraw email consent for one purpose, or unsubscribe from all email (which also suppresses)."""
    actor.require("editor")
    get_or_404(session, Contact, contact_id, "contact")
    outcome = choices.unsubscribe(session, contact_id=contact_id, purpose=body.purpose, ip_address=None,
                                  user_agent=None, evidence={"by": actor.name})  # fmt: skip
    return _outcome(outcome)


@router.post("/contacts/{contact_id}/preference-link", tags=["consent"])
def preference_link(contact_id: int, request: Request, session: SessionDep, actor: ActorDep) -> dict[str, str]:
    """A signed preference-centre link for this contact (to send them, or to put in a footer)."""
    actor.require("editor")
    get_or_404(session, Contact, contact_id, "contact")
    return {"url": tokens.preferences_url(_settings(request), contact_id=contact_id)}


@router.get("/consent/check", response_model=VerdictOut, tags=["consent"])
def check_contact(
    session: SessionDep,
    actor: ActorDep,
    contact_id: int,
    channel: str = "email",
    purpose: str | None = None,
    kind: str = "marketing",
) -> VerdictOut:
    """Would pitboard send this contact this kind of message? The same check every send makes."""
    actor.require("viewer")
    get_or_404(session, Contact, contact_id, "contact")
    verdict = gate.check(session, contact_id=contact_id, channel=channel, purpose=purpose, kind=kind)
    return VerdictOut(contact_id=contact_id, allowed=verdict.allowed, reason=verdict.reason)


@router.get("/suppressions", response_model=list[SuppressionOut], tags=["consent"])
def list_suppressions(
    session: SessionDep,
    actor: ActorDep,
    channel: str | None = None,
    reason: str | None = None,
    active: bool = True,
    address: str | None = Query(default=None, description="Find one address (matched by its hash)"),
    before_id: int | None = None,
    limit: int = Depends(Limit()),
) -> list[SuppressionOut]:
    actor.require("viewer")
    query = select(Suppression).order_by(Suppression.id.desc()).limit(limit)
    if channel:
        query = query.where(Suppression.channel == channel)
    if reason:
        query = query.where(Suppression.reason == reason)
    query = query.where(Suppression.lifted_at.is_(None) if active else Suppression.lifted_at.is_not(None))
    if address:
        hashes = {suppression.hash_for(session, ch, address) for ch in (channel,) if ch} or {
            suppression.hash_for(session, "email", address),
            suppression.hash_for(session, "sms", address),
        }
        query = query.where(Suppression.subject_hash.in_(hashes))
    if before_id is not None:
        query = query.where(Suppression.id < before_id)
    return [SuppressionOut.model_validate(s) for s in session.scalars(query)]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201, tags=["consent"])
def add_suppression(body: SuppressionIn, session: SessionDep, actor: ActorDep) -> SuppressionOut:
    """Suppress an address: bounce and complaint feeds post here. Posting the same address again is a no-op."""
    actor.require("editor")
    contact_id = _contact_for(session, body.address, body.channel)
    row = suppression.suppress(session, channel=body.channel, reason=body.reason, source=body.source, actor=actor,
                               address=body.address, contact_id=contact_id, note=body.note)  # fmt: skip
    return SuppressionOut.model_validate(row)


def _contact_for(session: SessionDep, address: str, channel: str) -> int | None:
    if channel != "email":
        return None
    try:
        return contact_id_for_email(session, address)
    except InvalidEmail:
        return None


@router.post("/suppressions/{suppression_id}/lift", response_model=SuppressionOut, tags=["consent"])
def lift_suppression(suppression_id: int, body: LiftIn, session: SessionDep, actor: ActorDep) -> SuppressionOut:
    """Lift a suppression (admins only: a lifted complaint can cost the sending domain its reputation)."""
    actor.require("admin")
    return SuppressionOut.model_validate(
        suppression.lift(session, suppression_id=suppression_id, reason=body.reason, actor=actor)
    )


@router.post("/audiences/export", tags=["consent"])
def export_audience(body: AudienceExportIn, session: SessionDep, actor: ActorDep) -> StreamingResponse:
    """CSV of the selected contacts that may be contacted on the channel for the purpose. Who was left out
    and why comes back in the ``X-Pitboard-Excluded`` header (JSON: reason → count)."""
    actor.require("editor")
    contacts = audience.selection(contact_ids=body.contact_ids, lifecycle_stage=body.lifecycle_stage,
                                  country=body.country, account_id=body.account_id)  # fmt: skip
    # Spool to a temporary file: the request's transaction ends before a streamed body would be read.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115
    summary = audience.write_csv(session, spool, contacts=contacts, channel=body.channel, purpose=body.purpose,
                                 actor=actor)  # fmt: skip
    spool.seek(0)

    def chunks() -> Iterator[str]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    headers = {
        "Content-Disposition": f'attachment; filename="audience-{body.purpose}-{body.channel}.csv"',
        "X-Pitboard-Included": str(summary.included),
        "X-Pitboard-Excluded": json.dumps(dict(summary.excluded), sort_keys=True),
    }
    return StreamingResponse(chunks(), media_type="text/csv", headers=headers)
