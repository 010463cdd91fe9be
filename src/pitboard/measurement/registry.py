"""The metric registry: every number pitboard reports is defined here once, and every report, chart, export,
alert and API answer asks :func:`value` / :func:`series` for it.

A metric has a key, a label, a unit, a plain-language definition, the formula over the data model, its grain,
an owner and a description. Kinds:

- **additive** metrics count or sum rows whose timestamp falls in the period (stage entries, opportunities opened,
  bookings closed, spend per day). One SQL query grouped by UTC day gives both the daily series and the period
  total (the total *is* the sum of the days), so a chart and a headline can never disagree.
- **ratio** metrics divide one formula of registry metrics by another (CPL = spend / leads). Their daily
  series divides the daily components.
- **computed** metrics need their own query (cohort conversion rates, median times, LTV, data quality).

Custom metrics come from the project's ``metrics.yml``: an arithmetic formula over other metrics, a count of
events by name, or a count of entries into a lifecycle stage.

Periods are whole UTC days, both ends included.
"""

from __future__ import annotations

import ast
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, case, exists, func, literal, null, select
from sqlalchemy.orm import Session, aliased

from pitboard.kit.db import as_date, utc_day
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.models import (
    Campaign,
    CampaignSpend,
    Contact,
    Event,
    LifecycleStageChange,
    Opportunity,
    QualitySnapshot,
    SystemSetting,
)
from pitboard.models.measurement import MetricDefinition

UNITS = ("count", "money", "ratio", "percent", "days", "hours", "score")
SETTINGS_KEY = "measurement.settings"
DEFAULT_SETTINGS: dict[str, Any] = {
    "sla_hours": 48,
    "sales_touch_events": ["meeting_booked"],
    "currency": "USD",
    "exchange_rates": {},
    "attribution_model": "w_shaped",
    "lookback_days": 90,
    "account_journeys": True,
}
Value = float | None


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValidationFailed(f"the period ends ({self.end}) before it starts ({self.start})")
        if (self.end - self.start).days > 3660:
            raise ValidationFailed("a period may span ten years at most")

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """The first instant after the period."""
        after = self.end + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def each_day(self) -> Iterator[date]:
        for i in range(self.days):
            yield self.start + timedelta(days=i)

    @classmethod
    def parse(cls, start: str | date | None, end: str | date | None, *, default_days: int = 30,
              today: date | None = None) -> Period:  # fmt: skip
        """From ISO dates; a missing end is today, a missing start ``default_days`` before the end."""
        try:
            e = end if isinstance(end, date) else date.fromisoformat(end) if end else (today or _today())
            s = start if isinstance(start, date) else date.fromisoformat(start) if start else None
        except ValueError as exc:
            raise ValidationFailed(f"dates are written YYYY-MM-DD: {exc}") from exc
        return cls(s or e - timedelta(days=default_days - 1), e)

    def label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _today() -> date:
    from pitboard.kit.time import utcnow

    return utcnow().date()


@dataclass
class Context:
    """What one computation may reuse: the session, the settings and computed values (so a dashboard that shows
    CPL and CAC queries spend once)."""

    session: Session
    settings: dict[str, Any]
    custom: dict[str, Metric]
    cache: dict[tuple[str, date, date], Value] = field(default_factory=dict)
    daily_cache: dict[tuple[str, date, date], dict[date, float]] = field(default_factory=dict)
    touch_cache: dict[Any, Any] = field(default_factory=dict)  # journeys.py: touches per contact and window


Compute = Callable[[Context, Period], Value]
Daily = Callable[[Context, Period], dict[date, float]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    definition: str
    formula: str
    grain: str  # "day" (additive: has a daily series) or "period"
    owner: str
    description: str
    higher_is_better: bool = True
    compute: Compute | None = None
    daily: Daily | None = None
    origin: str = "standard"
    depends_on: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "label": self.label, "unit": self.unit, "definition": self.definition,
            "formula": self.formula, "grain": self.grain, "owner": self.owner, "description": self.description,
            "higher_is_better": self.higher_is_better, "origin": self.origin,
        }  # fmt: skip


