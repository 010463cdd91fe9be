"""``pitboard metrics``: measurement."""

from __future__ import annotations

import typer

measurement_app = typer.Typer(
    help="Measurement: metrics, attribution, reports, dashboards, alerts.",
    no_args_is_help=True,
)
