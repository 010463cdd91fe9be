"""``pitboard plan``, ``pitboard apply``, ``pitboard versions`` and ``pitboard schema``: ops as code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, err, unit_of_work
from pitboard.project import apply as project_apply
from pitboard.project.loader import Project, load_project
from pitboard.project.schemas_export import write_schemas

ProjectArg = Annotated[Path, typer.Argument(help="Project folder")]


def _load(path: Path) -> Project:
    project = load_project(path)
    for problem in project.problems:
        err.print(f"[red]✗[/] {problem}", soft_wrap=True, highlight=False)
    if not project.ok:
        raise _fail(f"{len(project.problems)} problem(s) in {path}; fix them first (pitboard check)")
    return project


def _print_changes(changes: dict[str, dict[str, list[str]]], verb: str) -> None:
    table = Table("part", "change", "items", title=f"what {verb}")
    for component, parts in changes.items():
        for what, items in parts.items():
            table.add_row(component, what, "\n".join(items))
    console.print(table)


def plan(
    path: ProjectArg = Path("."),
    simulate_since: Annotated[
        str | None, typer.Option("--since", help="Simulate scoring/lifecycle changes on history from this date")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Show what `pitboard apply` would change (nothing is written), and simulate it on history."""
    project = _load(path)
    since = date.fromisoformat(simulate_since) if simulate_since else None
    with unit_of_work(database_url) as session:
        result = project_apply.plan(session, project, actor=CLI_ACTOR, simulate_since=since)
    if as_json:
        console.print_json(json.dumps({"changes": result.changes, "checksum": result.checksum,
                                       "applied_version": result.applied_version,
                                       "simulation": result.simulation}, default=str))  # fmt: skip
        return
    applied = f"version {result.applied_version}" if result.applied_version else "nothing applied yet"
    console.print(f"database: {applied}; project checksum {result.checksum[:12]}")
    if not result.has_changes:
        console.print("✓ no changes: the database matches the project")
    else:
        _print_changes({k: v for k, v in result.changes.items() if v}, "would change")
    for name, report in result.simulation.items():
        console.print(f"[bold]simulation: {name}[/]")
        console.print(report if isinstance(report, str) else json.dumps(report, indent=2, default=str))


def apply(
    path: ProjectArg = Path("."),
    message: Annotated[str | None, typer.Option("--message", "-m", help="Why (kept with the version)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Apply the project in one transaction and record it as a new version."""
    project = _load(path)
    with unit_of_work(database_url) as session:
        version = project_apply.apply(session, project, actor=CLI_ACTOR, message=message)
        if version is None:
            console.print("✓ no changes: the database already matches the project")
            return
        _print_changes({k: v for k, v in version.changes.items() if v}, "changed")
        console.print(f"✓ applied as version {version.version}")


def versions(database_url: DatabaseOpt = None) -> None:
    """The applied versions of the project, newest first."""
    with unit_of_work(database_url) as session:
        table = Table("version", "applied", "by", "checksum", "message", "changed")
        for row in project_apply.list_versions(session):
            changed = ", ".join(k for k, v in row.changes.items() if v)
            table.add_row(str(row.version), f"{row.applied_at:%Y-%m-%d %H:%M}", row.actor, row.checksum[:12],
                          row.message or "", changed)  # fmt: skip
        console.print(table)


def schema(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the JSON Schema files")] = Path(".schemas"),
) -> None:
    """Write JSON Schemas of every project file, for editor completion (e.g. the YAML extension of VS Code)."""
    written = write_schemas(output)
    for p in written:
        console.print(f"wrote {p}")
    console.print(f"point your editor at them, e.g. `# yaml-language-server: $schema={output}/scoring.schema.json`")
