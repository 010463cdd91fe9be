"""REST routes for campaign operations and work board."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["workboard"])
