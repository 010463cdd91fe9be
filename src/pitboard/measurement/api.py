"""REST routes for measurement: the metric registry, attribution, reports (JSON and CSV), alerts and report
drafts. Every number comes from ``registry`` (directly or through ``reports``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.measurement import registry, reports, scheduled, service
from pitboard.measurement.attribution import MODEL_LABELS, MODELS, Attribution
from pitboard.measurement.registry import Period
from pitboard.models.measurement import AlertEvent, ReportRun

router = APIRouter(tags=["measurement"])
StartQ = Query(default=None, description="First day (YYYY-MM-DD); default 30 days before the end")
EndQ = Query(default=None, description="Last day, included (YYYY-MM-DD); default today (UTC)")


class MetricOut(BaseModel):
    key: str
    label: str
    unit: str
    definition: str
    formula: str
    grain: str
    owner: str
    description: str
    higher_is_better: bool
    origin: str


class PointOut(BaseModel):
    start: date
    value: float | None


class MetricValueOut(BaseModel):
    key: str
    label: str
    unit: str
    start: date
    end: date
    value: float | None
    text: str
    series: list[PointOut] | None = None


class CreditOut(BaseModel):
    label: str
    amount: float
    conversions: float
    amount_cents: int
    conversions_micro: int


class AttributionOut(BaseModel):
    model: str
    model_label: str
    goal: str
    level: str
    start: date
    end: date
    total_amount: float
    total_conversions: int
    credits: list[CreditOut]
    details: dict[str, Any]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    metric: str
    period_start: date
    period_end: date
    value: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    message: str
    status: str
    fired_at: datetime
    notified: list[str]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date | None = None
    rules: list[str] | None = None


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    schedule_id: int
    period_start: date
    period_end: date
    status: str
    subject: str
    narrative: str
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    sent_at: datetime | None
    message_ids: list[int]


def _period(start: str | None, end: str | None) -> Period:
    return Period.parse(start, end)


@router.get("/metrics", response_model=list[MetricOut])
def list_metrics(session: SessionDep, actor: ActorDep) -> list[MetricOut]:
    """Every metric: the standard set and the project's custom ones, with their definitions."""
    ctx = registry.context(session)
    return [MetricOut(**m.to_dict()) for m in registry.all_metrics(ctx)]


@router.get("/metrics/{key}", response_model=MetricValueOut)
def metric_value(
    key: str, session: SessionDep, actor: ActorDep, start: str | None = StartQ, end: str | None = EndQ,
    grain: Literal["day", "week", "month"] | None = Query(default=None, description="Also return a series"),
) -> MetricValueOut:  # fmt: skip
    ctx = registry.context(session)
    period = _period(start, end)
    metric = registry.get(ctx, key)
    v = registry.value(ctx, key, period)
    series = None
    if grain is not None:
        series = [PointOut(start=d, value=x) for d, x in registry.series(ctx, key, period, grain)]
    return MetricValueOut(key=key, label=metric.label, unit=metric.unit, start=period.start, end=period.end,
                          value=v, text=registry.format_value(metric, v, str(ctx.settings["currency"])),
                          series=series)  # fmt: skip


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


@router.get("/reports/metrics.csv", response_class=Response)
def metrics_csv(session: SessionDep, actor: ActorDep, start: str | None = StartQ, end: str | None = EndQ,
                metric: list[str] | None = Query(default=None)) -> Response:  # fmt: skip
    """Every metric (or the ones named) for the period, as CSV."""
    ctx = registry.context(session)
    period = _period(start, end)
    return _csv(reports.metrics_table(ctx, period, metric).to_csv(), f"metrics-{period.start}-{period.end}.csv")


def _attribution_out(result: Attribution, goal: str, level: str, period: Period) -> AttributionOut:
    credits = [CreditOut(label=c.label, amount=c.amount_cents / 100, conversions=c.conversions_micro / 1_000_000,
                         amount_cents=c.amount_cents, conversions_micro=c.conversions_micro)
               for c in result.credits]  # fmt: skip
    return AttributionOut(
        model=result.model, model_label=MODEL_LABELS[result.model], goal=goal, level=level, start=period.start,
        end=period.end, total_amount=result.total_amount_cents / 100, total_conversions=result.total_conversions,
        credits=credits, details=result.details,
    )  # fmt: skip


