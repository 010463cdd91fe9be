"""``pitboard workflows``: workflows, enrolments, approvals, dead letters, holdout lift, the standard templates,
and the Slack / webhook endpoints that ``notify`` delivers to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, unit_of_work
from pitboard.kit.time import ensure_utc
from pitboard.notify import endpoints, signing
from pitboard.notify import tasks as notify_tasks

workflows_app = typer.Typer(
    help="Workflows: enrolments, steps, approvals, dead letters, holdouts.",
    no_args_is_help=True,
)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "workflows" / "templates"


def _when(value: object) -> str:
    from datetime import datetime

    return ensure_utc(value).isoformat(timespec="seconds") if isinstance(value, datetime) else ""


@workflows_app.command("list")
def workflows_list(database_url: DatabaseOpt = None) -> None:
    """Every workflow with its enrolments by status."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        rows = service.list_workflows(session)
        counts = service.status_counts(session, [r.id for r in rows])
        table = Table("key", "name", "trigger", "origin", "active", "enrolments")
        for row in rows:
            by_status = ", ".join(f"{k} {v}" for k, v in sorted(counts.get(row.id, {}).items()))
            table.add_row(row.key, row.name, str(row.definition.get("trigger", {}).get("type")), row.origin,
                          "yes" if row.active else "no", by_status)  # fmt: skip
        console.print(table)


