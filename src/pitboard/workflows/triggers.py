"""Noticing triggers.

Most triggers are found by the ``contacts.changed`` listener (order 40: after scoring, lifecycle and segments
have updated the contacts), which the worker runs after events are ingested, contacts edited or imported:

- event / form_submitted: the contacts' events of that name received since the workflow was activated;
- lifecycle_change: their ``lifecycle_stage_changes`` rows (optionally to / from a stage);
- segment_entry / segment_exit: their ``segment_memberships`` stays that began / ended;
- field_change: the field's value compared with the last value seen (``workflow_field_values``).

Each occurrence has a key (``event:<id>``, ``lifecycle:<id>``, ``segment:<id>:in``...) that is part of the
enrolment's unique key, so seeing an occurrence twice (a retried job, the sweep) enrols once. A periodic sweep
(``workflows.sweep``, every minute) looks at lifecycle and segment changes of the last ``SWEEP_WINDOW`` for all
contacts, catching changes made where no ``contacts.changed`` job follows (a static list edited in the UI, the
daily segment refresh). Date triggers run from the hourly ``workflows.dates`` task.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, or_, select
from sqlalchemy.orm import Session

from pitboard.contacts.changes import on_contacts_changed
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.models import Contact, Event, LifecycleStageChange, Segment, SegmentMembership
from pitboard.models.workflows import Workflow, WorkflowEnrolment, WorkflowFieldValue
from pitboard.worker import queue
from pitboard.workflows import engine

log = get_logger(__name__)

LOOKBACK = timedelta(days=1)  # a contacts.changed job older than this is late; its events are not triggers
SWEEP_WINDOW = timedelta(minutes=15)
_CHUNK = 500
RETRY_TASK = "workflows.triggers"


def field_expression(name: str) -> ColumnElement[Any]:
    """The field as text in SQL (the same expression when snapshotting and when comparing)."""
    if name.startswith("custom."):
        return Contact.custom[name.removeprefix("custom.")].as_string()  # type: ignore[no-any-return]
    column: ColumnElement[Any] = cast(getattr(Contact, name), String)
    return column


def _active(session: Session, types: Sequence[str]) -> list[Workflow]:
    rows = session.scalars(select(Workflow).where(Workflow.active.is_(True)).order_by(Workflow.id))
    return [row for row in rows if (row.definition.get("trigger") or {}).get("type") in types]


def _activated(session: Session, loaded: engine.Loaded) -> datetime:
    row = session.get(Workflow, loaded.row_id)
    assert row is not None
    return row.activated_at


def _enrol_all(
    session: Session, loaded: engine.Loaded, occurrences: list[tuple[int, str, dict[str, Any]]], now: datetime
) -> int:
    """Enrol (contact, key, trigger data) occurrences in order; returns how many enrolled."""
    if not occurrences:
        return 0
    contact_ids = sorted({c for c, _, _ in occurrences})
    # Skip occurrences enrolled before (the unique key would, but this spares the work of checking conditions).
    keys = {"once"} | {k[:200] for _, k, _ in occurrences}
    seen = {
        (int(c), str(k))
        for c, k in session.execute(
            select(WorkflowEnrolment.contact_id, WorkflowEnrolment.trigger_key).where(
                WorkflowEnrolment.workflow_id == loaded.row_id, WorkflowEnrolment.contact_id.in_(contact_ids),
                WorkflowEnrolment.trigger_key.in_(keys),
            )
        )
    }  # fmt: skip
    once = loaded.spec.reentry == "once"
    fresh = [o for o in occurrences if (o[0], "once" if once else o[1][:200]) not in seen]
    if not fresh:
        return 0
    # Lock the contacts once, in id order (no deadlocks between workers): their steps run one at a time. FOR NO
    # KEY UPDATE: event inserts (whose foreign keys take KEY SHARE on contacts, in any order) are not blocked.
    locked = sorted({c for c, _, _ in fresh})
    contacts = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(Contact.id.in_(locked)).order_by(Contact.id).with_for_update(key_share=True)
        )
    }
    return engine.enrol_many(session, loaded, fresh, now=now, contacts=contacts)


def _events(session: Session, loaded: engine.Loaded, contact_ids: Sequence[int], now: datetime) -> int:
    trigger = loaded.spec.trigger
    since = max(_activated(session, loaded), now - LOOKBACK)
    stmt = (
        select(
            Event.id,
            Event.contact_id,
            Event.name,
            Event.properties,
            Event.utm_source,
            Event.utm_medium,
            Event.utm_campaign,
        )
        .where(Event.contact_id.in_(contact_ids), Event.name == trigger.event_name, Event.received_at >= since)
        .order_by(Event.id)
    )
    occurrences = []
    for eid, cid, name, properties, src, medium, campaign in session.execute(stmt):
        props = properties or {}
        if trigger.form is not None and props.get("form") != trigger.form:
            continue
        if any(props.get(k) != v for k, v in trigger.properties.items()):
            continue
        data = {"type": trigger.type, "event_id": eid, "name": name, "properties": props,
                "utm_source": src, "utm_medium": medium, "utm_campaign": campaign}  # fmt: skip
        occurrences.append((int(cid), f"event:{eid}", data))
    return _enrol_all(session, loaded, occurrences, now)


def _lifecycle(session: Session, loaded: engine.Loaded, contact_ids: Sequence[int] | None, now: datetime) -> int:
    trigger = loaded.spec.trigger
    since = max(_activated(session, loaded), now - (LOOKBACK if contact_ids is not None else SWEEP_WINDOW))
    stmt = select(LifecycleStageChange).where(LifecycleStageChange.changed_at >= since)
    if contact_ids is not None:
        stmt = stmt.where(LifecycleStageChange.contact_id.in_(contact_ids))
    if trigger.to:
        stmt = stmt.where(LifecycleStageChange.to_stage == trigger.to)
    if trigger.from_:
        stmt = stmt.where(LifecycleStageChange.from_stage == trigger.from_)
    occurrences = [
        (c.contact_id, f"lifecycle:{c.id}", {"type": "lifecycle_change", "from": c.from_stage, "to": c.to_stage})
        for c in session.scalars(stmt.order_by(LifecycleStageChange.id))
    ]
    return _enrol_all(session, loaded, occurrences, now)


def _segments(session: Session, loaded: engine.Loaded, contact_ids: Sequence[int] | None, now: datetime) -> int:
    trigger = loaded.spec.trigger
    segment = session.scalar(select(Segment).where(Segment.key == trigger.segment))
    if segment is None or segment.entity != "contact":
        return 0
    since = max(_activated(session, loaded), now - (LOOKBACK if contact_ids is not None else SWEEP_WINDOW))
    entry = trigger.type == "segment_entry"
    column = SegmentMembership.entered_at if entry else SegmentMembership.exited_at
    stmt = select(SegmentMembership).where(SegmentMembership.segment_id == segment.id, column >= since)
    if contact_ids is not None:
        stmt = stmt.where(SegmentMembership.member_id.in_(contact_ids))
    suffix = "in" if entry else "out"
    occurrences = [
        (m.member_id, f"segment:{m.id}:{suffix}", {"type": trigger.type, "segment": segment.key})
        for m in session.scalars(stmt.order_by(SegmentMembership.id))
    ]
    # A member id whose contact is gone (merged, erased) cannot enrol.
    alive = set(session.scalars(select(Contact.id).where(Contact.id.in_({o[0] for o in occurrences})))) if (
        occurrences) else set()  # fmt: skip
    return _enrol_all(session, loaded, [o for o in occurrences if o[0] in alive], now)


def _fields(session: Session, loaded: engine.Loaded, contact_ids: Sequence[int], now: datetime) -> int:
    trigger = loaded.spec.trigger
    assert trigger.field is not None
    current: dict[int, str | None] = dict(
        session.execute(select(Contact.id, field_expression(trigger.field)).where(Contact.id.in_(contact_ids))).all()
    )
    seen = {
        row.contact_id: row
        for row in session.scalars(
            select(WorkflowFieldValue).where(
                WorkflowFieldValue.workflow_id == loaded.row_id, WorkflowFieldValue.contact_id.in_(contact_ids)
            )
        )
    }
    occurrences = []
    for cid in sorted(current):
        value = current[cid]
        row = seen.get(cid)
        old = row.value if row is not None else None
        if row is not None and old == value:
            continue
        if row is None:
            session.add(WorkflowFieldValue(workflow_id=loaded.row_id, contact_id=cid, value=value, seen_at=now))
        else:
            row.value, row.seen_at = value, now
        if row is None and value is None:
            continue
        if trigger.to is not None and value != trigger.to:
            continue
        if trigger.from_ is not None and old != trigger.from_:
            continue
        data = {"type": "field_change", "field": trigger.field, "from": old, "to": value}
        occurrences.append((int(cid), f"field:{now.isoformat()}", data))
    session.flush()
    return _enrol_all(session, loaded, occurrences, now)


@on_contacts_changed("workflows", order=40)
def on_changed(session: Session, contact_ids: list[int], reason: str) -> None:
    if not contact_ids:
        return
    now = utcnow()
    engine.wake(session, contact_ids)
    types = ("event", "form_submitted", "lifecycle_change", "segment_entry", "segment_exit", "field_change")
    for row in _active(session, types):
        # One broken workflow (a condition naming a deleted custom field, say) must not hold up scoring and
        # segments, which run in this same job: its part is retried as a job of its own, visibly.
        try:
            with session.begin_nested():
                _notice(session, engine.load(session, row), contact_ids, now)
        except Exception as exc:
            log.warning("workflow triggers failed; queued for retry", workflow=row.key, error=str(exc)[:300])
            queue.enqueue(session, RETRY_TASK, {"workflow_id": row.id, "contact_ids": contact_ids,
                                                "at": now.isoformat()}, max_attempts=8)  # fmt: skip


def _notice(session: Session, loaded: engine.Loaded, contact_ids: list[int], now: datetime) -> None:
    kind = loaded.spec.trigger.type
    for start in range(0, len(contact_ids), _CHUNK):
        chunk = contact_ids[start : start + _CHUNK]
        if kind in ("event", "form_submitted"):
            _events(session, loaded, chunk, now)
        elif kind == "lifecycle_change":
            _lifecycle(session, loaded, chunk, now)
        elif kind in ("segment_entry", "segment_exit"):
            _segments(session, loaded, chunk, now)
        elif kind == "field_change":
            _fields(session, loaded, chunk, now)


@queue.task(RETRY_TASK)
def retry_triggers(session: Session, payload: dict[str, Any]) -> None:
    """One workflow's triggers for some contacts, after the listener failed on them (retried, then dead)."""
    row = session.get(Workflow, int(payload["workflow_id"]))
    if row is None or not row.active:
        return
    at = datetime.fromisoformat(payload["at"]) if payload.get("at") else utcnow()
    _notice(session, engine.load(session, row), [int(c) for c in payload["contact_ids"]], at)


