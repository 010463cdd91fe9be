"""The scoring and lifecycle REST routes: models with their distribution, a contact's scores with their
explanations, queueing a rescore, the lifecycle stages and the funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.kit.db import session_scope
from pitboard.models import Job, LifecycleStageChange
from pitboard.scoring import engine as scoring
from pitboard.scoring.definitions import RESCORE_MODEL
from tests.integration.test_scoring_engine import NOW, add_contact, add_event, install


def _scored(engine: Engine, session: Session) -> tuple[int, int]:
    install(session)
    hot = add_contact(session, seniority="vp", custom={"plan": "pro"})
    cold = add_contact(session)
    add_event(session, hot, "demo_requested", NOW - timedelta(days=1))
    session.commit()
    with session_scope(engine) as s:
        scoring.rescore_model(s, "default", now=NOW)
    return hot, cold


def test_models_list_and_detail_with_distribution(
    engine: Engine, session: Session, client: TestClient, viewer_headers: dict[str, str]
) -> None:
    _scored(engine, session)
    listed = client.get("/api/v1/scoring/models", headers=viewer_headers)
    assert listed.status_code == 200, listed.text
    assert [m["key"] for m in listed.json()] == ["default", "forever", "windowed"]
    default = listed.json()[0]
    assert (default["version"], default["contacts_scored"]) == (1, 1)
    assert default["thresholds"] == [{"score": 25.0, "stage": None}, {"score": 45.0, "stage": "sql"}]
    assert default["decay"].startswith("half-life 10 days")
    detail = client.get("/api/v1/scoring/models/default?bins=5", headers=viewer_headers).json()
    assert detail["distribution"]["scored"] == 1
    assert detail["distribution"]["unscored"] == 1
    assert sum(b["contacts"] for b in detail["distribution"]["bins"]) == 1
    assert len(detail["distribution"]["bins"]) == 5
    assert detail["definition"]["fit"]["cap"] == 30.0
    assert detail["top_criteria"][0]["criterion"] == "Demos"
    assert client.get("/api/v1/scoring/models/nope", headers=viewer_headers).status_code == 404


def test_a_contacts_scores_carry_their_explanation(
    engine: Engine, session: Session, client: TestClient, viewer_headers: dict[str, str]
) -> None:
    hot, cold = _scored(engine, session)
    scores = {s["model_key"]: s for s in client.get(f"/api/v1/contacts/{hot}/scores", headers=viewer_headers).json()}
    assert set(scores) == {"default", "forever", "windowed"}
    default = scores["default"]
    # The demo a day ago: 20 x 0.5^(1/10) = 18.6607 with a half-life of 10 days.
    assert (default["fit"], default["engagement"], default["total"]) == (22.5, 18.6607, 41.1607)
    assert default["entries"][0] == {"criterion": "Senior", "group": "title", "kind": "fit", "points": 15.0,
                                     "raw": 15.0, "capped_by": None, "count": None}  # fmt: skip
    assert default["as_of"].startswith("2025-06-01T12:00")
    assert default["stale"] is False
    assert default["explained"] is True
    assert scores["forever"]["total"] == 0.0
    assert scores["forever"]["as_of"] is None
    nothing = client.get(f"/api/v1/contacts/{cold}/scores", headers=viewer_headers).json()
    assert {s["model_key"]: s["entries"] for s in nothing}["default"] == []
    assert client.get("/api/v1/contacts/999999/scores", headers=viewer_headers).status_code == 404


def test_rescore_is_queued_for_editors_only(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    install(session)
    session.query(Job).delete()
    session.commit()
    assert client.post("/api/v1/scoring/models/default/rescore", headers=viewer_headers).status_code == 403
    r = client.post("/api/v1/scoring/models/default/rescore", headers=admin_headers)
    assert r.status_code == 202, r.text
    assert r.json()["model_key"] == "default"
    assert r.json()["version"] == 1
    job = session.scalar(select(Job).where(Job.id == r.json()["job_id"]))
    assert job is not None
    assert (job.task, job.payload) == (RESCORE_MODEL, {"key": "default", "version": 1})
    session.rollback()
    assert client.post("/api/v1/scoring/models/nope/rescore", headers=admin_headers).status_code == 404


def test_lifecycle_stages_and_funnel(
    engine: Engine, session: Session, client: TestClient, viewer_headers: dict[str, str]
) -> None:
    a = add_contact(session, lifecycle_stage="mql")
    day = datetime(2025, 5, 1, tzinfo=UTC)
    for from_stage, to_stage, offset in ((None, "lead", 0), ("lead", "mql", 6)):
        session.add(LifecycleStageChange(contact_id=a, from_stage=from_stage, to_stage=to_stage,
                                         changed_at=day + timedelta(days=offset), source="test"))  # fmt: skip
    session.commit()
    stages = client.get("/api/v1/lifecycle/stages", headers=viewer_headers).json()
    by_name = {s["name"]: s for s in stages["stages"]}
    assert list(by_name)[:3] == ["subscriber", "lead", "mql"]
    assert (by_name["mql"]["position"], by_name["mql"]["contacts"], by_name["recycled"]["resume"]) == (2, 1, True)
    assert stages["forward_only"] is True
    assert stages["score_threshold_stage"] == "mql"
    funnel = client.get("/api/v1/lifecycle/funnel?since=2025-05-01&until=2025-05-31", headers=viewer_headers).json()
    lead = next(s for s in funnel["stages"] if s["name"] == "lead")
    assert (lead["entered"], lead["reached"], lead["conversion_to_next"], lead["median_days_to_next"]) == (
        1, 1, 1.0, 6.0
    )  # fmt: skip
    bad = client.get("/api/v1/lifecycle/funnel?since=2025-06-01&until=2025-05-01", headers=viewer_headers)
    assert bad.status_code == 422
