"""``pitboard scoring`` (rescore, explain) and ``pitboard lifecycle`` (funnel)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table
from sqlalchemy import select

from pitboard.cli.common import DatabaseOpt, _engine, _fail, _require_schema, console, progress_bar, unit_of_work
from pitboard.contacts.identities import contact_id_for_email
from pitboard.kit.db import session_scope
from pitboard.kit.emails import InvalidEmail
from pitboard.kit.errors import PitboardError
from pitboard.kit.time import utcnow
from pitboard.lifecycle.engine import funnel
from pitboard.models import ScoringModel
from pitboard.scoring import engine

scoring_app = typer.Typer(help="Lead scoring: rescore models, explain a contact's score.", no_args_is_help=True)
lifecycle_app = typer.Typer(help="Lifecycle stages: the funnel.", no_args_is_help=True)


@lifecycle_app.callback()
def lifecycle() -> None:
    """Lifecycle stages (a group, so ``pitboard lifecycle funnel`` keeps its name as more commands come)."""


def _points(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


@scoring_app.command("rescore")
def rescore(
    key: Annotated[str | None, typer.Argument(help="Model key (default: every active model)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Score every contact under a model now (in this process, one transaction per model)."""
    db = _engine(database_url)
    _require_schema(db)
    with session_scope(db) as session:
        stmt = select(ScoringModel.key).where(ScoringModel.active.is_(True)).order_by(ScoringModel.key)
        keys = [key] if key else list(session.scalars(stmt))
    if not keys:
        raise _fail("no active scoring model: apply a scoring.yml first (pitboard apply)")
    for model_key in keys:
        try:
            with progress_bar() as progress, session_scope(db) as session:
                task = progress.add_task(f"{model_key}: starting", total=len(engine.PHASES))

                def step(phase: str, done: int, total: int, task_id: TaskID = task, label: str = model_key) -> None:
                    progress.update(task_id, completed=done, total=total, description=f"{label}: {phase}")

                result = engine.rescore_model(session, model_key, progress=step)
        except PitboardError as exc:
            raise _fail(exc.message) from exc
        console.print(
            f"✓ {model_key} v{result.version}: {result.scored:,} contacts scored, {result.written:,} rows "
            f"written, {result.removed:,} removed, {result.moved:,} stage moves in {result.seconds:.1f} s"
        )


@scoring_app.command("explain")
def explain(
    email: Annotated[str, typer.Argument(help="The contact's email address")],
    model: Annotated[str | None, typer.Option("--model", help="Model key (default: every active model)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Show a contact's score criterion by criterion: points, caps, decay, as of when."""
    with unit_of_work(database_url) as session:
        try:
            contact_id = contact_id_for_email(session, email)
        except InvalidEmail as exc:
            raise _fail(str(exc)) from exc
        if contact_id is None:
            raise _fail(f"no contact has the email {email}")
        explanations = (
            [engine.explain(session, contact_id, model)] if model else engine.contact_explanations(session, contact_id)
        )
        if not explanations:
            raise _fail("no active scoring model")
        for item in explanations:
            as_of = item.as_of.strftime("%Y-%m-%d %H:%M UTC") if item.as_of else "never scored"
            stale = " (computed under an older version; a rescore is due)" if item.stale else ""
            console.print(
                f"[bold]{item.model_name}[/] ({item.model_key} v{item.current_version}): total "
                f"[bold]{_points(item.total)}[/] = fit {_points(item.fit)} + engagement {_points(item.engagement)}"
                f", as of {as_of}{stale}",
                highlight=False,
            )
            table = Table("criterion", "group", "kind", "points", "raw", "capped by", "occurrences")
            for entry in item.entries:
                table.add_row(str(entry["criterion"]), str(entry["group"] or ""), str(entry["kind"]),
                              _points(entry["points"]), _points(entry["raw"]), str(entry["capped_by"] or ""),
                              "" if entry["count"] is None else str(entry["count"]))  # fmt: skip
            console.print(table)
            caps = ", ".join(f"{name} {_points(cap)}" for name, cap in item.caps.items()) or "none"
            console.print(f"decay: {item.decay}; caps: {caps}", highlight=False)


@lifecycle_app.command("funnel")
def lifecycle_funnel(
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: 90 days ago)")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, included (default: today)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Stage entries in a period: entered and reached per stage, conversion and median days to the next."""
    try:
        last = date.fromisoformat(until) if until else utcnow().date()
        first = date.fromisoformat(since) if since else last - timedelta(days=90)
    except ValueError as exc:
        raise _fail(f"dates are YYYY-MM-DD: {exc}") from exc
    if first > last:
        raise _fail("--since is after --until")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    with unit_of_work(database_url) as session:
        result = funnel(session, start, end)
    table = Table("stage", "entered", "reached", "→ next", "median days to next", title=f"Funnel {first} to {last}")
    for stage in result.stages:
        table.add_row(
            stage.label if stage.on_ladder else f"{stage.label} (off the ladder)",
            f"{stage.entered:,}",
            "" if stage.reached is None else f"{stage.reached:,}",
            "" if stage.conversion_to_next is None else f"{stage.conversion_to_next:.1%}",
            "" if stage.median_days_to_next is None else f"{stage.median_days_to_next:.1f} ({stage.timed_to_next:,})",
        )
    console.print(table)
