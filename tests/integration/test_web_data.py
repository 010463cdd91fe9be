"""Data-in pages: sources and write keys, live events, the quarantine (fix, replay, discard), import history."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.imports.service import import_file
from pitboard.kit.actor import SYSTEM
from pitboard.models import Contact, QuarantinedRecord, Source
from tests.integration.conftest import csrf_from


def test_sources_page_creates_and_rotates_write_keys(logged_in: TestClient, session: Session) -> None:
    page = logged_in.get("/sources")
    assert page.status_code == 200
    assert "No sources yet" in page.text
    r = logged_in.post("/sources", data={"name": "website", "kind": "website", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 200  # followed the redirect
    assert "Source website created." in r.text
    source = session.scalars(select(Source)).one()
    source_id, old_key = source.id, source.write_key
    assert old_key in r.text
    session.rollback()
    dup = logged_in.post("/sources", data={"name": "website", "kind": "website", "csrf_token": csrf_from(r.text)})
    assert dup.status_code == 409
    assert "already exists" in dup.text
    rotated = logged_in.post(f"/sources/{source_id}/rotate", data={"csrf_token": csrf_from(r.text)})
    assert "New write key for website" in rotated.text
    assert old_key not in rotated.text


def test_events_sent_with_a_write_key_appear_in_the_live_stream(logged_in: TestClient, session: Session) -> None:
    page = logged_in.get("/sources")
    logged_in.post("/sources", data={"name": "app", "kind": "server", "csrf_token": csrf_from(page.text)})
    key = session.scalars(select(Source.write_key)).one()
    session.rollback()
    r = logged_in.post("/v1/track", json={"userId": "u1", "event": "Report Exported", "messageId": "m1"},
                       headers={"X-Write-Key": key})  # fmt: skip
    assert r.status_code == 200
    stream = logged_in.get("/events/stream", params={"source": "app", "live": "1"})
    assert "Report Exported" in stream.text
    assert 'http-equiv="refresh"' in stream.text
    contact_id = session.scalars(select(Contact.id)).one()
    assert f"/contacts/{contact_id}" in stream.text


def test_quarantine_fix_replay_and_discard_in_the_browser(
    logged_in: TestClient, engine: Engine, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("email,country\nnot-an-email,DE\nalso@bad,XX1\n")
    import_file(engine, "contacts", path, actor=SYSTEM)
    ids = session.scalars(select(QuarantinedRecord.id).order_by(QuarantinedRecord.id)).all()
    session.rollback()

    listing = logged_in.get("/quarantine")
    assert "not valid" in listing.text
    assert logged_in.get("/imports").text.count("contacts.csv") == 1

    detail = logged_in.get(f"/quarantine/{ids[0]}")
    token = csrf_from(detail.text)
    bad_json = logged_in.post(f"/quarantine/{ids[0]}/replay", data={"payload": "{oops", "csrf_token": token})
    assert bad_json.status_code == 422
    assert "not valid JSON" in bad_json.text
    payload = json.dumps({"email": "x@", "country": "DE"})
    still_bad = logged_in.post(f"/quarantine/{ids[0]}/replay", data={"payload": payload, "csrf_token": token})
    assert still_bad.status_code == 422
    assert "Still not accepted" in still_bad.text
    payload = json.dumps({"email": "ann@acme.io", "country": "DE"})
    fixed = logged_in.post(f"/quarantine/{ids[0]}/replay", data={"payload": payload, "csrf_token": token})
    assert fixed.status_code == 200
    assert session.scalars(select(Contact.email)).one() == "ann@acme.io"
    session.rollback()

    no_reason = logged_in.post(f"/quarantine/{ids[1]}/discard", data={"reason": "", "csrf_token": token})
    assert no_reason.status_code == 422
    done = logged_in.post(f"/quarantine/{ids[1]}/discard", data={"reason": "test rows", "csrf_token": token})
    assert done.status_code == 200
    statuses = session.scalars(select(QuarantinedRecord.status).order_by(QuarantinedRecord.id)).all()
    assert statuses == ["replayed", "discarded"]


def test_data_pages_need_login_and_csrf(client: TestClient, logged_in: TestClient) -> None:
    r = logged_in.post("/sources", data={"name": "x", "kind": "server"})
    assert r.status_code == 403