# --- SQL building blocks ---------------------------------------------------------------------------------


def _grouped(ctx: Context, column: Any, measure: Any, where: Iterable[Any], period: Period,
             *, is_date: bool = False) -> dict[date, float]:  # fmt: skip
    dialect = ctx.session.get_bind().dialect.name
    if is_date:
        day: Any = column
        window = [column >= period.start, column <= period.end]
    else:
        day = utc_day(column, dialect)
        window = [column >= period.since, column < period.until]
    stmt = select(day, measure).where(*where, *window).group_by(day)
    return {as_date(d): float(v or 0) for d, v in ctx.session.execute(stmt)}


def _stage_entries(stage: str) -> Daily:
    def daily(ctx: Context, period: Period) -> dict[date, float]:
        c = LifecycleStageChange
        return _grouped(ctx, c.changed_at, func.count(), [c.to_stage == stage], period)

    return daily


def currency_rates(settings: Mapping[str, Any]) -> dict[str, float]:
    """Units of the reporting currency per unit of each currency that has a rate (the reporting one is 1)."""
    base = str(settings.get("currency") or "USD")
    rates = {str(code).upper(): float(rate) for code, rate in (settings.get("exchange_rates") or {}).items()}
    rates[base] = 1.0
    return rates


def money(ctx: Context, amount: Any, currency: Any) -> ColumnElement[Any]:
    """``amount`` in the reporting currency. An amount in a currency without a rate is NULL, so sums leave it
    out rather than adding euros to dollars (money metrics used to add amounts as stored)."""
    rates = currency_rates(ctx.settings)
    converted: ColumnElement[Any] = amount * case(
        *((currency == code, literal(Decimal(str(rate)), Numeric(18, 8))) for code, rate in sorted(rates.items())),
        else_=null(),
    )
    return converted


def _opps_opened(measure: str) -> Daily:
    def daily(ctx: Context, period: Period) -> dict[date, float]:
        o = Opportunity
        agg = func.count() if measure == "count" else func.sum(money(ctx, o.amount, o.currency))
        return _grouped(ctx, o.opened_at, agg, [], period)

    return daily


def _opps_closed(measure: str, won_only: bool) -> Daily:
    def daily(ctx: Context, period: Period) -> dict[date, float]:
        o = Opportunity
        agg = func.count() if measure == "count" else func.sum(money(ctx, o.amount, o.currency))
        where = [o.is_won.is_(True)] if won_only else [o.is_closed.is_(True)]
        return _grouped(ctx, o.closed_at, agg, where, period)

    return daily


def _spend_daily(ctx: Context, period: Period) -> dict[date, float]:
    s = CampaignSpend
    return _grouped(ctx, s.spend_date, func.sum(money(ctx, s.amount, s.currency)), [], period, is_date=True)


def _new_contacts(ctx: Context, period: Period) -> dict[date, float]:
    return _grouped(ctx, Contact.created_at, func.count(), [], period)


def _all_events(ctx: Context, period: Period) -> dict[date, float]:
    return _grouped(ctx, Event.occurred_at, func.count(), [], period)


def _events_named(name: str, channel: str | None) -> Daily:
    def daily(ctx: Context, period: Period) -> dict[date, float]:
        where = [Event.name == name] + ([Event.channel == channel] if channel else [])
        return _grouped(ctx, Event.occurred_at, func.count(), where, period)

    return daily


# --- computed metrics ------------------------------------------------------------------------------------


