"""``pitboard``: init, migrate, serve, worker, demo, import, check, users, api keys.

Each command is an entry point and owns its transaction; the work itself lives in the services.
"""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    TaskID,
)
from rich.table import Table
from sqlalchemy import func, select

from pitboard import __version__
from pitboard.cli import project as project_cli
from pitboard.cli.common import (
    CLI_ACTOR,
    DatabaseOpt,
    _engine,
    _fail,
    _require_schema,
    console,
    err,
    progress_bar,
    unit_of_work,
)
from pitboard.cli.consent import audience_app, consent_app, suppressions_app
from pitboard.cli.measurement import measurement_app
from pitboard.cli.privacy import privacy_app
from pitboard.cli.routing import routing_app
from pitboard.cli.scoring import lifecycle_app, scoring_app
from pitboard.cli.segments import segments_app
from pitboard.cli.workboard import workboard_app
from pitboard.cli.workflows import workflows_app
from pitboard.kit import migrate as migrations
from pitboard.kit.db import session_scope
from pitboard.kit.errors import PitboardError
from pitboard.logging import configure_logging

app = typer.Typer(help="pitboard: the marketing team's pit crew.", no_args_is_help=True, add_completion=False)
users_app = typer.Typer(help="People who log into the web UI.", no_args_is_help=True)
keys_app = typer.Typer(help="REST API keys.", no_args_is_help=True)
sources_app = typer.Typer(help="Event sources and their write keys.", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Records held back with their reasons: list, fix, replay, discard.", no_args_is_help=True
)
quality_app = typer.Typer(help="Data quality: account matching, enrichment, dedupe, scores.", no_args_is_help=True)
contracts_app = typer.Typer(
    help="Data contracts (input standards) from the project's contracts/ folder.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="apikeys")
app.add_typer(sources_app, name="sources")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(contracts_app, name="contracts")
app.add_typer(quality_app, name="quality")
app.add_typer(consent_app, name="consent")
app.add_typer(suppressions_app, name="suppressions")
app.add_typer(audience_app, name="audience")
app.add_typer(privacy_app, name="privacy")
app.add_typer(segments_app, name="segments")
app.add_typer(scoring_app, name="scoring")
app.add_typer(lifecycle_app, name="lifecycle")
app.add_typer(routing_app, name="routing")
app.add_typer(workflows_app, name="workflows")
app.add_typer(measurement_app, name="metrics")
app.add_typer(workboard_app, name="board")
app.command("plan")(project_cli.plan)
app.command("apply")(project_cli.apply)
app.command("versions")(project_cli.versions)
app.command("schema")(project_cli.schema)


@app.callback()
def main(
    log_level: Annotated[str, typer.Option(envvar="PITBOARD_LOG_LEVEL")] = "INFO",
    log_format: Annotated[str, typer.Option(envvar="PITBOARD_LOG_FORMAT", help="console or json")] = "console",
) -> None:
    configure_logging(log_level, log_format)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Project folder to create")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: the folder name)")] = None,
    database_url: DatabaseOpt = None,
    skip_migrate: Annotated[bool, typer.Option("--skip-migrate", help="Only write the project files")] = False,
) -> None:
    """Create an ops-as-code project folder and bring the database schema up to date."""
    from pitboard.project.loader import scaffold

    project_name = name or re.sub(r"[^a-z0-9_-]+", "-", path.resolve().name.lower()).strip("-") or "pitboard"
    for written in scaffold(path, name=project_name):
        console.print(f"created {written}")
    if not skip_migrate:
        migrate(database_url=database_url)


@app.command()
def migrate(
    database_url: DatabaseOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision for upgrade")] = "head",
    downgrade: Annotated[str | None, typer.Option(help="Downgrade to this revision instead (e.g. base)")] = None,
) -> None:
    """Upgrade (or downgrade) the database schema."""
    engine = _engine(database_url)
    before = migrations.current_revision(engine)
    if downgrade is not None:
        migrations.downgrade(engine, downgrade)
    else:
        migrations.upgrade(engine, revision)
    after = migrations.current_revision(engine)
    console.print(f"schema: {before or 'empty'} → {after or 'empty'} ({engine.dialect.name})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    database_url: DatabaseOpt = None,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only for >1)")] = 1,
) -> None:
    """Serve the web UI and the API."""
    import os

    import uvicorn

    engine = _engine(database_url)
    _require_schema(engine)
    if database_url:
        os.environ["PITBOARD_DATABASE_URL"] = database_url
    console.print(
        f"pitboard {__version__} on http://{host}:{port}  (API docs: /api/v1/docs, database: {engine.dialect.name})"
    )
    uvicorn.run("pitboard.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info")


