"""Tables for workflows (issue 8)."""

from __future__ import annotations
