"""Everything we hold about one person, as JSON-ready data: the answer to an access request (GDPR Art. 15)
and the portable copy of Art. 20.

Sections are read with Core selects over the tables' own columns, so a column added to a table appears in
the export without a change here. Events are streamed in chunks: a person may have 100k of them, and ORM
objects for all of them would sit in the session's identity map for nothing.

Later features add their own sections (lead scores, routing assignments, workflow enrolments) with
:func:`register_section`; ``scores`` and ``assignments`` are always present, empty until a provider fills them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Executable, Select, or_, select
from sqlalchemy.orm import Session

from pitboard.kit.time import utcnow
from pitboard.models import (
    Account,
    AuditEntry,
    ConsentRecord,
    ConsentState,
    Contact,
    ContactMerge,
    Event,
    Identity,
    LifecycleStageChange,
    Message,
    Opportunity,
    PrivacyRequest,
    QuarantinedRecord,
    Suppression,
)
from pitboard.privacy.subject import Subject, about_contact, chunked, load_subject, matching_ids, message_ids

FORMAT = "pitboard.person-export/1"
EVENT_CHUNK = 2000
_IN_CHUNK = 500

SectionProvider = Callable[[Session, int], list[dict[str, Any]]]
BUILT_IN_SECTIONS = (
    "format", "generated_at", "contact_id", "contact", "account", "identities", "events", "consent_records",
    "consent_states", "suppressions", "lifecycle_stage_changes", "opportunities", "messages", "merges", "audit",
    "quarantine", "privacy_requests",
)  # fmt: skip
# Sections every export carries even before a feature provides rows, so the document's shape is stable.
_PROVIDERS: dict[str, list[SectionProvider]] = {"scores": [], "assignments": []}


def register_section(name: str, provider: SectionProvider) -> None:
    """Add rows to the export section ``name``: ``provider(session, contact_id)`` returns JSON-able dicts.
    Several providers may share a section (model scores and rule scores both under ``scores``)."""
    if name in BUILT_IN_SECTIONS:
        raise ValueError(f"export section {name!r} is built in")
    providers = _PROVIDERS.setdefault(name, [])
    if provider not in providers:
        providers.append(provider)


def section_names() -> list[str]:
    return [*BUILT_IN_SECTIONS, *_PROVIDERS]


def jsonable(value: Any) -> Any:
    """JSON-native values: ISO datetimes and dates, decimals as strings (no float rounding of money)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): jsonable(value) for key, value in mapping.items()}


def _rows(session: Session, stmt: Executable) -> list[dict[str, Any]]:
    return [_row(m) for m in session.execute(stmt).mappings()]


def export_person(session: Session, contact_id: int) -> dict[str, Any]:
    """The whole file on one contact (raises NotFound for an unknown id)."""
    subject = load_subject(session, contact_id)
    session.flush()
    contact = _rows(session, select(Contact.__table__).where(Contact.id == contact_id))[0]
    document: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": utcnow().isoformat(),
        "contact_id": contact_id,
        "contact": contact,
        "account": _account(session, contact.get("account_id")),
        "identities": _rows(session, _table(Identity, Identity.contact_id == contact_id, Identity.id)),
        "events": list(iter_events(session, subject)),
        "consent_records": _rows(
            session, _table(ConsentRecord, ConsentRecord.contact_id == contact_id, ConsentRecord.occurred_at)
        ),
        "consent_states": _rows(session, _table(ConsentState, ConsentState.contact_id == contact_id, ConsentState.id)),
        "suppressions": _suppressions(session, subject),
        "lifecycle_stage_changes": _rows(session, _stage_changes(contact_id)),
        "opportunities": _rows(session, _table(Opportunity, Opportunity.contact_id == contact_id, Opportunity.id)),
        "messages": _messages(session, subject),
        "merges": _by_ids(session, ContactMerge, subject.merge_ids),
        "audit": _audit(session, subject),
        "quarantine": _by_ids(
            session, QuarantinedRecord, matching_ids(session, QuarantinedRecord, QuarantinedRecord.payload, subject)
        ),
        "privacy_requests": _privacy_requests(session, subject),
    }
    for name, providers in _PROVIDERS.items():
        document[name] = [jsonable(row) for provider in providers for row in provider(session, contact_id)]
    return document


