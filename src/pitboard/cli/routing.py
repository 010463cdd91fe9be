"""``pitboard routing``: lead routing."""

from __future__ import annotations

import typer

routing_app = typer.Typer(help="Lead routing: flows, pools, assignments, SLAs, dispositions.", no_args_is_help=True)
