"""``pitboard board``: campaign operations and work board."""

from __future__ import annotations

import typer

workboard_app = typer.Typer(
    help="Campaign operations and the work board: intake, naming, checklists, approvals, budget, flow.",
    no_args_is_help=True,
)
