"""``pitboard metrics``: the metric registry, attribution, reports (with CSV), alerts and report drafts.

Every number printed here comes from ``measurement.registry`` (directly or through ``measurement.reports``),
the same code the API, the web pages and the CSV exports use.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, unit_of_work
from pitboard.kit.errors import PitboardError
from pitboard.measurement import registry, reports, scheduled, service
from pitboard.measurement.api import parse_weights
from pitboard.measurement.attribution import MODEL_LABELS, MODELS
from pitboard.measurement.registry import Period

measurement_app = typer.Typer(
    help="Measurement: metrics, attribution, reports, dashboards, alerts.",
    no_args_is_help=True,
)
alerts_app = typer.Typer(help="Alerts: history, check now, acknowledge.", no_args_is_help=True)
drafts_app = typer.Typer(help="Scheduled report runs: list, run now, approve, reject.", no_args_is_help=True)
measurement_app.add_typer(alerts_app, name="alerts")
measurement_app.add_typer(drafts_app, name="reports")

StartOpt = Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD (default: 30 days back)")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last day, included, YYYY-MM-DD (default: today)")]


def _period(start: str | None, end: str | None) -> Period:
    try:
        return Period.parse(start, end)
    except PitboardError as exc:
        raise _fail(exc.message) from exc


@measurement_app.command("list")
def metrics_list(database_url: DatabaseOpt = None) -> None:
    """Every metric with its definition, unit, grain and owner."""
    with unit_of_work(database_url) as session:
        ctx = registry.context(session)
        table = RichTable("key", "label", "unit", "grain", "owner", "definition")
        for m in registry.all_metrics(ctx):
            table.add_row(m.key, m.label, m.unit, m.grain, m.owner, m.definition)
        console.print(table)


@measurement_app.command("show")
def metrics_show(
    keys: Annotated[list[str], typer.Argument(help="Metric keys")],
    start: StartOpt = None,
    end: EndOpt = None,
    grain: Annotated[str | None, typer.Option(help="Also print a series: day, week or month")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Metric values for a period (and their series with --grain)."""
    period = _period(start, end)
    with unit_of_work(database_url) as session:
        ctx = registry.context(session)
        currency = str(ctx.settings["currency"])
        out = []
        for key in keys:
            metric = registry.get(ctx, key)
            v = registry.value(ctx, key, period)
            item: dict[str, object] = {"key": key, "value": v, "text": registry.format_value(metric, v, currency)}
            if grain:
                item["series"] = [[d.isoformat(), x] for d, x in registry.series(ctx, key, period, grain)]
            out.append(item)
        if as_json:
            console.print_json(json.dumps({"start": period.start.isoformat(), "end": period.end.isoformat(),
                                           "metrics": out}))  # fmt: skip
            return
        table = RichTable("metric", "value", title=period.label())
        for item in out:
            table.add_row(str(item["key"]), str(item["text"]))
        console.print(table)
        for item in out:
            if "series" in item:
                series = RichTable("from", str(item["key"]))
                for d, x in item["series"]:  # type: ignore[attr-defined]
                    series.add_row(d, "" if x is None else f"{x:g}")
                console.print(series)


@measurement_app.command("export")
def metrics_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write ('-' for stdout)")],
    start: StartOpt = None,
    end: EndOpt = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", help="Only these (repeatable)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Every metric's value for the period as CSV (the same file as /api/v1/reports/metrics.csv)."""
    period = _period(start, end)
    with unit_of_work(database_url) as session:
        text = reports.metrics_table(registry.context(session), period, metric).to_csv()
    _write(output, text)


def _write(output: Path, text: str) -> None:
    if str(output) == "-":
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)


