"""The meaning of the operators that both interpreters share, defined once.

Time operators become a :class:`TimeRange` (from ``now``), text comparisons fold ASCII case only, and an
event condition becomes a window and a count range. ``sql.py`` and ``memory.py`` only apply these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from pitboard.conditions.operators import Duration
from pitboard.kit.time import ensure_utc

# Only A-Z fold: SQLite's lower() knows nothing else and PostgreSQL's depends on the database locale, so
# folding more in Python would make the interpreters disagree on "É" and "é".
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
ASCII_UPPER_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ASCII_LOWER_LETTERS = "abcdefghijklmnopqrstuvwxyz"

T = TypeVar("T", date, datetime)


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class TimeRange(Generic[T]):
    """The set values ``v`` with ``lo <(=) v <(=) hi``; with ``outside`` the set values not in that range."""

    lo: T | None = None
    lo_inclusive: bool = True
    hi: T | None = None
    hi_inclusive: bool = True
    outside: bool = False

    def contains(self, value: T) -> bool:
        inside = True
        if self.lo is not None:
            inside = value >= self.lo if self.lo_inclusive else value > self.lo
        if inside and self.hi is not None:
            inside = value <= self.hi if self.hi_inclusive else value < self.hi
        return inside != self.outside


@dataclass(frozen=True)
class _Span(Generic[T]):
    """What one value given in a condition covers: an instant, a date, or a whole UTC day of a datetime."""

    start: T
    end: T
    end_inclusive: bool


def time_range(kind: str, op: str, value: Any, now: datetime) -> TimeRange[Any]:
    """The range a date/datetime operator selects. ``kind`` is the field's: ``date`` or ``datetime``."""
    now = ensure_utc(now)
    if isinstance(value, Duration):
        return _relative(kind, op, value.delta, now)
    if op == "between":
        low, high = _span(kind, value[0]), _span(kind, value[1])
        return TimeRange(low.start, True, high.end, high.end_inclusive)
    span = _span(kind, value)
    if op == "eq":
        return TimeRange(span.start, True, span.end, span.end_inclusive)
    if op == "neq":
        return TimeRange(span.start, True, span.end, span.end_inclusive, outside=True)
    if op == "before":
        return TimeRange(hi=span.start, hi_inclusive=False)
    if op == "on_or_before":
        return TimeRange(hi=span.end, hi_inclusive=span.end_inclusive)
    if op == "after":
        return TimeRange(lo=span.end, lo_inclusive=not span.end_inclusive)
    if op == "on_or_after":
        return TimeRange(lo=span.start, lo_inclusive=True)
    raise ValueError(f"{op} is not a time operator")


def _span(kind: str, value: date | datetime) -> _Span[Any]:
    if kind == "date" or isinstance(value, datetime):
        return _Span(value, value, True)
    # A date given for a datetime field stands for that whole day in UTC: [midnight, next midnight).
    start = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return _Span(start, start + timedelta(days=1), False)


def _relative(kind: str, op: str, delta: timedelta, now: datetime) -> TimeRange[Any]:
    past, future = now - delta, now + delta
    low: date | datetime = past.date() if kind == "date" else past
    today: date | datetime = now.date() if kind == "date" else now
    ahead: date | datetime = future.date() if kind == "date" else future
    if op == "within_last":
        return TimeRange(low, True, today, True)
    if op == "not_within_last":
        return TimeRange(low, True, today, True, outside=True)
    if op == "more_than_ago":
        return TimeRange(hi=low, hi_inclusive=False)
    if op == "within_next":
        return TimeRange(today, True, ahead, True)
    raise ValueError(f"{op} is not a relative time operator")


@dataclass(frozen=True)
class EventWindow:
    """Events count when ``since <= occurred_at <= until`` (``since`` None: since the beginning)."""

    since: datetime | None
    until: datetime


def event_window(within_days: int | None, now: datetime) -> EventWindow:
    now = ensure_utc(now)
    return EventWindow(None if within_days is None else now - timedelta(days=within_days), now)
