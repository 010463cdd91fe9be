"""Background tasks for measurement: alert checks and scheduled reports, run hourly by the scheduling worker.

Both are idempotent: an alert fires at most once per rule and period, and a schedule makes one run per period,
so running them every hour only acts when a new day (or week, or month) has closed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from pitboard.kit.time import utcnow
from pitboard.measurement import scheduled, service, snapshots
from pitboard.worker.queue import periodic


@periodic("measurement.check_alerts", every_seconds=3600)
def check_alerts_task(session: Session, payload: dict[str, Any]) -> None:
    """``{"day": "2026-01-31"}`` optional: the day to check (default yesterday)."""
    day = date.fromisoformat(payload["day"]) if payload.get("day") else None
    service.check_alerts(session, day=day)


@periodic("measurement.scheduled_reports", every_seconds=3600)
def scheduled_reports_task(session: Session, payload: dict[str, Any]) -> None:
    """Make the runs of every schedule whose last whole period has none (team reports are sent)."""
    today = date.fromisoformat(payload["today"]) if payload.get("today") else utcnow().date()
    for schedule in scheduled.due_schedules(session, today):
        scheduled.run_schedule(session, schedule, today=today)


@periodic("measurement.refresh_dashboards", every_seconds=3600)
def refresh_dashboards_task(session: Session, payload: dict[str, Any]) -> None:
    """Recompute every dashboard's default period (the last 30 days), so pages are served from a snapshot."""
    today = date.fromisoformat(payload["today"]) if payload.get("today") else None
    snapshots.refresh_defaults(session, today=today)
