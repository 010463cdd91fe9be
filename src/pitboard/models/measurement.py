"""Tables for measurement (issue 9): custom metrics, alert rules and their history, scheduled reports and the
drafts they produce."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin


class MetricDefinition(IdMixin, TimestampMixin, Base):
    """A custom metric from the project's ``metrics.yml`` (the standard ones live in code, see
    ``measurement/registry.py``)."""

    __tablename__ = "metric_definitions"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AlertRule(IdMixin, TimestampMixin, Base):
    """A threshold or anomaly check on one metric, and who to tell."""

    __tablename__ = "alert_rules"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), doc="threshold or anomaly")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, doc="the rule as written in metrics.yml")
    notify: Mapped[list[str]] = mapped_column(JSONType, default=list)
    origin: Mapped[str] = mapped_column(String(20), default="project")
    checksum: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertEvent(IdMixin, Base):
    """One time a rule fired for one period (a rule fires at most once per period: re-checks change nothing)."""

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("rule_id", "period_start", name="uq_alert_events_rule_period"),
        Index("ix_alert_events_status_fired", "status", "fired_at"),
    )

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    lower: Mapped[float | None] = mapped_column(Float)
    upper: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open or acknowledged")
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified: Mapped[list[str]] = mapped_column(JSONType, default=list)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class ReportSchedule(IdMixin, TimestampMixin, Base):
    """A dashboard sent by email on a schedule."""

    __tablename__ = "report_schedules"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    dashboard: Mapped[str] = mapped_column(String(30))
    every: Mapped[str] = mapped_column(String(10), doc="daily, weekly or monthly")
    recipients: Mapped[list[str]] = mapped_column(JSONType)
    audience: Mapped[str] = mapped_column(String(20), doc="team (sent at once) or leadership (after approval)")
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    origin: Mapped[str] = mapped_column(String(20), default="project")
    checksum: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportRun(IdMixin, Base):
    """One report for one period: drafted, then approved (leadership) and sent."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("schedule_id", "period_start", name="uq_report_runs_schedule_period"),)

    schedule_id: Mapped[int] = mapped_column(ForeignKey("report_schedules.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), doc="draft, sent or rejected")
    subject: Mapped[str] = mapped_column(String(300))
    narrative: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(320))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class DashboardSnapshot(IdMixin, Base):
    """A dashboard's figures for one period and model, computed once and served until they are ``max_age`` old
    (the worker refreshes the default periods; see ``measurement/snapshots.py``)."""

    __tablename__ = "dashboard_snapshots"

    key: Mapped[str] = mapped_column(String(200), unique=True, doc="dashboard|start|end|model")
    dashboard: Mapped[str] = mapped_column(String(30))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    model: Mapped[str | None] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    compute_ms: Mapped[float] = mapped_column(Float)
