"""Streaming bulk import: read → map → clean → check contracts → write in chunks → quarantine the rest.

Rows are read one at a time, so file size does not bound memory. Valid rows are written a chunk at
a time (see writers.py) and committed as they go, so a crash loses at most one chunk and re-running
the file is safe (rows upsert; events dedupe on message id). A row that cannot be accepted lands in
the quarantine with every reason, the mapped record and the original row, to be fixed and replayed.
Every run is recorded in ``import_runs`` with its counts.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.contacts.changes import contacts_changed
from pitboard.contacts.custom_fields import FieldSpec
from pitboard.contacts.service import custom_field_specs
from pitboard.events import ingest
from pitboard.events.ingest import contract_view
from pitboard.events.normalize import MessageError, normalize_message
from pitboard.imports.mapping import Mapping, build_mapping
from pitboard.imports.records import CLEANERS, event_message
from pitboard.imports.writers import WRITERS
from pitboard.kit.actor import Actor
from pitboard.kit.db import session_factory
from pitboard.kit.errors import PitboardError, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import ImportRun, QuarantinedRecord, Source
from pitboard.quality import quarantine
from pitboard.quality.contract_store import ContractChecker, checker

_JSONL = (".jsonl", ".ndjson")
_SCAN_ROWS = 1000


class ImportRefused(PitboardError):
    code = "import_refused"


def read_columns(path: Path) -> list[str]:
    """The CSV header, or for JSON Lines the keys seen in the first rows."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() not in _JSONL:
            return [c.strip() for c in next(csv.reader(handle), [])]
        keys: dict[str, None] = {}
        for number, line in enumerate(handle):
            if number >= _SCAN_ROWS:
                break
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                keys.update(dict.fromkeys(value))
        return list(keys)


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows one at a time; a JSON Lines line that is not an object becomes an ``__invalid__`` row."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() not in _JSONL:
            reader = csv.DictReader(handle)
            reader.fieldnames = [c.strip() for c in (reader.fieldnames or [])]
            for row in reader:
                if None in row:
                    yield {
                        "__invalid__": "the row has more values than the header has columns",
                        "__raw__": row.pop(None),
                    }
                else:
                    yield row
            return
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield {"__invalid__": f"line {number} is not valid JSON: {exc.msg}", "__raw__": line.rstrip("\n")}
                continue
            yield value if isinstance(value, dict) else {"__invalid__": f"line {number} is not a JSON object"}


@dataclass
class _Context:
    entity: str
    mapping: Mapping
    specs: dict[str, FieldSpec]
    contracts: ContractChecker
    source: Source | None
    run_id: int | None
    actor: Actor
    now: datetime


@dataclass(frozen=True)
class ImportSummary:
    run_id: int
    entity: str
    rows: int
    created: int
    updated: int
    unchanged: int
    quarantined: int
    ignored_columns: tuple[str, ...]
    problems_sample: tuple[str, ...]


def _quarantine(session: Session, ctx: _Context, payload: dict[str, Any], reasons: list[str]) -> None:
    quarantine.hold(session, channel="import", entity=ctx.entity, payload=payload, reasons=reasons,
                    source_id=ctx.source.id if ctx.source else None, import_run_id=ctx.run_id)  # fmt: skip


def _event_source(session: Session, name: str | None, actor: Actor) -> Source:
    from pitboard.events.sources import create_source

    source = session.scalar(select(Source).where(Source.name == (name or "import")))
    return source or create_source(session, name=name or "import", kind="import", actor=actor)


def prepare(ctx: _Context, record: dict[str, Any]) -> tuple[Any, list[str]]:
    """A mapped record → (what the writer takes, reasons it cannot be accepted)."""
    if ctx.entity == "events":
        raw = event_message(record)
        # Exported activity often names a person only by email; Segment wants an id, so we stand one
        # in for validation and drop it again: identity resolution then matches on the email.
        by_email_only = not raw.get("userId") and not raw.get("anonymousId") and record.get("email")
        if by_email_only:
            raw["anonymousId"] = f"email:{record['email']}"
        try:
            message = normalize_message(raw, received_at=ctx.now, default_type="track")
        except MessageError as exc:
            return None, [str(exc)]
        if by_email_only:
            message = dataclasses.replace(message, anonymous_id=None)
        return message, ctx.contracts.check(
            contract_view(message), entity="events", source=ctx.source.name if ctx.source else None,
            now=ctx.now, event_name=message.name,
        )  # fmt: skip
    clean, problems = CLEANERS[ctx.entity](record, ctx.specs)
    if problems:
        return None, list(problems)
    return clean, ctx.contracts.check(
        record, entity=ctx.entity, source=ctx.source.name if ctx.source else None, now=ctx.now
    )


