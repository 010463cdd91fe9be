"""``pitboard workflows``: workflows."""

from __future__ import annotations

import typer

workflows_app = typer.Typer(
    help="Workflows: enrolments, steps, approvals, dead letters, holdouts.",
    no_args_is_help=True,
)
