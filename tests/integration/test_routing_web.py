"""The routing pages on SQLite and PostgreSQL: queue, assignment log, SLA board, rep availability."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pitboard.kit.db import session_scope
from pitboard.models.routing import RoutingLead, RoutingOutOfOffice
from tests.integration.conftest import csrf_from
from tests.integration.test_routing_engine import add_lead, add_rep, apply_routing

FLOW = """
pools:
  - key: sdr
    members: [{user: ana@salesco.com}]
rules:
  - name: americas
    when: {field: country, op: in, value: [US, CA]}
    to: "pool:sdr"
    sla: {first_touch: 1h}
"""


def test_pages_and_actions(engine: Engine, logged_in: TestClient, tmp_path: Path) -> None:
    client = logged_in
    page = client.get("/routing")
    assert page.status_code == 200
    assert "No routing flow is applied yet" in page.text
    with session_scope(engine) as s:
        ana = add_rep(s, "Ana", timezone="Europe/Berlin")
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, FLOW)
        lead = add_lead(s, first_name="Nora", last_name="Nocountry")
    token = csrf_from(client.get("/routing").text)
    r = client.post(f"/routing/contacts/{lead}/route", data={"csrf_token": token, "back": "unassigned"},
                    follow_redirects=True)  # fmt: skip
    assert r.status_code == 200
    assert "unassigned — no rule matched; missing: country" in r.text
    assert "Nora Nocountry" in r.text
    assert "No routing flow is applied yet" not in r.text
    assert client.post(f"/routing/contacts/{lead}/route", data={"back": "x"}).status_code in (400, 403)

    with session_scope(engine) as s:
        s.execute(RoutingLead.__table__.delete())
        from pitboard.models import Contact

        s.execute(Contact.__table__.update().where(Contact.id == lead).values(country="US"))
    token = csrf_from(client.get("/routing").text)
    client.post(f"/routing/contacts/{lead}/route", data={"csrf_token": token})
    log = client.get("/routing/log", params={"contact_id": lead})
    assert "next in the round robin" in log.text
    assert "✔ Ana" in log.text
    token = csrf_from(log.text)
    r = client.post(f"/routing/contacts/{lead}/disposition", follow_redirects=True,
                    data={"csrf_token": token, "disposition": "rejected",
                          "reason": "competitor", "note": "rival"})  # fmt: skip
    assert "Lead rejected." in r.text
    with session_scope(engine) as s:
        row = s.scalar(select(RoutingLead).where(RoutingLead.contact_id == lead))
        assert row is not None
        assert (row.status, row.disposition_reason) == ("rejected", "competitor: rival")

    sla = client.get("/routing/sla")
    assert sla.status_code == 200
    assert "Speed to lead by rep" in sla.text
    assert "competitor: 1" in sla.text
    reps = client.get("/routing/reps")
    assert "Ana" in reps.text
    assert "Europe/Berlin" in reps.text
    token = csrf_from(reps.text)
    r = client.post("/routing/out-of-office", follow_redirects=True, data={
        "csrf_token": token, "email": "ana@salesco.com", "starts_at": "2020-01-01T00:00",
        "ends_at": "2999-01-01T00:00"})  # fmt: skip
    assert "Absence recorded." in r.text
    assert "out of office until 2999-01-01" in r.text
    r = client.post("/routing/out-of-office", follow_redirects=True, data={
        "csrf_token": token, "email": "ghost@salesco.com", "starts_at": "2020-01-01T00:00",
        "ends_at": "2021-01-01T00:00"})  # fmt: skip
    assert "no sales user ghost@salesco.com" in r.text
    with session_scope(engine) as s:
        assert s.scalar(select(RoutingOutOfOffice.sales_user_id)) == ana
