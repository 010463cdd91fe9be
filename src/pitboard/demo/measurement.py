"""Demo data for measurement: daily campaign spend (so CPL, CAC, ROAS and ROI have a denominator), a few alert
rules with a history of what they found over the last weeks, and a leadership report waiting for review.

Deterministic for a seed; skipped when the database already has spend (a second ``make demo`` keeps what it
made)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select

from pitboard.kit.db import session_scope
from pitboard.kit.time import ensure_utc
from pitboard.measurement import scheduled, service
from pitboard.models import Campaign, CampaignSpend
from pitboard.models.measurement import AlertRule, ReportSchedule

ALERTS = [
    {"key": "mql_anomaly", "name": "MQLs unusual for the weekday", "metric": "mqls", "kind": "anomaly",
     "direction": "both", "sensitivity": 3.5, "baseline_weeks": 8, "min_change": 3, "grain": "day",
     "notify": []},
    {"key": "pipeline_weekly", "name": "Weekly pipeline off its usual level", "metric": "pipeline", "kind": "anomaly",
     "direction": "both", "sensitivity": 3.5, "baseline_weeks": 8, "min_change": 0, "grain": "week",
     "notify": []},
    {"key": "cpl_ceiling", "name": "Cost per lead above 400", "metric": "cpl", "kind": "threshold", "above": 400,
     "below": None, "direction": "both", "sensitivity": 3.5, "baseline_weeks": 8, "min_change": 0, "grain": "week",
     "notify": []},
]  # fmt: skip
REPORT = {"key": "leadership_weekly", "name": "Leadership weekly", "dashboard": "executive", "every": "weekly",
          "recipients": ["cmo@example.com"], "audience": "leadership"}  # fmt: skip


def generate_measurement(engine: Engine, *, now: datetime, seed: int = 42) -> dict[str, int]:
    """Spend, alert rules and history, and one report draft. Returns rows written per table."""
    rng = random.Random(seed * 7919 + 9)
    today = ensure_utc(now).date()
    counts: dict[str, int] = {}
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(CampaignSpend)):
            return counts
        rows = []
        stamp = ensure_utc(now)
        for camp in session.scalars(select(Campaign).order_by(Campaign.id)):
            start = ensure_utc(camp.start_date).date() if camp.start_date else today - timedelta(days=90)
            end = min(ensure_utc(camp.end_date).date() if camp.end_date else today, today)
            days = (end - start).days + 1
            if days <= 0:
                continue
            budget = float(camp.budget) if camp.budget is not None else rng.uniform(2_000, 20_000)
            per_day = budget * rng.uniform(0.7, 1.15) / days
            for i in range(days):
                weekday = (start + timedelta(days=i)).weekday()
                amount = per_day * (0.45 if weekday >= 5 else 1.2) * rng.uniform(0.8, 1.2)
                rows.append({"campaign_id": camp.id, "spend_date": start + timedelta(days=i), "channel": "",
                             "amount": Decimal(f"{amount:.2f}"), "currency": "USD", "source": "demo",
                             "created_at": stamp, "updated_at": stamp})  # fmt: skip
        for i in range(0, len(rows), 5000):
            session.execute(insert(CampaignSpend), rows[i : i + 5000])
        counts["campaign_spend"] = len(rows)
        # The demo's deals are in USD, EUR and GBP: report in USD with fixed demo rates, so every deal counts.
        from pitboard.measurement.registry import DEFAULT_SETTINGS, SETTINGS_KEY
        from pitboard.models import SystemSetting

        if session.get(SystemSetting, SETTINGS_KEY) is None:
            rates = {"EUR": 1.08, "GBP": 1.27}
            session.add(SystemSetting(key=SETTINGS_KEY, value={**DEFAULT_SETTINGS, "exchange_rates": rates},
                                      updated_at=stamp))  # fmt: skip
        for spec in ALERTS:
            session.add(AlertRule(key=spec["key"], name=spec["name"], metric=spec["metric"], kind=spec["kind"],
                                  definition=spec, notify=spec["notify"], origin="demo", checksum="demo",
                                  active=True))  # fmt: skip
        schedule = ReportSchedule(key=REPORT["key"], name=REPORT["name"], dashboard=REPORT["dashboard"],
                                  every=REPORT["every"], recipients=REPORT["recipients"], audience=REPORT["audience"],
                                  definition=REPORT, origin="demo", checksum="demo", active=True)  # fmt: skip
        session.add(schedule)
        session.flush()
        fired = 0
        for back in range(28, 0, -1):
            fired += len(service.check_alerts(session, day=today - timedelta(days=back)))
        counts["alert_events"] = fired
        scheduled.run_schedule(session, schedule, today=today)
        counts["report_runs"] = 1
    return counts
