"""Data-subject requests from receipt to answer: access/export (GDPR Art. 15 and 20) and erasure (Art. 17).

A request is recorded the day it arrives, even for an address we hold nothing about: the answer "we hold no
data about you" is an answer too, and the one-month clock of Art. 12(3) runs from receipt (``due_at``).
Completing resolves the person again by the address as given, because contacts may have been imported,
merged or deleted since the request was opened; every contact holding the address is covered (duplicates
that were never merged are the same person).

Audit entries say what happened to which request, never whose it was: no addresses, no names.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.consent.hashing import salt, subject_hash
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import PrivacyRequest
from pitboard.models.consent import PRIVACY_REQUEST_KINDS, PRIVACY_REQUEST_STATUSES
from pitboard.privacy.erasure import ErasureResult, erase_person, suppress_address
from pitboard.privacy.export import document_bytes, document_sha256, export_person, section_counts
from pitboard.privacy.masking import is_masked, mask_email
from pitboard.privacy.subject import contacts_for_email, normalized_email
from pitboard.settings import Settings

REQUEST_FORMAT = "pitboard.subject-access/1"


def open_request(
    session: Session,
    *,
    kind: str,
    email: str,
    actor: Actor,
    settings: Settings,
    notes: str | None = None,
    received_at: datetime | None = None,
) -> PrivacyRequest:
    """Record a request. ``received_at`` is when it reached us (a letter logged days later still has to be
    answered a month after it arrived); by default now."""
    actor.require("editor")
    if kind not in PRIVACY_REQUEST_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(PRIVACY_REQUEST_KINDS)}")
    address = normalized_email(email)
    now = utcnow()
    if received_at is not None and received_at.tzinfo is None:
        raise ValidationFailed("received_at needs a time zone (UTC offset)")
    requested = ensure_utc(received_at) if received_at is not None else now
    if requested > now:
        raise ValidationFailed("received_at is in the future")
    contacts = contacts_for_email(session, address)
    request = PrivacyRequest(
        kind=kind, status="received", subject_hash=subject_hash(salt(session), "email", address),
        subject_label=email.strip()[:320], contact_id=contacts[0] if contacts else None, requested_at=requested,
        due_at=requested + timedelta(days=settings.privacy_request_due_days), requested_by=actor.name,
        notes=(notes or "").strip() or None, result={},
    )  # fmt: skip
    session.add(request)
    session.flush()
    audit.record(session, actor=actor, action="privacy_request.opened", entity_type="privacy_request",
                 entity_id=request.id, changes={"kind": [None, kind], "status": [None, "received"],
                                                "contact_id": [None, request.contact_id],
                                                "due_at": [None, request.due_at.isoformat()]})  # fmt: skip
    return request


def get_request(session: Session, request_id: int) -> PrivacyRequest:
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound(f"privacy request {request_id} does not exist")
    return request


def _pending(session: Session, request_id: int, kind: str | None) -> PrivacyRequest:
    request = get_request(session, request_id)
    if kind is not None and request.kind != kind:
        raise ValidationFailed(f"privacy request {request_id} is an {request.kind} request, not {kind}")
    if request.status != "received":
        raise ValidationFailed(f"privacy request {request_id} is already {request.status}")
    return request


def _subject_contacts(session: Session, request: PrivacyRequest) -> list[int]:
    """The contacts holding the requested address now, plus the one linked when the request was opened
    (merges carry that link along; the person may have changed their address since)."""
    found = [] if is_masked(request.subject_label) else contacts_for_email(session, request.subject_label)
    if request.contact_id is not None and request.contact_id not in found:
        found.append(request.contact_id)
    return found


def complete_export(session: Session, *, request_id: int, actor: Actor) -> dict[str, Any]:
    """Build the export and mark the request completed with what it held and the SHA-256 of the file.

    Hand the person exactly ``export.document_bytes(document)``: that is what the recorded hash is of.
    The document holds one entry in ``records`` per contact found (usually one; none means no data held).
    """
    actor.require("admin")
    request = _pending(session, request_id, "export")
    contact_ids = _subject_contacts(session, request)
    records = [export_person(session, cid) for cid in contact_ids]
    document: dict[str, Any] = {
        "format": REQUEST_FORMAT,
        "request_id": request.id,
        "requested_at": request.requested_at.isoformat(),
        "generated_at": utcnow().isoformat(),
        "no_data_held": not records,
        "records": records,
    }
    counts: Counter[str] = Counter()
    for record in records:
        counts.update(section_counts(record))
    digest = document_sha256(document)
    result = {"no_data_held": not records, "contact_ids": contact_ids, "counts": dict(counts), "sha256": digest,
              "bytes": len(document_bytes(document))}  # fmt: skip
    _finish(session, request, "completed", result, actor,
            {"sha256": [None, digest], "no_data_held": [None, not records]})  # fmt: skip
    return document


def complete_erasure(session: Session, *, request_id: int, actor: Actor) -> ErasureResult:
    """Erase every contact holding the address, suppress the address itself (also when we hold nothing:
    they objected to being processed, and a later import must not make them contactable) and mask the label."""
    actor.require("admin")
    request = _pending(session, request_id, "erasure")
    contact_ids = _subject_contacts(session, request)
    label = request.subject_label
    counts: Counter[str] = Counter()
    tombstones: list[int] = []
    for cid in contact_ids:
        erased = erase_person(session, contact_id=cid, reason="request", actor=actor, request_id=request.id)
        counts.update(erased.counts)
        tombstones.extend(erased.tombstone_ids)
    if not is_masked(label) and suppress_address(session, email=label, actor=actor):
        counts["suppressions_added"] += 1
    request = get_request(session, request_id)  # erasure expired the session's objects
    if not is_masked(request.subject_label):
        request.subject_label = mask_email(request.subject_label)
    request.contact_id = None
    result = {"no_data_held": not contact_ids, "tombstone_ids": tombstones, "counts": dict(counts)}
    _finish(session, request, "completed", result, actor,
            {"no_data_held": [None, not contact_ids], "tombstone_ids": [None, tombstones]})  # fmt: skip
    return ErasureResult(contact_ids=contact_ids, tombstone_ids=tombstones, counts=dict(counts),
                         no_data_held=not contact_ids)  # fmt: skip


def reject(session: Session, *, request_id: int, reason: str, actor: Actor) -> PrivacyRequest:
    """Refuse a request (identity not verified, manifestly unfounded: Art. 12(5)); the reason is kept on the
    request, where the reply to the person is drafted from, and not in the audit log."""
    actor.require("admin")
    if not reason.strip():
        raise ValidationFailed("say why the request is rejected")
    request = _pending(session, request_id, None)
    _finish(session, request, "rejected", {"rejected_reason": reason.strip()}, actor, {})
    return request


def _finish(
    session: Session, request: PrivacyRequest, status: str, result: dict[str, Any], actor: Actor,
    extra: dict[str, Any],
) -> None:  # fmt: skip
    request.status, request.completed_at, request.result = status, utcnow(), result
    session.flush()
    audit.record(session, actor=actor, action=f"privacy_request.{status}", entity_type="privacy_request",
                 entity_id=request.id, changes={"status": ["received", status], **extra})  # fmt: skip


def is_overdue(request: PrivacyRequest, now: datetime | None = None) -> bool:
    """Still unanswered after its due date."""
    return request.status == "received" and (now or utcnow()) > request.due_at


def list_requests(
    session: Session,
    status: str | None = None,
    kind: str | None = None,
    *,
    overdue: bool | None = None,
    now: datetime | None = None,
    limit: int = 500,
) -> list[PrivacyRequest]:
    """Requests, newest first; ``overdue=True`` gives the unanswered ones past their due date."""
    if status is not None and status not in PRIVACY_REQUEST_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(PRIVACY_REQUEST_STATUSES)}")
    if kind is not None and kind not in PRIVACY_REQUEST_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(PRIVACY_REQUEST_KINDS)}")
    stmt = select(PrivacyRequest).order_by(PrivacyRequest.requested_at.desc(), PrivacyRequest.id.desc())
    if status is not None:
        stmt = stmt.where(PrivacyRequest.status == status)
    if kind is not None:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    if overdue is not None:
        late = (PrivacyRequest.status == "received") & (PrivacyRequest.due_at < (now or utcnow()))
        stmt = stmt.where(late if overdue else ~late)
    return list(session.scalars(stmt.limit(limit)))
