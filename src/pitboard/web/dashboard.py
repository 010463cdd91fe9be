"""The numbers on the home page. Everything is aggregated in SQL and only small result sets come back.

Time buckets: SQLite and PostgreSQL spell date functions differently, so SQL groups by *UTC day*
(one dialect-specific expression, at most a few hundred rows) and Python folds days into weeks and
months. That keeps one code path for both databases and never loads individual rows.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.db import as_date, utc_day
from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.measurement import registry
from pitboard.models import Account, Contact, Event, Opportunity
from pitboard.web.charts import OTHER_COLOR, PALETTE, Series

UNATTRIBUTED = "(no channel)"
OTHER = "Other"


@dataclass(frozen=True)
class Money:
    """Amounts per currency: pipeline is never summed across currencies without exchange rates."""

    by_currency: dict[str, Decimal]
    count: int


@dataclass(frozen=True)
class Metrics:
    contacts: int
    new_contacts_30d: int
    accounts: int
    open_pipeline: Money
    won_this_quarter: Money
    events_30d: int
    mqls: int
    new_mqls_30d: int
    quarter_start: date


@dataclass(frozen=True)
class ChartData:
    labels: list[str]
    series: list[Series]


@dataclass(frozen=True)
class Dashboard:
    computed_at: datetime
    metrics: Metrics
    contacts_per_month: ChartData
    events_per_week: ChartData
    stages: list[tuple[str, int]]


class DashboardCache:
    """Reuses a dashboard for up to ``ttl`` seconds, but only one that was slow to compute.

    On a small database every page view is live. On a large one (millions of events in the chart's
    window) the aggregates take around a second, and a home page many people open should not re-run
    them on every view; the page then says how old its figures are.
    """

    def __init__(self, ttl: float = 60.0, slow: float = 0.5) -> None:
        self.ttl = ttl
        self.slow = slow
        self._kept: tuple[float, Dashboard] | None = None

    def get(self, session: Session, now: datetime) -> tuple[Dashboard, bool]:
        """The dashboard, and whether it was computed just now (False: a kept copy)."""
        kept = self._kept
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1], False
        started = time.monotonic()
        dashboard = load_dashboard(session, now)
        took = time.monotonic() - started
        self._kept = (time.monotonic() + self.ttl, dashboard) if took >= self.slow else None
        return dashboard, True


def load_dashboard(session: Session, now: datetime) -> Dashboard:
    today = now.date()
    contact_days = _count_by_day(session, Contact.created_at, _months_back(today, 11))
    event_rows = _count_by_day_and(session, Event.occurred_at, Event.channel, _weeks_back(today, 11))
    event_days: dict[date, int] = defaultdict(int)
    for (day, _channel), n in event_rows.items():
        event_days[day] += n
    # The 30-day counts come from the metric registry, so the home page and every report agree on them.
    # Pipeline and bookings stay per currency here: the registry converts them to the reporting currency.
    last_30 = registry.Period(today - timedelta(days=29), today)
    counted = registry.values(registry.context(session), ["new_contacts", "events", "mqls"], last_30)
    metrics = Metrics(
        contacts=_count(session, Contact),
        new_contacts_30d=int(counted["new_contacts"] or 0),
        accounts=_count(session, Account),
        open_pipeline=_money(session, Opportunity.is_closed.is_(False)),
        won_this_quarter=_money(
            session, Opportunity.is_won.is_(True), Opportunity.closed_at >= _at_midnight(quarter_start(today))
        ),
        events_30d=int(counted["events"] or 0),
        mqls=_count(session, Contact, Contact.lifecycle_stage == "mql"),
        new_mqls_30d=int(counted["mqls"] or 0),
        quarter_start=quarter_start(today),
    )
    return Dashboard(
        computed_at=now,
        metrics=metrics,
        contacts_per_month=monthly_series(contact_days, today),
        events_per_week=weekly_channel_series(event_rows, today),
        stages=_stage_breakdown(session),
    )


# --- calendar helpers (pure) ---------------------------------------------------------------------


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _weeks_back(day: date, weeks: int) -> date:
    monday = day - timedelta(days=day.weekday())
    return monday - timedelta(weeks=weeks)


def _at_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def monthly_series(days: dict[date, int], today: date, months: int = 12) -> ChartData:
    """Daily counts folded into the last ``months`` calendar months, the current one included."""
    starts = [_months_back(today, months - 1 - i) for i in range(months)]
    totals = dict.fromkeys(starts, 0)
    for day, n in days.items():
        key = date(day.year, day.month, 1)
        if key in totals:
            totals[key] += n
    labels = [m.strftime("%b %y") for m in starts]
    return ChartData(labels, [Series("New contacts", [float(totals[m]) for m in starts], PALETTE[0])])


def weekly_channel_series(
    rows: dict[tuple[date, str | None], int], today: date, weeks: int = 12, top: int = 6
) -> ChartData:
    """(day, channel) counts folded into ISO weeks; the ``top`` busiest channels get a layer, the rest "Other"."""
    mondays = [_weeks_back(today, weeks - 1 - i) for i in range(weeks)]
    per_channel: dict[str, dict[date, int]] = defaultdict(lambda: dict.fromkeys(mondays, 0))
    for (day, channel), n in rows.items():
        monday = day - timedelta(days=day.weekday())
        if monday in mondays:
            per_channel[channel or UNATTRIBUTED][monday] += n
    ranked = sorted(per_channel, key=lambda c: (-sum(per_channel[c].values()), c))
    series = [
        Series(name, [float(per_channel[name][m]) for m in mondays], PALETTE[i % len(PALETTE)])
        for i, name in enumerate(ranked[:top])
    ]
    rest = ranked[top:]
    if rest:
        other = [float(sum(per_channel[c][m] for c in rest)) for m in mondays]
        series.append(Series(OTHER, other, OTHER_COLOR))
    return ChartData([m.strftime("%d %b") for m in mondays], series)


# --- queries -------------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _count_by_day(session: Session, column: Any, since: date) -> dict[date, int]:
    day = utc_day(column, _dialect(session))
    stmt = select(day, func.count()).where(column >= _at_midnight(since)).group_by(day)
    return {as_date(d): n for d, n in session.execute(stmt)}


def _count_by_day_and(session: Session, column: Any, key: Any, since: date) -> dict[tuple[date, str | None], int]:
    day = utc_day(column, _dialect(session))
    stmt = select(day, key, func.count()).where(column >= _at_midnight(since)).group_by(day, key)
    return {(as_date(d), k): n for d, k, n in session.execute(stmt)}


def _money(session: Session, *where: Any) -> Money:
    stmt = (
        select(Opportunity.currency, func.sum(Opportunity.amount), func.count())
        .where(*where)
        .group_by(Opportunity.currency)
    )
    by_currency: dict[str, Decimal] = {}
    count = 0
    for currency, total, n in session.execute(stmt):
        by_currency[currency] = Decimal(str(total or 0))
        count += n
    ordered = dict(sorted(by_currency.items(), key=lambda kv: -kv[1]))
    return Money(ordered, count)


def _stage_breakdown(session: Session) -> list[tuple[str, int]]:
    stmt = select(Contact.lifecycle_stage, func.count()).group_by(Contact.lifecycle_stage)
    counts: dict[str, int] = dict(session.execute(stmt).all())  # Result has keys(): dict() needs rows
    known = [(stage, counts.pop(stage, 0)) for stage in DEFAULT_STAGES]
    return known + sorted(counts.items())
