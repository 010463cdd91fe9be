"""``pitboard board``: campaign operations and the work board.

    pitboard board show | add | move | block | unblock | flow
    pitboard board intake brief.yml
    pitboard board ops CAMPAIGN_ID | check | run-check | decide | resubmit | go-live | budget | budget-set
    pitboard board name | name-check | utm-link | utm-audit

Actual spend is imported with ``pitboard import campaign_spend spend.csv`` (columns campaign, date, channel,
amount, currency); ``board budget`` sets it against the planned and committed amounts.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.orm import Session

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, err, unit_of_work
from pitboard.project.yamlfile import YamlError, load_yaml
from pitboard.workboard import board, campaign_ops, flow, utm_audit
from pitboard.workboard.campaign_ops import IntakeIn
from pitboard.workboard.naming import build_utm_url, check_name, generate_name

workboard_app = typer.Typer(
    help="Campaign operations and the work board: intake, naming, checklists, approvals, budget, flow.",
    no_args_is_help=True,
)


# --- the board -----------------------------------------------------------------------------------


@workboard_app.command("show")
def show(
    item_type: Annotated[str | None, typer.Option("--type", help="Only this item type")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """The board: each column with its WIP and its items (blocked first, then by priority)."""
    with unit_of_work(database_url) as session:
        for view in board.board_view(session, item_type=item_type, done_limit=10):
            limit = f"/{view.column.wip_limit}" if view.column.wip_limit else ""
            flag = " [red]over WIP limit[/]" if view.over_limit else ""
            console.print(f"[bold]{view.column.name}[/] ({view.column.key}) {view.count}{limit}{flag}", highlight=False)
            for i in view.items:
                blocked = f" [red]BLOCKED: {i.blocked_reason}[/]" if i.blocked else ""
                console.print(f"  #{i.id} [{i.priority}] {i.title} · {i.item_type} · {i.service_tier}{blocked}",
                              highlight=False, soft_wrap=True)  # fmt: skip


@workboard_app.command("add")
def add(
    title: Annotated[str, typer.Argument()],
    item_type: Annotated[str, typer.Option("--type", help="campaign, report, data_fix, tooling or other")] = "other",
    priority: Annotated[str, typer.Option(help="urgent, high, normal or low")] = "normal",
    tier: Annotated[str, typer.Option(help="self_service, standard or project")] = "standard",
    owner: Annotated[str | None, typer.Option(help="Owner's email")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Add a request to the board's first column."""
    with unit_of_work(database_url) as session:
        item = board.create_item(session, title=title, item_type=item_type, priority=priority, service_tier=tier,
                                 owner_email=owner, actor=CLI_ACTOR)  # fmt: skip
        console.print(f"#{item.id} added to {item.column_key}")


