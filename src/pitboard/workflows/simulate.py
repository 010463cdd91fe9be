"""Dry run (``pitboard plan``): who would have enrolled in a workflow since a date and what would have happened.

Nothing is written. Trigger occurrences come from history (events, lifecycle changes, segment stays); the entry
condition, branches and wait conditions are evaluated on today's data (history of fields is not kept), A/B splits
and the holdout use the same deterministic assignment as the engine, approvals are assumed approved, waits are
counted and passed through. Field-change and manual triggers cannot be replayed from history and say so.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, LifecycleStageChange, Segment, SegmentMembership
from pitboard.workflows import engine
from pitboard.workflows import schemas as s

PATH_SAMPLE = 2000  # contacts whose path is walked step by step; counts beyond it are scaled
SHOWN = 20


def _occurrences(session: Session, spec: s.WorkflowSpec, since: datetime) -> list[tuple[int, str]] | None:
    trigger = spec.trigger
    if trigger.type in ("event", "form_submitted"):
        rows = session.execute(
            select(Event.id, Event.contact_id, Event.properties)
            .where(Event.name == trigger.event_name, Event.received_at >= since, Event.contact_id.is_not(None))
            .order_by(Event.id)
        )
        out = []
        for eid, cid, props in rows:
            props = props or {}
            if trigger.form is not None and props.get("form") != trigger.form:
                continue
            if any(props.get(k) != v for k, v in trigger.properties.items()):
                continue
            out.append((int(cid), f"event:{eid}"))
        return out
    if trigger.type == "lifecycle_change":
        stmt = select(LifecycleStageChange.id, LifecycleStageChange.contact_id).where(
            LifecycleStageChange.changed_at >= since
        )
        if trigger.to:
            stmt = stmt.where(LifecycleStageChange.to_stage == trigger.to)
        if trigger.from_:
            stmt = stmt.where(LifecycleStageChange.from_stage == trigger.from_)
        return [(int(c), f"lifecycle:{i}") for i, c in session.execute(stmt.order_by(LifecycleStageChange.id))]
    if trigger.type in ("segment_entry", "segment_exit"):
        segment = session.scalar(select(Segment).where(Segment.key == trigger.segment))
        if segment is None:
            return []
        column = SegmentMembership.entered_at if trigger.type == "segment_entry" else SegmentMembership.exited_at
        stmt = select(SegmentMembership.id, SegmentMembership.member_id).where(
            SegmentMembership.segment_id == segment.id, column >= since
        )
        return [(int(c), f"segment:{i}") for i, c in session.execute(stmt.order_by(SegmentMembership.id))]
    if trigger.type == "date" and trigger.field in s.DATE_FIELDS:
        column = getattr(Contact, trigger.field)
        start = since - timedelta(days=trigger.offset_days)
        rows = session.execute(select(Contact.id, column).where(column >= start, column < utcnow()))
        return [(int(c), f"date:{(d.date() + timedelta(days=trigger.offset_days)).isoformat()}") for c, d in rows]
    return None


def _walk(session: Session, loaded: engine.Loaded, contact_id: int, now: datetime) -> list[str]:
    """The steps a contact would pass, in order (bounded: a loop is cut after 100 steps)."""
    spec = loaded.spec
    path: list[str] = []
    step_id: str | None = spec.steps[0].id
    while step_id is not None and len(path) < 100:
        step = spec.step(step_id)
        path.append(step.id)
        if isinstance(step, s.Exit):
            break
        if isinstance(step, s.Branch):
            tree = loaded.conditions[f"steps.{spec.index(step.id)}.condition"]
            hit = engine.matches(session, contact_id, tree, now)
            step_id = (step.then or spec.following(step)) if hit else (step.else_ or spec.following(step))
        elif isinstance(step, s.Split):
            step_id = engine.split_variant(loaded.key, step, contact_id).next or spec.following(step)
        else:
            step_id = spec.following(step)
    return path


def simulate(session: Session, specs: list[s.WorkflowSpec], since: date) -> dict[str, Any]:
    registry = load_field_registry(session)
    now = utcnow()
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    report: dict[str, Any] = {"since": since.isoformat(), "workflows": {}, "notes": []}
    for spec in specs:
        conditions = {where: s.condition(data, registry) for where, data in s.conditions_of(spec)}
        loaded = engine.Loaded(0, spec.key, "", spec, conditions)
        found = _occurrences(session, spec, start)
        if found is None:
            report["workflows"][spec.key] = {"note": f"{spec.trigger.type} triggers cannot be replayed from history"}
            continue
        enrolled: list[int] = []
        per_contact: Counter[int] = Counter()
        for cid, _key in found:
            if spec.reentry != "always" and per_contact[cid]:
                continue  # once / after_exit: one enrolment per contact in a dry run
            entry = conditions.get("condition")
            if entry is not None and not engine.matches(session, cid, entry, now):
                continue
            per_contact[cid] += 1
            enrolled.append(cid)
        held = [c for c in enrolled if spec.holdout > 0 and engine.unit(spec.key, "holdout", c) < spec.holdout]
        treated = [c for c in enrolled if c not in set(held)]
        steps: Counter[str] = Counter()
        sample = treated[:PATH_SAMPLE]
        for cid in sample:
            steps.update(_walk(session, loaded, cid, now))
        scale = len(treated) / len(sample) if sample else 0.0
        actions = {step.id: step.action for step in spec.steps}
        report["workflows"][spec.key] = {
            "trigger": spec.trigger.type,
            "occurrences": len(found),
            "would_enrol": len(enrolled),
            "contacts": len(set(enrolled)),
            "holdout": len(held),
            "steps": {sid: {"action": actions[sid], "runs": round(n * scale)} for sid, n in steps.items()},
            "emails": round(sum(n for sid, n in steps.items() if actions[sid] == "send_email") * scale),
            "sample_contacts": sorted(set(enrolled))[:SHOWN],
            "scaled_from": len(sample) if scale > 1 else None,
        }
    if specs:
        report["notes"].append(
            "entry conditions and branches are evaluated on today's data; approvals are assumed approved"
        )
    return report
