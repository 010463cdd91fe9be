"""Web pages for campaign operations and work board."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
