"""Dashboard snapshots: a dashboard's figures computed once and served from one row.

At a million contacts a dashboard's figures take tens of seconds to compute (the attribution reads every touch
of every opportunity of the period); a page must answer in well under a second. So the figures are computed
by the worker (every hour for each dashboard's default period: the last 30 days) or on the first view of
another period, stored as JSON in ``dashboard_snapshots``, and served from there until they are
``MAX_AGE`` (two hours) old. The page says when its figures were computed and editors can ask for a fresh computation.
A snapshot is the registry's numbers at that moment, so it agrees with the API and the CLI as of that time.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.time import ensure_utc, utcnow
from pitboard.measurement import registry
from pitboard.measurement.registry import Period
from pitboard.measurement.reports import DASHBOARDS, Kpi, Report, Table, Trend, build
from pitboard.models.measurement import DashboardSnapshot

MAX_AGE = timedelta(hours=2)
DEFAULT_DAYS = 30


def snapshot_key(dashboard: str, period: Period, model: str | None) -> str:
    return f"{dashboard}|{period.start.isoformat()}|{period.end.isoformat()}|{model or ''}"


def to_payload(report: Report) -> dict[str, Any]:
    return {
        "dashboard": report.dashboard,
        "period": [report.period.start.isoformat(), report.period.end.isoformat()],
        "model": report.model,
        "kpis": [[k.key, k.label, k.unit, k.value, k.previous, k.text, k.higher_is_better] for k in report.kpis],
        "tables": {n: {"columns": t.columns, "rows": t.rows, "total": t.total} for n, t in report.tables.items()},
        "trends": [{"title": t.title, "labels": t.labels, "series": t.series, "unit": t.unit} for t in report.trends],
        "notes": report.notes,
    }


def from_payload(payload: dict[str, Any]) -> Report:
    start, end = (date.fromisoformat(d) for d in payload["period"])
    report = Report(payload["dashboard"], Period(start, end), model=payload.get("model"))
    report.kpis = [Kpi(*k) for k in payload["kpis"]]
    report.tables = {n: Table(t["columns"], t["rows"], t["total"]) for n, t in payload["tables"].items()}
    report.trends = [Trend(t["title"], t["labels"], t["series"], t["unit"]) for t in payload["trends"]]
    report.notes = list(payload["notes"])
    return report


def compute(session: Session, dashboard: str, period: Period, model: str | None) -> DashboardSnapshot:
    """Compute the figures now and store them (replacing an older snapshot of the same key)."""
    started = time.perf_counter()
    report = build(registry.context(session), dashboard, period, model=model)
    took = (time.perf_counter() - started) * 1000
    key = snapshot_key(dashboard, period, model)
    row = session.scalar(select(DashboardSnapshot).where(DashboardSnapshot.key == key))
    if row is None:
        row = DashboardSnapshot(key=key, dashboard=dashboard, period_start=period.start, period_end=period.end,
                                model=model, payload={}, computed_at=utcnow(), compute_ms=0.0)  # fmt: skip
        session.add(row)
    row.payload, row.computed_at, row.compute_ms = to_payload(report), utcnow(), took
    session.flush()
    return row


def cached(session: Session, dashboard: str, period: Period, model: str | None, *, refresh: bool = False,
           max_age: timedelta = MAX_AGE) -> tuple[Report, DashboardSnapshot]:  # fmt: skip
    """The dashboard from a fresh enough snapshot, computing (and storing) one when there is none."""
    if dashboard not in DASHBOARDS:
        build(registry.context(session), dashboard, period)  # raises NotFound with the list of dashboards
    row = session.scalar(
        select(DashboardSnapshot).where(DashboardSnapshot.key == snapshot_key(dashboard, period, model))
    )
    if refresh or row is None or ensure_utc(row.computed_at) < utcnow() - max_age:
        row = compute(session, dashboard, period, model)
    return from_payload(row.payload), row


def default_period(today: date | None = None) -> Period:
    end = today or utcnow().date()
    return Period(end - timedelta(days=DEFAULT_DAYS - 1), end)


def refresh_defaults(session: Session, *, today: date | None = None) -> list[DashboardSnapshot]:
    """Every dashboard for its default period and model (the worker's job)."""
    period = default_period(today)
    return [compute(session, d, period, None) for d in DASHBOARDS]
