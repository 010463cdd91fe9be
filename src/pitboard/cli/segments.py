"""``pitboard segments``: list, show, refresh, preview a definition file, list members, import a list, and
export members through the consent gate."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, err, progress_bar, unit_of_work
from pitboard.conditions import load_field_registry
from pitboard.kit.time import ensure_utc
from pitboard.project.yamlfile import YamlError, load_yaml
from pitboard.segments import activation, members, service
from pitboard.segments.graph import topological_order
from pitboard.segments.matching import PREVIEW_LIMIT, active_segments, preview
from pitboard.segments.refresh import RefreshResult, dependency_graph, refresh_segments
from pitboard.segments.schemas import SpecInvalid, validate_spec

segments_app = typer.Typer(
    help="Segments: list, show, refresh, preview, members, import, export.", no_args_is_help=True
)


def _when(value: datetime | None) -> str:
    return ensure_utc(value).isoformat(timespec="seconds") if value else "never"


@segments_app.command("list")
def segments_list(
    include_inactive: Annotated[bool, typer.Option("--all", help="Include inactive segments")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Every segment with its member count and last refresh."""
    with unit_of_work(database_url) as session:
        table = Table("key", "name", "entity", "kind", "origin", "members", "refreshed", "ms")
        for row in service.list_segments(session, include_inactive=include_inactive):
            name = row.name if row.active else f"{row.name} (inactive)"
            took = f"{row.refresh_ms:,.0f}" if row.refresh_ms is not None else ""
            table.add_row(row.key, name, row.entity, row.kind, row.origin, f"{row.member_count:,}",
                          _when(row.refreshed_at), took)  # fmt: skip
        console.print(table)


@segments_app.command("show")
def segments_show(
    key: Annotated[str, typer.Argument()],
    days: Annotated[int, typer.Option(help="Days of entries and exits to show")] = 14,
    database_url: DatabaseOpt = None,
) -> None:
    """A segment's definition (as YAML), its members and its entries and exits per day."""
    with unit_of_work(database_url) as session:
        row = service.get_segment(session, key)
        owner = f"project ({service.project_file(key)})" if row.origin == service.PROJECT else row.origin
        console.print(f"[bold]{row.name}[/] ({row.key}) · {row.entity} {row.kind} · defined in {owner}"
                      + ("" if row.active else " · inactive"), highlight=False)  # fmt: skip
        console.print(f"{row.member_count:,} members · refreshed {_when(row.refreshed_at)}", highlight=False)
        definition = service.spec_of(session, row).definition()
        console.print(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True).rstrip(), highlight=False)
        table = Table("day", "entered", "exited", "members", title=f"last {days} days (UTC)")
        for day in members.daily_history(session, row.id, days=days):
            table.add_row(day.day.isoformat(), f"{day.entered:,}", f"{day.exited:,}", f"{day.members:,}")
        console.print(table)


def _results(results: list[RefreshResult]) -> None:
    table = Table("segment", "members", "entered", "exited", "ms")
    for r in results:
        table.add_row(r.key, f"{r.member_count:,}", f"{r.entered:,}", f"{r.exited:,}", f"{r.refresh_ms:,.0f}")
    console.print(table)


