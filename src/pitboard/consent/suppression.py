"""Suppression: addresses we must not contact on a channel, whoever they belong to now.

Keyed by the salted address hash (consent/hashing.py), so a suppression outlives the contact (erasure,
merges) and a re-imported address is suppressed again at once. Lifting is recorded, never a delete.
Hard bounces and invalid addresses block every message; complaints, unsubscribes, manual entries and
erasures block marketing only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.consent.hashing import address_kind, salt, subject_hash
from pitboard.contacts.identities import email_addresses
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Suppression
from pitboard.models.consent import CHANNELS, SUPPRESSION_REASONS

# Reasons that stop transactional mail too: the address cannot receive anything.
DELIVERABILITY_REASONS = frozenset({"hard_bounce", "invalid"})
# Reasons the person can lift themselves by confirming a new double opt-in.
SELF_LIFTABLE_REASONS = frozenset({"unsubscribe", "erasure"})


def hash_for(session: Session, channel: str, address: str) -> str:
    return subject_hash(salt(session), address_kind(channel), address)


def suppress(
    session: Session,
    *,
    channel: str,
    reason: str,
    source: str,
    actor: Actor,
    address: str | None = None,
    hashed: str | None = None,
    contact_id: int | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> Suppression:
    """Suppress an address (or an already-hashed one) on a channel. Idempotent: an active suppression of
    the same address and channel is returned as it is, so bounce feeds can be replayed safely."""
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}")
    if reason not in SUPPRESSION_REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(SUPPRESSION_REASONS)}")
    if (address is None) == (hashed is None):
        raise ValidationFailed("give either an address or its hash")
    key = hashed if hashed is not None else hash_for(session, channel, address or "")
    current = active_for(session, [key], channel).get(key)
    if current is not None:
        return current
    row = Suppression(
        subject_hash=key, channel=channel, reason=reason, source=source, note=note, contact_id=contact_id,
        created_at=at or utcnow(), created_by=actor.name,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent request suppressed it first (unique index on active rows).
        existing = active_for(session, [key], channel).get(key)
        if existing is None:
            raise
        return existing
    audit.record(session, actor=actor, action="suppression.added", entity_type="suppression", entity_id=row.id,
                 changes={"channel": [None, channel], "reason": [None, reason], "source": [None, source]})  # fmt: skip
    return row


def lift(session: Session, *, suppression_id: int, reason: str, actor: Actor) -> Suppression:
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound(f"suppression {suppression_id} does not exist")
    if row.lifted_at is not None:
        return row
    if not reason.strip():
        raise ValidationFailed("say why the suppression is lifted")
    row.lifted_at, row.lifted_by, row.lift_reason = utcnow(), actor.name, reason.strip()
    audit.record(session, actor=actor, action="suppression.lifted", entity_type="suppression", entity_id=row.id,
                 changes={"lifted": [False, True], "lift_reason": [None, row.lift_reason]})  # fmt: skip
    return row


def active_for(session: Session, hashes: Iterable[str], channel: str) -> dict[str, Suppression]:
    keys = list(set(hashes))
    found: dict[str, Suppression] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = session.scalars(
            select(Suppression).where(
                Suppression.subject_hash.in_(chunk), Suppression.channel == channel, Suppression.lifted_at.is_(None)
            )
        )
        found.update((r.subject_hash, r) for r in rows)
    return found


def active_hashes(session: Session, channel: str) -> dict[str, str]:
    """Every active suppression on a channel as hash → reason, for bulk checks (exports of whole lists)."""
    rows = session.execute(
        select(Suppression.subject_hash, Suppression.reason).where(
            Suppression.channel == channel, Suppression.lifted_at.is_(None)
        )
    )
    return {str(h): str(r) for h, r in rows}


def of_contact(session: Session, contact: Contact) -> list[tuple[str, Suppression]]:
    """(address, suppression) for every active suppression of the contact's addresses: its email addresses on
    the email channel, its phone number on SMS and phone."""
    key = salt(session)
    phones = [contact.phone] if contact.phone else []
    found: list[tuple[str, Suppression]] = []
    for channel, addresses in (("email", email_addresses(session, contact)), ("sms", phones), ("phone", phones)):
        hashed = {subject_hash(key, address_kind(channel), a): a for a in addresses}
        found.extend((hashed[h], row) for h, row in active_for(session, hashed, channel).items())
    return found


def lift_self_liftable(session: Session, *, hashes: Iterable[str], channel: str, reason: str, actor: Actor) -> int:
    """Lift unsubscribe/erasure suppressions because the person opted in again themselves (double opt-in)."""
    lifted = 0
    for row in active_for(session, hashes, channel).values():
        if row.reason in SELF_LIFTABLE_REASONS:
            lift(session, suppression_id=row.id, reason=reason, actor=actor)
            lifted += 1
    return lifted
