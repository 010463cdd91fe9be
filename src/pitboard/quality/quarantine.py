"""The quarantine: everything we could not accept, with its reasons, until it is fixed and replayed
or deliberately discarded. Replay runs a record through the same pipeline it first failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.crud import keyset_page
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.pagination import Page
from pitboard.kit.time import utcnow
from pitboard.models import QuarantinedRecord

STATUSES = ("open", "replayed", "discarded")


def hold(
    session: Session,
    *,
    channel: str,
    entity: str,
    payload: dict[str, Any],
    reasons: list[str],
    source_id: int | None = None,
    import_run_id: int | None = None,
) -> QuarantinedRecord:
    """Keep a record we could not accept, whole, with every reason."""
    record = QuarantinedRecord(
        source_id=source_id, channel=channel, entity=entity, import_run_id=import_run_id, payload=payload,
        reasons=reasons, status="open", received_at=utcnow(),
    )  # fmt: skip
    session.add(record)
    return record


@dataclass(frozen=True)
class QuarantineFilter:
    status: str | None = "open"
    channel: str | None = None
    entity: str | None = None
    source_id: int | None = None
    import_run_id: int | None = None


def query(f: QuarantineFilter) -> Select[QuarantinedRecord]:
    stmt = select(QuarantinedRecord)
    for column in ("status", "channel", "entity", "source_id", "import_run_id"):
        value = getattr(f, column)
        if value is not None:
            stmt = stmt.where(getattr(QuarantinedRecord, column) == value)
    return stmt


def list_records(
    session: Session, f: QuarantineFilter, *, cursor: str | None = None, limit: int = 50
) -> Page[QuarantinedRecord]:
    return keyset_page(session, query(f), QuarantinedRecord.id, cursor=cursor, limit=limit)


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(QuarantinedRecord.status, func.count()).group_by(QuarantinedRecord.status))
    return dict(rows.all())


def get(session: Session, record_id: int) -> QuarantinedRecord:
    record = session.get(QuarantinedRecord, record_id)
    if record is None:
        raise NotFound(f"quarantined record {record_id} does not exist")
    return record


def fix(session: Session, record_id: int, payload: dict[str, Any], *, actor: Actor) -> QuarantinedRecord:
    """Replace what will be replayed (the import's mapped ``record`` or a tracking message)."""
    actor.require("editor")
    record = get(session, record_id)
    if record.status != "open":
        raise ValidationFailed(f"record {record_id} is {record.status}; only open records can be fixed")
    before = record.payload
    record.payload = {**record.payload, "record": payload} if record.channel == "import" else payload
    audit.record(session, actor=actor, action="fix", entity_type="quarantine", entity_id=record_id,
                 changes={"payload": [before, record.payload]})  # fmt: skip
    return record


def replay(session: Session, record_id: int, *, actor: Actor) -> QuarantinedRecord:
    """Try again; on success the record is marked replayed, else its reasons are brought up to date."""
    actor.require("editor")
    record = get(session, record_id)
    if record.status != "open":
        raise ValidationFailed(f"record {record_id} is {record.status}; only open records can be replayed")
    with session.begin_nested():
        reasons = _replay(session, record, actor)
    if reasons:
        record.reasons = reasons
    else:
        record.status, record.resolved_at = "replayed", utcnow()
    audit.record(session, actor=actor, action="replay", entity_type="quarantine", entity_id=record_id,
                 changes={"status": ["open", record.status]})  # fmt: skip
    return record


def _replay(session: Session, record: QuarantinedRecord, actor: Actor) -> list[str]:
    if record.channel == "consent_import":
        from pitboard.consent.importer import replay_consent_record

        return replay_consent_record(session, record, actor=actor)
    if record.channel == "import":
        from pitboard.imports.service import replay_import_record

        return replay_import_record(session, record, actor=actor)
    from pitboard.events.api import replay_tracking_record

    return replay_tracking_record(session, record, actor=actor)


def discard(session: Session, record_id: int, *, reason: str, actor: Actor) -> QuarantinedRecord:
    actor.require("editor")
    record = get(session, record_id)
    if record.status != "open":
        raise ValidationFailed(f"record {record_id} is already {record.status}")
    if not reason.strip():
        raise ValidationFailed("say why the record is discarded")
    record.status, record.resolved_at = "discarded", utcnow()
    audit.record(session, actor=actor, action="discard", entity_type="quarantine", entity_id=record_id,
                 changes={"reason": [None, reason]})  # fmt: skip
    return record
