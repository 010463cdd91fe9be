"""Streaming import with upsert (contacts by email, accounts by domain).

Rows are read one at a time, so file size does not bound memory. Each row runs in a savepoint:
a bad row is rolled back alone and written, with every reason, to the rejects file; it never
takes its neighbours down and it is never dropped silently. Batches are committed as they go so
a crash loses at most one batch, and re-running the same file is safe because rows upsert.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import AccountCreate, AccountUpdate, ContactCreate, ContactUpdate
from pitboard.kit.actor import Actor
from pitboard.kit.db import session_factory
from pitboard.kit.errors import PitboardError
from pitboard.models import Account, Identity

ENTITIES = ("contacts", "accounts")


class ImportRefused(PitboardError):
    code = "import_refused"


@dataclass
class ImportResult:
    entity: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    errors_sample: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.rejected


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def read_columns(path: Path) -> list[str]:
    """The CSV header, for up-front checks (JSON Lines rows carry their own keys)."""
    if _is_jsonl(path):
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [c.strip() for c in next(csv.reader(handle), [])]


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows one at a time; a JSON Lines line that is not an object becomes an ``__invalid__`` row."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if not _is_jsonl(path):
            reader = csv.DictReader(handle)
            reader.fieldnames = [c.strip() for c in (reader.fieldnames or [])]
            yield from reader
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


def _row_values(row: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, raw in row.items():
        if key is None:
            raise ValueError("row has more values than the header has columns")
        value = raw.strip() if isinstance(raw, str) else raw
        if value == "" or value is None:
            continue  # an empty cell never blanks out a stored value
        if key.startswith("custom."):
            custom[key.removeprefix("custom.")] = value
        elif key == "custom" and isinstance(value, dict):
            custom.update(value)
        elif key in fields:
            values[key] = value
    if custom:
        values["custom"] = custom
    return values


def _format_validation(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _upsert_contact(session: Session, values: dict[str, Any], actor: Actor) -> str:
    email = values.get("email")
    existing = None
    if email:
        normalized = contacts.normalize_email(email)
        existing = session.scalar(
            select(Identity.contact_id).where(Identity.kind == "email", Identity.value == normalized)
        )
    if existing is None:
        contacts.create_contact(session, ContactCreate.model_validate(values), actor=actor)
        return "created"
    before = contacts.get_contact(session, existing).updated_at
    contact = contacts.update_contact(session, existing, ContactUpdate.model_validate(values), actor=actor)
    return "updated" if contact.updated_at != before else "unchanged"


def _upsert_account(session: Session, values: dict[str, Any], actor: Actor) -> str:
    domain = contacts.normalize_domain(values.get("domain"))
    existing = session.scalar(select(Account.id).where(Account.domain == domain)) if domain else None
    if existing is None:
        contacts.create_account(session, AccountCreate.model_validate(values), actor=actor)
        return "created"
    before = contacts.get_account(session, existing).updated_at
    account = contacts.update_account(session, existing, AccountUpdate.model_validate(values), actor=actor)
    return "updated" if account.updated_at != before else "unchanged"


_UPSERTS: dict[str, tuple[type[BaseModel], Callable[[Session, dict[str, Any], Actor], str]]] = {
    "contacts": (ContactCreate, _upsert_contact),
    "accounts": (AccountCreate, _upsert_account),
}


def import_file(
    engine: Engine,
    entity: str,
    path: Path,
    *,
    actor: Actor,
    rejects_path: Path | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    if entity not in _UPSERTS:
        raise ImportRefused(f"cannot import {entity!r}; choose one of {', '.join(ENTITIES)}")
    schema, upsert = _UPSERTS[entity]
    fields = set(schema.model_fields)
    unknown = [c for c in read_columns(path) if c not in fields and not c.startswith("custom.")]
    if unknown:
        raise ImportRefused(
            f"{path.name} has columns pitboard does not know: {', '.join(unknown)}. "
            f"Rename them to one of {', '.join(sorted(fields))} or custom.<field>."
        )
    result = ImportResult(entity=entity, rejects_path=rejects_path or path.with_name(path.stem + ".rejects.jsonl"))
    assert result.rejects_path is not None
    session = session_factory(engine)()
    rejects = None
    try:
        for number, row in enumerate(iter_rows(path), start=1):
            reason = _import_row(session, upsert, row, fields, actor, result)
            if reason is not None:
                if rejects is None:
                    rejects = result.rejects_path.open("w", encoding="utf-8")
                record = {"row": number, "errors": [reason], "data": {k: v for k, v in row.items() if k}}
                rejects.write(json.dumps(record, default=str) + "\n")
                if len(result.errors_sample) < 5:
                    result.errors_sample.append(f"row {number}: {reason}")
            if number % batch_size == 0:
                session.commit()
            if progress:
                progress(1)
        session.commit()
    finally:
        session.close()
        if rejects is not None:
            rejects.close()
    if result.rejected == 0:
        result.rejects_path = None
    return result


def _import_row(
    session: Session,
    upsert: Callable[[Session, dict[str, Any], Actor], str],
    row: dict[str, Any],
    fields: set[str],
    actor: Actor,
    result: ImportResult,
) -> str | None:
    """Import one row in a savepoint; returns why it was rejected, or None."""
    if "__invalid__" in row:
        result.rejected += 1
        return str(row["__invalid__"])
    try:
        with session.begin_nested():
            outcome = upsert(session, _row_values(row, fields), actor)
    except ValidationError as exc:
        result.rejected += 1
        return _format_validation(exc)
    except (PitboardError, ValueError) as exc:
        result.rejected += 1
        return getattr(exc, "message", str(exc))
    setattr(result, outcome, getattr(result, outcome) + 1)
    return None