def write_chunk(session: Session, ctx: _Context, chunk: list[tuple[Any, dict[str, Any]]]) -> tuple[int, int, int, int]:
    """Write prepared items; returns (created, updated, unchanged, quarantined)."""
    if not chunk:
        return 0, 0, 0, 0
    if ctx.entity == "events":
        assert ctx.source is not None
        result = ingest.ingest_messages(session, [item for item, _ in chunk], source=ctx.source, actor=ctx.actor)
        return result.accepted, 0, result.duplicates, 0
    writer = WRITERS[ctx.entity]
    try:
        with session.begin_nested():
            outcome = writer(session, [item for item, _ in chunk], system=ctx.mapping.system)
    except IntegrityError:
        if len(chunk) == 1:
            _quarantine(session, ctx, chunk[0][1], ["conflicts with a row already stored (unique value taken)"])
            return 0, 0, 0, 1
        # Find the offending row without losing the others: halve until it is alone.
        half = len(chunk) // 2
        a, b = write_chunk(session, ctx, chunk[:half]), write_chunk(session, ctx, chunk[half:])
        return a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]
    for index, reason in outcome.problems.items():
        _quarantine(session, ctx, chunk[index][1], [reason])
    contacts_changed(session, outcome.touched, reason="import")
    return outcome.created, outcome.updated, outcome.unchanged, len(outcome.problems)


def import_file(
    engine: Engine,
    entity: str,
    path: Path,
    *,
    actor: Actor,
    preset: str | None = None,
    mapping_file: Path | None = None,
    source_name: str | None = None,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    actor.require("editor")
    try:
        mapping = build_mapping(entity, read_columns(path), preset=preset, mapping_file=mapping_file)
    except ValidationFailed as exc:
        raise ImportRefused(exc.message) from exc
    session = session_factory(engine)()
    try:
        run = ImportRun(
            entity=entity, filename=path.name, mapping=mapping.name, system=mapping.system, source_name=source_name,
            status="running", actor=actor.name, started_at=utcnow(),
        )  # fmt: skip
        session.add(run)
        source = _event_source(session, source_name, actor) if entity == "events" else None
        session.commit()
        ctx = _Context(entity, mapping, _specs(session, entity), checker(session), source, run.id, actor, utcnow())
        counts = [0, 0, 0, 0]
        samples: list[str] = []
        chunk: list[tuple[Any, dict[str, Any]]] = []
        try:
            for number, row in enumerate(iter_rows(path), start=1):
                run.rows_total = number
                reasons, payload, item = _one_row(ctx, row, number)
                if reasons:
                    _quarantine(session, ctx, payload, reasons)
                    counts[3] += 1
                    if len(samples) < 5:
                        samples.append(f"row {number}: {'; '.join(reasons)}")
                else:
                    chunk.append((item, payload))
                if len(chunk) >= chunk_size:
                    counts = _add(counts, write_chunk(session, ctx, chunk))
                    chunk = []
                    _save(session, run, counts)
                if progress:
                    progress(1)
            counts = _add(counts, write_chunk(session, ctx, chunk))
            run.status = "completed"
        except Exception as exc:
            session.rollback()
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            run.finished_at = utcnow()
            _save(session, run, counts)
        audit.record(session, actor=actor, action="import", entity_type="import_run", entity_id=run.id,
                     changes={"file": [None, path.name], "created": [None, counts[0]], "updated": [None, counts[1]],
                              "quarantined": [None, counts[3]]})  # fmt: skip
        session.commit()
        created, updated, unchanged, quarantined = counts
        return ImportSummary(
            run.id, entity, run.rows_total, created, updated, unchanged, quarantined, mapping.ignored, tuple(samples)
        )
    finally:
        session.close()


def _specs(session: Session, entity: str) -> dict[str, FieldSpec]:
    return custom_field_specs(session, entity.rstrip("s")) if entity in ("contacts", "accounts") else {}


def _one_row(ctx: _Context, row: dict[str, Any], number: int) -> tuple[list[str], dict[str, Any], Any]:
    if "__invalid__" in row:
        return [str(row["__invalid__"])], {"row": number, "original": row}, None
    record = ctx.mapping.apply(row)
    if not ctx.mapping.name:
        unknown = [k for k in row if k not in ctx.mapping.columns and row[k] not in (None, "")]
        if unknown:
            return [f"unknown fields: {', '.join(unknown)}"], {"row": number, "record": record, "original": row}, None
    item, reasons = prepare(ctx, record)
    return reasons, {"row": number, "record": record, "original": row}, item


def _add(a: list[int], b: tuple[int, int, int, int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


def _save(session: Session, run: ImportRun, counts: list[int]) -> None:
    run.created, run.updated, run.unchanged, run.quarantined = counts
    session.add(run)
    session.commit()


def replay_import_record(session: Session, record: QuarantinedRecord, *, actor: Actor) -> list[str]:
    """Run one quarantined import row (as fixed) through the same pipeline; returns what is still wrong."""
    payload = record.payload.get("record")
    if not isinstance(payload, dict):
        return ["this row could not be read at all; fix the record (payload.record) before replaying"]
    run = session.get(ImportRun, record.import_run_id) if record.import_run_id else None
    mapping = Mapping(record.entity, run.mapping if run else None, run.system if run else "import", {})
    source = session.get(Source, record.source_id) if record.source_id else None
    if record.entity == "events" and source is None:
        source = _event_source(session, run.source_name if run else None, actor)
    ctx = _Context(
        record.entity,
        mapping,
        _specs(session, record.entity),
        checker(session),
        source,
        record.import_run_id,
        actor,
        utcnow(),
    )
    item, reasons = prepare(ctx, payload)
    if reasons:
        return reasons
    created, updated, unchanged, quarantined = write_chunk(session, ctx, [(item, record.payload)])
    if quarantined:
        return ["still conflicts with a stored row; see the new quarantine entry"]
    del created, updated, unchanged
    return []
