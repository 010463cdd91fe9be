"""The workflows and notify REST API, and the web pages (list, detail, journey, approval inbox, dead letters)
and public tracking endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pitboard.contacts.changes import contacts_changed
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, SalesUser
from pitboard.models.workflows import NotifyDelivery
from pitboard.settings import Settings
from pitboard.workflows import tracking
from tests.integration.conftest import csrf_from
from tests.integration.test_workflows_engine import run

FLOW: dict[str, Any] = {
    "key": "nurture", "name": "Nurture", "trigger": {"type": "event", "event": "Go"},
    "steps": [
        {"id": "ask", "action": "approval", "title": "Nurture {{ contact.email }}?"},
        {"id": "tag", "action": "set_field", "field": "custom.nurtured", "value": "yes"},
    ],
}  # fmt: skip


def _contact_with_event(engine: Engine, email: str = "ada@example.org", name: str = "Go") -> int:
    with session_scope(engine) as s:
        c = Contact(email=email, email_normalized=email, first_name="Ada")
        s.add(c)
        s.flush()
        now = utcnow()
        s.add(Event(message_id=uuid.uuid4().hex, event_type="track", name=name, contact_id=c.id, occurred_at=now,
                    received_at=now, properties={}, context={}))  # fmt: skip
        s.flush()
        contacts_changed(s, [c.id], reason="events")
        return c.id


def test_api_create_list_run_approve_and_journey(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    r = client.post("/api/v1/workflows", json=FLOW, headers=viewer_headers)
    assert r.status_code == 403
    r = client.post("/api/v1/workflows", json={**FLOW, "steps": []}, headers=admin_headers)
    assert r.status_code == 422
    assert "steps" in r.json()["message"]
    r = client.post("/api/v1/workflows", json=FLOW, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/workflows", json=FLOW, headers=admin_headers).status_code == 409

    cid = _contact_with_event(engine)
    run(engine)
    listed = client.get("/api/v1/workflows", headers=viewer_headers).json()
    assert [(w["key"], w["enrolments"]) for w in listed] == [("nurture", {"approval": 1})]
    steps = client.get("/api/v1/workflows/nurture/steps", headers=viewer_headers).json()
    assert steps[0] == {"step_id": "ask", "action": "approval", "ran": 1, "here": {"approval": 1}}

    [approval] = client.get("/api/v1/workflows/approvals", headers=viewer_headers).json()
    assert approval["title"] == "Nurture ada@example.org?"
    path = f"/api/v1/workflows/approvals/{approval['id']}/decision"
    assert client.post(path, json={"approve": False}, headers=admin_headers).status_code == 422  # no reason
    assert client.post(path, json={"approve": True}, headers=viewer_headers).status_code == 403
    assert client.post(path, json={"approve": True}, headers=admin_headers).status_code == 200
    assert client.post(path, json={"approve": True}, headers=admin_headers).status_code == 409
    run(engine)
    [journey] = client.get(f"/api/v1/workflows/journeys/{cid}", headers=viewer_headers).json()
    assert journey["enrolment"]["status"] == "completed"
    assert [(s["step_id"], s["outcome"]) for s in journey["steps"]] == [
        ("ask", "pending"), ("ask", "approved"), ("tag", "done"), ("end", "completed")
    ]  # fmt: skip
    lift = client.get("/api/v1/workflows/nurture/lift", headers=viewer_headers).json()
    assert lift["treatment"]["n"] == 1
    assert "not enough" in lift["note"]

    r = client.patch("/api/v1/workflows/nurture", json={"active": False}, headers=admin_headers)
    assert r.json()["active"] is False
    assert client.post("/api/v1/workflows/nurture/enrolments", json={"contact_ids": [cid]},
                       headers=admin_headers).status_code == 422  # fmt: skip
    assert client.delete("/api/v1/workflows/nurture", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/workflows/nurture", headers=admin_headers).status_code == 404


def test_api_manual_enrolment_and_dead_letter_replay(
    client: TestClient, engine: Engine, admin_headers: dict[str, str]
) -> None:
    flow = {"key": "m", "name": "M", "trigger": {"type": "manual"},
            "steps": [{"id": "mail", "action": "send_email", "kind": "transactional", "subject": "{{ contact.nope }}",
                       "text": "x"}]}  # fmt: skip
    assert client.post("/api/v1/workflows", json=flow, headers=admin_headers).status_code == 201
    cid = _contact_with_event(engine, name="Other")
    r = client.post("/api/v1/workflows/m/enrolments", json={"contact_ids": [cid, 999999]}, headers=admin_headers)
    assert r.status_code == 404
    assert "999999" in r.json()["message"]
    r = client.post("/api/v1/workflows/m/enrolments", json={"contact_ids": [cid]}, headers=admin_headers)
    assert r.status_code == 201
    assert len(r.json()["enrolment_ids"]) == 1
    from tests.integration.test_workflows_engine import advance

    for _ in range(8):
        advance(engine)
    [dead] = client.get("/api/v1/workflows/dead-letters", headers=admin_headers).json()
    assert "nope" in dead["last_error"]
    fixed = {**flow, "steps": [{**flow["steps"][0], "subject": "Hello {{ contact.first_name }}"}]}
    assert client.put("/api/v1/workflows/m", json=fixed, headers=admin_headers).status_code == 200
    r = client.post(f"/api/v1/workflows/enrolments/{dead['id']}/replay", headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["status"] == "active"
    run(engine)
    assert client.get("/api/v1/workflows/dead-letters", headers=admin_headers).json() == []


def test_notify_endpoint_api_masks_urls_and_validates(client: TestClient, admin_headers: dict[str, str]) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    r = client.put("/api/v1/notify/endpoints/sales", json={"kind": "slack", "url": url}, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["url"] == "https://hooks.slack.com/…"
    listed = client.get("/api/v1/notify/endpoints", headers=admin_headers).json()
    assert "XXXXSECRET" not in str(listed)
    r = client.put("/api/v1/notify/endpoints/hook", json={"kind": "webhook", "url": "https://x.example"},
                   headers=admin_headers)  # fmt: skip
    assert r.status_code == 422
    assert "secret" in r.json()["message"]
    r = client.post("/api/v1/notify/test", json={"to": "slack:sales", "idempotency_key": "t1"}, headers=admin_headers)
    assert r.status_code == 202
    [delivery] = client.get("/api/v1/notify/deliveries", headers=admin_headers).json()
    assert (delivery["endpoint_key"], delivery["status"]) == ("sales", "queued")
    r = client.post(f"/api/v1/notify/deliveries/{delivery['id']}/replay", headers=admin_headers)
    assert r.status_code == 422  # only dead ones


def test_web_pages_and_approval_form(logged_in: TestClient, engine: Engine, admin_headers: dict[str, str]) -> None:
    assert logged_in.post("/api/v1/workflows", json=FLOW, headers=admin_headers).status_code == 201
    cid = _contact_with_event(engine)
    run(engine)
    page = logged_in.get("/workflows")
    assert page.status_code == 200
    assert "Nurture" in page.text
    detail = logged_in.get("/workflows/nurture")
    assert detail.status_code == 200
    assert "Steps, live" in detail.text
    assert logged_in.get("/workflows/nope").status_code == 404
    inbox = logged_in.get("/workflows/approvals")
    assert "Nurture ada@example.org?" in inbox.text
    approval_id = re.search(r'action="/workflows/approvals/(\d+)"', inbox.text)
    assert approval_id is not None
    r = logged_in.post(f"/workflows/approvals/{approval_id.group(1)}",
                       data={"csrf_token": csrf_from(inbox.text), "decision": "reject", "reason": ""},
                       follow_redirects=True)  # fmt: skip
    assert "needs a reason" in r.text
    r = logged_in.post(f"/workflows/approvals/{approval_id.group(1)}",
                       data={"csrf_token": csrf_from(inbox.text), "decision": "reject", "reason": "not a fit"},
                       follow_redirects=True)  # fmt: skip
    assert "rejected" in r.text
    journey = logged_in.get(f"/workflows/journey/{cid}")
    assert journey.status_code == 200
    assert "rejected" in journey.text
    assert logged_in.get("/workflows/dead-letters").status_code == 200


def test_tracking_pixel_and_click_record_events_once(client: TestClient, engine: Engine, settings: Settings) -> None:
    cid = _contact_with_event(engine, name="Other")
    html = tracking.instrument('<html><body><a href="https://example.org/a?x=1&amp;y=2">A</a></body></html>',
                               contact_id=cid, key="wf:1:1", workflow="w", step="s", settings=settings)  # fmt: skip
    click = re.search(r'href="[^"]*(/t/c/[^"]+)"', html)
    pixel = re.search(r'src="[^"]*(/t/o/[^"]+)"', html)
    assert click is not None
    assert pixel is not None
    for _ in range(2):
        r = client.get(click.group(1), follow_redirects=False)
        assert r.status_code == 302
        assert r.headers["location"] == "https://example.org/a?x=1&y=2"
        r = client.get(pixel.group(1))
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/gif"
    assert client.get("/t/c/forged-token", follow_redirects=False).status_code == 404
    assert client.get("/t/o/forged-token").status_code == 200  # the image, nothing recorded
    with session_scope(engine) as s:
        names = sorted(e.name or "" for e in s.scalars(select(Event).where(Event.contact_id == cid)))
        assert names == ["Email Clicked", "Email Opened", "Other"]
        assert s.scalar(select(NotifyDelivery)) is None


def test_demo_history_shows_on_the_pages(logged_in: TestClient, engine: Engine) -> None:
    from datetime import timedelta

    from pitboard.demo.workflows import generate_workflows

    now = utcnow()
    with session_scope(engine) as s:
        rep = SalesUser(name="Rae Rep", email="rae@example.org")
        s.add(rep)
        s.flush()
        for i, name in enumerate(["trial_started"] * 6 + ["webinar_registered"] * 3 + ["demo_requested"] * 5):
            # The last two demo requests have an owner: approved, with the owner's quote task.
            c = Contact(email=f"d{i}@example.org", email_normalized=f"d{i}@example.org", company_name=f"Co{i}",
                        owner_id=rep.id if i >= 12 else None)  # fmt: skip
            s.add(c)
            s.flush()
            at = now - timedelta(days=i)
            s.add(Event(message_id=uuid.uuid4().hex, event_type="track", name=name, contact_id=c.id, occurred_at=at,
                        received_at=at, properties={}, context={}))  # fmt: skip
    counts = generate_workflows(engine, now=now, seed=42)
    assert counts["workflows"] == 4
    # History, the enrolments waiting for the approvals, and the two approved ones.
    assert counts["workflow_enrolments"] == 9 + 3 + 2
    assert counts["workflow_approvals"] == 3 + 2
    assert counts["workflow_tasks"] == 2
    page = logged_in.get("/workflows")
    assert "Trial sign-up" in page.text
    assert "Discount approval" in page.text
    assert logged_in.get("/workflows/trial-signup").status_code == 200
    assert "Discount request #3" in logged_in.get("/workflows/approvals").text
    assert "HTTP 503" in logged_in.get("/workflows/dead-letters").text
    tasks = logged_in.get("/workflows/tasks?who=all").text
    assert "Send Co12 quote with the approved discount" in tasks
    assert "Send Co13 quote with the approved discount" in tasks
    assert "overdue" in tasks  # Co13's was due yesterday


TASK_FLOW: dict[str, Any] = {
    "key": "call", "name": "Call back", "trigger": {"type": "event", "event": "Go"},
    "steps": [{"id": "call", "action": "create_task", "assignee": "admin@example.com",
               "title": "Call {{ contact.email }}", "due_in": "1d"},
              {"id": "other", "action": "create_task", "assignee": "rep@example.org",
               "title": "Check {{ contact.email }}"}],
}  # fmt: skip


def test_tasks_are_listed_and_closed_in_the_api_the_web_and_the_cli(
    client: TestClient, logged_in: TestClient, engine: Engine, admin_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:  # fmt: skip
    from typer.testing import CliRunner

    from pitboard.cli.main import app as cli
    from pitboard.models import AuditEntry

    assert client.post("/api/v1/workflows", json=TASK_FLOW, headers=admin_headers).status_code == 201
    _contact_with_event(engine, "ada@example.org")
    _contact_with_event(engine, "bob@example.org")
    run(engine)

    # API: open tasks, by assignee; closing needs an editor, and a wrong status is a clear 422.
    mine = client.get("/api/v1/workflows/tasks?assignee=ADMIN@example.com", headers=viewer_headers).json()
    assert sorted(t["title"] for t in mine) == ["Call ada@example.org", "Call bob@example.org"]
    assert all(t["due_at"] for t in mine)
    assert len(client.get("/api/v1/workflows/tasks", headers=viewer_headers).json()) == 4
    first = mine[0]["id"]
    assert client.post(f"/api/v1/workflows/tasks/{first}", json={"status": "done"},
                       headers=viewer_headers).status_code == 403  # fmt: skip
    bad = client.post(f"/api/v1/workflows/tasks/{first}", json={"status": "finished"}, headers=admin_headers)
    assert bad.status_code == 422
    assert "open, done, cancelled" in bad.text
    assert client.post("/api/v1/workflows/tasks/999999", json={"status": "done"},
                       headers=admin_headers).status_code == 404  # fmt: skip
    done = client.post(f"/api/v1/workflows/tasks/{first}", json={"status": "done"}, headers=admin_headers)
    assert done.status_code == 200
    assert done.json()["status"] == "done"
    assert [t["id"] for t in client.get("/api/v1/workflows/tasks?status=done", headers=viewer_headers).json()] == [
        first
    ]

    # Web: the signed-in user's open tasks by default, everyone's on request; Done closes one.
    page = logged_in.get("/workflows/tasks")
    assert page.status_code == 200
    assert mine[1]["title"] in page.text
    assert "Check" not in page.text  # someone else's
    assert mine[0]["title"] not in page.text  # done
    assert "Check bob@example.org" in logged_in.get("/workflows/tasks?who=all").text
    assert 'Tasks <span class="tag">1</span>' in logged_in.get("/workflows").text
    second = mine[1]["id"]
    form = {"csrf_token": csrf_from(page.text), "status": "cancelled", "who": "me", "showing": "open"}
    r = logged_in.post(f"/workflows/tasks/{second}", data=form, follow_redirects=True)
    assert r.status_code == 200
    assert f"Task {second} is cancelled." in r.text
    assert "No open tasks for you." in r.text

    # CLI: list and close (or reopen) by id.
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    listed = runner.invoke(cli, ["workflows", "tasks", "--status", "all", "--database-url", url])
    assert listed.exit_code == 0, listed.stdout
    assert "Check" in listed.stdout
    assert "cancelled" in listed.stdout
    reopened = runner.invoke(cli, ["workflows", "task", str(second), "open", "--database-url", url])
    assert reopened.exit_code == 0, reopened.stdout
    assert f"task {second} is open" in reopened.stdout
    with session_scope(engine) as s:
        changes = [e.changes["status"] for e in s.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "workflow_task").order_by(AuditEntry.id))]  # fmt: skip
        assert changes == [["open", "done"], ["open", "cancelled"], ["cancelled", "open"]]
