"""The segments REST API: definitions with roles and JSON errors, preview, refresh, members, history, static
lists and the consent-checked export."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.consent import ledger, suppression
from pitboard.consent.ledger import ConsentEntry
from pitboard.kit.actor import SYSTEM
from pitboard.models import AuditEntry, Segment, SegmentMembership
from pitboard.segments import service
from pitboard.segments.api import router
from tests.integration.test_segments_refresh import add_account, add_contact, open_members, spec

API = "/api/v1"


@pytest.fixture
def api(client: TestClient) -> TestClient:
    """The app with the segments router under /api/v1 (mounted here until the app factory includes it)."""
    app = client.app
    if not any(getattr(route, "path", "") == f"{API}/segments" for route in app.router.routes):  # type: ignore[attr-defined]
        app.include_router(router, prefix=API)  # type: ignore[attr-defined]
    return client


US = {"field": "country", "op": "eq", "value": "US"}


def test_definitions_with_roles_and_json_errors(
    api: TestClient, session: Session, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    ann = add_contact(session, "ann@acme.io", country="US").id
    add_contact(session, "bob@acme.io", country="DE")
    session.commit()
    body = {"key": "us", "name": "US contacts", "condition": US}
    assert api.get(f"{API}/segments", headers=viewer_headers).json() == []
    r = api.post(f"{API}/segments", json=body, headers=viewer_headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")

    r = api.post(f"{API}/segments?refresh=now", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["member_count"], created["origin"], created["file"], created["condition"]) == (1, "api", None, US)
    assert open_members(session, "us") == {ann}
    session.rollback()

    r = api.post(f"{API}/segments", json=body, headers=admin_headers)
    assert (r.status_code, r.json()["code"]) == (409, "conflict")
    bad = {"key": "bad", "name": "Bad", "condition": {"all": [{"field": "contry", "op": "eq", "value": "US"},
                                                              {"event": "x", "min_count": 0}]}}  # fmt: skip
    r = api.post(f"{API}/segments", json=bad, headers=admin_headers)
    assert r.status_code == 422
    problems = {d["path"]: d["message"] for d in r.json()["details"]}
    assert problems["condition.all[0].field"] == "unknown field 'contry'; did you mean country?"
    assert "min_count 0 without max_count" in problems["condition.all[1]"]
    assert r.json()["code"] == "validation_error"

    r = api.patch(f"{API}/segments/us", json={"name": "Americans", "condition": {"field": "country", "op": "in",
                                                                                 "value": ["US", "DE"]}},
                  headers=admin_headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Americans"
    r = api.put(f"{API}/segments/us?refresh=now", json={**body, "name": "US again"}, headers=admin_headers)
    assert (r.status_code, r.json()["name"], r.json()["member_count"]) == (200, "US again", 1)
    r = api.put(f"{API}/segments/us", json={**body, "key": "other"}, headers=admin_headers)
    assert r.status_code == 422
    assert "cannot change" in r.json()["message"]
    assert api.get(f"{API}/segments/us", headers=viewer_headers).json()["name"] == "US again"
    assert api.delete(f"{API}/segments/us", headers=admin_headers).status_code == 204
    r = api.get(f"{API}/segments/us", headers=viewer_headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_project_segments_are_read_only_through_the_api(
    api: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    service.apply_segments(session, [spec(session, "from-project", US)], actor=SYSTEM)
    session.commit()
    assert api.get(f"{API}/segments/from-project", headers=admin_headers).json()["file"] == "segments/from-project.yml"
    for r in (
        api.patch(f"{API}/segments/from-project", json={"name": "x"}, headers=admin_headers),
        api.delete(f"{API}/segments/from-project", headers=admin_headers),
    ):
        assert r.status_code == 409
        assert r.json() == {
            "code": "project_owned",
            "message": "segment from-project is defined in the project: change segments/from-project.yml and run "
            "pitboard apply",
            "details": {"file": "segments/from-project.yml"},
        }


def test_preview_counts_and_samples_without_saving(
    api: TestClient, session: Session, viewer_headers: dict[str, str]
) -> None:
    acme = add_account(session, "Acme")
    ids = [add_contact(session, f"p{i}@acme.io", country="US", account_id=acme).id for i in range(25)]
    add_contact(session, "de@acme.io", country="DE")
    session.commit()
    r = api.post(f"{API}/segments/preview", json={"condition": US}, headers=viewer_headers)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["count"] == 25
    assert [m["id"] for m in result["members"]] == ids[:20]
    assert result["members"][0]["email"] == "p0@acme.io"
    r = api.post(f"{API}/segments/preview", json={"condition": US, "entity": "account", "min_contacts": 25},
                 headers=viewer_headers)  # fmt: skip
    assert [(m["id"], m["label"], m["matching_contacts"]) for m in r.json()["members"]] == [(acme, "Acme", 25)]
    r = api.post(f"{API}/segments/preview", json={"condition": {"field": "country", "op": "gt", "value": 1}},
                 headers=viewer_headers)  # fmt: skip
    assert r.status_code == 422
    assert r.json()["details"][0]["path"] == "condition.op"
    r = api.post(f"{API}/segments/preview", json={"condition": {"in_segment": "ghosts"}}, headers=viewer_headers)
    assert (r.status_code, r.json()["message"]) == (422, "condition: in_segment ghosts names no active segment")
    assert session.scalar(select(func.count()).select_from(Segment)) == 0


def test_refresh_members_and_history(
    api: TestClient, session: Session, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    ids = [add_contact(session, f"p{i}@acme.io", country="US").id for i in range(5)]
    session.commit()
    assert api.post(f"{API}/segments", json={"key": "us", "name": "US", "condition": US},
                    headers=admin_headers).status_code == 201  # fmt: skip
    r = api.post(f"{API}/segments/us/refresh", headers=admin_headers)
    assert r.status_code == 200, r.text
    [result] = r.json()
    assert (result["key"], result["member_count"], result["entered"], result["exited"]) == ("us", 5, 5, 0)
    assert api.post(f"{API}/segments/us/refresh", headers=viewer_headers).status_code == 403

    first = api.get(f"{API}/segments/us/members?limit=3", headers=viewer_headers).json()
    assert [m["id"] for m in first["items"]] == ids[:3]
    assert first["items"][0]["entered_by"] == "rule"
    rest = api.get(f"{API}/segments/us/members?limit=3&cursor={first['next_cursor']}", headers=viewer_headers).json()
    assert ([m["id"] for m in rest["items"]], rest["next_cursor"]) == (ids[3:], None)
    before = api.get(f"{API}/segments/us/members?at=2000-01-01T00:00:00Z", headers=viewer_headers).json()
    assert before["items"] == []
    history = api.get(f"{API}/segments/us/history?days=3", headers=viewer_headers).json()
    assert len(history) == 3
    assert (history[-1]["entered"], history[-1]["exited"], history[-1]["members"]) == (5, 0, 5)
    assert api.get(f"{API}/segments/nope/history", headers=viewer_headers).status_code == 404


def test_static_list_members_by_id_email_and_csv(
    api: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    ann, bob, cai = (add_contact(session, f"{n}@acme.io").id for n in ("ann", "bob", "cai"))
    session.commit()
    assert api.post(f"{API}/segments", json={"key": "vips", "name": "VIPs", "kind": "static"},
                    headers=admin_headers).status_code == 201  # fmt: skip
    r = api.post(f"{API}/segments/vips/members", json={"ids": [ann, 999999], "emails": ["BOB@acme.io", "x@nope.io"]},
                 headers=admin_headers)  # fmt: skip
    assert r.json() == {"changed": 2, "unchanged": 0, "not_found": ["999999", "x@nope.io"]}
    r = api.post(f"{API}/segments/vips/members/import", content="email,name\ncai@acme.io,Cai\nann@acme.io,Ann\n",
                 headers={**admin_headers, "Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {"changed": 1, "unchanged": 1, "not_found": []}
    assert open_members(session, "vips") == {ann, bob, cai}
    entered = dict(session.execute(select(SegmentMembership.member_id, SegmentMembership.entered_by)).all())
    assert entered == {ann: "api", bob: "api", cai: "import"}
    session.rollback()
    r = api.post(f"{API}/segments/vips/members/remove", json={"ids": [bob, ann]}, headers=admin_headers)
    assert r.json() == {"changed": 2, "unchanged": 0, "not_found": []}
    assert api.get(f"{API}/segments/vips", headers=admin_headers).json()["member_count"] == 1
    assert api.post(f"{API}/segments", json={"key": "us", "name": "US", "condition": US},
                    headers=admin_headers).status_code == 201  # fmt: skip
    r = api.post(f"{API}/segments/us/members", json={"ids": [ann]}, headers=admin_headers)
    assert (r.status_code, r.json()["message"]) == (422, "segment us is dynamic: its members follow its condition, "
                                                          "not a list")  # fmt: skip


def test_export_goes_through_the_consent_gate(api: TestClient, session: Session, admin_headers: dict[str, str]) -> None:
    people = {n: add_contact(session, f"{n}@acme.io", country="US").id for n in ("yes", "silent", "bounced", "no")}
    add_contact(session, "outsider@acme.io", country="DE")
    for name in ("yes", "bounced"):
        entry = ConsentEntry(channel="email", purpose="events", status="granted", source="form")
        ledger.record(session, contact_id=people[name], entry=entry, actor=SYSTEM)
    entry = ConsentEntry(channel="email", purpose="events", status="withdrawn", source="form")
    ledger.record(session, contact_id=people["no"], entry=entry, actor=SYSTEM)
    suppression.suppress(session, channel="email", reason="hard_bounce", source="test", actor=SYSTEM,
                         address="bounced@acme.io")  # fmt: skip
    session.commit()
    assert api.post(f"{API}/segments?refresh=now", json={"key": "us", "name": "US", "condition": US},
                    headers=admin_headers).status_code == 201  # fmt: skip
    r = api.post(f"{API}/segments/us/export", json={"purpose": "events"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["email"] for row in rows] == ["yes@acme.io"]
    assert r.headers["X-Pitboard-Included"] == "1"
    assert json.loads(r.headers["X-Pitboard-Excluded"]) == {"no_consent": 1, "suppressed:hard_bounce": 1,
                                                            "withdrawn": 1}  # fmt: skip
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "audience.exported"))
    assert entry is not None
    assert entry.entity_id == "segment:us"
    session.rollback()
    r = api.post(f"{API}/segments/us/export", json={"purpose": "nope"}, headers=admin_headers)
    assert (r.status_code, r.json()["message"]) == (422, "unknown consent purpose 'nope'")
