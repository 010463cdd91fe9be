"""The work board: settings (campaign_ops.yml as applied), items, moves with WIP limits, blocked flags.

Every change of column or blocked flag writes a ``work_item_transitions`` row in the same transaction: flow
metrics are computed from that history only. A move into a column at its WIP limit is refused with a clear
error unless the caller passes ``override=True`` with a reason, which is recorded on the transition.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models.workboard import (
    ITEM_TYPES,
    PRIORITIES,
    SERVICE_TIERS,
    CampaignOpsSetting,
    WorkItem,
    WorkItemTransition,
)
from pitboard.workboard.config import BoardColumn, CampaignOpsFile, default_spec

SETTING_KEY = "campaign_ops"
PRIORITY_ORDER = {p: i for i, p in enumerate(PRIORITIES)}


# --- settings ------------------------------------------------------------------------------------


def current_spec(session: Session) -> CampaignOpsFile:
    row = session.scalar(select(CampaignOpsSetting).where(CampaignOpsSetting.key == SETTING_KEY))
    return CampaignOpsFile.model_validate(row.definition) if row is not None else default_spec()


def apply_spec(
    session: Session, spec: CampaignOpsFile | None, *, actor: Actor, origin: str = "project"
) -> dict[str, list[str]]:
    """Make the stored definition equal to ``spec`` (None: back to the built-in default). Returns the sections
    that changed. A column that still holds items cannot be removed: move them first."""
    actor.require("admin")
    row = session.scalar(select(CampaignOpsSetting).where(CampaignOpsSetting.key == SETTING_KEY))
    if spec is None and row is None:
        return {}
    reset = spec is None
    spec = spec or default_spec()
    old = CampaignOpsFile.model_validate(row.definition) if row is not None else default_spec()
    keys = {c.key for c in spec.board.columns}
    stranded = session.execute(
        select(WorkItem.column_key, func.count()).where(WorkItem.column_key.not_in(keys)).group_by(WorkItem.column_key)
    ).all()
    if stranded:
        text = ", ".join(f"{col} ({n} items)" for col, n in stranded)
        raise ValidationFailed(f"board.columns: columns still holding items cannot be removed: {text}")
    changed = [name for name in ("naming", "checklists", "approvals", "board")
               if _dump(getattr(old, name)) != _dump(getattr(spec, name))]  # fmt: skip
    if reset and row is not None:
        session.delete(row)
        session.flush()
        audit.record(session, actor=actor, action="reset", entity_type="campaign_ops", entity_id=SETTING_KEY,
                     changes={"sections": changed})  # fmt: skip
        return {"reset to the built-in default": changed or ["campaign_ops"]}
    if row is None:
        row = CampaignOpsSetting(key=SETTING_KEY, definition=spec.model_dump(mode="json"), checksum=spec.checksum(),
                                 origin=origin, updated_at=utcnow())  # fmt: skip
        session.add(row)
        changed = changed or ["stored"]
    elif row.checksum != spec.checksum():
        row.definition, row.checksum, row.origin, row.updated_at = (
            spec.model_dump(mode="json"),
            spec.checksum(),
            origin,
            utcnow(),
        )
    else:
        return {}
    session.flush()
    audit.record(session, actor=actor, action="apply", entity_type="campaign_ops", entity_id=SETTING_KEY,
                 changes={"sections": changed})  # fmt: skip
    return {"updated": changed}


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


# --- items ---------------------------------------------------------------------------------------


def get_item(session: Session, item_id: int) -> WorkItem:
    item = session.get(WorkItem, item_id)
    if item is None:
        raise NotFound(f"no work item {item_id}")
    return item


def _column(spec: CampaignOpsFile, key: str) -> BoardColumn:
    col = spec.column(key)
    if col is None:
        raise ValidationFailed(f"column must be one of {', '.join(c.key for c in spec.board.columns)}, got {key!r}")
    return col


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValidationFailed(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _next_rank(session: Session, column_key: str) -> float:
    top = session.scalar(select(func.max(WorkItem.rank)).where(WorkItem.column_key == column_key))
    return float(top or 0) + 1.0


def create_item(
    session: Session,
    *,
    title: str,
    item_type: str,
    actor: Actor,
    priority: str = "normal",
    service_tier: str = "standard",
    description: str | None = None,
    owner_email: str | None = None,
    requested_by: str | None = None,
    campaign_id: int | None = None,
    at: datetime | None = None,
) -> WorkItem:
    actor.require("editor")
    title = title.strip()
    if not title:
        raise ValidationFailed("title is required")
    if len(title) > 300:
        raise ValidationFailed("title is longer than 300 characters")
    _check_choice("item_type", item_type, ITEM_TYPES)
    _check_choice("priority", priority, PRIORITIES)
    _check_choice("service_tier", service_tier, SERVICE_TIERS)
    spec = current_spec(session)
    now = ensure_utc(at) if at else utcnow()
    first = spec.board.columns[0]
    tier = spec.board.tiers.get(service_tier)  # type: ignore[call-overload]
    sla = tier.sla_hours if tier is not None else None
    item = WorkItem(
        title=title, item_type=item_type, description=description, column_key=first.key,
        rank=_next_rank(session, first.key), priority=priority, service_tier=service_tier, blocked=False,
        owner_email=owner_email, requested_by=requested_by or actor.name, campaign_id=campaign_id,
        column_entered_at=now, due_at=now + timedelta(hours=sla) if sla else None, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(item)
    session.flush()
    session.add(WorkItemTransition(item_id=item.id, at=now, kind="created", from_column=None, to_column=first.key,
                                   actor=actor.name, wip_override=False))  # fmt: skip
    audit.record(session, actor=actor, action="create", entity_type="work_item", entity_id=item.id,
                 changes={"title": [None, title], "item_type": [None, item_type]})  # fmt: skip
    session.flush()
    return item


def column_count(session: Session, column_key: str, *, excluding: int | None = None) -> int:
    stmt = select(func.count()).select_from(WorkItem).where(WorkItem.column_key == column_key)
    if excluding is not None:
        stmt = stmt.where(WorkItem.id != excluding)
    return int(session.scalar(stmt) or 0)


def _lock_column(session: Session, column_key: str) -> None:
    """Serialise moves into one column for the rest of the transaction, so two concurrent moves cannot both
    take its last free slot. SQLite needs nothing: every transaction there holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"pitboard.wip:{column_key}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def move_item(
    session: Session,
    item_id: int,
    to_column: str,
    *,
    actor: Actor,
    override: bool = False,
    reason: str | None = None,
    at: datetime | None = None,
) -> WorkItem:
    """Move to ``to_column`` (at the bottom). Over the WIP limit only with ``override`` and a ``reason``."""
    actor.require("editor")
    spec = current_spec(session)
    target = _column(spec, to_column)
    item = session.get(WorkItem, item_id, with_for_update=True)
    if item is None:
        raise NotFound(f"no work item {item_id}")
    if item.column_key == to_column:
        return item
    reason = (reason or "").strip() or None
    over = False
    if target.wip_limit is not None:
        _lock_column(session, to_column)
        in_column = column_count(session, to_column, excluding=item.id)
        if in_column >= target.wip_limit:
            if not override:
                raise Conflict(
                    f"{target.name} is at its WIP limit ({in_column}/{target.wip_limit}): finish or move something "
                    f"out first, or move with an override and a reason"
                )
            if not reason:
                raise ValidationFailed("a move over the WIP limit needs a reason: it is recorded")
            over = True
    now = ensure_utc(at) if at else utcnow()
    session.add(WorkItemTransition(item_id=item.id, at=now, kind="moved", from_column=item.column_key,
                                   to_column=to_column, actor=actor.name, wip_override=over, note=reason))  # fmt: skip
    old = item.column_key
    item.column_key, item.column_entered_at, item.rank, item.updated_at = (
        to_column,
        now,
        _next_rank(session, to_column),
        now,
    )
    if target.kind != "queue" and item.started_at is None:
        item.started_at = now
    item.finished_at = now if target.kind == "done" else None
    audit.record(session, actor=actor, action="move", entity_type="work_item", entity_id=item.id,
                 changes={"column": [old, to_column], **({"wip_override": [False, True]} if over else {})})  # fmt: skip
    session.flush()
    return item


