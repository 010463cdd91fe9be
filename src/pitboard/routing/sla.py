"""SLAs: first-touch detection and the reminder/escalation ladder (notify owner, then manager, then re-route).

A first touch is the earliest activity after routing whose event name is one of the flow's
``first_touch.events`` (calls, sales emails, meetings), a lifecycle stage change into one of
``first_touch.stages``, or a disposition. Detection runs in the ``contacts.changed`` listener (activities
arrive as events) and again in the periodic SLA check. The check walks the ladder of every untouched lead:
each step runs once (``escalation_level`` counts the steps done, and every notification carries an
idempotency key of lead, routing time and step), so a retried or doubled job never notifies twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.time import ensure_utc, utcnow
from pitboard.logging import get_logger
from pitboard.models import Event, LifecycleStageChange, SalesUser
from pitboard.models.routing import RoutingLead
from pitboard.routing.engine import WORKER, Flow, current_flow, route_contacts
from pitboard.routing.notify import try_send
from pitboard.routing.schemas import SlaSpec, SlaStep

log = get_logger(__name__)
CHECK_LIMIT = 2000


def mark_touched(lead: RoutingLead, at: datetime, kind: str) -> None:
    lead.first_touch_at = at
    lead.first_touch_kind = kind[:200]
    if lead.sla_due_at is not None:
        lead.sla_status = "met" if ensure_utc(at) <= ensure_utc(lead.sla_due_at) else "breached"


def detect_first_touch(session: Session, contact_ids: list[int], *, flow: Flow | None = None) -> int:
    """Record the first touch of these contacts' untouched assigned leads; returns how many were touched."""
    flow = flow or current_flow(session)
    if flow is None or not contact_ids:
        return 0
    leads = list(session.scalars(select(RoutingLead).where(
        RoutingLead.contact_id.in_(contact_ids), RoutingLead.status == "assigned",
        RoutingLead.first_touch_at.is_(None))))  # fmt: skip
    if not leads:
        return 0
    ids = [lead.contact_id for lead in leads]
    since = min(ensure_utc(lead.routed_at) for lead in leads)
    touches: dict[int, list[tuple[datetime, str]]] = {}
    events = flow.spec.first_touch.events
    if events:
        for cid, name, at in session.execute(
            select(Event.contact_id, Event.name, Event.occurred_at).where(
                Event.contact_id.in_(ids), Event.name.in_(events), Event.occurred_at >= since)
        ):  # fmt: skip
            if cid is not None:
                touches.setdefault(int(cid), []).append((ensure_utc(at), f"activity: {name}"))
    stages = flow.spec.first_touch.stages
    if stages:
        for cid, stage, at in session.execute(
            select(LifecycleStageChange.contact_id, LifecycleStageChange.to_stage, LifecycleStageChange.changed_at)
            .where(LifecycleStageChange.contact_id.in_(ids), LifecycleStageChange.to_stage.in_(stages),
                   LifecycleStageChange.changed_at >= since)
        ):  # fmt: skip
            touches.setdefault(int(cid), []).append((ensure_utc(at), f"stage: {stage}"))
    touched = 0
    for lead in leads:
        routed = ensure_utc(lead.routed_at)
        after = sorted(t for t in touches.get(lead.contact_id, []) if t[0] >= routed)
        if after:
            mark_touched(lead, *after[0])
            touched += 1
    session.flush()
    return touched


def _steps(flow: Flow | None, lead: RoutingLead) -> list[SlaStep]:
    if flow is not None and lead.rule:
        for rule in flow.spec.rules:
            if rule.name == lead.rule and rule.sla is not None:
                return rule.sla.effective_steps()
    assert lead.sla_minutes is not None
    return SlaSpec(first_touch=lead.sla_minutes).effective_steps()


