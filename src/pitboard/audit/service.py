from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
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