def _stage_conversion(from_stage: str, to_stage: str) -> Compute:
    """Of the contacts who entered ``from_stage`` in the period, the share who entered ``to_stage`` later
    (at any time up to now): a cohort rate, so a period's rate can still rise as its cohort matures."""

    def compute(ctx: Context, period: Period) -> Value:
        a = aliased(LifecycleStageChange)
        b = aliased(LifecycleStageChange)
        cohort = (
            select(a.contact_id, func.min(a.changed_at).label("entered"))
            .where(a.to_stage == from_stage, a.changed_at >= period.since, a.changed_at < period.until)
            .group_by(a.contact_id)
            .subquery()
        )
        later = exists().where(b.contact_id == cohort.c.contact_id, b.to_stage == to_stage,
                               b.changed_at >= cohort.c.entered)  # fmt: skip
        total = ctx.session.scalar(select(func.count()).select_from(cohort)) or 0
        if not total:
            return None
        converted = ctx.session.scalar(select(func.count()).select_from(cohort).where(later)) or 0
        return converted / total

    return compute


def _median(values: list[float]) -> Value:
    return float(statistics.median(values)) if values else None


def _stage_days(from_stage: str, to_stage: str) -> Compute:
    """Median days from entering ``from_stage`` (the last entry before) to entering ``to_stage`` in the period."""

    def compute(ctx: Context, period: Period) -> Value:
        a = aliased(LifecycleStageChange)
        b = aliased(LifecycleStageChange)
        before = (
            select(func.max(a.changed_at))
            .where(a.contact_id == b.contact_id, a.to_stage == from_stage, a.changed_at <= b.changed_at)
            .scalar_subquery()
        )
        stmt = select(b.changed_at, before).where(
            b.to_stage == to_stage, b.changed_at >= period.since, b.changed_at < period.until
        )
        return _median([_days(s, e) for e, s in ctx.session.execute(stmt) if s is not None])

    return compute


def _days(start: datetime, end: datetime) -> float:
    return (_utc(end) - _utc(start)).total_seconds() / 86400.0


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sales_cycle(ctx: Context, period: Period) -> Value:
    o = Opportunity
    stmt = select(o.opened_at, o.closed_at).where(o.is_won.is_(True), o.closed_at >= period.since,
                                                  o.closed_at < period.until)  # fmt: skip
    return _median([_days(s, e) for s, e in ctx.session.execute(stmt) if e is not None])


def _speed_to_lead(ctx: Context, period: Period) -> Value:
    """Median hours from entering MQL to the first sales touch (an event named in ``sales_touch_events``)."""
    names = list(ctx.settings.get("sales_touch_events") or [])
    if not names:
        return None
    c = LifecycleStageChange
    first_touch = (
        select(func.min(Event.occurred_at))
        .where(Event.contact_id == c.contact_id, Event.name.in_(names), Event.occurred_at >= c.changed_at)
        .scalar_subquery()
    )
    stmt = select(c.changed_at, first_touch).where(c.to_stage == "mql", c.changed_at >= period.since,
                                                   c.changed_at < period.until)  # fmt: skip
    return _median([_days(s, t) * 24 for s, t in ctx.session.execute(stmt) if t is not None])


def _sla_compliance(ctx: Context, period: Period) -> Value:
    """Share of MQLs of the period accepted by sales (entered SAL) within ``sla_hours``."""
    hours = float(ctx.settings.get("sla_hours") or 48)
    a = aliased(LifecycleStageChange)
    b = aliased(LifecycleStageChange)
    accepted = (
        select(func.min(b.changed_at))
        .where(b.contact_id == a.contact_id, b.to_stage == "sal", b.changed_at >= a.changed_at)
        .scalar_subquery()
    )
    stmt = select(a.changed_at, accepted).where(a.to_stage == "mql", a.changed_at >= period.since,
                                                a.changed_at < period.until)  # fmt: skip
    rows = ctx.session.execute(stmt).all()
    if not rows:
        return None
    met = sum(1 for s, t in rows if t is not None and _days(s, t) * 24 <= hours)
    return met / len(rows)


def _ltv(ctx: Context, period: Period) -> Value:
    """Average lifetime bookings per customer account (accounts with a won deal closed by the period's end)."""
    o = Opportunity
    where = [o.is_won.is_(True), o.closed_at < period.until, o.account_id.is_not(None)]
    total, accounts = ctx.session.execute(
        select(func.sum(money(ctx, o.amount, o.currency)), func.count(func.distinct(o.account_id))).where(*where)
    ).one()
    return float(total) / accounts if accounts else None


