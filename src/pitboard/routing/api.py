"""REST routes for lead routing."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["routing"])
