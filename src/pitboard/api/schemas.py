from __future__ import annotations

from typing import Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

from pitboard.settings import get_settings

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class Limit:
    """``limit`` query parameter bounded by the configured maximum."""

    def __call__(self, limit: int = Query(default=50, ge=1, description="Page size")) -> int:
        return min(limit, get_settings().api_page_size_max)


def custom_filters(request: Request) -> tuple[tuple[str, str], ...]:
    """``?custom.plan=pro`` style filters on typed custom fields."""
    return tuple(
        (k.removeprefix("custom."), v) for k, v in request.query_params.multi_items() if k.startswith("custom.")
    )