@workflows_app.command("show")
def workflows_show(key: Annotated[str, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """A workflow's steps with live counts: how often each ran and who is at it now."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        row = service.get_workflow(session, key)
        console.print(f"[bold]{row.name}[/] ({row.key}) · v{row.version} · {row.origin} · "
                      f"{'active' if row.active else 'inactive'} since {_when(row.activated_at)}")  # fmt: skip
        table = Table("step", "action", "ran", "active", "waiting", "approval", "dead")
        for c in service.step_counts(session, row):
            table.add_row(c.step_id, c.action, str(c.ran), *(str(c.here.get(k, 0)) for k in
                          ("active", "waiting", "approval", "dead")))  # fmt: skip
        console.print(table)


@workflows_app.command("enrol")
def workflows_enrol(
    key: Annotated[str, typer.Argument()],
    contact: Annotated[list[int], typer.Option("--contact", help="Contact id (repeatable)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Enrol contacts by hand."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        ids = service.enrol_contacts(session, key, contact, actor=CLI_ACTOR)
    console.print(f"enrolled {len(ids)} of {len(set(contact))} contacts")


@workflows_app.command("journey")
def workflows_journey(contact_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """A contact's enrolments and every step they ran."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        entries = service.journey(session, contact_id)
        if not entries:
            console.print("no enrolments")
        for entry in entries:
            e = entry.enrolment
            console.print(f"[bold]{entry.workflow_key}[/] #{e.id} · {e.status}"
                          f"{' (holdout)' if e.holdout else ''} · enrolled {_when(e.enrolled_at)}")  # fmt: skip
            for log in entry.steps:
                console.print(f"  {_when(log.at)}  {log.step_id:<20} {log.action:<16} {log.outcome}")


@workflows_app.command("approvals")
def workflows_approvals(
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all")] = "pending",
    database_url: DatabaseOpt = None,
) -> None:
    """The approval inbox."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        table = Table("id", "title", "contact", "approvers", "status", "due", "decided by", "reason")
        for a in service.approvals(session, status=None if status == "all" else status):
            table.add_row(str(a.id), a.title, str(a.contact_id), a.approvers or "", a.status, _when(a.due_at),
                          a.decided_by or "", a.reason or "")  # fmt: skip
        console.print(table)


@workflows_app.command("approve")
def workflows_approve(
    approval_id: Annotated[int, typer.Argument()],
    reason: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Approve: the enrolment carries on with the next step."""
    from pitboard.workflows import engine

    with unit_of_work(database_url) as session:
        engine.decide(session, approval_id, approve=True, reason=reason, actor=CLI_ACTOR)
    console.print(f"approval {approval_id} approved")


@workflows_app.command("reject")
def workflows_reject(
    approval_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (required)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Reject with a reason: the enrolment goes to the step's on_reject, or exits."""
    from pitboard.workflows import engine

    with unit_of_work(database_url) as session:
        engine.decide(session, approval_id, approve=False, reason=reason, actor=CLI_ACTOR)
    console.print(f"approval {approval_id} rejected")


@workflows_app.command("tasks")
def workflows_tasks(
    assignee: Annotated[str | None, typer.Option(help="Only this person's tasks (email)")] = None,
    status: Annotated[str, typer.Option(help="open, done, cancelled or all")] = "open",
    database_url: DatabaseOpt = None,
) -> None:
    """Tasks that create_task steps made for people: open ones by due date."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        table = Table("id", "title", "assignee", "contact", "due", "status", "created")
        for t in service.tasks(session, assignee=assignee, status=None if status == "all" else status):
            table.add_row(str(t.id), t.title, t.assignee, str(t.contact_id or ""), _when(t.due_at), t.status,
                          _when(t.created_at))  # fmt: skip
        console.print(table)


@workflows_app.command("task")
def workflows_task(
    task_id: Annotated[int, typer.Argument()],
    status: Annotated[str, typer.Argument(help="done, cancelled, or open to reopen")] = "done",
    database_url: DatabaseOpt = None,
) -> None:
    """Close a task (done by default, or cancelled) or reopen it."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        row = service.set_task_status(session, task_id, status, actor=CLI_ACTOR)
        console.print(f"task {row.id} is {row.status}")


@workflows_app.command("dead-letters")
def workflows_dead(database_url: DatabaseOpt = None) -> None:
    """Enrolments whose step failed every retry (replay them after fixing the cause)."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        table = Table("enrolment", "workflow", "contact", "step", "error")
        keys = {r.id: r.key for r in service.list_workflows(session)}
        for e in service.dead_letters(session):
            table.add_row(str(e.id), keys.get(e.workflow_id, "?"), str(e.contact_id), e.step_id or "",
                          (e.last_error or "")[:120])  # fmt: skip
        console.print(table)


@workflows_app.command("replay")
def workflows_replay(enrolment_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Run a dead enrolment's failed step again."""
    from pitboard.workflows import engine

    with unit_of_work(database_url) as session:
        engine.replay(session, enrolment_id, actor=CLI_ACTOR)
    console.print(f"enrolment {enrolment_id} queued again")


@workflows_app.command("lift")
def workflows_lift(key: Annotated[str, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Conversion and pipeline of enrolled contacts against the holdout, with 95% confidence intervals."""
    from pitboard.workflows import service

    with unit_of_work(database_url) as session:
        r = service.lift(session, service.get_workflow(session, key))
    table = Table("group", "contacts", "converted", "rate", "pipeline / contact")
    for name, arm in (("treated", r.treatment), ("holdout", r.control)):
        table.add_row(name, str(arm.n), str(arm.converted), f"{arm.rate:.1%}", f"{arm.pipeline_per_contact:,.2f}")
    console.print(table)
    if r.conversion_diff is not None and r.conversion_ci is not None:
        lo, hi = r.conversion_ci
        console.print(f"conversion lift: {r.conversion_diff:+.1%} (95% CI {lo:+.1%} to {hi:+.1%})")
    if r.pipeline_diff is not None and r.pipeline_ci is not None:
        lo, hi = r.pipeline_ci
        console.print(f"pipeline per contact: {r.pipeline_diff:+,.2f} (95% CI {lo:+,.2f} to {hi:+,.2f})")
    if r.note:
        console.print(f"[yellow]{r.note}[/]")


@workflows_app.command("template")
def workflows_template(
    name: Annotated[str | None, typer.Argument(help="event-registration, trial-signup or hard-bounce")] = None,
    into: Annotated[Path | None, typer.Option(help="Write into this project folder's workflows/")] = None,
) -> None:
    """The standard workflows: list them, print one, or copy one into a project."""
    available = sorted(p.stem for p in TEMPLATE_DIR.glob("*.yml"))
    if name is None:
        console.print("\n".join(available))
        return
    if name not in available:
        raise _fail(f"no template {name!r}; there are: {', '.join(available)}")
    text = (TEMPLATE_DIR / f"{name}.yml").read_text()
    if into is None:
        console.print(text, highlight=False, markup=False)
        return
    target = into / "workflows" / f"{name}.yml"
    if target.exists():
        raise _fail(f"{target} exists already")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(f"wrote {target}")


# --- notification endpoints --------------------------------------------------------------------------


@workflows_app.command("endpoint-set")
def endpoint_set(
    key: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="slack or webhook")],
    url: Annotated[str, typer.Option(help="http(s) URL, or env:NAME")],
    secret: Annotated[str | None, typer.Option(help="Webhooks: whsec_..., env:NAME, or 'new' to generate")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    disabled: Annotated[bool, typer.Option("--disabled")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create or replace a Slack or webhook endpoint for notifications."""
    generated = signing.new_secret() if secret == "new" else None  # noqa: S105 (the word, not a secret)
    with unit_of_work(database_url) as session:
        endpoints.set_endpoint(session, key=key, kind=kind, url=url, secret=generated or secret,
                               description=description, active=not disabled, actor=CLI_ACTOR)  # fmt: skip
    console.print(f"endpoint {key} saved")
    if generated:
        console.print(f"signing secret (give it to the receiver; it is not shown again): {generated}")


@workflows_app.command("endpoint-list")
def endpoint_list(database_url: DatabaseOpt = None) -> None:
    """Endpoints (URLs masked: a Slack webhook URL is a credential)."""
    from pitboard.notify.api import EndpointOut

    with unit_of_work(database_url) as session:
        table = Table("key", "kind", "url", "secret", "active")
        for row in endpoints.list_endpoints(session):
            out = EndpointOut.of(row)
            table.add_row(out.key, out.kind, out.url, "yes" if out.has_secret else "", "yes" if out.active else "no")
        console.print(table)


@workflows_app.command("endpoint-delete")
def endpoint_delete(key: Annotated[str, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Delete an endpoint (queued deliveries to it are then recorded as blocked)."""
    with unit_of_work(database_url) as session:
        endpoints.delete_endpoint(session, key, actor=CLI_ACTOR)
    console.print(f"endpoint {key} deleted")


@workflows_app.command("notify-test")
def notify_test(
    to: Annotated[str, typer.Argument(help="email:<address>, slack:<key> or webhook:<key>")],
    database_url: DatabaseOpt = None,
) -> None:
    """Queue a test notification (the worker delivers it)."""
    import secrets

    from pitboard.notify import notify

    with unit_of_work(database_url) as session:
        notify(session, to=to, subject="pitboard test notification", text="If you can read this, it works.",
               idempotency_key=f"test:{secrets.token_hex(8)}")  # fmt: skip
    console.print("queued; `pitboard workflows deliveries` shows the outcome once the worker ran")


@workflows_app.command("deliveries")
def deliveries(
    status: Annotated[str | None, typer.Option(help="queued, delivered, failed, dead, blocked")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Recent Slack and webhook deliveries."""
    from sqlalchemy import select

    from pitboard.models.workflows import NotifyDelivery

    with unit_of_work(database_url) as session:
        stmt = select(NotifyDelivery).order_by(NotifyDelivery.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(NotifyDelivery.status == status)
        rows = list(session.scalars(stmt))
    if as_json:
        data = [{"id": r.id, "endpoint": r.endpoint_key, "status": r.status, "attempts": r.attempts,
                 "last_error": r.last_error} for r in rows]  # fmt: skip
        console.print_json(json.dumps(data))
        return
    table = Table("id", "endpoint", "subject", "status", "attempts", "HTTP", "error")
    for r in rows:
        table.add_row(str(r.id), r.endpoint_key, r.subject[:40], r.status, str(r.attempts),
                      str(r.last_status or ""), (r.last_error or "")[:60])  # fmt: skip
    console.print(table)


@workflows_app.command("delivery-replay")
def delivery_replay(delivery_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Send a dead delivery again."""
    with unit_of_work(database_url) as session:
        notify_tasks.replay(session, delivery_id)
    console.print(f"delivery {delivery_id} queued again")
