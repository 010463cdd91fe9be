"""Alerts (threshold and anomaly with weekly seasonality, fired once per period, notified, acknowledged) and
scheduled reports (team sent at once; leadership drafted, reviewed, then sent once), on both databases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Conflict, Forbidden
from pitboard.measurement import scheduled, service, tasks
from pitboard.measurement.reports import DRAFT_MARK
from pitboard.measurement.schemas import MetricsFile
from pitboard.models import Contact, LifecycleStageChange, Message
from pitboard.models.measurement import AlertEvent, ReportRun
from pitboard.models.workflows import NotifyDelivery, NotifyEndpoint
from tests.integration.conftest import csrf_from
from tests.integration.test_measurement_registry import at, seed

VIEWER = Actor(name="viewer", interface="api", role="viewer")


def apply(session: Session, data: dict[str, object]) -> dict[str, list[str]]:
    return service.apply_metrics_file(session, MetricsFile.model_validate(data), actor=SYSTEM)


def test_threshold_alert_fires_once_notifies_and_is_acknowledged(
    session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    seed(session)
    session.add(NotifyEndpoint(key="marketing", kind="slack", url="http://127.0.0.1:9/hook"))
    apply(session, {"alerts": [
        {"key": "spend_spike", "name": "Spend spike", "metric": "spend", "kind": "threshold", "above": 150,
         "notify": ["email:ops@example.com", "slack:marketing", "slack:missing"]},
        {"key": "cpl_floor", "metric": "cpl", "kind": "threshold", "below": 10},
    ]})  # fmt: skip
    assert service.check_alerts(session, day=date(2026, 3, 2)) == []  # spend 100
    fired = service.check_alerts(session, day=date(2026, 3, 3))  # spend 200
    assert [e.metric for e in fired] == ["spend"]
    event = fired[0]
    assert event.value == 200.0
    assert "Marketing spend was USD 200.00 for 2026-03-03, above the threshold of 150" in event.message
    assert event.notified[:2] == ["email:ops@example.com", "slack:marketing"]
    assert event.notified[2].startswith("slack:missing (failed:")
    mail = session.scalars(select(Message).where(Message.to_address == "ops@example.com")).one()
    assert "Spend spike" in mail.subject
    assert "/reports/alerts/" in mail.body_text
    assert session.scalar(select(func.count()).select_from(NotifyDelivery)) == 1
    # Checking the same day again fires and notifies nothing new.
    assert service.check_alerts(session, day=date(2026, 3, 3)) == []
    assert session.scalar(select(func.count()).select_from(Message)) == 1
    session.commit()

    r = client.post(f"/api/v1/alerts/{event.id}/acknowledge", json={"note": "planned launch"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    assert r.json()["note"] == "planned launch"
    again = client.post(f"/api/v1/alerts/{event.id}/acknowledge", json={}, headers=admin_headers)
    assert again.status_code == 409
    assert client.get("/api/v1/alerts", params={"status": "open"}, headers=admin_headers).json() == []
    with pytest.raises(Forbidden):
        service.acknowledge(session, event.id, actor=VIEWER)


def _leads_on(session: Session, contact: Contact, day: date, n: int) -> None:
    for i in range(n):
        session.add(LifecycleStageChange(contact_id=contact.id, to_stage="lead",
                                         changed_at=at(1).replace(year=day.year, month=day.month, day=day.day,
                                                                  hour=9, minute=i % 60)))  # fmt: skip


def test_anomaly_alert_compares_the_same_weekday(session: Session) -> None:
    contact = Contact(email="x@example.com")
    session.add(contact)
    session.flush()
    monday = date(2026, 3, 30)
    for k, n in enumerate([10, 12, 9, 11, 10, 13, 10, 11], start=1):
        _leads_on(session, contact, monday - timedelta(weeks=k), n)
        _leads_on(session, contact, monday - timedelta(weeks=k) + timedelta(days=1), 40)  # busy Tuesdays
    _leads_on(session, contact, monday, 40)
    _leads_on(session, contact, monday + timedelta(days=1), 40)
    apply(session, {"alerts": [{"key": "lead_surge", "metric": "leads", "kind": "anomaly",
                                "notify": ["email:ops@example.com"]}]})  # fmt: skip
    fired = service.check_alerts(session, day=monday)
    assert len(fired) == 1
    assert fired[0].expected == 10.5
    assert fired[0].value == 40.0
    assert "above the usual 10.50 (median of the same weekday over the last 8 weeks" in fired[0].message
    # 40 on a Tuesday is what Tuesdays look like.
    assert service.check_alerts(session, day=monday + timedelta(days=1)) == []
    # A "below" rule ignores a surge; a weekly rule compares whole weeks.
    apply(session, {"alerts": [
        {"key": "lead_surge", "metric": "leads", "kind": "anomaly", "direction": "below"},
        {"key": "weekly", "metric": "leads", "kind": "anomaly", "grain": "week"},
    ]})  # fmt: skip
    assert service.check_alerts(session, day=monday + timedelta(days=1)) == []
    fired = service.check_alerts(session, day=monday + timedelta(days=6))  # the Sunday that ends the week
    assert [e.context["rule"] for e in fired] == ["weekly"]  # 80 in the week against 49 to 53 before
    assert fired[0].expected == 50.5


def test_leadership_report_waits_for_review_and_is_sent_once(session: Session) -> None:
    seed(session)
    apply(session, {"reports": [
        {"key": "board", "name": "Board weekly", "dashboard": "executive", "every": "weekly",
         "recipients": ["cmo@example.com", "ceo@example.com"], "audience": "leadership"},
        {"key": "team", "name": "Team funnel", "dashboard": "funnel", "every": "weekly",
         "recipients": ["ops@example.com"]},
    ]})  # fmt: skip
    today = date(2026, 3, 10)  # a Tuesday: last week is 2 to 8 March
    tasks.scheduled_reports_task(session, {"today": today.isoformat()})
    runs = {scheduled.get_schedule(session, "board").id: None}
    board = session.scalars(select(ReportRun).where(ReportRun.schedule_id == next(iter(runs)))).one()
    assert (board.period_start, board.period_end, board.status) == (date(2026, 3, 2), date(2026, 3, 8), "draft")
    assert board.narrative.startswith(DRAFT_MARK)
    assert "Pipeline was USD 1,500.00" in board.narrative
    assert 'data-metric="pipeline">USD 1,500.00<' in board.html  # the registry's number, in the email too
    assert DRAFT_MARK in board.html
    assert "<svg" not in board.html
    assert 'bgcolor="' in board.html
    recipients = set(session.scalars(select(Message.to_address)))
    assert recipients == {"ops@example.com"}  # the team report went out; the board draft did not
    # Running the task again makes nothing new.
    tasks.scheduled_reports_task(session, {"today": today.isoformat()})
    assert session.scalar(select(func.count()).select_from(ReportRun)) == 2

    with pytest.raises(Forbidden):
        scheduled.approve(session, board.id, actor=VIEWER)
    scheduled.approve(session, board.id, actor=Actor(name="ana@example.com", interface="web", role="editor"))
    assert board.status == "sent"
    assert board.reviewed_by == "ana@example.com"
    sent = session.scalars(select(Message).where(Message.to_address == "cmo@example.com")).one()
    assert DRAFT_MARK not in sent.body_text
    assert "Reviewed" in sent.body_text
    with pytest.raises(Conflict):
        scheduled.approve(session, board.id, actor=SYSTEM)
    assert session.scalar(select(func.count()).select_from(Message)) == 3


def test_drafts_and_alerts_in_the_web_ui(session: Session, logged_in: TestClient) -> None:
    seed(session)
    apply(session, {
        "reports": [{"key": "board", "dashboard": "campaign", "recipients": ["cmo@example.com"],
                     "audience": "leadership"}],
        "alerts": [{"key": "spend_spike", "metric": "spend", "kind": "threshold", "above": 150}],
    })  # fmt: skip
    run = scheduled.run_schedule(session, scheduled.get_schedule(session, "board"), today=date(2026, 3, 10))
    event = service.check_alerts(session, day=date(2026, 3, 3))[0]
    session.commit()
    page = logged_in.get(f"/reports/drafts/{run.id}")
    assert page.status_code == 200
    assert "This draft needs human review" in page.text
    r = logged_in.post(f"/reports/drafts/{run.id}/approve", data={"csrf_token": csrf_from(page.text)},
                       follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "approved and sent" in logged_in.get(r.headers["location"]).text
    alerts = logged_in.get("/reports/alerts")
    assert f'data-alert="{event.id}"' in alerts.text
    assert "spend_spike" in alerts.text
    detail = logged_in.get(f"/reports/alerts/{event.id}")
    r = logged_in.post(f"/reports/alerts/{event.id}/acknowledge",
                       data={"csrf_token": csrf_from(detail.text), "note": "ok"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert logged_in.get("/reports/alerts/999999").status_code == 404
    session.expire_all()
    assert session.get(AlertEvent, event.id).status == "acknowledged"  # type: ignore[union-attr]
    session.rollback()