def check_slas(session: Session, *, now: datetime | None = None) -> dict[str, int]:
    """Detect first touches, mark breaches and run due escalation steps of leads waiting for a first touch."""
    now = ensure_utc(now) if now is not None else utcnow()
    flow = current_flow(session)
    counts = {"touched": 0, "breached": 0, "notified": 0, "rerouted": 0}
    waiting = list(session.scalars(select(RoutingLead).where(
        RoutingLead.status == "assigned", RoutingLead.first_touch_at.is_(None), RoutingLead.sla_status.in_(
            ("pending", "breached")), RoutingLead.disposition.is_(None)).order_by(RoutingLead.sla_due_at)
        .limit(CHECK_LIMIT)))  # fmt: skip
    if not waiting:
        return counts
    counts["touched"] = detect_first_touch(session, [lead.contact_id for lead in waiting], flow=flow)
    waiting = [lead for lead in waiting if lead.first_touch_at is None]
    managers = _people(session, {lead.owner_id for lead in waiting if lead.owner_id is not None})
    reroute: list[RoutingLead] = []
    for lead in waiting:
        if lead.sla_due_at is not None and now > ensure_utc(lead.sla_due_at) and lead.sla_status == "pending":
            lead.sla_status = "breached"
            counts["breached"] += 1
        elapsed = now - ensure_utc(lead.routed_at)
        steps = _steps(flow, lead)
        while lead.escalation_level < len(steps) and elapsed >= timedelta(minutes=steps[lead.escalation_level].after):
            step = steps[lead.escalation_level]
            lead.escalation_level += 1
            lead.escalated_at = now
            if step.reroute:
                reroute.append(lead)
                break
            counts["notified"] += _notify_step(session, lead, step, managers, flow, elapsed)
    if reroute:
        for lead in reroute:
            route_contacts(session, [lead.contact_id], trigger="sla", actor=WORKER, now=now, force=True,
                           exclude_owner=True, flow=flow)  # fmt: skip
            counts["rerouted"] += 1
    session.flush()
    return counts


def _people(session: Session, owner_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not owner_ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    rows = session.execute(select(SalesUser.id, SalesUser.name, SalesUser.email, SalesUser.manager_id).where(
        SalesUser.id.in_(owner_ids)))  # fmt: skip
    for uid, name, email, manager_id in rows:
        out[int(uid)] = {"name": name, "email": email, "manager_id": manager_id}
    manager_ids = {p["manager_id"] for p in out.values() if p["manager_id"] is not None}
    if manager_ids:
        found = session.execute(select(SalesUser.id, SalesUser.email).where(SalesUser.id.in_(manager_ids)))
        emails = {int(i): str(e) for i, e in found}
        for person in out.values():
            person["manager_email"] = emails.get(person["manager_id"])
    return out


def _notify_step(
    session: Session, lead: RoutingLead, step: SlaStep, people: dict[int, dict[str, Any]], flow: Flow | None,
    elapsed: timedelta,
) -> int:  # fmt: skip
    owner = people.get(lead.owner_id or -1, {})
    minutes = int(elapsed.total_seconds() // 60)
    key = f"routing:sla:{lead.id}:{ensure_utc(lead.routed_at):%Y%m%d%H%M%S%f}:{lead.escalation_level}"
    if step.notify == "owner":
        to = owner.get("email")
        subject = f"Reminder: lead {lead.contact_id} waits for a first touch ({minutes} min)"
    else:
        to = owner.get("manager_email")
        subject = f"Escalation: {owner.get('name', 'a rep')}'s lead {lead.contact_id} untouched for {minutes} min"
    if not to:
        log.warning("SLA step has nobody to notify", lead=lead.id, step=step.notify)
        return 0
    text = (f"Lead (contact {lead.contact_id}) was routed to {owner.get('name')} {minutes} minutes ago by rule "
            f"{lead.rule} and has had no call, email or meeting yet. SLA: {lead.sla_minutes} minutes.")  # fmt: skip
    try_send(session, to_email=str(to), subject=subject, text=text, link=f"/contacts/{lead.contact_id}", key=key)
    for i, channel in enumerate(flow.spec.escalation_channels if flow is not None else []):
        try_send(session, to=channel, subject=subject, text=text, link=f"/contacts/{lead.contact_id}", key=f"{key}:{i}")
    return 1


def overdue(session: Session, *, now: datetime | None = None, limit: int = 200) -> list[RoutingLead]:
    now = ensure_utc(now) if now is not None else utcnow()
    return list(session.scalars(select(RoutingLead).where(
        RoutingLead.status == "assigned", RoutingLead.first_touch_at.is_(None), RoutingLead.sla_due_at < now)
        .order_by(RoutingLead.sla_due_at).limit(limit)))  # fmt: skip


def sla_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(RoutingLead.sla_status, func.count()).where(RoutingLead.sla_status.is_not(None))
                           .group_by(RoutingLead.sla_status))  # fmt: skip
    return {str(s): int(n) for s, n in rows}
