"""Small helpers every domain's service uses to change rows and page through them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from pitboard.kit.errors import NotFound
from pitboard.kit.pagination import Page, decode_cursor, encode_cursor

T = TypeVar("T")


def jsonable(value: Any) -> Any:
    """A value as the audit log keeps it (JSON has no dates or decimals)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def apply_changes(obj: object, changes: dict[str, Any]) -> dict[str, list[Any]]:
    """Set attributes and return ``{field: [old, new]}`` for the ones that really changed."""
    diff: dict[str, list[Any]] = {}
    for field, new in changes.items():
        old = getattr(obj, field)
        if _same(old, new):
            continue
        setattr(obj, field, new)
        diff[field] = [jsonable(old), jsonable(new)]
    return diff


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) and isinstance(new, int | float | Decimal):
        return old == Decimal(str(new))
    return bool(old == new)


def snapshot(obj: object, fields: list[str]) -> dict[str, Any]:
    return {f: jsonable(getattr(obj, f)) for f in fields}


def keyset_page(
    session: Session, stmt: Select[T], id_column: InstrumentedAttribute[int], *, cursor: str | None, limit: int
) -> Page[T]:
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column > after)
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], id_column.key)) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor)


def get_or_404(session: Session, model: type[T], row_id: int, label: str) -> T:
    """The row with ``row_id``, or :class:`NotFound` naming it ("contact 12 does not exist")."""
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{label} {row_id} does not exist")
    return row
