"""The REST API of campaign operations and the work board: intake to live, WIP limits, flow, naming."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models import Campaign
from pitboard.workboard import board
from pitboard.workboard.config import DEFAULT, CampaignOpsFile
from tests.integration.test_workboard_service import APPROVALS, audience

API = "/api/v1"


def brief(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name_parts": {"year": "2026", "region": "emea", "channel": "webinar", "topic": "data-day"},
        "campaign_type": "webinar", "channel": "webinar", "objective": "Fill the data day webinar with 300 buyers",
        "audience_segment": "buyers", "consent_purpose": "product_updates", "start_date": "2026-12-01",
        "end_date": "2026-12-20", "budget": "5000", "success_metrics": [{"metric": "registrations", "target": 300}],
        "owner_email": "owner@example.com",
    }  # fmt: skip
    data.update(overrides)
    return data


def setup(engine: Engine, **overrides: Any) -> None:
    with session_scope(engine) as s:
        board.apply_spec(s, CampaignOpsFile.model_validate({**DEFAULT, "approvals": APPROVALS, **overrides}),
                         actor=SYSTEM)  # fmt: skip
        audience(s)


def test_intake_to_live(client: TestClient, engine: Engine, admin_headers: dict[str, str]) -> None:
    setup(engine)
    r = client.post(f"{API}/campaign-ops/intake", json=brief(), headers=admin_headers)
    assert r.status_code == 201, r.text
    ops = r.json()
    cid = ops["campaign_id"]
    assert ops["name"] == "2026_emea_webinar_data-day"
    assert ops["stage"] == "in_review"
    assert not ops["ready"]
    r = client.post(f"{API}/campaign-ops/{cid}/go-live", headers=admin_headers)
    assert r.status_code == 409
    assert r.json()["code"] == "conflict"
    assert "checklist: creative_review" in r.json()["message"]
    for key in ("creative_review", "legal", "tracking_test"):
        r = client.post(f"{API}/campaign-ops/{cid}/checklist/{key}", json={"status": "done"}, headers=admin_headers)
        assert r.status_code == 200, r.text
    for key in ("utm_verified", "audience_qa"):
        r = client.post(f"{API}/campaign-ops/{cid}/checklist/{key}/run", headers=admin_headers)
        assert r.status_code == 200, r.text
    qa = next(i for i in r.json()["checklist"] if i["key"] == "audience_qa")
    assert qa["status"] == "done"
    assert qa["evidence"]["members"] == 3
    r = client.post(f"{API}/campaign-ops/{cid}/decisions", json={"decision": "approve"}, headers=admin_headers)
    assert r.status_code == 422
    assert "on_behalf_of" in r.json()["message"]
    for who in ("brand@example.com", "legal@example.com"):
        r = client.post(f"{API}/campaign-ops/{cid}/decisions", json={"decision": "approve", "on_behalf_of": who},
                        headers=admin_headers)  # fmt: skip
        assert r.status_code == 200, r.text
    r = client.post(f"{API}/campaign-ops/{cid}/go-live", headers=admin_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["status"]) == ("live", "live")
    assert [d["actor"] for d in r.json()["decisions"]] == ["brand@example.com", "legal@example.com"]
    r = client.put(f"{API}/campaign-ops/{cid}/budget/webinar", json={"committed": "2500"}, headers=admin_headers)
    assert r.json()["budget"][0]["committed"] == "2500.00"
    assert client.get(f"{API}/campaign-ops", headers=admin_headers).json()[0]["stage"] == "live"


def test_intake_errors_are_clear(client: TestClient, engine: Engine, admin_headers: dict[str, str]) -> None:
    setup(engine)
    r = client.post(f"{API}/campaign-ops/intake", json=brief(objective=None, budget="0"), headers=admin_headers)
    assert r.status_code == 422
    r = client.post(f"{API}/campaign-ops/intake", json=brief(name_parts=None, name="2026_emea_webinars_data-day"),
                    headers=admin_headers)  # fmt: skip
    assert r.status_code == 422
    assert "did you mean 'webinar'" in r.json()["message"]
    with session_scope(engine) as s:
        assert s.query(Campaign).count() == 0


def test_board_moves_wip_and_flow(
    client: TestClient, engine: Engine, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    cols = [{"key": "todo", "name": "To do", "kind": "queue"}, {"key": "doing", "name": "Doing", "wip_limit": 1},
            {"key": "done", "name": "Done", "kind": "done"}]  # fmt: skip
    setup(engine, board={**DEFAULT["board"], "columns": cols})
    ids = []
    for title in ("Q3 report", "Dedupe fix"):
        r = client.post(f"{API}/board/items", json={"title": title, "item_type": "report"}, headers=admin_headers)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert client.post(f"{API}/board/items", json={"title": "x", "item_type": "report"},
                       headers=viewer_headers).status_code == 403  # fmt: skip
    assert client.post(f"{API}/board/items", json={"title": "x", "item_type": "nope"},
                       headers=admin_headers).status_code == 422  # fmt: skip
    move = f"{API}/board/items/{{}}/move"
    assert client.post(move.format(ids[0]), json={"column": "doing"}, headers=admin_headers).status_code == 200
    r = client.post(move.format(ids[1]), json={"column": "doing"}, headers=admin_headers)
    assert r.status_code == 409
    assert "WIP limit (1/1)" in r.json()["message"]
    r = client.post(move.format(ids[1]), json={"column": "doing", "override": True, "reason": "urgent"},
                    headers=admin_headers)  # fmt: skip
    assert r.status_code == 200
    assert r.json()["transitions"][-1]["wip_override"] is True
    r = client.post(f"{API}/board/items/{ids[1]}/block", json={"blocked": True, "reason": "waiting for data"},
                    headers=admin_headers)  # fmt: skip
    assert r.json()["blocked"] is True
    assert client.post(move.format(ids[0]), json={"column": "done"}, headers=admin_headers).status_code == 200
    columns = client.get(f"{API}/board", headers=viewer_headers).json()
    assert [(c["key"], c["count"]) for c in columns] == [("todo", 0), ("doing", 1), ("done", 1)]
    f = client.get(f"{API}/board/flow?days=30", headers=viewer_headers).json()
    assert f["lead_time_days"]["count"] == 1
    assert f["blocked"]["blocked_now"] == 1
    assert f["work_item_age"][0]["item_id"] == ids[1]
    r = client.patch(f"{API}/board/items/{ids[1]}", json={"priority": "urgent"}, headers=admin_headers)
    assert r.json()["priority"] == "urgent"
    assert client.get(f"{API}/board/items/999999", headers=admin_headers).status_code == 404


def test_naming_endpoints(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.post(f"{API}/naming/generate", json={"parts": {"year": "2026", "region": "uk", "channel": "email",
                                                             "topic": "launch"}}, headers=admin_headers)  # fmt: skip
    assert r.json() == {"name": "2026_uk_email_launch"}
    r = client.get(f"{API}/naming/check", params={"name": "2026_UK_email_launch"}, headers=admin_headers)
    assert r.json()["ok"] is False
    assert r.json()["issues"][0]["suggestion"] == "uk"
    r = client.post(f"{API}/naming/utm-link", json={"url": "https://acme.io/x", "source": "linkedin",
                    "medium": "paid-social", "campaign": "2026_uk_email_launch"}, headers=admin_headers)  # fmt: skip
    assert r.json()["url"] == ("https://acme.io/x?utm_source=linkedin&utm_medium=paid-social"
                               "&utm_campaign=2026_uk_email_launch")  # fmt: skip
    r = client.post(f"{API}/naming/utm-link", json={"url": "https://acme.io/x", "source": "Linkedin",
                    "medium": "paid-social", "campaign": "2026_uk_email_launch"}, headers=admin_headers)  # fmt: skip
    assert r.status_code == 422
    assert "did you mean 'linkedin'" in r.json()["message"]
    assert client.get(f"{API}/naming/audit", headers=admin_headers).json() == {"events": [], "spend": []}
