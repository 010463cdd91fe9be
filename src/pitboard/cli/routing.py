"""``pitboard routing``: route and explain leads, the unassigned queue, SLAs, availability, absences,
dispositions, bulk re-routes and reports. The flow itself is ``routing.yml`` in the project (``pitboard apply``)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, progress_bar, unit_of_work
from pitboard.conditions import ConditionError, load_field_registry, parse_condition
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.routing import service
from pitboard.routing.engine import BATCH, reroute_matching
from pitboard.routing.sla import check_slas

routing_app = typer.Typer(help="Lead routing: flows, pools, assignments, SLAs, dispositions.", no_args_is_help=True)


def _when(value: datetime | None) -> str:
    return ensure_utc(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _print_decision(d: dict[str, Any]) -> None:
    console.print(f"[bold]{_when(d['decided_at'])}[/] {d['trigger']} → [bold]{d['outcome']}[/]"
                  f"{' to ' + d['owner'] if d['owner'] else ''}{' queue ' + d['queue'] if d['queue'] else ''}",
                  highlight=False)  # fmt: skip
    console.print(f"  why: {d['reason']}", highlight=False, soft_wrap=True)
    for r in d["rules"]:
        mark = "✓" if r.get("matched") else "·"
        console.print(f"  {mark} rule {r['rule']}{': ' + r['note'] if r.get('note') else ''}", highlight=False)
    for c in d["candidates"]:
        mark = "→" if c.get("chosen") else " "
        console.print(f"    {mark} {c['name']}: {c['why']}", highlight=False)


@routing_app.command("route")
def route(
    contact_id: Annotated[int, typer.Argument()],
    only_if_needed: Annotated[bool, typer.Option("--only-if-needed", help="Skip a contact already routed")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Route one contact now with the applied flow, and explain the decision."""
    with unit_of_work(database_url) as session:
        out = service.route_one(session, contact_id=contact_id, actor=CLI_ACTOR, force=not only_if_needed)
        console.print(f"contact {contact_id}: [bold]{out.outcome}[/] — {out.reason}", highlight=False, soft_wrap=True)
        if out.outcome != "skipped":
            _print_decision(service.decision_log(session, contact_id=contact_id, limit=1)[0])


