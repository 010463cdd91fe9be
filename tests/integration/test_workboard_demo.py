"""The demo board: deterministic history the flow dashboard can show, campaigns in operation, run once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select

from pitboard.campaigns.schemas import CampaignCreate
from pitboard.campaigns.service import create_campaign
from pitboard.demo.workboard import generate_workboard
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models.workboard import CampaignOps, WorkItem
from pitboard.workboard import campaign_ops, flow

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_demo_board_has_history_and_runs_once(engine: Engine) -> None:
    with session_scope(engine) as s:
        for n, days in enumerate((-30, -5, 20)):
            create_campaign(s, CampaignCreate(name=f"Demo {n}", campaign_type="webinar", channel="webinar",
                                              start_date=NOW + timedelta(days=days), budget=Decimal("4000"),
                                              owner_email="m@pitboard.example"), actor=SYSTEM)  # fmt: skip
    counts = generate_workboard(engine, now=NOW, seed=7)
    assert counts["campaign_ops"] >= 2
    assert counts["work_items"] == 70 + counts["campaign_ops"]
    assert counts["work_item_transitions"] > 70
    assert counts["campaign_approval_steps"] == 2 * counts["campaign_ops"]
    assert generate_workboard(engine, now=NOW, seed=7) == {}
    with session_scope(engine) as s:
        report = flow.flow_report(s, days=90, now=NOW)
        assert report.lead_time["count"] > 10
        assert report.flow_efficiency is not None
        assert report.time_to_market["count"] >= 1
        live = s.scalars(select(CampaignOps).where(CampaignOps.stage == "live")).all()
        assert live
        assert all(campaign_ops.readiness(s, o.campaign_id).ready for o in live)
        assert s.scalar(select(func.count()).select_from(WorkItem)) == 70 + counts["campaign_ops"]
