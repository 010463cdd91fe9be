"""Erase a person (GDPR Art. 17): remove what identifies them, keep what the business may keep without them.

In order:
1. Suppress every address of theirs with reason ``erasure`` first. Suppressions hold only a salted hash, so a
   re-import or a tracking call with the same address later cannot resurrect them as contactable.
2. Anonymise their events instead of deleting them: campaign and channel aggregates stay right, nothing in
   the row points at the person any more (no contact, no ids, no properties or context).
3. Delete identities, the consent ledger and states (a DELETE is allowed; the append-only trigger refuses
   only UPDATEs of ledger content), stage history, messages, dedupe pairs, quarantined input and merge
   records holding their data; detach opportunities (company data) from them.
4. Keep the audit trail's shape (who did what when) but replace the changes of entries about them.
5. Mask their privacy requests' labels, delete the contact, write a tombstone and a ``contact.erased`` audit
   entry with counts only.

One transaction's worth of work: like every service this flushes and never commits, so a failure half-way
leaves nothing half-erased. Big tables are changed in chunks of ids.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, String, delete, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.consent.hashing import salt, subject_hash
from pitboard.consent.suppression import active_for, hash_for, suppress
from pitboard.kit.actor import Actor
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import (
    AuditEntry,
    ConsentRecord,
    ConsentState,
    Contact,
    ContactMerge,
    DedupeCandidate,
    ErasureTombstone,
    Event,
    Identity,
    LifecycleStageChange,
    Message,
    Opportunity,
    PrivacyRequest,
    QuarantinedRecord,
    Suppression,
)
from pitboard.privacy.masking import is_masked, mask_email, redact
from pitboard.privacy.subject import (
    IN_CHUNK,
    Subject,
    about_contact,
    chunked,
    load_subject,
    matching_ids,
    message_ids,
)

REASONS = ("request", "retention")
CHUNK = 1000  # rows per UPDATE/DELETE statement
ERASED_CHANGES: dict[str, Any] = {"erased": [None, True]}

ErasureStep = Callable[[Session, Subject, Actor], int]
_STEPS: dict[str, ErasureStep] = {}


def register_erasure_step(name: str, step: ErasureStep) -> None:
    """Let a later feature remove its own rows about a person (lead scores, routing assignments, workflow
    enrolments). ``step(session, subject, actor)`` returns how many rows it removed; the count is kept
    under ``name`` in the tombstone. It runs before the contact row is deleted."""
    if name in _STEPS and _STEPS[name] is not step:
        raise ValueError(f"erasure step {name!r} is registered twice")
    _STEPS[name] = step


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure did: the (former) contact ids, their tombstones, and counts per kind of row."""

    contact_ids: list[int]
    tombstone_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)
    no_data_held: bool = False


