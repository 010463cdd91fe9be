"""Reports and dashboards built from the metric registry and attribution: executive, campaign (ROI with spend,
budget vs actual), funnel (by cohort) and data quality; CSV export; the narrative summary.

Every figure here comes from ``registry.value`` / ``registry.series`` or from attribution credits, which add up
exactly to the registry's totals, so a total row always equals the headline number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from pitboard.measurement import registry
from pitboard.measurement.attribution import MODEL_LABELS, MODELS, Attribution, ModelSpec, attribute
from pitboard.measurement.journeys import Goal, Level, load_journeys
from pitboard.measurement.registry import Context, Period, Value
from pitboard.models import Campaign, CampaignSpend

DASHBOARDS = ("executive", "campaign", "funnel", "quality")
EXECUTIVE_KPIS = ("pipeline", "bookings", "spend", "cac", "roas", "mqls", "opportunities", "win_rate")
FUNNEL_KPIS = ("leads", "mqls", "sals", "sqls", "opportunities", "won_deals")
FUNNEL_RATES = ("lead_to_mql", "mql_to_sal", "sal_to_sql", "sql_to_opportunity", "win_rate")
FUNNEL_TIMES = ("days_lead_to_mql", "days_mql_to_sql", "sales_cycle_days", "speed_to_lead", "sla_compliance")
QUALITY_KPIS = ("data_quality_score", "new_contacts", "campaign_time_to_market")


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str
    value: Value
    previous: Value
    text: str
    higher_is_better: bool

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous in (None, 0):
            return None
        assert self.previous is not None
        return (self.value - self.previous) / abs(self.previous)


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]
    total: list[Any] | None = None

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_csv_cell(v) for v in row])
        if self.total is not None:
            writer.writerow([_csv_cell(v) for v in self.total])
        return out.getvalue()


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".") if not v.is_integer() else f"{int(v)}"
    return v


@dataclass(frozen=True)
class Trend:
    title: str
    labels: list[str]
    series: dict[str, list[float]]
    unit: str


@dataclass
class Report:
    dashboard: str
    period: Period
    kpis: list[Kpi] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    trends: list[Trend] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    model: str | None = None


def kpis(ctx: Context, keys: Sequence[str], period: Period) -> list[Kpi]:
    previous = period.previous()
    currency = str(ctx.settings.get("currency") or "USD")
    out = []
    for key in keys:
        metric = registry.get(ctx, key)
        v = registry.value(ctx, key, period)
        out.append(Kpi(key, metric.label, metric.unit, v, registry.value(ctx, key, previous),
                       registry.format_value(metric, v, currency), metric.higher_is_better))  # fmt: skip
    return out


def trend(ctx: Context, keys: Sequence[str], period: Period, title: str, grain: str = "week") -> Trend:
    labels: list[str] = []
    series: dict[str, list[float]] = {}
    unit = registry.get(ctx, keys[0]).unit
    for key in keys:
        points = registry.series(ctx, key, period, grain)
        labels = [d.strftime("%d %b") if grain != "month" else d.strftime("%b %y") for d, _ in points]
        series[registry.get(ctx, key).label] = [max(0.0, v or 0.0) for _, v in points]
    return Trend(title, labels, series, unit)


def run_attribution(
    ctx: Context,
    period: Period,
    *,
    model: str | None = None,
    goal: Goal = "pipeline",
    level: Level = "channel",
    half_life_days: float = 7.0,
    weights: dict[str, float] | None = None,
    lookback_days: int | None = None,
) -> Attribution:
    """One model over the period's opportunities; credits add up to the registry's pipeline (or bookings)."""
    chosen = model or str(ctx.settings.get("attribution_model") or "w_shaped")
    spec = ModelSpec(chosen, half_life_days=half_life_days, weights=weights)
    journeys = load_journeys(
        ctx.session, period, goal=goal, level=level,
        lookback_days=int(lookback_days or ctx.settings.get("lookback_days") or 90),
        non_converting=chosen in ("markov", "shapley"), touch_cache=ctx.touch_cache,
        accounts=bool(ctx.settings.get("account_journeys", True)), rates=registry.currency_rates(ctx.settings),
    )  # fmt: skip
    return attribute(journeys, spec)


def run_all_models(ctx: Context, period: Period, *, goal: Goal = "pipeline", level: Level = "channel",
                   lookback_days: int | None = None) -> list[Attribution]:  # fmt: skip
    """Every model (but custom) over the same journeys, loaded once (with the non-converting ones)."""
    journeys = load_journeys(
        ctx.session, period, goal=goal, level=level,
        lookback_days=int(lookback_days or ctx.settings.get("lookback_days") or 90), non_converting=True,
        accounts=bool(ctx.settings.get("account_journeys", True)), rates=registry.currency_rates(ctx.settings),
    )  # fmt: skip
    return [attribute(journeys, m) for m in MODELS if m != "custom"]


def attribution_table(result: Attribution) -> Table:
    rows = [[c.label, c.amount_cents / 100, c.conversions_micro / 1_000_000] for c in result.credits]
    total = ["Total", result.total_amount_cents / 100, float(result.total_conversions)]
    return Table(["label", "amount", "conversions"], rows, total)


# --- dashboards ------------------------------------------------------------------------------------------


def executive(ctx: Context, period: Period, *, model: str | None = None) -> Report:
    report = Report("executive", period, kpis=kpis(ctx, EXECUTIVE_KPIS, period))
    report.model = model or str(ctx.settings.get("attribution_model"))
    pipeline = run_attribution(ctx, period, model=report.model, goal="pipeline")
    bookings = run_attribution(ctx, period, model=report.model, goal="bookings")
    spend = registry.spend_by_channel(ctx, period)
    by_pipe = {c.label: c.amount_cents / 100 for c in pipeline.credits}
    by_book = {c.label: c.amount_cents / 100 for c in bookings.credits}
    channels = sorted(set(by_pipe) | set(by_book) | set(spend), key=lambda c: (-by_pipe.get(c, 0), c))
    rows = [[ch, by_pipe.get(ch, 0.0), by_book.get(ch, 0.0), round(spend.get(ch, 0.0), 2)] for ch in channels]
    report.tables["by_channel"] = Table(
        ["channel", "pipeline", "bookings", "spend"], rows,
        ["Total", pipeline.total_amount_cents / 100, bookings.total_amount_cents / 100,
         round(sum(spend.values()), 2)],
    )  # fmt: skip
    trend_period = Period(period.end - timedelta(weeks=12) + timedelta(days=1), period.end)
    report.trends.append(trend(ctx, ["pipeline", "bookings"], trend_period, "Pipeline and bookings per week"))
    report.trends.append(trend(ctx, ["cac"], trend_period, "CAC per week"))
    report.notes.append(f"Pipeline and bookings by channel are credited with the {MODEL_LABELS[report.model]} "
                        "model; spend per channel is the spend row's channel (or its campaign's).")  # fmt: skip
    return report


def campaign(ctx: Context, period: Period, *, model: str | None = None) -> Report:
    report = Report("campaign", period, kpis=kpis(ctx, ("spend", "pipeline", "bookings", "roas", "roi", "cpl"), period))
    report.model = model or str(ctx.settings.get("attribution_model"))
    pipeline = run_attribution(ctx, period, model=report.model, goal="pipeline", level="campaign")
    bookings = run_attribution(ctx, period, model=report.model, goal="bookings", level="campaign")
    spend_by_id = registry.by_campaign_spend(ctx, period)
    campaigns = {c.id: c for c in ctx.session.scalars(select(Campaign))}
    names = {c.name: c for c in campaigns.values()}
    spend = {campaigns[cid].name: v for cid, v in spend_by_id.items() if cid in campaigns}
    pipe = {c.label: c for c in pipeline.credits}
    book = {c.label: c.amount_cents / 100 for c in bookings.credits}
    labels = sorted(set(pipe) | set(book) | set(spend), key=lambda n: (-(spend.get(n, 0.0)), n))
    rows = []
    for name in labels:
        s = round(spend.get(name, 0.0), 2)
        p = pipe[name].amount_cents / 100 if name in pipe else 0.0
        opps = pipe[name].conversions_micro / 1_000_000 if name in pipe else 0.0
        b = book.get(name, 0.0)
        c = names.get(name)
        rows.append([name, c.channel if c else None, s, round(opps, 6), p, b, _ratio(b, s),
                     _ratio(b - s, s) if s else None])  # fmt: skip
    total_spend = round(sum(spend_by_id.values()), 2)
    total_b = bookings.total_amount_cents / 100
    report.tables["roi"] = Table(
        ["campaign", "channel", "spend", "opportunities", "pipeline", "bookings", "roas", "roi"], rows,
        ["Total", None, total_spend, float(pipeline.total_conversions), pipeline.total_amount_cents / 100, total_b,
         _ratio(total_b, total_spend), _ratio(total_b - total_spend, total_spend)],
    )  # fmt: skip
    report.tables["budget"] = budget_vs_actual(ctx, period)
    report.notes.append(f"Opportunities, pipeline and bookings per campaign are credited with the "
                        f"{MODEL_LABELS[report.model]} model (fractions of a deal where it is shared).")  # fmt: skip
    return report


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def budget_vs_actual(ctx: Context, period: Period) -> Table:
    """Campaigns running in the period: budget against spend to date (all spend up to the period's end)."""
    s = CampaignSpend
    c = Campaign
    spent: dict[int, Any] = dict(
        ctx.session.execute(
            select(s.campaign_id, func.sum(registry.money(ctx, s.amount, s.currency)))
            .where(s.spend_date <= period.end)
            .group_by(s.campaign_id)
        ).all()
    )
    stmt = select(c).where(
        (c.start_date.is_(None)) | (c.start_date < period.until), (c.end_date.is_(None)) | (c.end_date >= period.since)
    )
    rows = []
    for camp in sorted(ctx.session.scalars(stmt), key=lambda x: x.name):
        budget = float(camp.budget) if camp.budget is not None else None
        actual = round(float(spent.get(camp.id) or 0), 2)
        if budget is None and not actual:
            continue
        rows.append([camp.name, budget, actual, round(actual - budget, 2) if budget is not None else None,
                     _ratio(actual, budget) if budget else None])  # fmt: skip
    return Table(["campaign", "budget", "spend_to_date", "variance", "used"], rows)


def funnel(ctx: Context, period: Period, *, grain: str = "month") -> Report:
    report = Report("funnel", period, kpis=kpis(ctx, FUNNEL_KPIS, period))
    report.kpis += kpis(ctx, FUNNEL_RATES + FUNNEL_TIMES, period)
    rows = []
    for start, sub in registry.buckets(period, grain):
        values = registry.values(ctx, ("leads", *FUNNEL_RATES[:-1]), sub)
        rows.append([start.isoformat(), values["leads"], *(values[k] for k in FUNNEL_RATES[:-1])])
    report.tables["cohorts"] = Table(["cohort", "leads", *FUNNEL_RATES[:-1]], rows)
    stage_rows = [[registry.get(ctx, k.key).label, k.value] for k in report.kpis if k.key in FUNNEL_KPIS]
    report.tables["stages"] = Table(["stage", "entries"], stage_rows)
    report.trends.append(trend(ctx, ["leads", "mqls", "sqls"], period, "Stage entries", grain="week"))
    report.notes.append("Cohort rates follow the contacts who entered the first stage in each period to any later "
                        "date, so recent cohorts are still maturing.")  # fmt: skip
    return report


def quality(ctx: Context, period: Period) -> Report:
    report = Report("quality", period, kpis=kpis(ctx, QUALITY_KPIS, period))
    long = Period(period.end - timedelta(weeks=12) + timedelta(days=1), period.end)
    report.trends.append(trend(ctx, ["data_quality_score"], long, "Contact data-quality score (end of week)"))
    report.trends.append(trend(ctx, ["new_contacts"], long, "New contacts per week"))
    return report


def build(ctx: Context, dashboard: str, period: Period, *, model: str | None = None) -> Report:
    if dashboard == "executive":
        return executive(ctx, period, model=model)
    if dashboard == "campaign":
        return campaign(ctx, period, model=model)
    if dashboard == "funnel":
        return funnel(ctx, period)
    if dashboard == "quality":
        return quality(ctx, period)
    from pitboard.kit.errors import NotFound

    raise NotFound(f"no dashboard {dashboard!r}; there are {', '.join(DASHBOARDS)}")


def metrics_table(ctx: Context, period: Period, keys: Sequence[str] | None = None) -> Table:
    """Every metric's value for the period: the CSV export of the registry."""
    chosen = list(keys) if keys else [m.key for m in registry.all_metrics(ctx)]
    rows = []
    for key in chosen:
        metric = registry.get(ctx, key)
        rows.append([key, metric.label, metric.unit, period.start.isoformat(), period.end.isoformat(),
                     registry.value(ctx, key, period)])  # fmt: skip
    return Table(["metric", "label", "unit", "start", "end", "value"], rows)


# --- narrative -------------------------------------------------------------------------------------------

DRAFT_MARK = "DRAFT - needs human review"


def narrative(report: Report, currency: str = "USD") -> str:
    """A few sentences drafted from the numbers only (no model, no invention): what rose, what fell, what led.
    Always marked as a draft for a person to check before it reaches leadership."""
    lines = [f"{DRAFT_MARK}.", f"Summary for {report.period.label()}, compared with the {report.period.days} days "
             "before:"]  # fmt: skip
    for kpi in report.kpis[:6]:
        change = kpi.change
        if kpi.value is None:
            lines.append(f"- {kpi.label}: no data.")
            continue
        if change is None:
            lines.append(f"- {kpi.label} was {kpi.text}.")
            continue
        word = "up" if change > 0 else "down" if change < 0 else "unchanged"
        good = (change > 0) == kpi.higher_is_better
        verdict = "" if word == "unchanged" or abs(change) < 0.05 else (" (better)" if good else " (worse)")
        pct = "" if word == "unchanged" else f" {abs(change) * 100:.0f}%"
        lines.append(f"- {kpi.label} was {kpi.text}, {word}{pct}{verdict}.")
    col = {"executive": 1, "campaign": 4}.get(report.dashboard)
    table = report.tables.get("by_channel" if report.dashboard == "executive" else "roi")
    if col is not None and table is not None and table.rows and table.total and table.total[col]:
        best = max(table.rows, key=lambda r: r[col] or 0)
        share = (best[col] or 0) / table.total[col] * 100
        model = MODEL_LABELS.get(report.model or "", report.model or "")
        lines.append(f"- {best[0]} led with {share:.0f}% of pipeline ({model} attribution).")
    return "\n".join(lines)


def previous_period(every: str, today: date) -> Period:
    """The last whole period before ``today``: yesterday, last Monday-Sunday week, or last calendar month."""
    if every == "daily":
        d = today - timedelta(days=1)
        return Period(d, d)
    if every == "weekly":
        monday = today - timedelta(days=today.weekday())
        return Period(monday - timedelta(weeks=1), monday - timedelta(days=1))
    first = date(today.year, today.month, 1)
    last = first - timedelta(days=1)
    return Period(date(last.year, last.month, 1), last)