@app.command()
def worker(
    database_url: DatabaseOpt = None,
    burst: Annotated[bool, typer.Option("--burst", help="Exit once no job is due")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls when idle")] = 1.0,
    schedule: Annotated[bool, typer.Option("--schedule/--no-schedule", help="Enqueue the daily jobs")] = True,
) -> None:
    """Run background jobs until stopped (Ctrl-C or SIGTERM finish the current job first)."""
    from pitboard.worker.runner import run_worker

    engine = _engine(database_url)
    _require_schema(engine)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    outcomes = run_worker(engine, poll_seconds=poll, stop=stop, burst=burst, schedule=schedule)
    console.print("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "none due"))


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(help="How many contacts to generate")] = 20_000,
    seed: Annotated[int, typer.Option(help="Same seed, same data")] = 42,
    database_url: DatabaseOpt = None,
    ground_truth: Annotated[Path, typer.Option(help="Where to write the dirty-data labels")] = Path(
        "demo-data/ground_truth.jsonl"
    ),
    admin_email: Annotated[str, typer.Option(help="Demo login")] = "admin@example.com",
    admin_password: Annotated[str, typer.Option(help="Demo password")] = "pitboard-demo",  # noqa: S107 (a demo login)
    force: Annotated[bool, typer.Option("--force", help="Regenerate even if the database has contacts")] = False,
) -> None:
    """Migrate, fill the database with a realistic synthetic data set, and create a demo login and API key."""
    from pitboard.auth import service as auth
    from pitboard.demo import generate_demo
    from pitboard.demo.consent import generate_consent
    from pitboard.events import sources
    from pitboard.models import Contact, User

    engine = _engine(database_url)
    migrations.upgrade(engine)
    with session_scope(engine) as s:
        existing = s.scalar(select(func.count()).select_from(Contact)) or 0
    if existing and not force:
        console.print(
            f"the database already has {existing:,} contacts; keeping them (use --force on an empty database)"
        )
    else:
        ground_truth.parent.mkdir(parents=True, exist_ok=True)
        with progress_bar() as bar:
            tasks: dict[str, TaskID] = {}

            def report(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done, total=total)

            summary = generate_demo(
                engine, contacts=contacts, seed=seed, ground_truth_path=ground_truth, progress=report
            )
            consent_counts = generate_consent(
                engine, seed=seed, now=summary.now, progress=lambda done, total: report("consent", done, total)
            )
        table = Table("table", "rows", title=f"demo data in {summary.elapsed_seconds:.1f}s")
        for table_name, count in {**summary.counts, **consent_counts}.items():
            table.add_row(table_name, f"{count:,}")
        console.print(table)
        console.print(f"ground-truth labels: {ground_truth}")
    with session_scope(engine) as s:
        if s.scalar(select(User.id).where(User.email == admin_email)) is None:
            auth.create_user(s, email=admin_email, name="Demo Admin", password=admin_password, role="admin",
                             actor=CLI_ACTOR)  # fmt: skip
            key = auth.create_api_key(s, name="demo", role="admin", actor=CLI_ACTOR)
            source = sources.create_source(s, name="website", kind="website", actor=CLI_ACTOR)
            console.print(f"web login: {admin_email} / {admin_password}")
            console.print(f"API key (shown once): {key.secret}")
            console.print(f"write key of source 'website' for Segment-compatible clients: {source.write_key}")


