"""Tables for campaign operations and work board (issue 10)."""

from __future__ import annotations