@routing_app.command("explain")
def explain(contact_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Every routing decision about a contact: rules, candidates and why each was skipped or chosen."""
    with unit_of_work(database_url) as session:
        log = service.decision_log(session, contact_id=contact_id)
        if not log:
            raise _fail(f"contact {contact_id} was never routed")
        for d in log:
            _print_decision(d)


@routing_app.command("queue")
def queue(
    status: Annotated[str, typer.Option(help="unassigned, queued, assigned or rejected")] = "unassigned",
    limit: Annotated[int, typer.Option()] = 50,
    database_url: DatabaseOpt = None,
) -> None:
    """Leads in a routing state; the unassigned queue by default, with the reason for each."""
    if status not in ("unassigned", "queued", "assigned", "rejected"):
        raise _fail("--status must be unassigned, queued, assigned or rejected")
    with unit_of_work(database_url) as session:
        table = Table("contact", "name", "routed", "owner/queue", "rule", "reason")
        for lead in service.leads(session, status=status, limit=limit):
            table.add_row(str(lead["contact_id"]), lead["name"], _when(lead["routed_at"]),
                          lead["owner"] or lead["queue"] or "", lead["rule"] or "", lead["reason"] or "")  # fmt: skip
        console.print(table)


@routing_app.command("sla")
def sla(
    check: Annotated[
        bool, typer.Option("--check", help="Run the SLA check now (as the worker does each minute)")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Leads past their time to first touch, most overdue first."""
    with unit_of_work(database_url) as session:
        if check:
            console.print(check_slas(session))
        now = utcnow()
        table = Table("contact", "name", "owner", "rule", "due", "overdue min", "escalation")
        for lead in service.leads(session, overdue_at=now, limit=100):
            late = (now - ensure_utc(lead["sla_due_at"])).total_seconds() // 60
            table.add_row(str(lead["contact_id"]), lead["name"], lead["owner"] or "", lead["rule"] or "",
                          _when(lead["sla_due_at"]), f"{late:.0f}", str(lead["escalation_level"]))  # fmt: skip
        console.print(table)


@routing_app.command("availability")
def availability(database_url: DatabaseOpt = None) -> None:
    """Every sales user: available now or why not, open leads against capacity, leads in the last 24 hours."""
    with unit_of_work(database_url) as session:
        table = Table("name", "team", "territory", "local time", "available", "open/capacity", "24h")
        for p in service.availability(session):
            table.add_row(p["name"], p["team"] or "", p["territory"] or "", p["local_time"],
                          "yes" if p["available"] else p["why"],
                          f"{p['open_leads']}/{p['capacity'] if p['capacity'] is not None else '∞'}",
                          str(p["last_24h"]))  # fmt: skip
        console.print(table)


@routing_app.command("away")
def away(
    email: Annotated[str, typer.Argument(help="The sales user's email")],
    starts: Annotated[datetime, typer.Option("--from", help="Start (UTC)")],
    ends: Annotated[datetime, typer.Option("--until", help="End (UTC)")],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Record an absence (out of office): routing skips the person meanwhile."""
    with unit_of_work(database_url) as session:
        row = service.add_out_of_office(session, user_email=email, starts_at=starts, ends_at=ends, note=note,
                                        actor=CLI_ACTOR)  # fmt: skip
        console.print(f"absence {row.id}: {email} away {_when(row.starts_at)} to {_when(row.ends_at)}")


@routing_app.command("accept")
def accept(
    contact_id: Annotated[int, typer.Argument()],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Sales accepts a lead."""
    with unit_of_work(database_url) as session:
        service.dispose(session, contact_id=contact_id, disposition="accepted", reason=None, note=note, actor=CLI_ACTOR)
        console.print(f"contact {contact_id}: accepted")


@routing_app.command("reject")
def reject(
    contact_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="One of the flow's rejection_reasons")],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Sales rejects a lead, with a reason (feeds `pitboard routing report`)."""
    with unit_of_work(database_url) as session:
        service.dispose(session, contact_id=contact_id, disposition="rejected", reason=reason, note=note,
                        actor=CLI_ACTOR)  # fmt: skip
        console.print(f"contact {contact_id}: rejected ({reason})")


@routing_app.command("reroute")
def reroute(
    where: Annotated[
        str | None, typer.Option("--where", help="A condition as YAML/JSON; every contact if left out")
    ] = None,
    notify: Annotated[bool, typer.Option(help="Tell the new owners")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Re-route every contact matching a condition, in batches of 1,000 (one transaction each)."""
    condition = None
    if where is not None:
        try:
            data = yaml.safe_load(where)
        except yaml.YAMLError as exc:
            raise _fail(f"--where is not valid YAML: {exc}") from exc
        with unit_of_work(database_url) as session:
            try:
                condition = parse_condition(data, load_field_registry(session))
            except ConditionError as exc:
                raise _fail(f"--where: {exc}") from exc
    counts: dict[str, int] = {}
    after: int | None = 0
    started = time.perf_counter()
    with progress_bar(transient=True) as bar:
        job = bar.add_task("re-routing", total=None)
        while after is not None:
            with unit_of_work(database_url) as session:
                outcomes, after = reroute_matching(session, condition=condition, after_id=after, limit=BATCH,
                                                   actor=CLI_ACTOR, notify=notify)  # fmt: skip
            for o in outcomes:
                counts[o.outcome] = counts.get(o.outcome, 0) + 1
            bar.advance(job, len(outcomes))
    took = time.perf_counter() - started
    total = sum(counts.values())
    rate = f", {total / took:,.0f} leads/s" if took > 0 and total else ""
    console.print(f"re-routed {total:,} contacts in {took:,.1f} s{rate}: {json.dumps(counts)}")


@routing_app.command("report")
def report(
    days: Annotated[int, typer.Option(help="Window in days")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Speed to lead and SLA compliance per rep, team and source; rejections by reason, rule and source."""
    from datetime import timedelta

    since = utcnow() - timedelta(days=days)
    with unit_of_work(database_url) as session:
        speed = service.speed_to_lead(session, since=since)
        rejections = service.rejection_report(session, since=since)
    if as_json:
        console.print_json(json.dumps({"speed_to_lead": speed, "rejections": rejections}, default=str))
        return
    for group in ("rep", "team", "source"):
        table = Table(group, "leads", "touched", "median min", "p90 min", "SLA met", title=f"speed to lead by {group}")
        for row in speed[group]:
            compliance = f"{row['sla_compliance']:.0%}" if row["sla_compliance"] is not None else ""
            table.add_row(row[group], str(row["leads"]), str(row["touched"]), str(row["median_minutes"] or ""),
                          str(row["p90_minutes"] or ""), compliance)  # fmt: skip
        console.print(table)
    console.print(f"dispositions: {rejections['total']}; rejections by reason: {rejections['by_reason']}")