@segments_app.command("refresh")
def segments_refresh(
    key: Annotated[str | None, typer.Argument(help="The segment (its dependencies are refreshed first)")] = None,
    refresh_all: Annotated[bool, typer.Option("--all", help="Every active segment")] = False,
    dependents: Annotated[bool, typer.Option(help="Also refresh the segments that test KEY")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Recompute members from the definitions now."""
    if (key is None) == (not refresh_all):
        raise _fail("name a segment, or pass --all")
    results: list[RefreshResult] = []
    with unit_of_work(database_url) as session:
        if not refresh_all:
            results = refresh_segments(session, [key or ""], dependents=dependents)
        else:
            segments = active_segments(session)
            order = topological_order(dependency_graph(segments.values()))
            with progress_bar(transient=True) as bar:
                task = bar.add_task("refreshing", total=len(order))
                # In dependency order, one at a time: each reads fresh dependencies, and the bar moves.
                for one in order:
                    results += refresh_segments(session, [one], dependencies=False)
                    bar.advance(task)
    _results(results)


@segments_app.command("preview")
def segments_preview(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A segment file (segments/<key>.yml)")],
    database_url: DatabaseOpt = None,
) -> None:
    """Validate a segment file and show how many members it would have, and the first 20; nothing is saved."""
    try:
        loaded = load_yaml(path)
    except YamlError as exc:
        raise _fail(str(exc)) from exc
    with unit_of_work(database_url) as session:
        try:
            spec = validate_spec(loaded.data, load_field_registry(session))
        except SpecInvalid as exc:
            for issue in exc.issues:
                err.print(f"[red]✗[/] {path}:{loaded.line_of(issue.loc) or '?'}: {issue}", soft_wrap=True,
                          highlight=False)  # fmt: skip
            raise _fail(f"{len(exc.issues)} problem(s) in {path}") from exc
        if spec.condition is None:
            console.print(f"{spec.key} is a static list: its members are added, not matched")
            return
        result = preview(session, spec.condition, entity=spec.entity, min_contacts=spec.min_contacts)
    console.print(f"{spec.key}: [bold]{result.count:,}[/] matching {spec.entity}s ({result.took_ms:,.0f} ms)")
    table = Table("id", "name", "email" if spec.entity == "contact" else "domain", "country",
                  "stage" if spec.entity == "contact" else "matching contacts",
                  title=f"first {min(PREVIEW_LIMIT, result.count)}")  # fmt: skip
    for r in result.rows:
        detail = r.lifecycle_stage if spec.entity == "contact" else str(r.matching_contacts)
        table.add_row(str(r.id), r.label, (r.email if spec.entity == "contact" else r.domain) or "", r.country or "",
                      detail or "")  # fmt: skip
    console.print(table)


@segments_app.command("members")
def segments_members(
    key: Annotated[str, typer.Argument()],
    limit: Annotated[int, typer.Option(help="How many to list")] = 50,
    at: Annotated[str | None, typer.Option(help="Members at this instant (ISO date and time, UTC)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """The members of a segment, now or at a point in time."""
    when = ensure_utc(datetime.fromisoformat(at)) if at else None
    with unit_of_work(database_url) as session:
        row = service.get_segment(session, key)
        table = Table("id", "name", "email" if row.entity == "contact" else "domain", "country", "since", "by")
        cursor, shown = None, 0
        while shown < limit:
            page = members.list_members(session, row, cursor=cursor, limit=min(500, limit - shown), at=when)
            for m in page.items:
                table.add_row(str(m.id), m.label, (m.email if row.entity == "contact" else m.domain) or "",
                              m.country or "", _when(m.entered_at), m.entered_by)  # fmt: skip
            shown += len(page.items)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        total = members.member_count_at(session, row.id, when) if when else row.member_count
        console.print(table)
        console.print(f"{shown:,} of {total:,} members shown")


@segments_app.command("import")
def segments_import(
    key: Annotated[str, typer.Argument(help="A static list")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV with an email or contact_id column")],
    database_url: DatabaseOpt = None,
) -> None:
    """Add the contacts (or accounts) of a CSV file to a static list."""
    with unit_of_work(database_url) as session:
        outcome = service.import_members_csv(session, key, path.read_text(encoding="utf-8-sig"), actor=CLI_ACTOR)
    console.print(f"{outcome.changed:,} added, {outcome.unchanged:,} already members, "
                  f"{len(outcome.not_found):,} not found")  # fmt: skip
    for missing in outcome.not_found[:20]:
        console.print(f"  not found: {missing}", highlight=False)


@segments_app.command("export")
def segments_export(
    key: Annotated[str, typer.Argument()],
    purpose: Annotated[str, typer.Option(help="Consent purpose the export is for")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write")],
    channel: Annotated[str, typer.Option()] = "email",
    database_url: DatabaseOpt = None,
) -> None:
    """Write the members who may be contacted for PURPOSE to CSV (the consent gate decides); who was left out,
    and why, is printed."""
    with unit_of_work(database_url) as session, output.open("w", newline="", encoding="utf-8") as out:
        summary = activation.export_segment_csv(session, key, out, channel=channel, purpose=purpose, actor=CLI_ACTOR)
    console.print(f"{summary.included:,} contacts written to {output}; {summary.excluded_total:,} left out")
    if summary.excluded:
        console.print(json.dumps(dict(summary.excluded.most_common()), indent=2))