@workboard_app.command("move")
def move(
    item_id: Annotated[int, typer.Argument()],
    column: Annotated[str, typer.Argument()],
    override: Annotated[bool, typer.Option(help="Move past the WIP limit (needs --reason, recorded)")] = False,
    reason: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Move an item to a column; a column at its WIP limit refuses unless --override --reason."""
    with unit_of_work(database_url) as session:
        item = board.move_item(session, item_id, column, actor=CLI_ACTOR, override=override, reason=reason)
        console.print(f"#{item.id} is in {item.column_key}")


@workboard_app.command("block")
def block(
    item_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Argument(help="Why it is blocked")],
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        board.set_blocked(session, item_id, True, actor=CLI_ACTOR, reason=reason)
        console.print(f"#{item_id} blocked")


@workboard_app.command("unblock")
def unblock(item_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    with unit_of_work(database_url) as session:
        board.set_blocked(session, item_id, False, actor=CLI_ACTOR)
        console.print(f"#{item_id} unblocked")


def _d(value: float | None) -> str:
    return f"{value:,.1f}" if value is not None else "—"


@workboard_app.command("flow")
def flow_cmd(
    days: Annotated[int, typer.Option(help="The period, in days back from now")] = 90,
    item_type: Annotated[str | None, typer.Option("--type")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Everything as JSON")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Flow metrics from the recorded transitions (days): lead and cycle time, throughput, age, blocked time,
    flow efficiency, campaign time to market."""
    with unit_of_work(database_url) as session:
        report = flow.flow_report(session, days=days, item_type=item_type)
    if as_json:
        console.print_json(json.dumps(report.to_dict(), default=str))
        return
    table = Table("metric", "n", "mean", "p50", "p85", "p95", title=f"flow, last {days} days (days)")
    for label, s in (("lead time", report.lead_time), ("cycle time", report.cycle_time),
                     ("time to market", report.time_to_market)):  # fmt: skip
        table.add_row(label, str(s["count"]), _d(s["mean"]), _d(s["p50"]), _d(s["p85"]), _d(s["p95"]))
    console.print(table)
    total = sum(n for _, n in report.throughput_per_week)
    weeks = max(len(report.throughput_per_week), 1)
    console.print(f"throughput: {total} finished ({total / weeks:.1f} a week)", highlight=False)
    eff = f"{report.flow_efficiency:.0%}" if report.flow_efficiency is not None else "—"
    console.print(f"flow efficiency: {eff} · blocked now: {report.blocked['blocked_now']}", highlight=False)
    for a in report.age[:10]:
        console.print(f"  oldest: #{a['item_id']} {a['title']} in {a['column']} for {a['age_days']:.1f} d",
                      highlight=False, soft_wrap=True)  # fmt: skip


# --- intake and campaign operations --------------------------------------------------------------


@workboard_app.command("intake")
def intake(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The brief (YAML or JSON)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Submit a campaign brief: it becomes a campaign, a work item, a checklist and an approval chain."""
    try:
        loaded = load_yaml(path)
        body = IntakeIn.model_validate(loaded.data)
    except YamlError as exc:
        raise _fail(str(exc)) from exc
    except ValidationError as exc:
        for e in exc.errors():
            where = ".".join(str(p) for p in e["loc"])
            line = loaded.line_of(e["loc"]) if e["loc"] else None
            err.print(f"[red]✗[/] {path}:{line or '?'}: {where}: {e['msg']}", soft_wrap=True, highlight=False)
        raise _fail(f"{exc.error_count()} problem(s) in {path}") from exc
    with unit_of_work(database_url) as session:
        ops = campaign_ops.submit_intake(session, body, actor=CLI_ACTOR)
        console.print(f"campaign {ops.campaign_id} created (work item #{ops.work_item_id}, stage {ops.stage})")


@workboard_app.command("ops")
def ops_show(campaign_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """A campaign's brief, checklist, approvals, decisions and budget."""
    with unit_of_work(database_url) as session:
        ops = campaign_ops.get_ops(session, campaign_id)
        state = campaign_ops.readiness(session, campaign_id)
        console.print(f"[bold]campaign {campaign_id}[/] · stage {ops.stage} · audience {ops.audience_segment}",
                      highlight=False)  # fmt: skip
        console.print("ready to go live" if state.ready else "not ready: " + "; ".join(state.reasons()),
                      highlight=False, soft_wrap=True)  # fmt: skip
        checks = Table("item", "blocking", "status", "by", "note", title="checklist")
        for i in campaign_ops.checklist(session, campaign_id):
            checks.add_row(i.key, "yes" if i.blocking else "no", i.status, i.checked_by or "", i.note or "")
        console.print(checks)
        steps = Table("stage", "status", "approvers", "reviewers", "due", title="approvals")
        for s in campaign_ops.approval_steps(session, campaign_id):
            steps.add_row(s.stage, s.status, ", ".join(s.approvers), ", ".join(s.reviewers),
                          s.due_at.isoformat(timespec="minutes") if s.due_at else "")  # fmt: skip
        console.print(steps)
        for d in campaign_ops.decisions(session, campaign_id):
            console.print(f"  {d.at:%Y-%m-%d %H:%M} {d.actor} ({d.role}) {d.decision}: {d.comment or ''}",
                          highlight=False, soft_wrap=True)  # fmt: skip
        _budget_table(session, campaign_id)


@workboard_app.command("check")
def check(
    campaign_id: Annotated[int, typer.Argument()],
    key: Annotated[str, typer.Argument(help="The checklist item")],
    status: Annotated[str, typer.Argument(help="done, failed, waived or open")],
    note: Annotated[str | None, typer.Option(help="Required for failed and waived")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        row = campaign_ops.set_check(session, campaign_id, key, status, actor=CLI_ACTOR, note=note)
        console.print(f"{row.key}: {row.status}")


@workboard_app.command("run-check")
def run_check(
    campaign_id: Annotated[int, typer.Argument()],
    key: Annotated[str, typer.Argument(help="An automatic item: UTM tagging or audience QA")],
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        row = campaign_ops.run_check(session, campaign_id, key, actor=CLI_ACTOR)
        console.print(f"{row.key}: {row.status} · {row.note or ''}", highlight=False, soft_wrap=True)


@workboard_app.command("decide")
def decide(
    campaign_id: Annotated[int, typer.Argument()],
    decision: Annotated[str, typer.Argument(help="approve, reject or comment")],
    person: Annotated[str, typer.Option("--as", help="The approver or reviewer (email) whose decision this is")],
    comment: Annotated[str | None, typer.Option()] = None,
    stage: Annotated[str | None, typer.Option(help="Comment on another stage than the pending one")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Record a named person's decision (approvers decide, reviewers comment)."""
    with unit_of_work(database_url) as session:
        campaign_ops.decide(session, campaign_id, decision, actor=CLI_ACTOR, comment=comment, stage=stage,
                            person=person)  # fmt: skip
        steps = campaign_ops.approval_steps(session, campaign_id)
        console.print(", ".join(f"{s.stage}: {s.status}" for s in steps))


@workboard_app.command("resubmit")
def resubmit(
    campaign_id: Annotated[int, typer.Argument()],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Put a rejected stage back to pending after the changes."""
    with unit_of_work(database_url) as session:
        step = campaign_ops.resubmit(session, campaign_id, actor=CLI_ACTOR, note=note)
        console.print(f"{step.stage}: pending again")


@workboard_app.command("go-live")
def go_live(campaign_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Mark the campaign live; refused while blocking checklist items are open or approvals are missing."""
    with unit_of_work(database_url) as session:
        ops = campaign_ops.go_live(session, campaign_id, actor=CLI_ACTOR)
        console.print(f"campaign {campaign_id} is live since {ops.live_at:%Y-%m-%d %H:%M} UTC")


def _budget_table(session: Session, campaign_id: int | None) -> None:
    table = Table("campaign", "channel", "planned", "committed", "actual", "remaining", title="budget")
    for cid, r in campaign_ops.budget(session, campaign_id):
        over = " [red]over[/]" if r.over else ""
        table.add_row(str(cid), r.channel, f"{r.planned:,.2f}", f"{r.committed:,.2f}", f"{r.actual:,.2f}",
                      f"{r.remaining:,.2f} {r.currency}{over}")  # fmt: skip
    console.print(table)


@workboard_app.command("budget")
def budget(
    campaign_id: Annotated[int | None, typer.Argument(help="One campaign (default: all)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Planned vs committed vs actual spend per campaign and channel."""
    with unit_of_work(database_url) as session:
        _budget_table(session, campaign_id)


def _money(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise _fail(f"{name} must be a number, got {value!r}") from exc


@workboard_app.command("budget-set")
def budget_set(
    campaign_id: Annotated[int, typer.Argument()],
    channel: Annotated[str, typer.Argument()],
    planned: Annotated[str | None, typer.Option()] = None,
    committed: Annotated[str | None, typer.Option()] = None,
    currency: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Set the planned or committed money of a campaign's channel."""
    p, c = _money(planned, "planned"), _money(committed, "committed")
    with unit_of_work(database_url) as session:
        campaign_ops.set_budget(session, campaign_id, channel, actor=CLI_ACTOR, planned=p, committed=c,
                                currency=currency)  # fmt: skip
        _budget_table(session, campaign_id)


# --- naming and UTM ------------------------------------------------------------------------------


@workboard_app.command("name")
def name(
    parts: Annotated[list[str], typer.Argument(help="field=value for each field of the convention")],
    database_url: DatabaseOpt = None,
) -> None:
    """Generate a campaign name from its parts (e.g. year=2026 region=emea channel=webinar topic=data-day)."""
    values: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            raise _fail(f"{part!r}: write field=value")
        values[key.strip()] = value.strip()
    with unit_of_work(database_url) as session:
        console.print(generate_name(board.current_spec(session).naming, values), highlight=False)


@workboard_app.command("name-check")
def name_check(names: Annotated[list[str], typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Check names against the convention; each problem comes with a suggested fix. Exit 2 if any is bad."""
    bad = 0
    with unit_of_work(database_url) as session:
        spec = board.current_spec(session).naming
        for value in names:
            issues = check_name(spec, value)
            bad += bool(issues)
            console.print(f"[green]✓[/] {value}" if not issues else f"[red]✗[/] {value}", highlight=False)
            for i in issues:
                hint = f" → {i.suggestion}" if i.suggestion else ""
                console.print(f"    {i.field}: {i.value!r} {i.message}{hint}", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@workboard_app.command("utm-link")
def utm_link(
    url: Annotated[str, typer.Argument()],
    source: Annotated[str, typer.Option()],
    medium: Annotated[str, typer.Option()],
    campaign: Annotated[str, typer.Option()],
    content: Annotated[str | None, typer.Option()] = None,
    term: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Build a tagged link; values that break the convention are refused with the closest allowed one."""
    with unit_of_work(database_url) as session:
        spec = board.current_spec(session).naming
        tagged = build_utm_url(spec, url, source=source, medium=medium, campaign=campaign, content=content,
                               term=term)  # fmt: skip
    print(tagged)


@workboard_app.command("utm-audit")
def utm_audit_cmd(
    days: Annotated[int, typer.Option(help="Events of the last DAYS days")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Imported events and spend whose UTM tags break the convention, with suggested fixes."""
    with unit_of_work(database_url) as session:
        events = utm_audit.audit_events(session, days=days)
        spend = utm_audit.audit_spend(session)
    if as_json:
        console.print_json(json.dumps({"events": [f.to_dict() for f in events], "spend": [f.to_dict() for f in spend]}))
        return
    table = Table("kind", "tags", "rows", "problem", "suggested fix", title="UTM audit")
    for f in [*events, *spend]:
        tags = " ".join(f"{k}={v}" for k, v in f.tags.items() if v)
        for i in f.issues:
            table.add_row(f.kind, tags, f"{f.rows:,}", f"{i['field']} {i['message']}", i["suggestion"] or "")
    console.print(table)
    console.print(f"{len(events)} event tag combination(s) and {len(spend)} campaign(s) with spend to fix")