@app.command("import")
def import_(
    entity: Annotated[str, typer.Argument(help="contacts, accounts, opportunities, events or campaign_spend")],
    path: Annotated[Path, typer.Argument(help="CSV or JSON Lines (.jsonl) file", exists=True, dir_okay=False)],
    preset: Annotated[str | None, typer.Option(help="Column mapping of an export: hubspot or salesforce")] = None,
    mapping: Annotated[Path | None, typer.Option(help="Your own column mapping (YAML)", exists=True)] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (selects data contracts; events land under it)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Import a file: upsert by email / domain / external id; rows that break a rule are quarantined with reasons."""
    from pitboard.imports.service import import_file

    engine = _engine(database_url)
    _require_schema(engine)
    total = _count_lines(path)
    try:
        with progress_bar() as bar:
            task = bar.add_task(f"importing {entity}", total=total)
            summary = import_file(engine, entity, path, actor=CLI_ACTOR, preset=preset, mapping_file=mapping,
                                  source_name=source, progress=lambda n: bar.advance(task, n))  # fmt: skip
    except PitboardError as exc:
        raise _fail(exc.message) from exc
    console.print(
        f"import {summary.run_id}: {summary.rows:,} rows: {summary.created:,} created, {summary.updated:,} updated, "
        f"{summary.unchanged:,} unchanged, {summary.quarantined:,} quarantined"
    )
    if summary.ignored_columns:
        console.print(f"columns not mapped (ignored): {', '.join(summary.ignored_columns)}", soft_wrap=True)
    if summary.quarantined:
        for line in summary.problems_sample:
            err.print(f"  {line}", soft_wrap=True, highlight=False)
        err.print(f"quarantined rows keep every reason: `pitboard quarantine list --run {summary.run_id}`")
        raise typer.Exit(2)


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    return max(lines - (0 if path.suffix.lower() in (".jsonl", ".ndjson") else 1), 0)


@app.command()
def check(path: Annotated[Path, typer.Argument(help="Project folder")] = Path(".")) -> None:
    """Validate the ops-as-code project folder; problems are listed with file, line and field."""
    from pitboard.project.loader import load_project

    project = load_project(path)
    for problem in project.problems:
        err.print(f"[red]✗[/] {problem}", soft_wrap=True, highlight=False)
    if not project.ok:
        raise _fail(f"{len(project.problems)} problem(s) in {path}")
    console.print(f"[green]✓[/] {path}: {', '.join(sorted(project.files))} valid")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(prompt=True)],
    name: Annotated[str, typer.Option(prompt=True)],
    role: Annotated[str, typer.Option(help="viewer, editor or admin")] = "viewer",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
    database_url: DatabaseOpt = None,
) -> None:
    """Create a web login."""
    from pitboard.auth import service as auth

    with unit_of_work(database_url) as s:
        user = auth.create_user(s, email=email, name=name, password=password, role=role, actor=CLI_ACTOR)
        console.print(f"user {user.id} {user.email} ({user.role}) created")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    role: Annotated[str, typer.Option(help="viewer, editor or admin")] = "viewer",
    database_url: DatabaseOpt = None,
) -> None:
    """Create an API key; the key is printed once and only its hash is stored."""
    from pitboard.auth import service as auth

    with unit_of_work(database_url) as s:
        issued = auth.create_api_key(s, name=name, role=role, actor=CLI_ACTOR)
    console.print(issued.secret)


@keys_app.command("list")
def keys_list(database_url: DatabaseOpt = None) -> None:
    """List API keys (prefix, role, last use); secrets are never shown again."""
    from pitboard.auth import service as auth

    engine = _engine(database_url)
    table = Table("id", "name", "prefix", "role", "created", "last used", "revoked")
    with session_scope(engine) as s:
        for k in auth.list_api_keys(s):
            table.add_row(str(k.id), k.name, k.prefix, k.role, f"{k.created_at:%Y-%m-%d}",
                          f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
                          f"{k.revoked_at:%Y-%m-%d}" if k.revoked_at else "")  # fmt: skip
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Revoke an API key at once."""
    from pitboard.auth import service as auth

    with unit_of_work(database_url, require_schema=False) as s:
        auth.revoke_api_key(s, key_id=key_id, actor=CLI_ACTOR)
    console.print(f"API key {key_id} revoked")


@sources_app.command("create")
def sources_create(
    name: Annotated[str, typer.Option(help="e.g. website, product, salesforce")],
    kind: Annotated[str, typer.Option(help="website, server, mobile, crm, import, other")] = "server",
    database_url: DatabaseOpt = None,
) -> None:
    """Create a source; prints its write key for Segment-compatible clients."""
    from pitboard.events import sources

    with unit_of_work(database_url) as s:
        source = sources.create_source(s, name=name, kind=kind, actor=CLI_ACTOR)
        write_key = source.write_key
    console.print(write_key)


@sources_app.command("list")
def sources_list(database_url: DatabaseOpt = None) -> None:
    """List sources with their write keys and when they last sent an event."""
    from pitboard.events import sources

    engine = _engine(database_url)
    table = Table("id", "name", "kind", "write key", "enabled", "last event")
    with session_scope(engine) as s:
        for src in sources.list_sources(s):
            last = f"{src.last_event_at:%Y-%m-%d %H:%M}" if src.last_event_at else "-"
            table.add_row(str(src.id), src.name, src.kind, src.write_key, "yes" if src.enabled else "no", last)
    console.print(table)


@contracts_app.command("apply")
def contracts_apply(
    path: Annotated[Path, typer.Argument(help="Project folder")] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change, change nothing")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Validate the project's contracts and make the database's active contracts equal to them."""
    from pitboard.project.loader import load_project
    from pitboard.quality.contract_store import apply_contracts

    project = load_project(path)
    for problem in project.problems:
        err.print(f"[red]✗[/] {problem}", soft_wrap=True, highlight=False)
    if not project.ok:
        raise _fail(f"{len(project.problems)} problem(s) in {path}; nothing applied")
    engine = _engine(database_url)
    _require_schema(engine)
    with session_scope(engine) as s:
        result = apply_contracts(s, project.contracts, actor=CLI_ACTOR, dry_run=dry_run)
        if dry_run:
            s.rollback()
    verb = "would be" if dry_run else ""
    for label, names in (("created", result.created), ("updated", result.updated),
                         ("deactivated", result.deactivated), ("unchanged", result.unchanged)):  # fmt: skip
        if names:
            console.print(f"{verb} {label}: {', '.join(names)}".strip())
    if not (result.created or result.updated or result.deactivated or result.unchanged):
        console.print("no contracts in the project and none applied")


@quarantine_app.command("list")
def quarantine_list(
    status: Annotated[str, typer.Option(help="open, replayed, discarded or all")] = "open",
    entity: Annotated[str | None, typer.Option(help="events, contacts, accounts, ...")] = None,
    run: Annotated[int | None, typer.Option("--run", help="Only rows of this import run")] = None,
    limit: Annotated[int, typer.Option(help="How many to show")] = 50,
    database_url: DatabaseOpt = None,
) -> None:
    """List quarantined records with their reasons."""
    from pitboard.quality import quarantine

    engine = _engine(database_url)
    f = quarantine.QuarantineFilter(status=None if status == "all" else status, entity=entity, import_run_id=run)
    table = Table("id", "received", "via", "entity", "status", "reasons")
    with session_scope(engine) as s:
        page = quarantine.list_records(s, f, limit=limit)
        for r in page.items:
            table.add_row(
                str(r.id), f"{r.received_at:%Y-%m-%d %H:%M}", r.channel, r.entity, r.status, "\n".join(r.reasons)
            )
        counts = quarantine.count_by_status(s)
    console.print(table)
    console.print(", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "the quarantine is empty")


@quarantine_app.command("show")
def quarantine_show(record_id: Annotated[int, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """Show one record whole: payload and reasons (JSON)."""
    import json

    from pitboard.quality import quarantine

    with unit_of_work(database_url, require_schema=False) as s:
        r = quarantine.get(s, record_id)
        body = {"id": r.id, "channel": r.channel, "entity": r.entity, "status": r.status, "reasons": r.reasons,
                "payload": r.payload}  # fmt: skip
    console.print_json(json.dumps(body, default=str))


@quarantine_app.command("replay")
def quarantine_replay(
    record_ids: Annotated[list[int], typer.Argument(help="Record ids")], database_url: DatabaseOpt = None
) -> None:
    """Run records through their pipeline again (fix them first via the API or web UI)."""
    from pitboard.quality import quarantine

    engine = _engine(database_url)
    failed = 0
    for record_id in record_ids:
        try:
            with session_scope(engine) as s:
                r = quarantine.replay(s, record_id, actor=CLI_ACTOR)
                status, reasons = r.status, list(r.reasons)
        except PitboardError as exc:
            raise _fail(exc.message) from exc
        if status == "replayed":
            console.print(f"{record_id}: replayed")
        else:
            failed += 1
            err.print(f"{record_id}: still open: {'; '.join(reasons)}", soft_wrap=True, highlight=False)
    if failed:
        raise typer.Exit(2)


@quarantine_app.command("discard")
def quarantine_discard(
    record_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why it is dropped (kept in the audit log)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Discard a record on purpose, with the reason recorded."""
    from pitboard.quality import quarantine

    with unit_of_work(database_url, require_schema=False) as s:
        quarantine.discard(s, record_id, reason=reason, actor=CLI_ACTOR)
    console.print(f"{record_id}: discarded")


@quality_app.command("match-accounts")
def quality_match_accounts(
    rematch: Annotated[bool, typer.Option("--rematch", help="Also re-match contacts that have an account")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Attach contacts to accounts by email domain, then company name; unmatched ones get a reason."""
    from pitboard.quality.account_match import match_contacts

    engine = _engine(database_url)
    _require_schema(engine)
    with session_scope(engine) as s:
        summary = match_contacts(s, rematch=rematch)
    table = Table("how", "contacts", title=f"{summary.examined:,} contacts examined")
    for method, count in summary.by_method.most_common():
        table.add_row(method, f"{count:,}")
    console.print(table)
    if summary.by_method.get("unmatched"):
        console.print("unmatched contacts keep their reason: filter the API with ?account_match=unmatched")


@quality_app.command("enrich")
def quality_enrich(
    file: Annotated[
        Path,
        typer.Option(
            "--file", help="Firmographics CSV: domain,name,industry,employee_count,...", exists=True, dir_okay=False
        ),
    ],
    provider: Annotated[str, typer.Option(help="Name recorded as the source of filled fields")] = "file",
    database_url: DatabaseOpt = None,
) -> None:
    """Fill account firmographics from a local file without overwriting better values."""
    from pitboard.quality.enrich import FileProvider, enrich_accounts

    engine = _engine(database_url)
    _require_schema(engine)
    try:
        source = FileProvider(file, name=provider)
        with session_scope(engine) as s:
            summary = enrich_accounts(s, source, actor=CLI_ACTOR)
    except PitboardError as exc:
        raise _fail(exc.message) from exc
    console.print(f"{summary.accounts_found:,} of {summary.accounts_seen:,} accounts found in {file.name}")
    for name, count in sorted(summary.fields_filled.items()):
        kept = summary.fields_kept.get(name, 0)
        console.print(f"  {name}: {count:,} filled" + (f", {kept:,} kept (better source)" if kept else ""))


@quality_app.command("dedupe")
def quality_dedupe(
    auto_merge: Annotated[bool, typer.Option("--auto-merge/--review-only", help="Merge sure pairs at once")] = True,
    evaluate_against: Annotated[
        Path | None,
        typer.Option("--evaluate", help="Ground-truth JSON Lines to score against", exists=True, dir_okay=False),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Find duplicate contacts and accounts: merge the sure ones, queue the rest for review."""
    from pitboard.quality.dedupe import evaluate, load_contacts
    from pitboard.quality.dedupe_service import run_dedupe

    engine = _engine(database_url)
    _require_schema(engine)
    if evaluate_against is not None:
        from pitboard.quality.dedupe import dedupe_contacts

        with session_scope(engine) as s:
            result = dedupe_contacts(load_contacts(s))
        for band, clusters in (("auto-merge", result.auto_clusters), ("auto-merge + review", result.review_clusters)):
            ev = evaluate(clusters, evaluate_against)
            console.print(f"{band}: precision {ev.precision:.4f}, recall {ev.recall:.4f}, F1 {ev.f1:.4f}")
    with session_scope(engine) as s:
        summary = run_dedupe(s, actor=CLI_ACTOR, auto_merge=auto_merge)
    console.print(
        f"{summary.contacts:,} contacts: {summary.pairs.get('auto_merge', 0):,} sure pairs, "
        f"{summary.pairs.get('review', 0):,} to review; {summary.merged:,} merged; "
        f"{summary.account_pairs:,} account pairs queued; {summary.queued:,} pairs wait for review"
    )
    console.print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items()))


@quality_app.command("report")
def quality_report(database_url: DatabaseOpt = None) -> None:
    """Take today's data-quality snapshot (completeness, validity, uniqueness, freshness) and show it."""
    from pitboard.quality.scores import render_report, report, take_snapshot

    engine = _engine(database_url)
    _require_schema(engine)
    with session_scope(engine) as s:
        snapshot = take_snapshot(s)
        render_report(report(s, snapshot=snapshot), console)
