from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.kit.crud import apply_changes, snapshot
from pitboard.kit.time import utcnow
from pitboard.models import AuditEntry


def record(
    session: Session, *, actor: Actor, action: str, entity_type: str, entity_id: object, changes: dict[str, Any]
) -> AuditEntry:
    entry = AuditEntry(
        occurred_at=utcnow(),
        actor=actor.name,
        interface=actor.interface,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        changes=changes,
    )
    session.add(entry)
    return entry


def history(session: Session, *, entity_type: str, entity_id: object, limit: int = 100) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def update_recorded(
    session: Session,
    obj: Any,
    values: dict[str, Any],
    *,
    actor: Actor,
    entity_type: str,
    internal: tuple[str, ...] = (),
) -> dict[str, list[Any]]:
    """Apply ``values`` to ``obj`` and audit what really changed (``internal`` fields are kept out of the log)."""
    diff = apply_changes(obj, values)
    for name in internal:
        diff.pop(name, None)
    if diff:
        record(session, actor=actor, action="update", entity_type=entity_type, entity_id=obj.id, changes=diff)
        session.flush()
    return diff


def delete_recorded(session: Session, obj: Any, *, actor: Actor, entity_type: str, label: str) -> None:
    """Delete ``obj`` with an audit entry naming it by its ``label`` field."""
    record(session, actor=actor, action="delete", entity_type=entity_type, entity_id=obj.id,
           changes={label: [getattr(obj, label), None]})  # fmt: skip
    session.delete(obj)
    session.flush()


def created_recorded(session: Session, obj: Any, *, actor: Actor, entity_type: str, fields: list[str]) -> None:
    """Audit a new row (already added and flushed) with the values it was created with."""
    values = snapshot(obj, fields)
    record(session, actor=actor, action="create", entity_type=entity_type, entity_id=obj.id,
           changes={k: [None, v] for k, v in values.items() if v not in (None, {})})  # fmt: skip
