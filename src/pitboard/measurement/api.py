"""REST routes for measurement."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["measurement"])
