"""The consent ledger: append a record, derive the current state, read the history.

Every change of consent is a new :class:`ConsentRecord`; nothing is updated in place (database triggers
refuse it). ``consent_states`` holds the latest record per contact, channel and purpose and is maintained
in the same transaction as the append. "Latest" means the newest ``occurred_at`` (ties: the later record),
so a late-arriving import of an old opt-in cannot overturn a newer withdrawal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.consent.purposes import get_purpose
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import ConsentRecord, ConsentState, Contact, SystemSetting
from pitboard.models.consent import CONSENT_SOURCES, CONSENT_STATUSES, LAWFUL_BASES

POLICY_VERSION_KEY = "privacy_policy_version"
# Clients' clocks drift; a record more than this far in the future is a mistake, not a clock.
_MAX_FUTURE = timedelta(minutes=5)


@dataclass(frozen=True)
class ConsentEntry:
    """What a caller asserts: a status for a channel and purpose, with the evidence of how it was given."""

    channel: str
    purpose: str
    status: str
    source: str
    lawful_basis: str = "consent"
    consent_text: str | None = None
    policy_version: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    occurred_at: datetime | None = None
    evidence: dict[str, Any] | None = None
    idempotency_key: str | None = None


def current_policy_version(session: Session) -> str | None:
    value = session.scalar(select(SystemSetting.value).where(SystemSetting.key == POLICY_VERSION_KEY))
    return None if value is None else str(value)


def record(session: Session, *, contact_id: int, entry: ConsentEntry, actor: Actor) -> ConsentRecord:
    """Append one entry to the ledger and bring the contact's current state up to date.

    With an idempotency key, a retried call returns the first record instead of appending a second.
    """
    if entry.idempotency_key:
        existing = session.scalar(select(ConsentRecord).where(ConsentRecord.idempotency_key == entry.idempotency_key))
        if existing is not None:
            return existing
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} does not exist")
    evidence = dict(entry.evidence or {})
    consent_text = _check(session, entry, evidence)
    now = utcnow()
    occurred = entry.occurred_at or now
    if occurred.tzinfo is None:
        raise ValidationFailed("occurred_at needs a time zone (UTC offset)")
    if occurred > now + _MAX_FUTURE:
        raise ValidationFailed(f"occurred_at {occurred.isoformat()} is in the future")
    row = ConsentRecord(
        contact_id=contact_id, channel=entry.channel, purpose=entry.purpose, status=entry.status,
        lawful_basis=entry.lawful_basis, source=entry.source, consent_text=consent_text,
        policy_version=entry.policy_version or current_policy_version(session),
        ip_address=entry.ip_address, user_agent=(entry.user_agent or None) and entry.user_agent[:500],
        occurred_at=occurred, recorded_at=now, actor=actor.name, evidence=evidence,
        idempotency_key=entry.idempotency_key,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        if entry.idempotency_key:  # the same request raced us: theirs stands
            existing = session.scalar(
                select(ConsentRecord).where(ConsentRecord.idempotency_key == entry.idempotency_key)
            )
            if existing is not None:
                return existing
        raise
    _advance_state(session, row)
    return row


def _check(session: Session, entry: ConsentEntry, evidence: dict[str, Any]) -> str | None:
    if entry.status not in CONSENT_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(CONSENT_STATUSES)}")
    if entry.lawful_basis not in LAWFUL_BASES:
        raise ValidationFailed(f"lawful_basis must be one of {', '.join(LAWFUL_BASES)}")
    if entry.source not in CONSENT_SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(CONSENT_SOURCES)}")
    purpose = get_purpose(session, entry.purpose)
    if entry.channel not in purpose.channels:
        raise ValidationFailed(f"purpose {purpose.key} is for {', '.join(purpose.channels)}, not {entry.channel}")
    if entry.status in ("granted", "pending") and not purpose.active:
        raise ValidationFailed(f"purpose {purpose.key} is no longer active; consent to it cannot be granted")
    text = entry.consent_text
    if entry.status in ("granted", "pending") and entry.lawful_basis == "consent" and not text:
        # Art. 7(1): we must be able to show what the person agreed to. Without the caller's wording we
        # record the purpose's configured wording and say so in the evidence.
        if not purpose.consent_text:
            raise ValidationFailed(f"consent_text is required: purpose {purpose.key} has no configured wording")
        text = purpose.consent_text
        evidence["consent_text_from"] = "purpose"
    return text


def _advance_state(session: Session, row: ConsentRecord) -> None:
    query = select(ConsentState).where(
        ConsentState.contact_id == row.contact_id,
        ConsentState.channel == row.channel,
        ConsentState.purpose == row.purpose,
    )
    state = session.scalar(query.with_for_update())
    if state is None:
        try:
            with session.begin_nested():
                session.add(_state_from(row))
            return
        except IntegrityError:
            state = session.scalar(query.with_for_update())
            if state is None:
                raise
    if row.occurred_at >= state.changed_at:
        _copy_into(state, row)


def _state_from(row: ConsentRecord) -> ConsentState:
    state = ConsentState(contact_id=row.contact_id, channel=row.channel, purpose=row.purpose)
    _copy_into(state, row)
    return state


def _copy_into(state: ConsentState, row: ConsentRecord) -> None:
    state.status, state.lawful_basis, state.source = row.status, row.lawful_basis, row.source
    state.record_id, state.changed_at = row.id, row.occurred_at


def derive_states(records: Iterable[ConsentRecord]) -> dict[tuple[int, str, str], ConsentRecord]:
    """The current state by (contact, channel, purpose): the newest record, ties broken by record id."""
    latest: dict[tuple[int, str, str], ConsentRecord] = {}
    for rec in records:
        key = (rec.contact_id, rec.channel, rec.purpose)
        held = latest.get(key)
        if held is None or (rec.occurred_at, rec.id) > (held.occurred_at, held.id):
            latest[key] = rec
    return latest


def rebuild_states(session: Session, contact_ids: Iterable[int]) -> None:
    """Recompute the current states of some contacts from their ledger (after merges or to repair)."""
    ids = list(contact_ids)
    session.flush()
    session.execute(delete(ConsentState).where(ConsentState.contact_id.in_(ids)))
    records = session.scalars(select(ConsentRecord).where(ConsentRecord.contact_id.in_(ids)))
    for rec in derive_states(records).values():
        session.add(_state_from(rec))
    session.flush()


def verify_states(session: Session) -> list[str]:
    """Differences between stored states and the ledger; empty when they agree (``pitboard consent verify``)."""
    derived = derive_states(session.scalars(select(ConsentRecord).execution_options(yield_per=5000)))
    stored = {(s.contact_id, s.channel, s.purpose): s for s in session.scalars(select(ConsentState))}
    problems = []
    for key, rec in derived.items():
        state = stored.pop(key, None)
        if state is None:
            problems.append(f"contact {key[0]} {key[1]}/{key[2]}: no state, ledger says {rec.status}")
        elif state.record_id != rec.id or state.status != rec.status:
            problems.append(f"contact {key[0]} {key[1]}/{key[2]}: state {state.status}, ledger says {rec.status}")
    problems.extend(f"contact {k[0]} {k[1]}/{k[2]}: state without ledger records" for k in stored)
    return problems


def history(session: Session, contact_id: int, limit: int = 500) -> list[ConsentRecord]:
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.contact_id == contact_id)
        .order_by(ConsentRecord.occurred_at.desc(), ConsentRecord.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def states(session: Session, contact_id: int) -> list[ConsentState]:
    query = (
        select(ConsentState)
        .where(ConsentState.contact_id == contact_id)
        .order_by(ConsentState.channel, ConsentState.purpose)
    )
    return list(session.scalars(query))
