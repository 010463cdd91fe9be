"""Data-subject requests and the retention policy through the REST API and the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.consent.purposes import load_purposes
from pitboard.kit.db import session_scope
from pitboard.models import Contact, ErasureTombstone, PrivacyRequest
from pitboard.project.loader import scaffold


def _person(engine: Engine, email: str = "dora@example.org") -> int:
    with session_scope(engine) as s:
        c = Contact(email=email, email_normalized=email, first_name="Dora", last_name="Data")
        s.add(c)
        s.flush()
        return c.id


def test_access_request_answered_with_the_recorded_hash(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    cid = _person(engine)
    r = client.post("/api/v1/privacy/requests", headers=admin_headers,
                    json={"kind": "export", "email": "Dora@Example.org", "notes": "by email"})  # fmt: skip
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["status"], req["contact_id"], req["overdue"]) == ("received", cid, False)
    assert client.get("/api/v1/privacy/requests", headers=viewer_headers).status_code == 403
    assert [x["id"] for x in client.get("/api/v1/privacy/requests", headers=admin_headers).json()] == [req["id"]]

    answer = client.post(f"/api/v1/privacy/requests/{req['id']}/export", headers=admin_headers)
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    document = answer.json()
    assert document["records"][0]["contact"]["first_name"] == "Dora"
    done = client.get(f"/api/v1/privacy/requests/{req['id']}", headers=admin_headers).json()
    assert done["status"] == "completed"
    assert done["result"]["sha256"] == hashlib.sha256(answer.content).hexdigest()
    again = client.post(f"/api/v1/privacy/requests/{req['id']}/export", headers=admin_headers)
    assert again.status_code == 422


def test_erasure_and_rejection(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], session: Session
) -> None:
    cid = _person(engine)
    erase = client.post("/api/v1/privacy/requests", headers=admin_headers,
                        json={"kind": "erasure", "email": "dora@example.org"}).json()  # fmt: skip
    other = client.post("/api/v1/privacy/requests", headers=admin_headers,
                        json={"kind": "erasure", "email": "someone@example.org"}).json()  # fmt: skip
    r = client.post(f"/api/v1/privacy/requests/{erase['id']}/erase", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    assert "dora" not in r.json()["subject_label"]
    rejected = client.post(f"/api/v1/privacy/requests/{other['id']}/reject", headers=admin_headers,
                           json={"reason": "identity could not be verified"})  # fmt: skip
    assert rejected.json()["status"] == "rejected"
    assert session.get(Contact, cid) is None
    assert session.scalar(select(ErasureTombstone.former_contact_id)) == cid


def test_retention_policy_is_validated_and_planned(client: TestClient, admin_headers: dict[str, str]) -> None:
    got = client.get("/api/v1/privacy/retention", headers=admin_headers).json()
    assert got["policy"]["inactive_contact_days"] is None
    bad = client.put("/api/v1/privacy/retention", headers=admin_headers, json={"inactive_contact_days": 3})
    assert bad.status_code == 422
    assert "greater than or equal to 30" in bad.json()["message"]
    ok = client.put("/api/v1/privacy/retention", headers=admin_headers, json={"inactive_contact_days": 730})
    assert ok.json()["policy"]["inactive_contact_days"] == 730


def test_cli_applies_privacy_yml_and_answers_requests(engine: Engine, tmp_path: Path, session: Session) -> None:
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    project = tmp_path / "ops"
    scaffold(project, name="ops")
    text = (project / "privacy.yml").read_text().replace('policy_version: "1"', 'policy_version: "2026-11"')
    text = text.replace(
        "  - key: sales_outreach\n    label: Sales outreach\n", "  - key: sales_outreach\n    label: Sales\n"
    )
    (project / "privacy.yml").write_text(text.replace("inactive_contact_days: null", "inactive_contact_days: 1095"))
    result = runner.invoke(cli, ["privacy", "apply", str(project), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "purposes updated: sales_outreach" in result.output
    assert load_purposes(session)["sales_outreach"].label == "Sales"
    session.rollback()

    _person(engine, "erin@example.org")
    assert (
        runner.invoke(cli, ["privacy", "request", "export", "erin@example.org", "--database-url", url]).exit_code == 0
    )
    request_id = session.scalar(select(PrivacyRequest.id))
    session.rollback()
    out = tmp_path / "erin.json"
    result = runner.invoke(cli, ["privacy", "export", str(request_id), "-o", str(out), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_bytes())["records"][0]["contact"]["email"] == "erin@example.org"
    runner.invoke(cli, ["privacy", "request", "erasure", "erin@example.org", "--database-url", url])
    refused = runner.invoke(cli, ["privacy", "erase", str(request_id + 1), "--database-url", url])
    assert refused.exit_code == 1
    done = runner.invoke(cli, ["privacy", "erase", str(request_id + 1), "--yes", "--database-url", url])
    assert "erased 1 contact" in done.output
    plan = runner.invoke(cli, ["privacy", "retention", "--database-url", url])
    assert '"inactive_contact_days": 1095' in plan.output