def _open_pipeline(ctx: Context, period: Period) -> Value:
    """Amount of the opportunities open at the end of the period (opened before it ends, not closed by then)."""
    o = Opportunity
    still_open = (o.is_closed.is_(False)) | (o.closed_at.is_(None)) | (o.closed_at >= period.until)
    total = ctx.session.scalar(
        select(func.sum(money(ctx, o.amount, o.currency))).where(o.opened_at < period.until, still_open)
    )
    return float(total or 0)


def _quality_score(ctx: Context, period: Period) -> Value:
    q = QualitySnapshot
    stmt = (
        select(q.value)
        .where(q.entity == "contact", q.field == "", q.metric == "overall", q.taken_on <= period.end)
        .order_by(q.taken_on.desc())
        .limit(1)
    )
    value = ctx.session.scalar(stmt)
    return float(value) if value is not None else None


def _time_to_market(ctx: Context, period: Period) -> Value:
    """Median days from a campaign's creation to its start, for campaigns that started in the period."""
    c = Campaign
    stmt = select(c.created_at, c.start_date).where(c.start_date >= period.since, c.start_date < period.until)
    return _median([max(0.0, _days(s, e)) for s, e in ctx.session.execute(stmt) if e is not None])


# --- formulas --------------------------------------------------------------------------------------------

_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd,
            ast.Name, ast.Load, ast.Constant)  # fmt: skip


