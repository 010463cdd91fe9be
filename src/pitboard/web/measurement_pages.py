"""Reports: the executive, campaign, funnel and data-quality dashboards, attribution side by side, the metric
registry with this period's values, alerts (with acknowledge) and scheduled-report drafts (approve or reject).

Every number on these pages comes from ``measurement.registry`` (directly or through ``measurement.reports``);
charts are server-rendered SVG (``web/charts.py``). Everyone signed in reads; editors and admins acknowledge
alerts and review drafts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from pitboard.api.deps import SessionDep
from pitboard.kit.errors import PitboardError
from pitboard.measurement import registry, reports, scheduled, service, snapshots
from pitboard.measurement.attribution import MODEL_LABELS, MODELS
from pitboard.measurement.registry import Period
from pitboard.models import User
from pitboard.models.measurement import ReportSchedule
from pitboard.web import charts
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, web_actor
from pitboard.web.render import error_page, render, url_with

router = APIRouter(include_in_schema=False)

TABS = [("executive", "/reports", "Executive"), ("campaign", "/reports/campaign", "Campaigns"),
        ("funnel", "/reports/funnel", "Funnel"), ("quality", "/reports/quality", "Data quality"),
        ("attribution", "/reports/attribution", "Attribution"), ("metrics", "/reports/metrics", "Metrics"),
        ("alerts", "/reports/alerts", "Alerts"), ("drafts", "/reports/drafts", "Scheduled reports")]  # fmt: skip
TITLES = {"executive": "Executive dashboard", "campaign": "Campaign performance", "funnel": "Funnel",
          "quality": "Data quality"}  # fmt: skip
MONEY_COLUMNS = {"amount", "pipeline", "bookings", "spend", "budget", "spend_to_date", "variance"}
RATE_COLUMNS = {"lead_to_mql", "mql_to_sal", "sal_to_sql", "sql_to_opportunity", "used"}


def _period(request: Request) -> Period:
    return Period.parse(request.query_params.get("start") or None, request.query_params.get("end") or None)


def _model(request: Request) -> str | None:
    model = request.query_params.get("model") or None
    return model if model in MODELS and model != "custom" else None


def _cell(column: str, value: Any, currency: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if column in MONEY_COLUMNS:
            return f"{currency} {value:,.2f}"
        if column in RATE_COLUMNS:
            return f"{value * 100:.1f}%"
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def _tables(report: reports.Report, currency: str) -> list[dict[str, Any]]:
    out = []
    for name, t in report.tables.items():
        rows = [[_cell(c, v, currency) for c, v in zip(t.columns, row, strict=True)] for row in t.rows]
        total = [_cell(c, v, currency) for c, v in zip(t.columns, t.total, strict=True)] if t.total else None
        out.append({"name": name, "columns": [c.replace("_", " ") for c in t.columns], "rows": rows, "total": total})
    return out


def _charts(report: reports.Report, currency: str) -> list[Markup]:
    out = []
    for i, t in enumerate(report.trends):
        for j, (name, values) in enumerate(t.series.items()):
            fmt = (lambda v: f"{currency} {v:,.0f}") if t.unit == "money" else charts.format_number
            title = f"{t.title}: {name}" if len(t.series) > 1 else t.title
            svg = charts.bar_chart(t.labels, values, title=title, value_format=fmt,
                                   color=charts.PALETTE[(i + j) % len(charts.PALETTE)])  # fmt: skip
            out.append(Markup(svg))  # noqa: S704  (charts escape every text they draw)
    return out


def _page(request: Request, template: str, tab: str, context: dict[str, Any]) -> Response:
    period: Period | None = context.get("period")
    params = {"start": period.start.isoformat(), "end": period.end.isoformat()} if period else {}
    return render(request, template, {"nav": "reports", "tabs": TABS, "tab": tab, "params": params, **context})


@router.get("/reports")
def executive_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    return _dashboard(request, user, session, "executive")


@router.get("/reports/{dashboard}")
def dashboard_page(dashboard: str, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    if dashboard == "attribution":
        return _attribution(request, session)
    if dashboard == "metrics":
        return _metrics(request, session)
    if dashboard == "alerts":
        return _alerts(request, user, session)
    if dashboard == "drafts":
        return _drafts(request, user, session)
    if dashboard not in TITLES:
        return error_page(request, 404)
    return _dashboard(request, user, session, dashboard)


def _dashboard(request: Request, user: User, session: SessionDep, dashboard: str) -> Response:
    try:
        period = _period(request)
        ctx = registry.context(session)
        refresh = request.query_params.get("refresh") == "1" and can_write(user)
        report, snapshot = snapshots.cached(session, dashboard, period, _model(request), refresh=refresh)
    except PitboardError as exc:
        return error_page(request, 400 if exc.status_code == 422 else exc.status_code, exc.message)
    currency = str(ctx.settings["currency"])
    context = {"snapshot": snapshot, "can_refresh": can_write(user),
               "title": TITLES[dashboard], "dashboard": dashboard, "report": report, "period": period,
               "tables": _tables(report, currency), "charts": _charts(report, currency),
               "models": [(m, MODEL_LABELS[m]) for m in MODELS if m != "custom"], "model": report.model}  # fmt: skip
    return _page(request, "reports/dashboard.html", dashboard, context)


@router.get("/reports/{dashboard}/{table}.csv")
def table_csv(dashboard: str, table: str, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    try:
        period = _period(request)
        report = reports.build(registry.context(session), dashboard, period, model=_model(request))
    except PitboardError as exc:
        return error_page(request, 400 if exc.status_code == 422 else exc.status_code, exc.message)
    if table not in report.tables:
        return error_page(request, 404)
    name = f"{dashboard}-{table}-{period.start}-{period.end}.csv"
    return Response(report.tables[table].to_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def _attribution(request: Request, session: SessionDep) -> Response:
    goal = request.query_params.get("goal") or "pipeline"
    level = request.query_params.get("level") or "channel"
    if goal not in ("pipeline", "bookings") or level not in ("channel", "campaign"):
        return error_page(request, 400, "goal is pipeline or bookings; level is channel or campaign")
    try:
        period = _period(request)
        ctx = registry.context(session)
        chosen = [m for m in MODELS if m != "custom"]
        results = reports.run_all_models(ctx, period, goal=goal, level=level)  # type: ignore[arg-type]
    except PitboardError as exc:
        return error_page(request, 400 if exc.status_code == 422 else exc.status_code, exc.message)
    currency = str(ctx.settings["currency"])
    labels = sorted({c.label for r in results for c in r.credits},
                    key=lambda lab: -max((r.by_label()[lab].amount_cents for r in results if lab in r.by_label()),
                                         default=0))  # fmt: skip
    rows = [[lab, *(r.by_label()[lab].amount_cents / 100 if lab in r.by_label() else 0.0 for r in results)]
            for lab in labels]  # fmt: skip
    focus = _model(request) or str(ctx.settings["attribution_model"])
    focus_result = next((r for r in results if r.model == focus), results[0])
    svg = charts.bar_chart([c.label for c in focus_result.credits],
                           [c.amount_cents / 100 for c in focus_result.credits],
                           title=f"{goal.title()} by {level}: {MODEL_LABELS[focus_result.model]}",
                           value_format=lambda v: f"{currency} {v:,.0f}")  # fmt: skip
    chart = Markup(svg)  # noqa: S704  (charts escape every text they draw)
    context = {"period": period, "goal": goal, "level": level, "results": results, "rows": rows, "chart": chart,
               "labels": [MODEL_LABELS[r.model] for r in results], "currency": currency, "focus": focus,
               "total": results[0].total_amount_cents / 100 if results else 0.0,
               "models": [(m, MODEL_LABELS[m]) for m in chosen]}  # fmt: skip
    return _page(request, "reports/attribution.html", "attribution", context)


def _metrics(request: Request, session: SessionDep) -> Response:
    try:
        period = _period(request)
        ctx = registry.context(session)
        currency = str(ctx.settings["currency"])
        rows = []
        for m in registry.all_metrics(ctx):
            v = registry.value(ctx, m.key, period)
            rows.append({"metric": m, "value": v, "text": registry.format_value(m, v, currency)})
    except PitboardError as exc:
        return error_page(request, 400 if exc.status_code == 422 else exc.status_code, exc.message)
    return _page(request, "reports/metrics.html", "metrics", {"period": period, "rows": rows})


def _alerts(request: Request, user: User, session: SessionDep) -> Response:
    status = request.query_params.get("status") or None
    if status not in (None, "open", "acknowledged"):
        status = None
    context = {"events": service.list_alert_events(session, status=status), "rules": service.alert_rules(session),
               "names": service.rule_names(session), "status": status, "can_write": can_write(user),
               "notice": (request.query_params.get("notice") or "")[:300] or None}  # fmt: skip
    return _page(request, "reports/alerts.html", "alerts", context)


@router.get("/reports/alerts/{event_id}")
def alert_page(event_id: int, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    try:
        event = service.get_alert_event(session, event_id)
    except PitboardError:
        return error_page(request, 404)
    context = {"event": event, "rule": service.rule_names(session).get(event.rule_id, "?"),
               "can_write": can_write(user)}  # fmt: skip
    return _page(request, "reports/alert.html", "alerts", context)


@router.post("/reports/alerts/{event_id}/acknowledge")
def acknowledge(event_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    note = form.get("note")
    try:
        service.acknowledge(session, event_id, actor=web_actor(user), note=note if isinstance(note, str) else None)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    return RedirectResponse(url_with("/reports/alerts", notice=f"Alert {event_id} acknowledged"), status_code=303)


def _drafts(request: Request, user: User, session: SessionDep) -> Response:
    schedules = {s.id: s for s in session.query(ReportSchedule).all()}
    context = {"runs": scheduled.list_runs(session), "schedules": schedules, "can_write": can_write(user),
               "notice": (request.query_params.get("notice") or "")[:300] or None}  # fmt: skip
    return _page(request, "reports/drafts.html", "drafts", context)


@router.get("/reports/drafts/{run_id}")
def draft_page(run_id: int, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    try:
        run = scheduled.get_run(session, run_id)
    except PitboardError:
        return error_page(request, 404)
    schedule = session.get(ReportSchedule, run.schedule_id)
    # The email's HTML is built by scheduled.render_html with every value escaped.
    email = Markup(run.html)  # noqa: S704
    context = {"run": run, "schedule": schedule, "email": email, "can_write": can_write(user)}
    return _page(request, "reports/draft.html", "drafts", context)


@router.post("/reports/drafts/{run_id}/{decision}")
def review(run_id: int, decision: str, request: Request, user: CurrentUser, form: CsrfForm,
           session: SessionDep) -> Response:  # fmt: skip
    if decision not in ("approve", "reject"):
        return error_page(request, 404)
    try:
        if decision == "approve":
            scheduled.approve(session, run_id, actor=web_actor(user))
        else:
            scheduled.reject(session, run_id, actor=web_actor(user))
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    done = "approved and sent" if decision == "approve" else "rejected"
    return RedirectResponse(url_with("/reports/drafts", notice=f"Report {run_id} {done}"), status_code=303)