def _table(model: Any, where: Any, order: Any) -> Select[*tuple[Any, ...]]:
    return select(model.__table__).where(where).order_by(order)


def _stage_changes(contact_id: int) -> Select[*tuple[Any, ...]]:
    return _table(LifecycleStageChange, LifecycleStageChange.contact_id == contact_id, LifecycleStageChange.changed_at)


def _account(session: Session, account_id: int | None) -> dict[str, Any] | None:
    """Name and domain only: the account is the employer's data, not the person's."""
    if account_id is None:
        return None
    found = _rows(session, select(Account.id, Account.name, Account.domain).where(Account.id == account_id))
    return found[0] if found else None


def iter_events(session: Session, subject: Subject) -> Iterator[dict[str, Any]]:
    """The contact's events, then events that carry one of their anonymous or user ids without being
    attributed to them (visits before they were identified that identity resolution never linked)."""
    columns = Event.__table__
    own = select(columns).where(Event.contact_id == subject.contact_id).order_by(Event.occurred_at, Event.id)
    yield from _stream(session, own)
    for column, values in ((Event.anonymous_id, subject.anonymous_ids), (Event.user_id, subject.user_ids)):
        for chunk in chunked(sorted(values), _IN_CHUNK):
            others = (
                select(columns)
                .where(column.in_(chunk), or_(Event.contact_id.is_(None), Event.contact_id != subject.contact_id))
                .order_by(Event.occurred_at, Event.id)
            )
            if column is Event.user_id and subject.anonymous_ids:
                # Counted once: an event with both ids was already yielded by the anonymous-id pass.
                seen = or_(Event.anonymous_id.is_(None), Event.anonymous_id.not_in(sorted(subject.anonymous_ids)))
                others = others.where(seen)
            yield from _stream(session, others)


def _stream(session: Session, stmt: Executable) -> Iterator[dict[str, Any]]:
    result = session.execute(stmt.execution_options(yield_per=EVENT_CHUNK))
    for partition in result.mappings().partitions():
        for mapping in partition:
            yield _row(mapping)


def _by_ids(session: Session, model: Any, ids: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for chunk in chunked(sorted(ids), _IN_CHUNK):
        out.extend(_rows(session, _table(model, model.id.in_(chunk), model.id)))
    return out


def _suppressions(session: Session, subject: Subject) -> list[dict[str, Any]]:
    """Suppressions of any of the person's addresses (keyed by salted hash), and any linked to the contact."""
    clauses = [Suppression.contact_id == subject.contact_id]
    if subject.hashes:
        clauses.append(Suppression.subject_hash.in_(sorted(subject.hashes)))
    return _rows(session, _table(Suppression, or_(*clauses), Suppression.id))


def _messages(session: Session, subject: Subject) -> list[dict[str, Any]]:
    return _by_ids(session, Message, message_ids(session, subject))


def _audit(session: Session, subject: Subject) -> list[dict[str, Any]]:
    about = about_contact(subject, AuditEntry.entity_id, AuditEntry.occurred_at, as_text=True)
    stmt = select(AuditEntry.__table__).where(AuditEntry.entity_type == "contact", about)
    return _rows(session, stmt.order_by(AuditEntry.occurred_at, AuditEntry.id))


def _privacy_requests(session: Session, subject: Subject) -> list[dict[str, Any]]:
    clauses = [PrivacyRequest.contact_id == subject.contact_id]
    if subject.email_hashes:
        clauses.append(PrivacyRequest.subject_hash.in_(sorted(subject.email_hashes)))
    return _rows(session, _table(PrivacyRequest, or_(*clauses), PrivacyRequest.id))


def document_bytes(document: dict[str, Any]) -> bytes:
    """The export as the file handed to the person: UTF-8 JSON, keys sorted, indented. Its SHA-256 is
    what the completed request records, so a file can later be shown to be the one that was sent."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def document_sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(document_bytes(document)).hexdigest()


def section_counts(document: dict[str, Any]) -> dict[str, int]:
    return {k: len(v) for k, v in document.items() if isinstance(v, list)}
