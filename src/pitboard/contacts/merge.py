"""Merge one contact into another, recorded so it can be undone exactly.

Identity resolution and deduplication merge when two known contacts turn out to be one person. Which
value of each field survives follows the survivorship rules (contacts/survivorship.py); the merge row
remembers which rows moved and what each replaced field held, and :func:`undo_merge` puts everything
back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.consent.ledger import rebuild_states
from pitboard.contacts.changes import contacts_changed
from pitboard.contacts.service import CONTACT_FIELDS
from pitboard.contacts.survivorship import Side, choose_values
from pitboard.kit.actor import Actor
from pitboard.kit.crud import jsonable
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import (
    ConsentRecord,
    Contact,
    ContactMerge,
    Event,
    Identity,
    LifecycleStageChange,
    Message,
    Opportunity,
    PrivacyRequest,
    Suppression,
)

_SNAPSHOT_FIELDS = [
    *CONTACT_FIELDS, "email_normalized", "last_activity_at", "created_at", "updated_at",
    "seniority", "job_function", "email_domain", "is_free_mail", "original_values", "field_sources",
]  # fmt: skip
# Rows that point at a contact and move with it: table model → its contact column.
_MOVABLE: dict[str, Any] = {
    "identities": (Identity, Identity.contact_id),
    "events": (Event, Event.contact_id),
    "opportunities": (Opportunity, Opportunity.contact_id),
    "lifecycle_stage_changes": (LifecycleStageChange, LifecycleStageChange.contact_id),
    # The consent ledger moves whole; the survivor's current state is then derived again from it.
    "consent_records": (ConsentRecord, ConsentRecord.contact_id),
    "suppressions": (Suppression, Suppression.contact_id),
    "messages": (Message, Message.contact_id),
    "privacy_requests": (PrivacyRequest, PrivacyRequest.contact_id),
}


def _side(contact: Contact) -> Side:
    return Side({f: getattr(contact, f) for f in CONTACT_FIELDS}, contact.created_at, contact.updated_at,
                contact.field_sources or {})  # fmt: skip


def _survive(survivor: Contact, merged: Contact, rules: dict[str, str] | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply survivorship to the survivor; returns its replaced values (for undo) and the rule per field."""
    replaced: dict[str, Any] = {}
    applied: dict[str, str] = {}
    for field, (value, rule) in choose_values(_side(survivor), _side(merged), rules).items():
        replaced[field] = jsonable(getattr(survivor, field))
        applied[field] = rule
        setattr(survivor, field, value)
    extra = {k: v for k, v in merged.custom.items() if k not in survivor.custom}
    if extra:
        replaced["custom"] = dict(survivor.custom)
        survivor.custom = {**survivor.custom, **extra}
    if "email" in replaced:
        replaced["email_normalized"] = survivor.email_normalized
        survivor.email_normalized = merged.email_normalized
    return replaced, applied


def merge_contacts(
    session: Session,
    *,
    survivor_id: int,
    merged_id: int,
    reason: str,
    actor: Actor,
    rules: dict[str, str] | None = None,
) -> ContactMerge:
    if survivor_id == merged_id:
        raise ValidationFailed("a contact cannot be merged into itself")
    survivor = session.get(Contact, survivor_id)
    merged = session.get(Contact, merged_id)
    if survivor is None or merged is None:
        raise NotFound(f"contact {survivor_id if survivor is None else merged_id} does not exist")
    session.flush()
    snapshot = {f: jsonable(getattr(merged, f)) for f in _SNAPSHOT_FIELDS}
    moved: dict[str, Any] = {}
    for name, (model, column) in _MOVABLE.items():
        ids = list(session.scalars(select(model.id).where(column == merged_id)))
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values({column.key: survivor_id}))
        moved[name] = ids
    moved["replaced"], moved["rules"] = _survive(survivor, merged, rules)
    record = ContactMerge(
        survivor_id=survivor_id, merged_id=merged_id, reason=reason, actor=actor.name,
        merged_snapshot=snapshot, moved=moved, merged_at=utcnow(),
    )  # fmt: skip
    session.add(record)
    session.flush()  # write the survivor's new values before expiring (expiry discards unflushed changes)
    session.expire_all()  # bulk updates above bypassed the identity map
    session.delete(session.get(Contact, merged_id))
    session.flush()
    rebuild_states(session, [survivor_id])
    contacts_changed(session, [survivor_id], reason="merged")
    audit.record(session, actor=actor, action="merge", entity_type="contact", entity_id=survivor_id,
                 changes={"merged_contact": [merged_id, None], "reason": [None, reason]})  # fmt: skip
    return record


def undo_merge(session: Session, *, merge_id: int, actor: Actor) -> Contact:
    record = session.get(ContactMerge, merge_id)
    if record is None:
        raise NotFound(f"merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise ValidationFailed(f"merge {merge_id} was already undone")
    survivor = session.get(Contact, record.survivor_id)
    if survivor is None:
        raise ValidationFailed(f"the surviving contact {record.survivor_id} no longer exists")
    values = dict(record.merged_snapshot)
    session.execute(insert(Contact).values(id=record.merged_id, **_revive(values)))
    for name, (model, column) in _MOVABLE.items():
        ids = record.moved.get(name) or []
        if ids:
            session.execute(update(model).where(model.id.in_(ids)).values({column.key: record.merged_id}))
    for field, old in (record.moved.get("replaced") or {}).items():
        setattr(survivor, field, old)
    record.undone_at = utcnow()
    session.flush()
    rebuild_states(session, [record.survivor_id, record.merged_id])
    contacts_changed(session, [record.survivor_id, record.merged_id], reason="unmerged")
    audit.record(session, actor=actor, action="unmerge", entity_type="contact", entity_id=record.survivor_id,
                 changes={"merged_contact": [None, record.merged_id]})  # fmt: skip
    restored = session.get(Contact, record.merged_id)
    assert restored is not None
    return restored


def _revive(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Column values from a JSON snapshot (datetimes come back as ISO strings)."""
    out = dict(snapshot)
    for field in ("last_activity_at", "created_at", "updated_at"):
        if out.get(field):
            out[field] = datetime.fromisoformat(out[field])
    return out


def merge_history(session: Session, contact_id: int) -> list[ContactMerge]:
    stmt = select(ContactMerge).where(ContactMerge.survivor_id == contact_id).order_by(ContactMerge.merged_at.desc())
    return list(session.scalars(stmt))
