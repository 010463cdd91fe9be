"""Routing use cases: applying the flow's pools, routing on request, dispositions, absences and reports."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Contact, SalesUser
from pitboard.models.routing import RoutingDecision, RoutingLead, RoutingOutOfOffice, RoutingPool, RoutingPoolMember
from pitboard.routing.engine import Outcome, current_flow, route_contacts
from pitboard.routing.schemas import DEFAULT_REJECTION_REASONS, RoutingFile

# --- pitboard apply -----------------------------------------------------------------------------------


def apply_flow(session: Session, spec: RoutingFile | None, *, actor: Actor) -> dict[str, list[str]]:
    """Make the stored pools equal to the flow's: create and update pools (declared and the implicit
    ``territory:`` ones) and their listed members; deactivate pools no longer used. Counters are kept, so
    a flow change continues the rotation rather than restarting it. The flow itself is stored by ``pitboard
    apply`` in the project version."""
    actor.require("admin")
    added: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    existing = {p.key: p for p in session.scalars(select(RoutingPool))}
    wanted = spec.all_pool_keys() if spec is not None else []
    if spec is not None:
        emails = {m.user for p in spec.pools for m in p.members} | {p.fallback for p in spec.pools if p.fallback}
        emails |= {arg for r in spec.rules for kind, arg in [r.action] if kind == "user"}
        known = {str(e).lower(): int(i) for i, e in session.execute(select(SalesUser.id, SalesUser.email))}
        unknown = sorted(e for e in emails if e and e not in known)
        if unknown:
            raise ValidationFailed(f"routing.yml names people who are not sales users: {', '.join(unknown)}")
        for key in wanted:
            pool = spec.pool(key)
            config = pool.model_dump(mode="json", exclude={"key", "members"})
            row = existing.get(key)
            if row is None:
                row = RoutingPool(key=key, name=pool.name or key, mode=pool.mode, config=config, active=True,
                                  assigned_total=0)  # fmt: skip
                session.add(row)
                session.flush()
                added.append(f"pool {key}")
            elif (row.mode, row.config, row.active, row.name) != (pool.mode, config, True, pool.name or key):
                row.mode, row.config, row.active, row.name = pool.mode, config, True, pool.name or key
                changed.append(f"pool {key}")
            if pool.members:
                _sync_members(session, row, [(known[m.user], m.weight) for m in pool.members], key, changed)
    for key, row in existing.items():
        if key not in wanted and row.active:
            row.active = False
            removed.append(f"pool {key}")
    if added or changed or removed:
        audit.record(session, actor=actor, action="apply", entity_type="routing_flow", entity_id="routing.yml",
                     changes={"added": added, "changed": changed, "removed": removed})  # fmt: skip
    session.flush()
    out = {"added": added, "changed": changed, "removed": removed}
    return {k: v for k, v in out.items() if v}


def _sync_members(
    session: Session, pool: RoutingPool, wanted: list[tuple[int, int]], key: str, changed: list[str]
) -> None:
    stored = {m.sales_user_id: m for m in session.scalars(select(RoutingPoolMember).where(
        RoutingPoolMember.pool_id == pool.id))}  # fmt: skip
    active = [m for m in stored.values() if m.active]
    base = min((m.assigned_count / max(m.weight, 1) for m in active), default=0.0)
    ids = [uid for uid, _ in wanted]
    for position, (uid, weight) in enumerate(wanted):
        row = stored.get(uid)
        if row is None:
            # A newcomer starts level with the least-served member: no burst of leads to catch up.
            session.add(RoutingPoolMember(pool_id=pool.id, sales_user_id=uid, weight=weight, position=position,
                                          assigned_count=int(base * weight), active=True))  # fmt: skip
            changed.append(f"pool {key}: member {uid} added")
        elif (row.weight, row.position, row.active) != (weight, position, True):
            if not row.active:
                row.assigned_count = max(row.assigned_count, int(base * weight))
            row.weight, row.position, row.active = weight, position, True
            changed.append(f"pool {key}: member {uid} weight {weight}, position {position + 1}")
    for uid, row in stored.items():
        if uid not in ids and row.active:
            row.active = False
            changed.append(f"pool {key}: member {uid} removed")


# --- routing on request -------------------------------------------------------------------------------


def route_one(session: Session, *, contact_id: int, actor: Actor, force: bool = True) -> Outcome:
    actor.require("editor")
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} does not exist")
    if current_flow(session) is None:
        raise Conflict("no routing flow is applied: add routing.yml to the project and run pitboard apply")
    return route_contacts(session, [contact_id], trigger="manual", actor=actor, force=force)[0]


def assign_manually(session: Session, *, contact_id: int, owner_email: str, actor: Actor, reason: str) -> Outcome:
    """A person's decision: assign to this sales user, recorded like any other decision."""
    actor.require("editor")
    user = session.scalar(select(SalesUser).where(func.lower(SalesUser.email) == owner_email.strip().lower()))
    if user is None:
        raise NotFound(f"no sales user {owner_email}")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} does not exist")
    now = utcnow()
    why = f"assigned by {actor.name}: {reason}" if reason.strip() else f"assigned by {actor.name}"
    lead = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == contact_id))
    previous = lead.owner_id if lead is not None else contact.owner_id
    session.add(RoutingDecision(contact_id=contact_id, decided_at=now, trigger="manual", outcome="assigned",
                                rule=None, action=f"user:{user.email}", owner_id=user.id, previous_owner_id=previous,
                                reason=why, rules=[], candidates=[{"user_id": user.id, "name": user.name,
                                                                   "chosen": True, "why": "chosen by a person"}],
                                actor=actor.name))  # fmt: skip
    if lead is None:
        lead = RoutingLead(contact_id=contact_id, reroutes=0, escalation_level=0, status="assigned", routed_at=now)
        session.add(lead)
    lead.status, lead.owner_id, lead.queue, lead.reason, lead.rule = "assigned", user.id, None, why[:500], None
    lead.routed_at, lead.disposition, lead.disposition_reason, lead.first_touch_at = now, None, None, None
    lead.sla_status, lead.sla_due_at, lead.sla_minutes, lead.escalation_level = None, None, None, 0
    contact.owner_id = user.id
    audit.record(session, actor=actor, action="assign", entity_type="contact", entity_id=contact_id,
                 changes={"owner_id": [previous, user.id]})  # fmt: skip
    session.flush()
    return Outcome(contact_id, "assigned", why, owner_id=user.id)