@router.get("/attribution", response_model=AttributionOut)
def attribution(
    session: SessionDep, actor: ActorDep, start: str | None = StartQ, end: str | None = EndQ,
    model: str | None = Query(default=None, description=f"One of {', '.join(MODELS)}; default from metrics.yml"),
    goal: Literal["pipeline", "bookings"] = "pipeline", level: Literal["channel", "campaign"] = "channel",
    half_life_days: float = Query(default=7.0, gt=0, le=365),
    lookback_days: int | None = Query(default=None, ge=1, le=730),
    weight: list[str] | None = Query(default=None, description="custom: milestone=share, e.g. first=0.5"),
) -> AttributionOut:  # fmt: skip
    ctx = registry.context(session)
    period = _period(start, end)
    result = reports.run_attribution(ctx, period, model=model, goal=goal, level=level, half_life_days=half_life_days,
                                     weights=parse_weights(weight), lookback_days=lookback_days)  # fmt: skip
    return _attribution_out(result, goal, level, period)


def parse_weights(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    out: dict[str, float] = {}
    for item in items:
        name, sep, share = item.partition("=")
        try:
            out[name.strip()] = float(share)
        except ValueError:
            raise ValidationFailed(f"weights are written milestone=share, like first=0.4, not {item!r}") from None
        if not sep:
            raise ValidationFailed(f"weights are written milestone=share, like first=0.4, not {item!r}")
    return out


@router.get("/reports/{dashboard}")
def report(dashboard: str, session: SessionDep, actor: ActorDep, start: str | None = StartQ,
           end: str | None = EndQ, model: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A dashboard's figures: KPIs (with the previous period), tables and trends."""
    ctx = registry.context(session)
    r = reports.build(ctx, dashboard, _period(start, end), model=model)
    return {
        "dashboard": r.dashboard, "start": r.period.start, "end": r.period.end, "model": r.model,
        "kpis": [{"key": k.key, "label": k.label, "unit": k.unit, "value": k.value, "previous": k.previous,
                  "text": k.text} for k in r.kpis],
        "tables": {name: {"columns": t.columns, "rows": t.rows, "total": t.total} for name, t in r.tables.items()},
        "trends": [{"title": t.title, "labels": t.labels, "series": t.series} for t in r.trends],
        "notes": r.notes,
    }  # fmt: skip


@router.get("/reports/{dashboard}/{table}.csv", response_class=Response)
def report_csv(dashboard: str, table: str, session: SessionDep, actor: ActorDep, start: str | None = StartQ,
               end: str | None = EndQ, model: str | None = None) -> Response:  # fmt: skip
    ctx = registry.context(session)
    period = _period(start, end)
    r = reports.build(ctx, dashboard, period, model=model)
    if table not in r.tables:
        raise NotFound(f"the {dashboard} report has no table {table!r}; it has {', '.join(r.tables) or 'none'}")
    return _csv(r.tables[table].to_csv(), f"{dashboard}-{table}-{period.start}-{period.end}.csv")


@router.get("/alerts", response_model=list[AlertOut])
def alerts(session: SessionDep, actor: ActorDep, status: Literal["open", "acknowledged"] | None = None,
           limit: int = Query(default=100, ge=1, le=1000)) -> list[AlertEvent]:  # fmt: skip
    return service.list_alert_events(session, status=status, limit=limit)


@router.post("/alerts/check", response_model=list[AlertOut])
def check(body: CheckIn, session: SessionDep, actor: ActorDep) -> list[AlertEvent]:
    """Check the rules now (admins); returns what fired that had not fired before for the period."""
    actor.require("admin")
    return service.check_alerts(session, day=body.day, keys=body.rules)


@router.post("/alerts/{event_id}/acknowledge", response_model=AlertOut)
def acknowledge(event_id: int, body: AckIn, session: SessionDep, actor: ActorDep) -> AlertEvent:
    return service.acknowledge(session, event_id, actor=actor, note=body.note)


@router.get("/report-runs", response_model=list[RunOut])
def report_runs(session: SessionDep, actor: ActorDep,
                status: Literal["draft", "sent", "rejected"] | None = None) -> list[ReportRun]:  # fmt: skip
    return scheduled.list_runs(session, status=status)


@router.post("/report-runs/{run_id}/approve", response_model=RunOut)
def approve_run(run_id: int, session: SessionDep, actor: ActorDep) -> ReportRun:
    """A person has reviewed the draft: send it."""
    return scheduled.approve(session, run_id, actor=actor)


@router.post("/report-runs/{run_id}/reject", response_model=RunOut)
def reject_run(run_id: int, session: SessionDep, actor: ActorDep) -> ReportRun:
    return scheduled.reject(session, run_id, actor=actor)