def sweep(session: Session, *, now: datetime | None = None) -> int:
    """Lifecycle and segment triggers of the last few minutes, for every contact."""
    now = now or utcnow()
    enrolled = 0
    for row in _active(session, ("lifecycle_change", "segment_entry", "segment_exit")):
        loaded = engine.load(session, row)
        if loaded.spec.trigger.type == "lifecycle_change":
            enrolled += _lifecycle(session, loaded, None, now)
        else:
            enrolled += _segments(session, loaded, None, now)
    return enrolled


def dates(session: Session, *, now: datetime | None = None) -> int:
    """Date triggers: contacts whose date field plus ``offset_days`` is today (UTC) enrol once for that day."""
    now = now or utcnow()
    today = now.date()
    enrolled = 0
    for row in _active(session, ("date",)):
        loaded = engine.load(session, row)
        trigger = loaded.spec.trigger
        assert trigger.field is not None
        target = today - timedelta(days=trigger.offset_days)
        if trigger.field.startswith("custom."):
            expr = Contact.custom[trigger.field.removeprefix("custom.")].as_string()
            where: ColumnElement[bool] = expr.like(f"{target.isoformat()}%")
        else:
            column = getattr(Contact, trigger.field)
            start = datetime(target.year, target.month, target.day, tzinfo=now.tzinfo)
            where = and_(column >= start, column < start + timedelta(days=1))
        ids = list(session.scalars(select(Contact.id).where(or_(where)).order_by(Contact.id)))
        occurrences = [(cid, f"date:{target.isoformat()}", {"type": "date", "date": target.isoformat()}) for cid in ids]
        for start_i in range(0, len(occurrences), _CHUNK):
            enrolled += _enrol_all(session, loaded, occurrences[start_i : start_i + _CHUNK], now)
    return enrolled
