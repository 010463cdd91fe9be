"""The default stage ladder. The lifecycle issue makes it configurable in the ops-as-code project."""

from __future__ import annotations

DEFAULT_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "mql",
    "sal",
    "sql",
    "opportunity",
    "customer",
    "disqualified",
    "recycled",
)