# --- dispositions -------------------------------------------------------------------------------------


def rejection_reasons(session: Session) -> list[str]:
    flow = current_flow(session)
    return list(flow.spec.rejection_reasons) if flow is not None else list(DEFAULT_REJECTION_REASONS)


def dispose(
    session: Session, *, contact_id: int, disposition: str, reason: str | None, note: str | None, actor: Actor
) -> RoutingLead:
    """Sales accepts or rejects a routed lead. A rejection needs one of the flow's rejection reasons; the lead
    leaves the owner's open leads and waits in the ``rejected`` state (reported, not re-routed by itself)."""
    actor.require("editor")
    if disposition not in ("accepted", "rejected"):
        raise ValidationFailed("disposition must be accepted or rejected")
    lead = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == contact_id))
    if lead is None or lead.status != "assigned":
        state = "not routed" if lead is None else lead.status
        raise Conflict(f"contact {contact_id} is {state}; only an assigned lead can be accepted or rejected")
    if lead.disposition is not None:
        raise Conflict(f"contact {contact_id} was already {lead.disposition}")
    allowed = rejection_reasons(session)
    if disposition == "rejected" and reason not in allowed:
        raise ValidationFailed(f"a rejection needs a reason, one of: {', '.join(allowed)}")
    now = utcnow()
    text = reason if disposition == "rejected" else None
    if note:
        text = f"{text}: {note}" if text else note
    lead.disposition, lead.disposition_reason, lead.disposition_at = disposition, (text or None), now
    lead.disposition_by = actor.name
    if lead.first_touch_at is None:
        from pitboard.routing.sla import mark_touched

        mark_touched(lead, now, f"disposition: {disposition}")
    if disposition == "rejected":
        lead.status = "rejected"
    # Kept in the decision log too: a later re-route resets the lead's state, never its history or the report.
    session.add(RoutingDecision(contact_id=contact_id, decided_at=now, trigger="disposition", outcome=disposition,
                                rule=lead.rule, action=reason if disposition == "rejected" else None,
                                owner_id=lead.owner_id, previous_owner_id=lead.owner_id, pool_key=lead.pool_key,
                                reason=f"{disposition} by {actor.name}" + (f": {text}" if text else ""), rules=[],
                                candidates=[], actor=actor.name))  # fmt: skip
    audit.record(session, actor=actor, action=disposition, entity_type="routing_lead", entity_id=contact_id,
                 changes={"disposition": [None, disposition], "reason": [None, text]})  # fmt: skip
    session.flush()
    return lead


# --- out of office ------------------------------------------------------------------------------------


def add_out_of_office(
    session: Session, *, user_email: str, starts_at: datetime, ends_at: datetime, note: str | None, actor: Actor
) -> RoutingOutOfOffice:
    actor.require("editor")
    user = session.scalar(select(SalesUser).where(func.lower(SalesUser.email) == user_email.strip().lower()))
    if user is None:
        raise NotFound(f"no sales user {user_email}")
    starts_at, ends_at = ensure_utc(starts_at), ensure_utc(ends_at)
    if ends_at <= starts_at:
        raise ValidationFailed("the absence must end after it starts")
    row = RoutingOutOfOffice(sales_user_id=user.id, starts_at=starts_at, ends_at=ends_at, note=note,
                             created_at=utcnow())  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="create", entity_type="routing_out_of_office", entity_id=row.id,
                 changes={"user": [None, user.email], "starts_at": [None, starts_at.isoformat()],
                          "ends_at": [None, ends_at.isoformat()]})  # fmt: skip
    return row


