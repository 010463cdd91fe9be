"""``pitboard privacy``: apply privacy.yml, handle data-subject requests, run the retention policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, unit_of_work
from pitboard.consent.project import apply_privacy
from pitboard.privacy import requests, retention
from pitboard.privacy.export import document_bytes
from pitboard.project.loader import load_project
from pitboard.project.schemas import PrivacyFile
from pitboard.settings import get_settings

privacy_app = typer.Typer(help="Privacy: purposes and retention from privacy.yml, data-subject requests.",
                          no_args_is_help=True)  # fmt: skip


@privacy_app.command("apply")
def privacy_apply(
    path: Annotated[Path, typer.Argument(help="Project folder")] = Path("."), database_url: DatabaseOpt = None
) -> None:
    """Apply the project's privacy.yml: consent purposes, the privacy-policy version, the retention policy."""
    project = load_project(path)
    if not project.ok:
        for problem in project.problems:
            console.print(str(problem))
        raise _fail(f"{len(project.problems)} problems in {path}: nothing applied")
    spec = project.files.get("privacy.yml")
    if not isinstance(spec, PrivacyFile):
        raise _fail(f"{path / 'privacy.yml'} does not exist")
    with unit_of_work(database_url) as session:
        changes = apply_privacy(session, spec, actor=CLI_ACTOR)
    for what, items in changes.items():
        console.print(f"{what}: {', '.join(items)}")
    console.print(f"✓ privacy.yml applied (policy version {spec.policy_version or 'unset'})")


@privacy_app.command("request")
def privacy_request(
    kind: Annotated[str, typer.Argument(help="export or erasure")],
    email: Annotated[str, typer.Argument()],
    notes: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Record a data-subject request (it is due one month after receipt)."""
    with unit_of_work(database_url) as session:
        row = requests.open_request(session, kind=kind, email=email, actor=CLI_ACTOR, settings=get_settings(),
                                    notes=notes)  # fmt: skip
        console.print(f"request #{row.id} ({kind}) recorded; due {row.due_at:%Y-%m-%d}")


@privacy_app.command("requests")
def privacy_requests(
    status: Annotated[str | None, typer.Option(help="received, completed, rejected")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only unanswered requests past their due date")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        table = Table("id", "kind", "status", "subject", "received", "due", "overdue")
        for r in requests.list_requests(session, status, overdue=True if overdue else None):
            table.add_row(str(r.id), r.kind, r.status, r.subject_label, f"{r.requested_at:%Y-%m-%d}",
                          f"{r.due_at:%Y-%m-%d}", "yes" if requests.is_overdue(r) else "")  # fmt: skip
        console.print(table)


@privacy_app.command("export")
def privacy_export(
    request_id: Annotated[int, typer.Argument()],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the JSON document")],
    database_url: DatabaseOpt = None,
) -> None:
    """Answer an access request: write everything held about the person to a JSON file."""
    with unit_of_work(database_url) as session:
        document = requests.complete_export(session, request_id=request_id, actor=CLI_ACTOR)
        output.write_bytes(document_bytes(document))
    console.print(f"request #{request_id} answered: {output} ({output.stat().st_size:,} bytes)")


@privacy_app.command("erase")
def privacy_erase(
    request_id: Annotated[int, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", help="Really erase (it cannot be undone)")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Carry out an erasure request."""
    if not yes:
        raise _fail("erasure cannot be undone: run again with --yes")
    with unit_of_work(database_url) as session:
        result = requests.complete_erasure(session, request_id=request_id, actor=CLI_ACTOR)
    if result.no_data_held:
        console.print(f"request #{request_id}: no data held; the address is now suppressed")
    else:
        console.print(f"request #{request_id}: erased {len(result.contact_ids)} contact(s)")
        console.print(json.dumps(result.counts, indent=2, sort_keys=True))


@privacy_app.command("reject")
def privacy_reject(
    request_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (e.g. identity could not be verified)")],
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        requests.reject(session, request_id=request_id, reason=reason, actor=CLI_ACTOR)
    console.print(f"request #{request_id} rejected")


@privacy_app.command("retention")
def privacy_retention(
    apply: Annotated[bool, typer.Option("--apply", help="Purge now (default: only show what would go)")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Show what the retention policy would remove today, or remove it with --apply."""
    with unit_of_work(database_url) as session:
        if apply:
            counts = retention.apply_retention(session, actor=CLI_ACTOR)
            console.print(json.dumps(counts, indent=2, sort_keys=True))
            return
        plan = retention.plan_retention(session)
        console.print(json.dumps(plan.policy.model_dump(), indent=2))
        for name, count in plan.counts.items():
            cutoff = plan.cutoffs.get(name)
            console.print(f"{name}: {count:,}" + (f" (older than {cutoff:%Y-%m-%d})" if cutoff else " (rule off)"))
