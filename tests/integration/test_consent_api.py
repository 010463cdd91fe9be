"""Consent, suppression and audience export through the REST API and the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.kit.db import session_scope
from pitboard.models import AuditEntry, ConsentRecord, Contact


def _contact(engine: Engine, email: str, **fields: object) -> int:
    with session_scope(engine) as s:
        c = Contact(email=email, email_normalized=email.lower(), **fields)
        s.add(c)
        s.flush()
        return c.id


def test_record_read_and_check_consent(client: TestClient, engine: Engine, admin_headers: dict[str, str]) -> None:
    cid = _contact(engine, "ada@example.org")
    body = {"entries": [{"channel": "email", "purpose": "product_updates", "status": "granted", "source": "form",
                         "consent_text": "Send me product news", "ip_address": "198.51.100.7",
                         "user_agent": "Mozilla/5.0", "idempotency_key": "form-1"}]}  # fmt: skip
    r = client.post(f"/api/v1/contacts/{cid}/consent", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["records"][0]["status"] == "granted"
    again = client.post(f"/api/v1/contacts/{cid}/consent", json=body, headers=admin_headers)
    assert again.json()["records"][0]["id"] == r.json()["records"][0]["id"]

    got = client.get(f"/api/v1/contacts/{cid}/consent", headers=admin_headers).json()
    assert [(s["purpose"], s["status"]) for s in got["states"]] == [("product_updates", "granted")]
    assert got["history"][0]["ip_address"] == "198.51.100.7"
    assert got["history"][0]["consent_text"] == "Send me product news"

    check = client.get("/api/v1/consent/check", params={"contact_id": cid, "purpose": "product_updates"},
                       headers=admin_headers).json()  # fmt: skip
    assert check == {"contact_id": cid, "allowed": True, "reason": "ok"}
    check = client.get("/api/v1/consent/check", params={"contact_id": cid, "purpose": "events"},
                       headers=admin_headers).json()  # fmt: skip
    assert check["reason"] == "no_consent"


def test_bad_consent_input_is_a_clear_error(client: TestClient, engine: Engine, admin_headers: dict[str, str]) -> None:
    cid = _contact(engine, "ada@example.org")
    r = client.post(f"/api/v1/contacts/{cid}/consent", headers=admin_headers, json={"entries": [
        {"channel": "sms", "purpose": "newsletter", "status": "granted"}]})  # fmt: skip
    assert r.status_code == 422
    assert "is for email, not sms" in r.json()["message"]
    r = client.post(f"/api/v1/contacts/{cid}/consent", headers=admin_headers, json={"entries": [
        {"channel": "email", "purpose": "events", "status": "granted", "colour": "red"}]})  # fmt: skip
    assert r.status_code == 422
    assert client.post("/api/v1/contacts/999/consent", headers=admin_headers, json={"entries": [
        {"channel": "email", "purpose": "events", "status": "granted"}]}).status_code == 404  # fmt: skip


def test_viewer_reads_but_cannot_record(
    client: TestClient, engine: Engine, viewer_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    cid = _contact(engine, "ada@example.org")
    assert client.get(f"/api/v1/contacts/{cid}/consent", headers=viewer_headers).status_code == 200
    r = client.post(f"/api/v1/contacts/{cid}/consent", headers=viewer_headers, json={"entries": [
        {"channel": "email", "purpose": "events", "status": "granted"}]})  # fmt: skip
    assert r.status_code == 403
    r = client.post("/api/v1/suppressions", headers=viewer_headers,
                    json={"address": "x@example.org", "reason": "complaint"})  # fmt: skip
    assert r.status_code == 403


def test_bounce_feed_suppresses_once_and_only_admins_lift(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], session: Session
) -> None:
    cid = _contact(engine, "bounce@example.org")
    first = client.post("/api/v1/suppressions", headers=admin_headers,
                        json={"address": "Bounce@Example.org", "reason": "hard_bounce", "source": "ses"})  # fmt: skip
    assert first.status_code == 201, first.text
    assert first.json()["contact_id"] == cid
    again = client.post("/api/v1/suppressions", headers=admin_headers,
                        json={"address": "bounce@example.org", "reason": "hard_bounce", "source": "ses"})  # fmt: skip
    assert again.json()["id"] == first.json()["id"]
    found = client.get("/api/v1/suppressions", params={"address": "BOUNCE@example.org", "channel": "email"},
                       headers=admin_headers).json()  # fmt: skip
    assert [s["id"] for s in found] == [first.json()["id"]]
    check = client.get("/api/v1/consent/check", params={"contact_id": cid, "kind": "transactional"},
                       headers=admin_headers).json()  # fmt: skip
    assert check["reason"] == "suppressed:hard_bounce"
    lifted = client.post(f"/api/v1/suppressions/{first.json()['id']}/lift", headers=admin_headers,
                         json={"reason": "mailbox exists again"})  # fmt: skip
    assert lifted.json()["lift_reason"] == "mailbox exists again"
    assert client.get("/api/v1/suppressions", headers=admin_headers).json() == []


def test_unsubscribe_all_withdraws_and_suppresses(
    client: TestClient, engine: Engine, admin_headers: dict[str, str]
) -> None:
    cid = _contact(engine, "leaving@example.org")
    client.post(f"/api/v1/contacts/{cid}/consent", headers=admin_headers, json={"confirmed": True, "entries": [
        {"channel": "email", "purpose": p, "status": "granted"} for p in ("newsletter", "events")]})  # fmt: skip
    r = client.post(f"/api/v1/contacts/{cid}/unsubscribe", headers=admin_headers, json={})
    assert sorted(rec["purpose"] for rec in r.json()["records"]) == ["events", "newsletter"]
    got = client.get(f"/api/v1/contacts/{cid}/consent", headers=admin_headers).json()
    assert {s["status"] for s in got["states"]} == {"withdrawn"}
    assert [s["reason"] for s in got["suppressions"]] == ["unsubscribe"]
    # Twice is the same as once.
    r = client.post(f"/api/v1/contacts/{cid}/unsubscribe", headers=admin_headers, json={})
    assert r.json()["records"] == []


def test_audience_export_leaves_out_who_may_not_be_contacted(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], session: Session
) -> None:
    ok = _contact(engine, "ok@example.org", first_name="Ok", country="DE")
    _contact(engine, "silent@example.org", country="DE")
    bounced = _contact(engine, "bounced@example.org", country="DE")
    for cid in (ok, bounced):
        client.post(f"/api/v1/contacts/{cid}/consent", headers=admin_headers, json={"entries": [
            {"channel": "email", "purpose": "events", "status": "granted"}]})  # fmt: skip
    client.post("/api/v1/suppressions", headers=admin_headers, json={"address": "bounced@example.org",
                "reason": "hard_bounce"})  # fmt: skip
    r = client.post("/api/v1/audiences/export", headers=admin_headers, json={"purpose": "events", "country": "de"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["email"] for row in rows] == ["ok@example.org"]
    assert r.headers["X-Pitboard-Included"] == "1"
    assert json.loads(r.headers["X-Pitboard-Excluded"]) == {"no_consent": 1, "suppressed:hard_bounce": 1}
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "audience.exported"))
    assert entry is not None
    assert entry.changes["included"] == [None, 1]


def test_cli_records_checks_suppresses_and_exports(engine: Engine, tmp_path: Path, session: Session) -> None:
    url = engine.url.render_as_string(hide_password=False)
    _contact(engine, "cli@example.org")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--database-url", url])
        assert result.exit_code in (0, 3), result.output
        return result.output

    run("consent", "record", "cli@example.org", "--purpose", "events", "--status", "granted",
        "--text", "Invited at the booth")  # fmt: skip
    assert "allowed: ok" in run("consent", "check", "cli@example.org", "--purpose", "events")
    shown = run("consent", "show", "cli@example.org")
    assert "granted" in shown
    assert "booth" in shown
    bounces = tmp_path / "bounces.csv"
    bounces.write_text("email,type\ncli@example.org,hard\nother@example.org,hard\n", encoding="utf-8")
    assert "2 new suppressions, 0 already" in run("suppressions", "import", str(bounces))
    assert "0 new suppressions, 2 already suppressed" in run("suppressions", "import", str(bounces))
    result = runner.invoke(cli, ["consent", "check", "cli@example.org", "--purpose", "events", "--database-url", url])
    assert result.exit_code == 3
    assert "suppressed:hard_bounce" in result.output
    out = tmp_path / "audience.csv"
    assert "0 contacts written" in run("audience", "export", "--purpose", "events", "-o", str(out))
    assert "every consent state matches the ledger" in run("consent", "verify")
    assert session.scalar(select(ConsentRecord.source)) == "admin"