def remove_out_of_office(session: Session, *, absence_id: int, actor: Actor) -> None:
    actor.require("editor")
    row = session.get(RoutingOutOfOffice, absence_id)
    if row is None:
        raise NotFound(f"absence {absence_id} does not exist")
    audit.record(session, actor=actor, action="delete", entity_type="routing_out_of_office", entity_id=absence_id,
                 changes={"sales_user_id": [row.sales_user_id, None]})  # fmt: skip
    session.delete(row)
    session.flush()


# --- reading ------------------------------------------------------------------------------------------


def availability(session: Session, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every sales user: available now or why not, open leads, capacity, assignments in the last day."""
    from pitboard.routing.decide import in_working_hours, local_time, unavailable
    from pitboard.routing.engine import _load_reps
    from pitboard.routing.schemas import PoolSpec

    now = ensure_utc(now) if now is not None else utcnow()
    flow = current_flow(session)
    holidays = flow.spec.holidays if flow is not None else []
    ids = [int(i) for i in session.scalars(select(SalesUser.id).order_by(SalesUser.name))]
    reps = _load_reps(session, ids, now, {"day"}, lock=False)
    probe = PoolSpec(key="availability", team="-")
    out = []
    for uid in ids:
        rep = reps[uid]
        why = unavailable(rep, now, probe, holidays)
        out.append({"user_id": uid, "name": rep.name, "email": rep.email, "team": rep.team,
                    "territory": rep.territory, "timezone": rep.timezone,
                    "local_time": local_time(rep, now).strftime("%a %H:%M"),
                    "in_working_hours": in_working_hours(rep, now), "available": why is None, "why": why,
                    "open_leads": rep.open_leads, "capacity": rep.capacity, "last_24h": rep.recent.get("day", 0),
                    "out_of_office": [{"starts_at": s.isoformat(), "ends_at": e.isoformat()}
                                      for s, e in rep.out_of_office]})  # fmt: skip
    return out


def decisions_for(session: Session, contact_id: int) -> list[RoutingDecision]:
    return list(session.scalars(select(RoutingDecision).where(RoutingDecision.contact_id == contact_id)
                                .order_by(RoutingDecision.decided_at.desc(), RoutingDecision.id.desc())))  # fmt: skip


def rejection_report(session: Session, *, since: datetime | None = None) -> dict[str, Any]:
    """Rejections by reason, and acceptance per rule, source and owner: for scoring and definition review.
    Read from the decision log, so a re-route after a rejection does not erase it."""
    q = select(RoutingDecision.outcome, RoutingDecision.action, RoutingDecision.rule, Contact.lead_source,
               RoutingDecision.owner_id).outerjoin(Contact, Contact.id == RoutingDecision.contact_id).where(
               RoutingDecision.trigger == "disposition")  # fmt: skip
    if since is not None:
        q = q.where(RoutingDecision.decided_at >= ensure_utc(since))
    by_reason: dict[str, int] = defaultdict(int)
    groups: dict[str, dict[str, dict[str, int]]] = {"rule": {}, "source": {}, "owner": {}}
    names = {int(i): str(n) for i, n in session.execute(select(SalesUser.id, SalesUser.name))}
    total = {"accepted": 0, "rejected": 0}
    for disposition, reason, rule, source, owner in session.execute(q):
        disposition = str(disposition)
        total[disposition] += 1
        if disposition == "rejected":
            by_reason[reason or "other"] += 1
        for group, value in (
            ("rule", rule),
            ("source", source),
            ("owner", names.get(owner) if owner is not None else None),
        ):
            bucket = groups[group].setdefault(str(value or "(none)"), {"accepted": 0, "rejected": 0})
            bucket[disposition] += 1

    def rows(group: str) -> list[dict[str, Any]]:
        out = []
        for key, counts in sorted(groups[group].items(), key=lambda kv: -kv[1]["rejected"]):
            n = counts["accepted"] + counts["rejected"]
            out.append({group: key, **counts, "rejection_rate": round(counts["rejected"] / n, 3) if n else None})
        return out

    return {"total": total, "by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
            "by_rule": rows("rule"), "by_source": rows("source"), "by_owner": rows("owner")}  # fmt: skip


def speed_to_lead(session: Session, *, since: datetime | None = None) -> dict[str, Any]:
    """Minutes from routing to first touch (median, p90) and SLA compliance per rep, team and source."""
    since = ensure_utc(since) if since is not None else utcnow() - timedelta(days=30)
    q = select(RoutingLead.routed_at, RoutingLead.first_touch_at, RoutingLead.sla_status, RoutingLead.source,
               SalesUser.name, SalesUser.team).join(SalesUser, SalesUser.id == RoutingLead.owner_id).where(
               RoutingLead.routed_at >= since)  # fmt: skip
    buckets: dict[str, dict[str, list[Any]]] = {"rep": defaultdict(list), "team": defaultdict(list),
                                                 "source": defaultdict(list)}  # fmt: skip
    for routed, touched, sla, source, name, team in session.execute(q):
        item = ((ensure_utc(touched) - ensure_utc(routed)).total_seconds() / 60 if touched else None, sla)
        for group, key in (("rep", name), ("team", team), ("source", source)):
            buckets[group][str(key or "(none)")].append(item)

    def summary(items: list[Any]) -> dict[str, Any]:
        minutes = sorted(m for m, _ in items if m is not None)
        met = sum(1 for _, s in items if s == "met")
        judged = sum(1 for _, s in items if s in ("met", "breached"))
        return {"leads": len(items), "touched": len(minutes),
                "median_minutes": round(statistics.median(minutes), 1) if minutes else None,
                "p90_minutes": round(minutes[min(len(minutes) - 1, int(len(minutes) * 0.9))], 1) if minutes else None,
                "sla_met": met, "sla_judged": judged,
                "sla_compliance": round(met / judged, 3) if judged else None}  # fmt: skip

    return {group: [{group: key, **summary(items)} for key, items in sorted(b.items())]
            for group, b in buckets.items()}  # fmt: skip


def leads(
    session: Session,
    *,
    status: str | None = None,
    queue: str | None = None,
    owner_id: int | None = None,
    overdue_at: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Routed leads with their contact and owner, newest first (``overdue_at``: untouched past the SLA, most
    overdue first)."""
    q = (
        select(RoutingLead, Contact.email, Contact.first_name, Contact.last_name, Contact.company_name,
               Contact.country, SalesUser.name)
        .join(Contact, Contact.id == RoutingLead.contact_id)
        .outerjoin(SalesUser, SalesUser.id == RoutingLead.owner_id)
    )  # fmt: skip
    if status is not None:
        q = q.where(RoutingLead.status == status)
    if queue is not None:
        q = q.where(RoutingLead.queue == queue)
    if owner_id is not None:
        q = q.where(RoutingLead.owner_id == owner_id)
    if overdue_at is not None:
        q = q.where(RoutingLead.status == "assigned", RoutingLead.first_touch_at.is_(None),
                    RoutingLead.sla_due_at < ensure_utc(overdue_at)).order_by(RoutingLead.sla_due_at)  # fmt: skip
    else:
        q = q.order_by(RoutingLead.routed_at.desc(), RoutingLead.id.desc())
    out = []
    for lead, email, first, last, company, country, owner in session.execute(q.limit(limit)):
        name = " ".join(p for p in (first, last) if p) or email or f"contact {lead.contact_id}"
        out.append({"contact_id": lead.contact_id, "name": name, "email": email, "company": company,
                    "country": country, "status": lead.status, "owner_id": lead.owner_id, "owner": owner,
                    "queue": lead.queue, "rule": lead.rule, "pool": lead.pool_key, "reason": lead.reason,
                    "source": lead.source, "routed_at": lead.routed_at, "sla_due_at": lead.sla_due_at,
                    "sla_status": lead.sla_status, "first_touch_at": lead.first_touch_at,
                    "first_touch_kind": lead.first_touch_kind, "escalation_level": lead.escalation_level,
                    "disposition": lead.disposition, "disposition_reason": lead.disposition_reason})  # fmt: skip
    return out


def decision_log(session: Session, *, contact_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    q = select(RoutingDecision, SalesUser.name).outerjoin(SalesUser, SalesUser.id == RoutingDecision.owner_id)
    if contact_id is not None:
        q = q.where(RoutingDecision.contact_id == contact_id)
    q = q.order_by(RoutingDecision.decided_at.desc(), RoutingDecision.id.desc()).limit(limit)
    return [
        {"id": d.id, "contact_id": d.contact_id, "decided_at": d.decided_at, "trigger": d.trigger,
         "outcome": d.outcome, "rule": d.rule, "action": d.action, "owner_id": d.owner_id, "owner": owner,
         "previous_owner_id": d.previous_owner_id, "pool": d.pool_key, "queue": d.queue, "reason": d.reason,
         "rules": d.rules, "candidates": d.candidates, "actor": d.actor}
        for d, owner in session.execute(q)
    ]  # fmt: skip
