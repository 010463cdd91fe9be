"""The demo data set includes measurement: spend per campaign and day, alert rules with history, a report draft,
and every dashboard renders on it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.demo import generate_demo
from pitboard.demo.measurement import generate_measurement
from pitboard.measurement import registry
from pitboard.measurement.registry import Period
from pitboard.models import CampaignSpend
from pitboard.models.measurement import AlertRule, ReportRun

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_demo_measurement_data(engine: Engine, session: Session, logged_in: TestClient) -> None:
    summary = generate_demo(engine, contacts=400, seed=3, now=NOW)
    assert summary.counts["campaign_spend"] > 100
    assert session.scalar(select(func.count()).select_from(AlertRule)) == 3
    run = session.scalars(select(ReportRun)).one()
    assert run.status == "draft"
    assert run.narrative.startswith("DRAFT - needs human review")
    run_id = run.id
    ctx = registry.context(session)
    period = Period.parse(None, "2026-03-09", default_days=90)
    assert (registry.value(ctx, "spend", period) or 0) > 0
    assert registry.value(ctx, "cpl", period) is not None
    session.rollback()
    assert generate_measurement(engine, now=NOW, seed=3) == {}  # a second run keeps what the first made
    session.close()
    for path in ("/reports", "/reports/campaign", "/reports/funnel", "/reports/quality", "/reports/attribution",
                 "/reports/alerts", f"/reports/drafts/{run_id}"):  # fmt: skip
        page = logged_in.get(path, params={"end": "2026-03-09"} if "drafts" not in path else None)
        assert page.status_code == 200, path
    assert session.scalar(select(func.count()).select_from(CampaignSpend)) == summary.counts["campaign_spend"]
