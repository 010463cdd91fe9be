"""The web pages of campaign operations: board with move forms and WIP override, drag-and-drop script, intake,
campaign ops page (checklist, approvals, go-live), flow dashboard, naming tools."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models import Campaign
from pitboard.models.workboard import WorkItem, WorkItemTransition
from pitboard.workboard import board
from pitboard.workboard.config import DEFAULT, CampaignOpsFile
from tests.integration.conftest import csrf_from
from tests.integration.test_workboard_service import audience

ADMIN = "admin@example.com"  # the logged-in web user (tests/conftest.py)


def setup(engine: Engine, **overrides: object) -> None:
    approvals = {"default": [{"stage": "brand", "approvers": [ADMIN], "reviewers": ["rev@example.com"]}]}
    with session_scope(engine) as s:
        board.apply_spec(s, CampaignOpsFile.model_validate({**DEFAULT, "approvals": approvals, **overrides}),
                         actor=SYSTEM)  # fmt: skip
        audience(s)


def test_board_moves_with_forms_and_wip_override(logged_in: TestClient, engine: Engine) -> None:
    cols = [{"key": "todo", "name": "To do", "kind": "queue"}, {"key": "doing", "name": "Doing", "wip_limit": 1},
            {"key": "done", "name": "Done", "kind": "done"}]  # fmt: skip
    setup(engine, board={**DEFAULT["board"], "columns": cols})
    page = logged_in.get("/board")
    assert page.status_code == 200
    assert '<script src="/board/board.js" defer></script>' in page.text
    assert "<script>" not in page.text  # no inline script under the CSP
    token = csrf_from(page.text)
    for title in ("Q3 <report>", "Dedupe"):
        r = logged_in.post("/board/items", data={"csrf_token": token, "title": title, "item_type": "report"},
                           follow_redirects=True)  # fmt: skip
        assert r.status_code == 200
    assert "Q3 &lt;report&gt;" in r.text
    with session_scope(engine) as s:
        a, b = s.scalars(select(WorkItem.id).order_by(WorkItem.id)).all()
    assert f'data-item="{a}" draggable="true"' in r.text
    assert f'action="/board/items/{a}/move"' in r.text
    r = logged_in.post(f"/board/items/{a}/move", data={"csrf_token": token, "column": "doing"}, follow_redirects=True)
    assert f"#{a} moved to doing" in r.text
    r = logged_in.post(f"/board/items/{b}/move", data={"csrf_token": token, "column": "doing"}, follow_redirects=True)
    assert "Doing is at its WIP limit (1/1)" in r.text
    assert "Override the WIP limit" in r.text
    r = logged_in.post(f"/board/items/{b}/move", data={"csrf_token": token, "column": "doing", "override": "yes",
                       "reason": "prod broken"}, follow_redirects=True)  # fmt: skip
    assert "over the WIP limit (recorded)" in r.text
    r = logged_in.post(f"/board/items/{b}/block", data={"csrf_token": token, "blocked": "yes", "reason": "no data"},
                       follow_redirects=True)  # fmt: skip
    assert "Blocked: no data" in r.text
    assert "WIP override" in r.text
    with session_scope(engine) as s:
        kinds = s.scalars(select(WorkItemTransition.kind).where(WorkItemTransition.item_id == b)).all()
    assert kinds == ["created", "moved", "blocked"]
    r = logged_in.post(f"/board/items/{a}/move", data={"column": "done"})
    assert r.status_code in (400, 403)  # no CSRF token
    js = logged_in.get("/board/board.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "form.submit()" in js.text


def test_intake_form_to_live(logged_in: TestClient, engine: Engine) -> None:
    setup(engine)
    form = logged_in.get("/board/intake")
    assert form.status_code == 200
    assert 'name="part_region"' in form.text
    assert "buyers" in form.text
    token = csrf_from(form.text)
    data = {
        "csrf_token": token, "part_year": "2026", "part_region": "emea", "part_channel": "webinar",
        "part_topic": "data-day", "campaign_type": "webinar", "channel": "webinar", "owner_email": ADMIN,
        "objective": "Fill the webinar with 300 buyers", "audience_segment": "buyers",
        "consent_purpose": "product_updates", "start_date": "2026-12-01", "end_date": "2026-12-20",
        "budget": "5000", "currency": "USD", "metric": "registrations", "target": "300", "priority": "normal",
        "service_tier": "project",
    }  # fmt: skip
    bad = logged_in.post("/board/intake", data={**data, "objective": "", "part_topic": "Data Day"})
    assert bad.status_code == 422
    assert "objective" in bad.text
    assert "Fill the webinar" not in bad.text
    r = logged_in.post("/board/intake", data=data, follow_redirects=True)
    assert r.status_code == 200, r.text
    assert "Request submitted" in r.text
    assert "Cannot go live yet" in r.text
    with session_scope(engine) as s:
        cid = s.scalar(select(Campaign.id))
    ops = f"/campaigns/{cid}/ops"
    for key in ("creative_review", "legal", "tracking_test"):
        logged_in.post(f"{ops}/check", data={"csrf_token": token, "key": key, "status": "done"})
    for key in ("utm_verified", "audience_qa"):
        r = logged_in.post(f"{ops}/check", data={"csrf_token": token, "key": key, "status": "run"},
                           follow_redirects=True)  # fmt: skip
    assert "3 members, 2 may be emailed" in r.text
    r = logged_in.post(f"{ops}/go-live", data={"csrf_token": token}, follow_redirects=True)
    assert "approval: brand" in r.text
    r = logged_in.post(f"{ops}/decide", data={"csrf_token": token, "decision": "approve", "comment": "fine"},
                       follow_redirects=True)  # fmt: skip
    assert "Recorded." in r.text
    assert "approver) approve: fine" in r.text
    r = logged_in.post(f"{ops}/go-live", data={"csrf_token": token}, follow_redirects=True)
    assert "The campaign is live." in r.text
    r = logged_in.post(f"{ops}/budget", data={"csrf_token": token, "channel": "webinar", "committed": "lots"},
                       follow_redirects=True)  # fmt: skip
    assert "committed must be a number" in r.text
    assert "2026_emea_webinar_data-day" in logged_in.get("/board/campaigns").text
    # The campaign list links an intake campaign to its operations page.
    assert f'href="{ops}"' in logged_in.get("/campaigns").text
    flow = logged_in.get("/board/flow")
    assert flow.status_code == 200
    assert flow.text.count("<svg") == 4
    assert re.search(r'data-metric="ttm">[0-9.]+ d<', flow.text)


def test_naming_page(logged_in: TestClient) -> None:
    r = logged_in.get("/board/naming", params={"name": "2026_Emea_webinar_x1"})
    assert 'data-name-check="bad"' in r.text
    assert "<strong>emea</strong>" in r.text
    r = logged_in.get("/board/naming", params={"url": "https://acme.io/a", "source": "google", "medium": "cpc",
                                               "campaign": "2026_emea_webinar_x1"})  # fmt: skip
    assert "https://acme.io/a?utm_source=google&amp;utm_medium=cpc&amp;utm_campaign=2026_emea_webinar_x1" in r.text
    r = logged_in.get("/board/naming", params={"audit": "1"})
    assert "data-audit-clean" in r.text
    assert logged_in.get("/campaigns/999999/ops").status_code == 404
