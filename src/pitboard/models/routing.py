"""Tables for lead routing (issue 7)."""

from __future__ import annotations
