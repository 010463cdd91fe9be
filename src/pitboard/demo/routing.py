"""Demo data for lead routing: a routing flow (stored as a project version and applied), the recent leads
routed as they arrived, first touches, SLA outcomes, dispositions and an absence, so the routing pages show
realistic history.

The flow is added to the latest project version's manifest (a new version), so whatever else is applied
stays applied; ``pitboard apply`` of a project without ``routing.yml`` later switches routing off again.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.demo.common import store_project_file
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, SalesUser
from pitboard.models.routing import RoutingDecision, RoutingLead, RoutingOutOfOffice

DAYS = 30
DEMO_FLOW = """
routable: {field: lifecycle_stage, op: in, value: [mql, sal, sql]}
first_touch:
  events: [call_logged, sales_email_sent, meeting_booked, meeting_held]
  stages: [sal, sql, opportunity, customer, disqualified]
holidays:
  - {date: 2026-12-25, name: Christmas Day}
  - {date: 2026-12-26, name: Boxing Day, territories: [EMEA, APAC]}
  - {date: 2026-11-26, name: Thanksgiving, territories: [NA]}
pools:
  - {key: na, name: North America, territory: NA, caps: {day: 40}}
  - {key: emea, name: EMEA, territory: EMEA, caps: {day: 40}}
  - {key: apac, name: APAC, territory: APAC, mode: fewest_open}
rules:
  - name: existing-account
    description: Leads at accounts someone owns go to that owner
    to: account_owner
    sla: {first_touch: 4h}
  - name: students-and-free-mail
    when: {any: [{field: email_domain, op: ends_with, value: .edu}, {field: is_free_mail, op: eq, value: true}]}
    to: "queue:nurture"
  - name: north-america
    when: {field: country, op: in, value: [US, CA, MX, BR, AR, CO, CL]}
    to: "pool:na"
    sla:
      first_touch: 1h
      steps:
        - {after: 45m, notify: owner}
        - {after: 2h, notify: manager}
        - {after: 1d, reroute: true}
  - name: emea
    when: {field: country, op: in, value: [GB, IE, DE, AT, CH, FR, BE, NL, ES, IT, SE, DK, "NO", FI, PL, ZA, AE]}
    to: "pool:emea"
    sla: {first_touch: 2h}
  - name: apac
    when: {field: country, op: is_set}
    to: "pool:apac"
    sla: {first_touch: 4h}
"""


def generate_routing(engine: Engine, *, now: datetime, seed: int) -> dict[str, int]:
    """Apply the demo flow and route the last 30 days of leads; returns row counts for the summary."""
    from pitboard.routing.engine import Flow, route_contacts
    from pitboard.routing.schemas import validate_flow
    from pitboard.routing.service import apply_flow

    rng = random.Random(seed + 7)
    now = ensure_utc(now)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(SalesUser)) == 0:
            return {}
        spec = validate_flow(yaml.safe_load(DEMO_FLOW), load_field_registry(session))
        store_project_file(session, "routing.yml", spec.model_dump(mode="json", exclude_none=True), now,
                           message="demo routing flow")  # fmt: skip
        apply_flow(session, spec, actor=SYSTEM)
    flow_checksum = "demo"
    start = now - timedelta(days=DAYS)
    with session_scope(engine) as session:
        rows = session.execute(select(Contact.id, Contact.created_at).where(
            Contact.created_at >= start, Contact.lifecycle_stage.in_(("mql", "sal", "sql")))
            .order_by(Contact.created_at)).all()  # fmt: skip
    by_hour: dict[datetime, list[int]] = defaultdict(list)
    for cid, created in rows:
        at = ensure_utc(created)
        by_hour[at.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=rng.randint(0, 59))].append(cid)
    flow = Flow(spec, flow_checksum, None)
    for at in sorted(by_hour):
        with session_scope(engine) as session:
            # The generated contacts (and their owners) stay as generated; the routing history is added beside.
            route_contacts(session, by_hour[at], trigger="changed", now=at, force=True, notify=False, flow=flow,
                           write_contacts=False)  # fmt: skip
    with session_scope(engine) as session:
        touched = _history(session, rng, now)
        reps = list(session.scalars(select(SalesUser.id).where(SalesUser.active.is_(True)).order_by(SalesUser.id)))
        if reps:
            away = rng.choice(reps)
            absence = RoutingOutOfOffice(sales_user_id=away, starts_at=now - timedelta(days=2),
                                         ends_at=now + timedelta(days=5), note="Vacation", created_at=now)  # fmt: skip
            session.add(absence)
        session.flush()
        leads = session.scalar(select(func.count()).select_from(RoutingLead)) or 0
        decisions = session.scalar(select(func.count()).select_from(RoutingDecision)) or 0
        absences = session.scalar(select(func.count()).select_from(RoutingOutOfOffice)) or 0
    del touched
    return {"routing_leads": int(leads), "routing_decisions": int(decisions), "routing_out_of_office": int(absences)}


def _history(session: Session, rng: random.Random, now: datetime) -> int:
    """First touches (most within the hour, a long tail), SLA outcomes, and accept/reject by sales."""
    reasons = ["not_a_fit", "no_budget", "wrong_contact", "duplicate", "bad_data", "competitor", "student"]
    weights = [30, 20, 15, 10, 12, 5, 8]
    touched = 0
    for lead in session.scalars(select(RoutingLead).where(RoutingLead.status == "assigned")):
        routed = ensure_utc(lead.routed_at)
        if rng.random() < 0.12:
            continue  # never touched: overdue on the SLA board
        minutes = min(rng.lognormvariate(3.6, 1.1), 60 * 24 * 5)
        at = routed + timedelta(minutes=minutes)
        if at > now:
            continue
        lead.first_touch_at = at
        lead.first_touch_kind = rng.choice(["activity: call_logged", "activity: sales_email_sent",
                                            "activity: meeting_booked"])  # fmt: skip
        if lead.sla_due_at is not None:
            lead.sla_status = "met" if at <= ensure_utc(lead.sla_due_at) else "breached"
        touched += 1
        roll = rng.random()
        if roll < 0.55:
            lead.disposition, lead.disposition_at, lead.disposition_by = "accepted", at, "demo"
        elif roll < 0.72:
            lead.disposition, lead.disposition_at, lead.disposition_by = "rejected", at, "demo"
            lead.disposition_reason = rng.choices(reasons, weights)[0]
            lead.status = "rejected"
    session.flush()
    for lead in session.scalars(select(RoutingLead).where(RoutingLead.disposition.is_not(None))):
        session.add(RoutingDecision(contact_id=lead.contact_id, decided_at=lead.disposition_at, trigger="disposition",
                                    outcome=lead.disposition, rule=lead.rule, owner_id=lead.owner_id,
                                    previous_owner_id=lead.owner_id, pool_key=lead.pool_key,
                                    action=lead.disposition_reason if lead.disposition == "rejected" else None,
                                    reason=f"{lead.disposition} by sales (demo)", rules=[], candidates=[],
                                    actor="demo"))  # fmt: skip
    return touched