@measurement_app.command("attribution")
def attribution(
    model: Annotated[str | None, typer.Option(help=f"One of {', '.join(MODELS)}, or 'all'")] = None,
    goal: Annotated[str, typer.Option(help="pipeline (opened) or bookings (won)")] = "pipeline",
    level: Annotated[str, typer.Option(help="channel or campaign")] = "channel",
    start: StartOpt = None,
    end: EndOpt = None,
    half_life_days: Annotated[float, typer.Option(help="time_decay half-life")] = 7.0,
    lookback_days: Annotated[int | None, typer.Option(help="Ignore touches older than this")] = None,
    weight: Annotated[list[str] | None, typer.Option(help="custom: milestone=share (repeatable)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Credit for pipeline or bookings per channel or campaign under one model, or all models side by side."""
    period = _period(start, end)
    if goal not in ("pipeline", "bookings") or level not in ("channel", "campaign"):
        raise _fail("--goal is pipeline or bookings; --level is channel or campaign")
    with unit_of_work(database_url) as session:
        ctx = registry.context(session)
        chosen = [m for m in MODELS if m != "custom"] if model == "all" else [model]
        results = [
            reports.run_attribution(ctx, period, model=m, goal=goal, level=level,  # type: ignore[arg-type]
                                    half_life_days=half_life_days, lookback_days=lookback_days,
                                    weights=parse_weights(weight))
            for m in chosen
        ]  # fmt: skip
    table = RichTable("model", level, "amount", "conversions", title=f"{goal} {period.label()}")
    for r in results:
        for i, c in enumerate(r.credits):
            table.add_row(MODEL_LABELS[r.model] if i == 0 else "", c.label, f"{c.amount_cents / 100:,.2f}",
                          f"{c.conversions_micro / 1e6:,.4f}")  # fmt: skip
        table.add_row("", "Total", f"{r.total_amount_cents / 100:,.2f}", f"{r.total_conversions:,}",
                      end_section=True)  # fmt: skip
    console.print(table)


@measurement_app.command("report")
def report(
    dashboard: Annotated[str, typer.Argument(help="executive, campaign, funnel or quality")],
    start: StartOpt = None,
    end: EndOpt = None,
    model: Annotated[str | None, typer.Option(help="Attribution model for channel and campaign credit")] = None,
    csv_table: Annotated[str | None, typer.Option("--csv", help="Write this table as CSV instead")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="With --csv: file ('-' for stdout)")] = Path("-"),
    database_url: DatabaseOpt = None,
) -> None:
    """A dashboard's KPIs and tables, or one table as CSV."""
    period = _period(start, end)
    with unit_of_work(database_url) as session:
        r = reports.build(registry.context(session), dashboard, period, model=model)
    if csv_table:
        if csv_table not in r.tables:
            raise _fail(f"the {dashboard} report has no table {csv_table!r}; it has {', '.join(r.tables) or 'none'}")
        _write(output, r.tables[csv_table].to_csv())
        return
    kpis = RichTable("metric", "value", "previous period", title=f"{dashboard}: {period.label()}")
    for k in r.kpis:
        kpis.add_row(k.label, k.text, "" if k.previous is None else f"{k.previous:g}")
    console.print(kpis)
    for name, t in r.tables.items():
        table = RichTable(*t.columns, title=name)
        for row in [*t.rows, *([t.total] if t.total else [])]:
            table.add_row(*("" if v is None else f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)
    for note in r.notes:
        console.print(note, highlight=False)


# --- alerts ----------------------------------------------------------------------------------------------


@alerts_app.command("list")
def alerts_list(
    status: Annotated[str | None, typer.Option(help="open or acknowledged")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Alert history, newest first."""
    with unit_of_work(database_url) as session:
        names = service.rule_names(session)
        table = RichTable("id", "rule", "period", "value", "expected", "status", "message")
        for e in service.list_alert_events(session, status=status):
            table.add_row(str(e.id), names.get(e.rule_id, "?"), e.period_start.isoformat(),
                          "" if e.value is None else f"{e.value:g}", "" if e.expected is None else f"{e.expected:g}",
                          e.status, e.message)  # fmt: skip
        console.print(table)


@alerts_app.command("rules")
def alerts_rules(database_url: DatabaseOpt = None) -> None:
    """Alert rules applied from metrics.yml."""
    with unit_of_work(database_url) as session:
        table = RichTable("key", "metric", "kind", "notify", "active", "last checked")
        for r in service.alert_rules(session):
            table.add_row(r.key, r.metric, r.kind, ", ".join(r.notify), "yes" if r.active else "no",
                          service.when(r.last_checked_at))  # fmt: skip
        console.print(table)


@alerts_app.command("check")
def alerts_check(
    day: Annotated[str | None, typer.Option(help="The day to check, YYYY-MM-DD (default: yesterday)")] = None,
    rule: Annotated[list[str] | None, typer.Option(help="Only these rules (repeatable)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Check the rules now; prints what fired (a rule fires once per period)."""
    try:
        when = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise _fail(f"--day is YYYY-MM-DD: {exc}") from exc
    with unit_of_work(database_url) as session:
        fired = service.check_alerts(session, day=when, keys=rule)
        for e in fired:
            console.print(f"#{e.id} {e.message} -> {', '.join(e.notified) or 'nobody'}", highlight=False)
        console.print(f"{len(fired)} new alert(s)", highlight=False)


@alerts_app.command("ack")
def alerts_ack(
    event_id: Annotated[int, typer.Argument()],
    note: Annotated[str | None, typer.Option(help="What was done about it")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Acknowledge an alert."""
    with unit_of_work(database_url) as session:
        e = service.acknowledge(session, event_id, actor=CLI_ACTOR, note=note)
        console.print(f"alert {e.id} acknowledged", highlight=False)


# --- scheduled report runs -------------------------------------------------------------------------------


@drafts_app.command("list")
def runs_list(
    status: Annotated[str | None, typer.Option(help="draft, sent or rejected")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Report runs, newest first; drafts wait for review."""
    with unit_of_work(database_url) as session:
        table = RichTable("id", "subject", "status", "created", "reviewed by")
        for r in scheduled.list_runs(session, status=status):
            table.add_row(str(r.id), r.subject, r.status, r.created_at.isoformat(timespec="minutes"),
                          r.reviewed_by or "")  # fmt: skip
        console.print(table)


@drafts_app.command("run")
def runs_run(
    key: Annotated[str, typer.Argument(help="The schedule's key in metrics.yml")],
    today: Annotated[str | None, typer.Option(help="Pretend today is this day (YYYY-MM-DD)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Make the schedule's report for its last whole period now (team reports are sent; leadership ones wait)."""
    with unit_of_work(database_url) as session:
        run = scheduled.run_schedule(session, scheduled.get_schedule(session, key),
                                     today=date.fromisoformat(today) if today else None)  # fmt: skip
        console.print(f"report {run.id}: {run.subject} ({run.status})", highlight=False)
        console.print(run.narrative, highlight=False)


@drafts_app.command("approve")
def runs_approve(run_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Approve a draft after reading it: it is sent."""
    with unit_of_work(database_url) as session:
        run = scheduled.approve(session, run_id, actor=CLI_ACTOR)
        console.print(f"report {run.id} sent to {len(run.message_ids)} recipient(s)", highlight=False)


@drafts_app.command("reject")
def runs_reject(run_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Reject a draft: it is never sent."""
    with unit_of_work(database_url) as session:
        scheduled.reject(session, run_id, actor=CLI_ACTOR)
        console.print(f"report {run_id} rejected", highlight=False)
