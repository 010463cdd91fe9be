"""The routing REST API on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pitboard.kit.db import session_scope
from pitboard.models import Job
from pitboard.routing import tasks as routing_tasks  # noqa: F401  (registers the re-route task)
from pitboard.worker.runner import run_worker
from tests.integration.test_routing_engine import add_lead, add_rep, apply_routing

FLOW = """
pools:
  - key: sdr
    members: [{user: ana@salesco.com}, {user: bo@salesco.com}]
rules:
  - name: americas
    when: {field: country, op: in, value: [US, CA]}
    to: "pool:sdr"
    sla: {first_touch: 1h}
"""


def _setup(engine: Engine, tmp_path: Path) -> tuple[int, int, int, int]:
    with session_scope(engine) as s:
        ana, bo = add_rep(s, "Ana"), add_rep(s, "Bo")
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, FLOW)
    with session_scope(engine) as s:
        us, nowhere = add_lead(s, country="US", lead_source="Webinar"), add_lead(s)
    return ana, bo, us, nowhere


def test_route_explain_queue_and_dispositions(
    engine: Engine, client: TestClient, admin_headers: dict[str, str], viewer_headers: dict[str, str], tmp_path: Path
) -> None:
    ana, bo, us, nowhere = _setup(engine, tmp_path)
    r = client.post(f"/api/v1/routing/contacts/{us}/route", headers=viewer_headers)
    assert r.status_code == 403
    r = client.post(f"/api/v1/routing/contacts/{us}/route", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["owner_id"] == ana
    assert r.json()["rule"] == "americas"
    r = client.post(f"/api/v1/routing/contacts/{nowhere}/route", headers=admin_headers)
    assert r.json()["outcome"] == "unassigned"
    assert r.json()["reason"] == "no rule matched; missing: country"
    assert client.post("/api/v1/routing/contacts/999999/route", headers=admin_headers).status_code == 404

    queue = client.get("/api/v1/routing/leads", params={"status": "unassigned"}, headers=viewer_headers).json()
    assert [(q["contact_id"], q["reason"]) for q in queue] == [(nowhere, "no rule matched; missing: country")]
    decisions = client.get(f"/api/v1/routing/contacts/{us}/decisions", headers=viewer_headers).json()
    assert decisions[0]["rules"] == [{"rule": "americas", "matched": True}]
    assert [c["name"] for c in decisions[0]["candidates"]] == ["Ana", "Bo"]
    assert decisions[0]["candidates"][0]["chosen"] is True
    assert "next in the round robin" in decisions[0]["reason"]

    bad = client.post(f"/api/v1/routing/contacts/{us}/disposition", headers=admin_headers,
                      json={"disposition": "rejected", "reason": "ugly"})  # fmt: skip
    assert bad.status_code == 422
    assert "not_a_fit" in bad.json()["message"]
    ok = client.post(f"/api/v1/routing/contacts/{us}/disposition", headers=admin_headers,
                     json={"disposition": "rejected", "reason": "not_a_fit", "note": "agency"})  # fmt: skip
    assert ok.status_code == 200
    assert ok.json()["status"] == "rejected"
    report = client.get("/api/v1/routing/reports/rejections", headers=viewer_headers).json()
    assert report["by_reason"] == {"not_a_fit": 1}
    assert report["by_rule"][0]["rule"] == "americas"
    assert client.post(f"/api/v1/routing/contacts/{us}/disposition", headers=admin_headers,
                       json={"disposition": "accepted"}).status_code == 409  # fmt: skip

    assigned = client.post(f"/api/v1/routing/contacts/{nowhere}/assign", headers=admin_headers,
                           json={"owner_email": "bo@salesco.com", "reason": "knows them"})  # fmt: skip
    assert assigned.json()["owner_id"] == bo
    assert "knows them" in assigned.json()["reason"]
    assert client.post(f"/api/v1/routing/contacts/{nowhere}/assign", headers=admin_headers,
                       json={"owner_email": "ghost@salesco.com"}).status_code == 404  # fmt: skip
    assert client.post(f"/api/v1/routing/contacts/{nowhere}/assign", headers=admin_headers,
                       json={"owner_email": "bo@salesco.com", "extra": 1}).status_code == 422  # fmt: skip

    sla = client.get("/api/v1/routing/sla", headers=viewer_headers).json()
    assert sla["counts"] == {"met": 1}  # the rejection was its first touch; the manual assignment has no SLA
    assert sla["overdue"] == []
    speed = client.get("/api/v1/routing/reports/speed-to-lead", headers=viewer_headers).json()
    assert {row["rep"] for row in speed["rep"]} == {"Ana", "Bo"}


def test_availability_absences_and_bulk_reroute(
    engine: Engine, client: TestClient, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    ana, bo, us, _nowhere = _setup(engine, tmp_path)
    r = client.post("/api/v1/routing/out-of-office", headers=admin_headers,
                    json={"user_email": "ana@salesco.com", "starts_at": "2020-01-01T00:00:00Z",
                          "ends_at": "2999-01-01T00:00:00Z", "note": "sabbatical"})  # fmt: skip
    assert r.status_code == 201, r.text
    absence = r.json()["id"]
    bad = client.post("/api/v1/routing/out-of-office", headers=admin_headers,
                      json={"user_email": "ana@salesco.com", "starts_at": "2030-01-02T00:00:00Z",
                            "ends_at": "2030-01-01T00:00:00Z"})  # fmt: skip
    assert bad.status_code == 422
    people = {p["name"]: p for p in client.get("/api/v1/routing/availability", headers=admin_headers).json()}
    assert people["Ana"]["available"] is False
    assert people["Ana"]["why"].startswith("out of office")
    assert people["Bo"]["available"] is True

    with session_scope(engine) as s:
        more = [add_lead(s, country="CA") for _ in range(3)]
    r = client.post("/api/v1/routing/reroute", headers=admin_headers, json={
        "condition": {"field": "country", "op": "in", "value": ["US", "CA"]}, "run": "now"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"queued": False, "routed": 4, "outcomes": {"assigned": 4}, "more": False}
    leads = client.get("/api/v1/routing/leads", params={"status": "assigned"}, headers=admin_headers).json()
    assert {lead["owner_id"] for lead in leads} == {bo}  # Ana is away

    assert client.delete(f"/api/v1/routing/out-of-office/{absence}", headers=admin_headers).status_code == 204
    r = client.post("/api/v1/routing/reroute", headers=admin_headers,
                    json={"condition": {"field": "country", "op": "eq", "value": "CA"}})  # fmt: skip
    assert r.json()["queued"] is True
    run_worker(engine, burst=True, poll_seconds=0.01)
    with session_scope(engine) as s:
        assert s.scalar(select(Job.status).where(Job.task == "routing.reroute")) == "done"
    leads = client.get("/api/v1/routing/leads", params={"status": "assigned"}, headers=admin_headers).json()
    owners = {lead["contact_id"]: lead["owner_id"] for lead in leads}
    # Ana is back with 1 lead from the pool against Bo's 4: the rotation gives her all three.
    assert owners[us] == bo
    assert [owners[c] for c in more] == [ana, ana, ana]
    bad = client.post("/api/v1/routing/reroute", headers=admin_headers, json={"condition": {"field": "nope"}})
    assert bad.status_code == 422
