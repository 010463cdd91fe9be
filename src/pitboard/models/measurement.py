"""Tables for measurement (issue 9)."""

from __future__ import annotations