def set_blocked(
    session: Session,
    item_id: int,
    blocked: bool,
    *,
    actor: Actor,
    reason: str | None = None,
    at: datetime | None = None,
) -> WorkItem:
    actor.require("editor")
    item = get_item(session, item_id)
    reason = (reason or "").strip()[:500] or None
    if blocked and not reason:
        raise ValidationFailed("say why the item is blocked (reason)")
    if item.blocked == blocked:
        return item
    now = ensure_utc(at) if at else utcnow()
    session.add(WorkItemTransition(item_id=item.id, at=now, kind="blocked" if blocked else "unblocked",
                                   from_column=item.column_key, to_column=item.column_key, actor=actor.name,
                                   wip_override=False, note=reason))  # fmt: skip
    changes = {"blocked": [item.blocked, blocked], "reason": [item.blocked_reason, reason]}
    audit.record(session, actor=actor, action="block" if blocked else "unblock", entity_type="work_item",
                 entity_id=item.id, changes=changes)  # fmt: skip
    item.blocked, item.blocked_reason, item.updated_at = blocked, reason if blocked else None, now
    session.flush()
    return item


def update_item(session: Session, item_id: int, values: dict[str, Any], *, actor: Actor) -> WorkItem:
    """Title, description, priority, service tier, owner. Column and blocked have their own calls."""
    actor.require("editor")
    allowed = {"title", "description", "priority", "service_tier", "owner_email"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValidationFailed(f"cannot change {', '.join(unknown)} here (allowed: {', '.join(sorted(allowed))})")
    if "priority" in values:
        _check_choice("priority", values["priority"], PRIORITIES)
    if "service_tier" in values:
        _check_choice("service_tier", values["service_tier"], SERVICE_TIERS)
    if "title" in values and not (values["title"] or "").strip():
        raise ValidationFailed("title is required")
    item = get_item(session, item_id)
    audit.update_recorded(session, item, values, actor=actor, entity_type="work_item")
    return item


# --- the board as shown --------------------------------------------------------------------------


@dataclass
class ColumnView:
    column: BoardColumn
    items: list[WorkItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def over_limit(self) -> bool:
        return self.column.wip_limit is not None and self.count > self.column.wip_limit

    @property
    def at_limit(self) -> bool:
        return self.column.wip_limit is not None and self.count >= self.column.wip_limit


def board_view(
    session: Session,
    *,
    item_type: str | None = None,
    done_limit: int = 50,
) -> list[ColumnView]:
    """Columns with their items: blocked first, then by priority, then by rank. Done shows the latest ones."""
    spec = current_spec(session)
    views = {c.key: ColumnView(c) for c in spec.board.columns}
    done_keys = [c.key for c in spec.board.columns if c.kind == "done"]
    stmt = select(WorkItem).where(WorkItem.column_key.not_in(done_keys))
    if item_type:
        stmt = stmt.where(WorkItem.item_type == item_type)
    for item in session.scalars(stmt):
        if item.column_key in views:
            views[item.column_key].items.append(item)
    for key in done_keys:
        dstmt = select(WorkItem).where(WorkItem.column_key == key)
        if item_type:
            dstmt = dstmt.where(WorkItem.item_type == item_type)
        views[key].items = list(session.scalars(dstmt.order_by(WorkItem.finished_at.desc()).limit(done_limit)))
    for key, view in views.items():
        if key not in done_keys:
            view.items.sort(key=lambda i: (not i.blocked, PRIORITY_ORDER.get(i.priority, 9), i.rank))
    return list(views.values())


def transitions(session: Session, item_id: int) -> list[WorkItemTransition]:
    stmt = select(WorkItemTransition).where(WorkItemTransition.item_id == item_id)
    return list(session.scalars(stmt.order_by(WorkItemTransition.at, WorkItemTransition.id)))