def parse_formula(text: str) -> tuple[ast.Expression, set[str]]:
    """An arithmetic formula over metric keys (``+ - * /``, numbers, parentheses)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValidationFailed(f"formula {text!r} is not valid arithmetic: {exc.msg}") from exc
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValidationFailed(f"formula {text!r} may only use metric keys, numbers, + - * / and parentheses")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ValidationFailed(f"formula {text!r}: {node.value!r} is not a number")
        if isinstance(node, ast.Name):
            names.add(node.id)
    return tree, names


def evaluate_formula(tree: ast.Expression, values: Mapping[str, Value]) -> Value:
    def ev(node: ast.AST) -> Value:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            inner = ev(node.operand)
            return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            return left / right if right else None  # a rate over nothing is undefined, not zero
        raise ValidationFailed("unsupported formula")  # parse_formula prevents this

    return ev(tree)


def _formula_metric(text: str) -> tuple[Compute, Daily, tuple[str, ...]]:
    tree, names = parse_formula(text)
    deps = tuple(sorted(names))

    def compute(ctx: Context, period: Period) -> Value:
        return evaluate_formula(tree, {n: _value(ctx, n, period) for n in deps})

    def daily(ctx: Context, period: Period) -> dict[date, float]:
        per = {n: _daily(ctx, n, period) for n in deps}
        out: dict[date, float] = {}
        for day in period.each_day():
            v = evaluate_formula(tree, {n: per[n].get(day, 0.0) for n in deps})
            if v is not None:
                out[day] = v
        return out

    return compute, daily, deps


# --- the standard set ------------------------------------------------------------------------------------

MARKETING_OPS = "Marketing operations"
REVOPS = "Revenue operations"


def _additive(key: str, label: str, unit: str, definition: str, formula: str, daily: Daily, owner: str,
              description: str, higher: bool = True) -> Metric:  # fmt: skip
    return Metric(key, label, unit, definition, formula, "day", owner, description, higher, daily=daily)


def _ratio(key: str, label: str, unit: str, definition: str, formula: str, owner: str, description: str,
           higher: bool = True) -> Metric:  # fmt: skip
    compute, daily, deps = _formula_metric(formula)
    return Metric(key, label, unit, definition, formula, "day", owner, description, higher, compute=compute,
                  daily=daily, depends_on=deps)  # fmt: skip


def _computed(key: str, label: str, unit: str, definition: str, formula: str, compute: Compute, owner: str,
              description: str, higher: bool = True) -> Metric:  # fmt: skip
    return Metric(key, label, unit, definition, formula, "period", owner, description, higher, compute=compute)


def _stage_metric(key: str, label: str, stage: str) -> Metric:
    return _additive(key, label, "count", f"Entries into the {stage} lifecycle stage in the period",
                     f"count(lifecycle_stage_changes where to_stage = '{stage}' and changed_at in period)",
                     _stage_entries(stage), MARKETING_OPS,
                     f"A contact that re-enters {stage} after a recycle counts again.")  # fmt: skip


STANDARD: list[Metric] = [
    _additive("new_contacts", "New contacts", "count", "Contacts created in the period",
              "count(contacts where created_at in period)", _new_contacts, MARKETING_OPS,
              "Every new person, whatever their stage."),
    _additive("events", "Events", "count", "Events (page views, form fills, clicks, ...) that happened in the period",
              "count(events where occurred_at in period)", _all_events, MARKETING_OPS,
              "Every tracked or imported activity, identified or not."),
    _stage_metric("leads", "Leads", "lead"),
    _stage_metric("mqls", "MQLs", "mql"),
    _stage_metric("sals", "SALs", "sal"),
    _stage_metric("sqls", "SQLs", "sql"),
    _additive("opportunities", "Opportunities", "count", "Opportunities opened in the period",
              "count(opportunities where opened_at in period)", _opps_opened("count"), REVOPS,
              "New pipeline deals, whatever their later outcome."),
    _additive("pipeline", "Pipeline", "money", "Amount of the opportunities opened in the period",
              "sum(opportunities.amount where opened_at in period)", _opps_opened("sum"), REVOPS,
              "Amounts are added as they are stored; pitboard does not convert currencies."),
    _computed("open_pipeline", "Open pipeline", "money", "Amount of the opportunities open at the end of the period",
              "sum(opportunities.amount where opened_at < period end and not closed by then)", _open_pipeline,
              REVOPS, "A point-in-time figure: the pipeline still to be won or lost."),
    _additive("won_deals", "Won deals", "count", "Opportunities closed won in the period",
              "count(opportunities where is_won and closed_at in period)", _opps_closed("count", True), REVOPS,
              "New customers, counted per deal."),
    _additive("closed_deals", "Closed deals", "count", "Opportunities closed (won or lost) in the period",
              "count(opportunities where is_closed and closed_at in period)", _opps_closed("count", False),
              REVOPS, "The denominator of the win rate."),
    _additive("bookings", "Bookings", "money", "Amount of the opportunities closed won in the period",
              "sum(opportunities.amount where is_won and closed_at in period)", _opps_closed("sum", True), REVOPS,
              "Revenue booked."),
    _additive("spend", "Marketing spend", "money", "Campaign spend dated in the period",
              "sum(campaign_spend.amount where spend_date in period)", _spend_daily, MARKETING_OPS,
              "From ad platforms and spend imports, per campaign and day.", higher=False),
    _ratio("win_rate", "Win rate", "percent", "Won deals over closed deals in the period",
           "won_deals / closed_deals", REVOPS, "Deals closed in the period, won or lost."),
    _ratio("avg_deal_size", "Average deal size", "money", "Bookings per won deal", "bookings / won_deals",
           REVOPS, "Average amount of the deals won in the period."),
    _ratio("cpl", "Cost per lead (CPL)", "money", "Spend per lead", "spend / leads", MARKETING_OPS,
           "Spend of the period over lead-stage entries of the period.", higher=False),
    _ratio("cpa", "Cost per acquisition (CPA)", "money", "Spend per opportunity", "spend / opportunities",
           MARKETING_OPS, "An acquisition is an opportunity opened.", higher=False),
    _ratio("cac", "Customer acquisition cost (CAC)", "money", "Spend per new customer", "spend / won_deals",
           REVOPS, "Marketing spend over deals won (sales cost is not in pitboard).", higher=False),
    _ratio("roas", "Return on ad spend (ROAS)", "ratio", "Bookings per unit of spend", "bookings / spend",
           MARKETING_OPS, "Bookings and spend of the same period."),
    _ratio("roi", "Marketing ROI", "ratio", "Bookings minus spend, over spend", "(bookings - spend) / spend",
           MARKETING_OPS, "0.5 means every dollar spent returned $1.50 of bookings."),
    _computed("ltv", "Customer lifetime value (LTV)", "money", "Average lifetime bookings per customer account",
              "sum(won amount closed before period end) / count(distinct accounts with a won deal)", _ltv, REVOPS,
              "Without subscription data, lifetime value is what customers have bought so far."),
    _ratio("ltv_cac", "LTV:CAC", "ratio", "Lifetime value over acquisition cost", "ltv / cac", REVOPS,
           "3 or more is the usual healthy ratio."),
    _computed("lead_to_mql", "Lead → MQL rate", "percent", "Share of the period's new leads that became MQL",
              "cohort: entered lead in period, entered mql afterwards", _stage_conversion("lead", "mql"),
              MARKETING_OPS, "Cohort rate: it can rise while the period's leads mature."),
    _computed("mql_to_sal", "MQL → SAL rate", "percent", "Share of the period's MQLs accepted by sales",
              "cohort: entered mql in period, entered sal afterwards", _stage_conversion("mql", "sal"), REVOPS,
              "Cohort rate."),
    _computed("sal_to_sql", "SAL → SQL rate", "percent", "Share of the period's SALs that sales qualified",
              "cohort: entered sal in period, entered sql afterwards", _stage_conversion("sal", "sql"), REVOPS,
              "Cohort rate."),
    _computed("sql_to_opportunity", "SQL → opportunity rate", "percent",
              "Share of the period's SQLs that reached the opportunity stage",
              "cohort: entered sql in period, entered opportunity afterwards",
              _stage_conversion("sql", "opportunity"), REVOPS, "Cohort rate."),
    _computed("days_lead_to_mql", "Days lead → MQL", "days", "Median days from lead to MQL",
              "median(mql entry - last lead entry before it) for MQLs of the period", _stage_days("lead", "mql"),
              MARKETING_OPS, "Over contacts that became MQL in the period.", higher=False),
    _computed("days_mql_to_sql", "Days MQL → SQL", "days", "Median days from MQL to SQL",
              "median(sql entry - last mql entry before it) for SQLs of the period", _stage_days("mql", "sql"),
              REVOPS, "Over contacts that became SQL in the period.", higher=False),
    _computed("sales_cycle_days", "Sales cycle (days)", "days", "Median days from opening to winning a deal",
              "median(closed_at - opened_at) of deals won in the period", _sales_cycle, REVOPS,
              "Won deals only.", higher=False),
    _ratio("pipeline_velocity", "Pipeline velocity", "money",
           "Revenue the pipeline produces per day",
           "opportunities * avg_deal_size * win_rate / sales_cycle_days", REVOPS,
           "The usual formula: number of opportunities x deal size x win rate / cycle length."),
    _computed("speed_to_lead", "Speed to lead (hours)", "hours", "Median hours from MQL to the first sales touch",
              "median(first event named in sales_touch_events after the mql entry - mql entry)", _speed_to_lead,
              REVOPS, "Sales touches are the event names in metrics.yml settings.sales_touch_events.",
              higher=False),
    _computed("sla_compliance", "SLA compliance", "percent", "Share of MQLs accepted by sales within the SLA",
              "count(mql entries with a sal entry within sla_hours) / count(mql entries)", _sla_compliance,
              REVOPS, "The SLA is metrics.yml settings.sla_hours (48 by default)."),
    _computed("data_quality_score", "Data quality score", "score", "Overall contact data-quality score",
              "quality_snapshots.value (contact, overall) of the last snapshot on or before the period end",
              _quality_score, "Data operations", "0 to 1; see docs/data-quality.md."),
    _computed("campaign_time_to_market", "Campaign time to market (days)", "days",
              "Median days from creating a campaign to its start",
              "median(campaigns.start_date - campaigns.created_at) for campaigns starting in the period",
              _time_to_market, MARKETING_OPS, "Campaigns that started in the period.", higher=False),
]  # fmt: skip


def settle(metrics: dict[str, Metric]) -> dict[str, Metric]:
    """A formula over a metric that has no daily series has none either: it is measured per period."""
    changed = True
    while changed:
        changed = False
        for key, m in list(metrics.items()):
            if m.daily is not None and any(d in metrics and metrics[d].daily is None for d in m.depends_on):
                metrics[key] = replace(m, daily=None, grain="period")
                changed = True
    return metrics


STANDARD_KEYS = settle({m.key: m for m in STANDARD})
STANDARD = [STANDARD_KEYS[m.key] for m in STANDARD]


# --- custom metrics from metrics.yml ---------------------------------------------------------------------


def custom_metric(spec: Mapping[str, Any]) -> Metric:
    """A metric from its metrics.yml definition (already validated by ``schemas.MetricSpec``)."""
    key = spec["key"]
    common: dict[str, Any] = {
        "key": key,
        "label": spec.get("label") or key,
        "unit": spec.get("unit") or "count",
        "definition": spec.get("definition") or spec.get("description") or "",
        "owner": spec.get("owner") or "",
        "description": spec.get("description") or "",
        "higher_is_better": bool(spec.get("higher_is_better", True)),
        "origin": "project",
    }
    if spec.get("formula"):
        compute, daily, deps = _formula_metric(spec["formula"])
        return Metric(formula=spec["formula"], grain="day", compute=compute, daily=daily, depends_on=deps,
                      **common)  # fmt: skip
    if spec.get("event"):
        channel = spec.get("channel")
        where = f" and channel = '{channel}'" if channel else ""
        return Metric(formula=f"count(events where name = '{spec['event']}'{where} and occurred_at in period)",
                      grain="day", daily=_events_named(spec["event"], channel), **common)  # fmt: skip
    stage = spec["stage"]
    return Metric(formula=f"count(lifecycle_stage_changes where to_stage = '{stage}' and changed_at in period)",
                  grain="day", daily=_stage_entries(stage), **common)  # fmt: skip


def load_custom(session: Session) -> dict[str, Metric]:
    rows = session.scalars(select(MetricDefinition).where(MetricDefinition.active.is_(True)))
    custom = {row.key: custom_metric(row.definition) for row in rows if row.key not in STANDARD_KEYS}
    merged = settle({**STANDARD_KEYS, **custom})
    return {k: merged[k] for k in custom}


def load_settings(session: Session) -> dict[str, Any]:
    row = session.get(SystemSetting, SETTINGS_KEY)
    return {**DEFAULT_SETTINGS, **(row.value if row is not None and isinstance(row.value, dict) else {})}


def context(session: Session) -> Context:
    return Context(session, load_settings(session), load_custom(session))


def all_metrics(ctx: Context) -> list[Metric]:
    return [*STANDARD, *(m for k, m in sorted(ctx.custom.items()) if k not in STANDARD_KEYS)]


def get(ctx: Context, key: str) -> Metric:
    metric = STANDARD_KEYS.get(key) or ctx.custom.get(key)
    if metric is None:
        raise NotFound(f"no metric {key!r}; `pitboard metrics list` shows them all")
    return metric


# --- values ----------------------------------------------------------------------------------------------


def _daily(ctx: Context, key: str, period: Period) -> dict[date, float]:
    metric = get(ctx, key)
    if metric.daily is None:
        raise ValidationFailed(f"{key} is measured per period, not per day")
    cache_key = (key, period.start, period.end)
    if cache_key not in ctx.daily_cache:
        ctx.daily_cache[cache_key] = metric.daily(ctx, period)
    return ctx.daily_cache[cache_key]


def _value(ctx: Context, key: str, period: Period) -> Value:
    cache_key = (key, period.start, period.end)
    if cache_key in ctx.cache:
        return ctx.cache[cache_key]
    metric = get(ctx, key)
    if metric.compute is not None:
        result = metric.compute(ctx, period)
    else:
        result = float(sum(_daily(ctx, key, period).values()))
    ctx.cache[cache_key] = result
    return result


def value(ctx: Context, key: str, period: Period) -> Value:
    """The metric over the period (``None`` when undefined, such as a rate over nothing)."""
    return _round(get(ctx, key), _value(ctx, key, period))


def series(ctx: Context, key: str, period: Period, grain: str = "day") -> list[tuple[date, Value]]:
    """The metric per day, ISO week (Monday) or calendar month over the period. Additive metrics fold days;
    others are computed per bucket."""
    if grain not in ("day", "week", "month"):
        raise ValidationFailed("grain must be day, week or month")
    metric = get(ctx, key)
    chosen = buckets(period, grain)
    if grain == "day" and metric.daily is not None:
        days = _daily(ctx, key, period)
        return [(d, _round(metric, days.get(d, 0.0) if metric.compute is None or d in days else None))
                for d, _ in chosen]  # fmt: skip
    return [(start, value(ctx, key, sub)) for start, sub in chosen]


def buckets(period: Period, grain: str) -> list[tuple[date, Period]]:
    out: list[tuple[date, Period]] = []
    day = period.start
    while day <= period.end:
        if grain == "day":
            end = day
        elif grain == "week":
            end = day + timedelta(days=6 - day.weekday())
        else:
            nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            end = nxt - timedelta(days=1)
        end = min(end, period.end)
        out.append((day, Period(day, end)))
        day = end + timedelta(days=1)
    return out


def _round(metric: Metric, v: Value) -> Value:
    """One rounding for every place a number appears: money to cents, counts whole, the rest to 4 places."""
    if v is None:
        return None
    if metric.unit == "money":
        return round(v, 2)
    if metric.unit == "count":
        return round(v, 4) if not float(v).is_integer() else float(v)
    return round(v, 4)


def format_value(metric: Metric, v: Value, currency: str = "USD") -> str:
    """The one text form of a value (web, CSV notes, email)."""
    if v is None:
        return "n/a"
    if metric.unit == "money":
        return f"{currency} {v:,.2f}"
    if metric.unit == "percent":
        return f"{v * 100:.1f}%"
    if metric.unit == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    if metric.unit in ("days", "hours"):
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def values(ctx: Context, keys: Iterable[str], period: Period) -> dict[str, Value]:
    return {k: value(ctx, k, period) for k in keys}


def daily_values(ctx: Context, key: str, period: Period) -> dict[date, float]:
    """Per-day values for alerting (days without rows are 0 for additive metrics)."""
    metric = get(ctx, key)
    if metric.daily is not None:
        days = _daily(ctx, key, period)
        if metric.compute is None:
            return {d: days.get(d, 0.0) for d in period.each_day()}
        return days
    out: dict[date, float] = {}
    for d in period.each_day():
        v = _value(ctx, key, Period(d, d))
        if v is not None:
            out[d] = v
    return out


def by_campaign_spend(ctx: Context, period: Period) -> dict[int, float]:
    """Spend per campaign in the period; adds up to the ``spend`` metric."""
    s = CampaignSpend
    stmt = select(s.campaign_id, func.sum(money(ctx, s.amount, s.currency))).where(
        s.spend_date >= period.start, s.spend_date <= period.end
    )
    return {cid: float(v or 0) for cid, v in ctx.session.execute(stmt.group_by(s.campaign_id))}


def spend_by_channel(ctx: Context, period: Period) -> dict[str, float]:
    """Spend per channel (the spend row's channel, else its campaign's); adds up to ``spend``."""
    s = CampaignSpend
    channel = func.coalesce(func.nullif(s.channel, ""), Campaign.channel, "(no channel)")
    stmt = (
        select(channel, func.sum(money(ctx, s.amount, s.currency)))
        .join(Campaign, Campaign.id == s.campaign_id)
        .where(s.spend_date >= period.start, s.spend_date <= period.end)
        .group_by(channel)
    )
    out: dict[str, float] = defaultdict(float)
    for ch, v in ctx.session.execute(stmt):
        out[str(ch)] += float(v or 0)
    return dict(out)