def erase_person(
    session: Session, *, contact_id: int, reason: str, actor: Actor, request_id: int | None = None
) -> ErasureResult:
    actor.require("admin")
    if reason not in REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(REASONS)}")
    request_hash = _request_hash(session, request_id)
    session.flush()
    subject = load_subject(session, contact_id)
    contact = session.get(Contact, contact_id)
    assert contact is not None  # load_subject raised NotFound otherwise
    primary_email = contact.email_normalized
    counts: dict[str, int] = {"suppressions_added": suppress_subject(session, subject, actor)}
    counts["events_anonymised"] = _anonymise_events(session, subject)
    identity_ids = _ids(session, Identity, Identity.contact_id == contact_id)
    counts["identities"] = delete_ids(session, Identity, identity_ids)
    consent_ids = _ids(session, ConsentRecord, ConsentRecord.contact_id == contact_id)
    counts["consent_states"] = delete_ids(
        session, ConsentState, _ids(session, ConsentState, ConsentState.contact_id == contact_id)
    )
    counts["consent_records"] = delete_ids(session, ConsentRecord, consent_ids)
    stage_changes = _ids(session, LifecycleStageChange, LifecycleStageChange.contact_id == contact_id)
    counts["lifecycle_stage_changes"] = delete_ids(session, LifecycleStageChange, stage_changes)
    messages = message_ids(session, subject)
    counts["messages"] = delete_ids(session, Message, messages)
    pairs = _dedupe_pairs(session, subject)
    counts["dedupe_candidates"] = delete_ids(session, DedupeCandidate, pairs)
    quarantined = matching_ids(session, QuarantinedRecord, QuarantinedRecord.payload, subject)
    counts["quarantine"] = delete_ids(session, QuarantinedRecord, quarantined)
    counts["contact_merges"] = delete_ids(session, ContactMerge, subject.merge_ids)
    counts["opportunities_detached"] = _rowcount(
        session.execute(
            update(Opportunity)
            .where(Opportunity.contact_id == contact_id)
            .values(contact_id=None)
            .execution_options(synchronize_session=False)
        )
    )
    about = about_contact(subject, AuditEntry.entity_id, AuditEntry.occurred_at, as_text=True)
    counts["audit_entries_scrubbed"] = _scrub_audit_where(
        session, AuditEntry.entity_type.in_(("contact", "consent")) & about
    ) + sum(
        scrub_audit(session, entity_type, ids)
        for entity_type, ids in (
            ("identity", identity_ids), ("consent_record", consent_ids), ("message", messages),
            ("quarantine", quarantined), ("dedupe_candidate", pairs),
        )
    )  # fmt: skip
    counts["privacy_requests_masked"] = _mask_requests(session, subject)
    counts["suppression_notes_redacted"] = _redact_suppressions(session, subject)
    for name, step in _STEPS.items():
        counts[name] = step(session, subject, actor)
    session.delete(contact)
    session.flush()
    tombstone = ErasureTombstone(
        subject_hash=request_hash or _tombstone_hash(session, subject, primary_email), former_contact_id=contact_id,
        reason=reason, request_id=request_id, actor=actor.name, erased_at=utcnow(), counts=counts,
    )  # fmt: skip
    session.add(tombstone)
    session.flush()
    audit.record(session, actor=actor, action="contact.erased", entity_type="contact", entity_id=contact_id,
                 changes={"reason": [None, reason], "tombstone_id": [None, tombstone.id],
                          "counts": [None, counts]})  # fmt: skip
    session.flush()
    # Bulk statements above bypassed the identity map: objects still held must reload (or find themselves gone).
    session.expire_all()
    return ErasureResult(contact_ids=[contact_id], tombstone_ids=[tombstone.id], counts=counts)


def suppress_subject(session: Session, subject: Subject, actor: Actor) -> int:
    """Suppress every address of the person (email; phone on sms and phone); returns how many were new."""
    added = 0
    for channel, hashes in (("email", subject.email_hashes), ("sms", subject.phone_hashes),
                            ("phone", subject.phone_hashes)):  # fmt: skip
        existing = active_for(session, hashes, channel)
        for key in sorted(hashes):
            if key not in existing:
                suppress(session, channel=channel, reason="erasure", source="erasure", actor=actor, hashed=key)
                added += 1
    return added


def suppress_address(session: Session, *, email: str, actor: Actor) -> bool:
    """Suppress an address we hold nothing else about (an erasure request for an unknown person): they
    asked not to be processed, and a later import must not make them contactable. True if newly added."""
    key = hash_for(session, "email", email)
    if active_for(session, [key], "email"):
        return False
    suppress(session, channel="email", reason="erasure", source="erasure", actor=actor, hashed=key)
    return True


def _ids(session: Session, model: Any, where: Any) -> list[int]:
    return list(session.scalars(select(model.id).where(where).order_by(model.id)))


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def delete_ids(session: Session, model: Any, ids: Sequence[int]) -> int:
    """Delete rows by id, a chunk per statement; returns how many went."""
    removed = 0
    for chunk in chunked(sorted(ids), CHUNK):
        stmt = delete(model).where(model.id.in_(chunk)).execution_options(synchronize_session=False)
        removed += _rowcount(session.execute(stmt))
    return removed


# The client-chosen message id may embed a user id or address; the row id keeps it unique and says nothing.
_ERASED_ID = literal("erased:", String) + sql_cast(Event.id, String)


