"""What every CLI command shares: the database option, one transaction per command, errors, progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from pitboard.kit import migrate as migrations
from pitboard.kit.actor import Actor
from pitboard.kit.db import make_engine, session_scope
from pitboard.kit.errors import PitboardError
from pitboard.settings import get_settings

console = Console()
err = Console(stderr=True)

CLI_ACTOR = Actor(name="cli", interface="cli", role="admin")
DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", envvar="PITBOARD_DATABASE_URL", help="SQLAlchemy URL")
]


def _engine(database_url: str | None) -> Engine:
    # A command is short-lived: without a pool every connection is closed as soon as it is released,
    # instead of lingering until the garbage collector finds the engine.
    return make_engine(database_url or get_settings().database_url, poolclass=NullPool)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def _require_schema(engine: Engine) -> None:
    current, head = migrations.current_revision(engine), migrations.head_revision()
    if current != head:
        raise _fail(f"the database schema is at {current or 'nothing'}, not {head}: run `pitboard migrate` first")


@contextmanager
def unit_of_work(database_url: str | None, *, require_schema: bool = True) -> Iterator[Session]:
    """One command's transaction: committed on success; a pitboard error becomes a clear exit 1."""
    engine = _engine(database_url)
    if require_schema:
        _require_schema(engine)
    try:
        with session_scope(engine) as session:
            yield session
    except PitboardError as exc:
        raise _fail(exc.message) from exc


def progress_bar(transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )
