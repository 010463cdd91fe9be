"""SLAs on SQLite and PostgreSQL: first touch from activities and stage changes, reminders to the owner,
escalation to the manager, the re-route step, each exactly once however often the check runs; and the
contacts.changed listener routing new leads through the worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.contacts.changes import contacts_changed
from pitboard.kit.db import session_scope
from pitboard.models import LifecycleStageChange, Message
from pitboard.models.routing import RoutingDecision, RoutingLead
from pitboard.routing import service
from pitboard.routing.sla import check_slas, detect_first_touch, overdue
from pitboard.worker import tasks as worker_tasks  # noqa: F401  (registers every task and listener)
from pitboard.worker.runner import run_worker
from tests.integration.test_routing_engine import NOW, add_lead, add_rep, apply_routing, route
from tests.integration.test_scoring_engine import add_event

FLOW = """
routable: {field: email, op: is_set}
pools:
  - key: sdr
    members: [{user: ana@salesco.com}, {user: bo@salesco.com}]
rules:
  - name: inbound
    to: "pool:sdr"
    sla:
      first_touch: 1h
      steps:
        - {after: 30m, notify: owner}
        - {after: 1h, notify: manager}
        - {after: 2h, reroute: true}
"""


def mails(session: Session, to: str) -> list[str]:
    return list(session.scalars(select(Message.subject).where(Message.to_address == to).order_by(Message.id)))


def test_reminder_escalation_and_reroute_each_once(session: Session, tmp_path: Path) -> None:
    boss = add_rep(session, "Boss")
    ana = add_rep(session, "Ana", manager_id=boss)
    bo = add_rep(session, "Bo", manager_id=boss)
    apply_routing(session, tmp_path, FLOW)
    lead = add_lead(session)
    session.commit()
    assert route(session, [lead])[0].owner_id == ana
    row = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == lead))
    assert row is not None
    assert row.sla_status == "pending"
    assert row.sla_minutes == 60

    assert check_slas(session, now=NOW + timedelta(minutes=10))["notified"] == 0
    for _ in range(2):  # a second run (a retried job, a second worker) sends nothing new
        check_slas(session, now=NOW + timedelta(minutes=31))
        session.commit()
    assert len(mails(session, "ana@salesco.com")) == 1
    assert "waits for a first touch" in mails(session, "ana@salesco.com")[0]
    assert mails(session, "boss@salesco.com") == []

    counts = check_slas(session, now=NOW + timedelta(minutes=61))
    session.commit()
    assert counts["breached"] == 1
    assert counts["notified"] == 1
    assert len(mails(session, "boss@salesco.com")) == 1
    assert "Escalation" in mails(session, "boss@salesco.com")[0]
    assert [r.contact_id for r in overdue(session, now=NOW + timedelta(minutes=61))] == [lead]

    assert check_slas(session, now=NOW + timedelta(minutes=121))["rerouted"] == 1
    session.commit()
    session.expire_all()
    row = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == lead))
    assert row is not None
    assert row.owner_id == bo
    assert row.sla_status == "pending"
    assert row.escalation_level == 0
    last = session.scalars(select(RoutingDecision).where(RoutingDecision.contact_id == lead)
                           .order_by(RoutingDecision.id.desc())).first()  # fmt: skip
    assert last is not None
    assert last.trigger == "sla"
    assert last.previous_owner_id == ana
    check_slas(session, now=NOW + timedelta(minutes=122))
    session.commit()
    assert len(mails(session, "ana@salesco.com")) == 1  # nothing more for the old owner


def test_first_touch_from_activities_and_stage_changes(session: Session, tmp_path: Path) -> None:
    add_rep(session, "Ana")
    add_rep(session, "Bo")
    apply_routing(session, tmp_path, FLOW)
    called, late, staged, untouched = (
        add_lead(session, lead_source=s) for s in ("Paid Search", "Webinar", "Paid Search", "Webinar")
    )
    session.commit()
    route(session, [called, late, staged, untouched])
    add_event(session, called, "page_viewed", NOW + timedelta(minutes=1))  # not a touch
    add_event(session, called, "call_logged", NOW + timedelta(minutes=12))
    add_event(session, late, "meeting_booked", NOW + timedelta(minutes=95))
    add_event(session, untouched, "call_logged", NOW - timedelta(minutes=5))  # before routing: not a touch
    session.add(LifecycleStageChange(contact_id=staged, from_stage="mql", to_stage="sal",
                                     changed_at=NOW + timedelta(minutes=30), source="crm"))  # fmt: skip
    session.commit()
    assert detect_first_touch(session, [called, late, staged, untouched]) == 3
    session.commit()
    rows = {r.contact_id: r for r in session.scalars(select(RoutingLead))}
    assert (rows[called].sla_status, rows[called].first_touch_kind) == ("met", "activity: call_logged")
    assert (rows[late].sla_status, rows[late].first_touch_kind) == ("breached", "activity: meeting_booked")
    assert (rows[staged].sla_status, rows[staged].first_touch_kind) == ("met", "stage: sal")
    assert rows[untouched].first_touch_at is None
    report = service.speed_to_lead(session, since=NOW - timedelta(days=1))
    by_source = {r["source"]: r for r in report["source"]}
    assert by_source["Paid Search"]["median_minutes"] == 21.0
    assert by_source["Paid Search"]["sla_compliance"] == 1.0
    assert by_source["Webinar"]["sla_compliance"] == 0.0
    assert by_source["Webinar"]["touched"] == 1


def test_new_leads_are_routed_by_the_contacts_changed_listener(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        ana = add_rep(s, "Ana")
        add_rep(s, "Bo")
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, FLOW)
    with session_scope(engine) as s:
        lead = add_lead(s)
        contacts_changed(s, [lead], reason="form submitted")
    run_worker(engine, burst=True, poll_seconds=0.01)
    with session_scope(engine) as s:
        row = s.scalar(select(RoutingLead).where(RoutingLead.contact_id == lead))
        assert row is not None
        assert row.owner_id == ana
        assert row.status == "assigned"
        assert s.scalar(select(func.count()).select_from(Message).where(Message.to_address == "ana@salesco.com")) == 1
    # Another change of the same contact does not route it again.
    with session_scope(engine) as s:
        contacts_changed(s, [lead], reason="page view")
    run_worker(engine, burst=True, poll_seconds=0.01)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(RoutingDecision)) == 1