def _anonymise_events(session: Session, subject: Subject) -> int:
    """Events of the contact and events carrying one of their anonymous or user ids lose everything that
    points at the person; name, type, channel, UTM, campaign, source and times stay for the aggregates."""
    ids = set(_ids(session, Event, Event.contact_id == subject.contact_id))
    for column, values in ((Event.anonymous_id, subject.anonymous_ids), (Event.user_id, subject.user_ids)):
        for some in chunked(sorted(values), IN_CHUNK):
            ids.update(session.scalars(select(Event.id).where(column.in_(some))))
    changed = 0
    for chunk in chunked(sorted(ids), CHUNK):
        stmt = (
            update(Event)
            .where(Event.id.in_(chunk))
            .values(contact_id=None, anonymous_id=None, user_id=None, properties={}, context={}, message_id=_ERASED_ID)
            .execution_options(synchronize_session=False)
        )
        changed += _rowcount(session.execute(stmt))
    return changed


def _dedupe_pairs(session: Session, subject: Subject) -> list[int]:
    left = about_contact(subject, DedupeCandidate.left_id, DedupeCandidate.created_at)
    right = about_contact(subject, DedupeCandidate.right_id, DedupeCandidate.created_at)
    return _ids(session, DedupeCandidate, (DedupeCandidate.entity == "contact") & or_(left, right))


def scrub_audit(session: Session, entity_type: str, entity_ids: Sequence[int]) -> int:
    """Keep that something happened to these rows, drop what it was (the diffs hold the personal data)."""
    scrubbed = 0
    keys = [str(i) for i in sorted(entity_ids)]
    for start in range(0, len(keys), CHUNK):
        stmt = (
            update(AuditEntry)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(keys[start : start + CHUNK]))
            .values(changes=ERASED_CHANGES)
            .execution_options(synchronize_session=False)
        )
        scrubbed += _rowcount(session.execute(stmt))
    return scrubbed


def _scrub_audit_where(session: Session, where: Any) -> int:
    ids = _ids(session, AuditEntry, where)
    scrubbed = 0
    for chunk in chunked(ids, CHUNK):
        stmt = update(AuditEntry).where(AuditEntry.id.in_(chunk)).values(changes=ERASED_CHANGES)
        scrubbed += _rowcount(session.execute(stmt.execution_options(synchronize_session=False)))
    return scrubbed


def _mask_requests(session: Session, subject: Subject) -> int:
    """Requests stay as the record that we answered; the label is masked and notes lose the identifiers."""
    clauses = [PrivacyRequest.contact_id == subject.contact_id]
    if subject.email_hashes:
        clauses.append(PrivacyRequest.subject_hash.in_(sorted(subject.email_hashes)))
    masked = 0
    for request in session.scalars(select(PrivacyRequest).where(or_(*clauses))):
        if not is_masked(request.subject_label):
            request.subject_label = mask_email(request.subject_label)
            masked += 1
        if request.notes:
            request.notes = redact(request.notes, subject.redaction_needles)
        request.contact_id = None
    session.flush()
    return masked


def _redact_suppressions(session: Session, subject: Subject) -> int:
    clauses = [Suppression.contact_id == subject.contact_id]
    if subject.hashes:
        clauses.append(Suppression.subject_hash.in_(sorted(subject.hashes)))
    redacted = 0
    needles = subject.redaction_needles
    for row in session.scalars(select(Suppression).where(or_(*clauses))):
        note = redact(row.note, needles) if row.note else row.note
        lift_reason = redact(row.lift_reason, needles) if row.lift_reason else row.lift_reason
        if (note, lift_reason) != (row.note, row.lift_reason):
            row.note, row.lift_reason = note, lift_reason
            redacted += 1
        row.contact_id = None
    session.flush()
    return redacted


def _request_hash(session: Session, request_id: int | None) -> str | None:
    if request_id is None:
        return None
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise ValidationFailed(f"privacy request {request_id} does not exist")
    return request.subject_hash


def _tombstone_hash(session: Session, subject: Subject, primary_email: str | None) -> str:
    """The hash a tombstone without a request is found by: the contact's own address, else any of theirs."""
    if primary_email:
        return subject_hash(salt(session), "email", primary_email)
    for hashes in (subject.email_hashes, subject.phone_hashes):
        if hashes:
            return sorted(hashes)[0]
    # No address at all (an anonymous visitor's contact): a salted hash of the id, never the id in clear.
    return hmac.new(salt(session), f"contact:{subject.contact_id}".encode(), hashlib.sha256).hexdigest()
