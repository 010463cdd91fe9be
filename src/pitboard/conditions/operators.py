"""Which operators apply to which kind of field, and what value each one takes.

The checks here run when a condition is validated, so a wrong operator or value is reported with its
path in the tree before anything touches the database. They also normalise the value once (an enum to
its canonical option, a date string to a ``date``, ``30d`` to a :class:`Duration`), so both
interpreters work from the same typed value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from pitboard.conditions.fields import FieldKind, FieldRef
from pitboard.kit.time import ensure_utc

Operator = Literal[
    "eq", "neq", "in", "not_in",
    "gt", "gte", "lt", "lte", "between",
    "contains", "starts_with", "ends_with",
    "any_of", "all_of",
    "before", "after", "on_or_before", "on_or_after",
    "within_last", "not_within_last", "more_than_ago", "within_next",
    "is_set", "is_not_set",
]  # fmt: skip
PropertyOperator = Literal[
    "eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between",
    "contains", "starts_with", "ends_with", "is_set", "is_not_set",
]  # fmt: skip
OPERATORS: tuple[str, ...] = get_args(Operator)

_PRESENCE = ("is_set", "is_not_set")
_TIME = (
    "eq", "neq", "before", "after", "on_or_before", "on_or_after", "between",
    "within_last", "not_within_last", "more_than_ago", "within_next", *_PRESENCE,
)  # fmt: skip
OPERATORS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    "text": ("eq", "neq", "in", "not_in", "contains", "starts_with", "ends_with", *_PRESENCE),
    "enum": ("eq", "neq", "in", "not_in", *_PRESENCE),
    "number": ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between", *_PRESENCE),
    "boolean": ("eq", "neq", *_PRESENCE),
    "date": _TIME,
    "datetime": _TIME,
    "multi_enum": ("contains", "any_of", "all_of", *_PRESENCE),
}
# Event properties are untyped JSON: the value's own type says how a property compares.
PROPERTY_OPERATORS_BY_KIND: dict[FieldKind, tuple[str, ...]] = {
    "text": OPERATORS_BY_KIND["text"],
    "number": OPERATORS_BY_KIND["number"],
    "boolean": OPERATORS_BY_KIND["boolean"],
}
LIST_OPERATORS = frozenset({"in", "not_in", "any_of", "all_of"})
DURATION_OPERATORS = frozenset({"within_last", "not_within_last", "more_than_ago", "within_next"})
MAX_TEXT = 1000
MAX_LIST = 1000
_DURATION = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_UNIT_HOURS: dict[str, int] = {"h": 1, "d": 24, "w": 24 * 7}
_MAX_DURATION = timedelta(days=36_525)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ValueProblem(ValueError):
    """A value that does not fit its field and operator; the message is meant for the person who wrote it."""


@dataclass(frozen=True)
class Duration:
    """A span written as ``30d``, ``12h`` or ``2w`` (no months: their length varies)."""

    amount: int
    unit: Literal["h", "d", "w"]

    @property
    def delta(self) -> timedelta:
        return timedelta(hours=self.amount * _UNIT_HOURS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def operator_problem(op: str, ref: FieldRef) -> str | None:
    allowed = OPERATORS_BY_KIND[ref.kind]
    if op in allowed:
        return None
    return f"{op} does not apply to {ref.path} ({ref.label}); use one of {', '.join(allowed)}"


def check_value(ref: FieldRef, op: str, raw: Any) -> Any:
    """The normalised value for ``op`` on ``ref``, or :class:`ValueProblem`."""
    return _check_shape(op, raw, ref.path, lambda item: _scalar(ref.kind, item, ref))


def property_kind(op: str, raw: Any) -> FieldKind | None:
    """How an event property compares: by the type of the value given (None for is_set / is_not_set)."""
    if op in _PRESENCE:
        return None
    sample = raw[0] if isinstance(raw, list) and raw else raw
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float | Decimal):
        return "number"
    return "text"


def check_property_value(name: str, op: str, raw: Any) -> Any:
    """The normalised value of an event property filter, or :class:`ValueProblem`."""
    kind = property_kind(op, raw)
    path = f"property {name}"
    if kind is not None and op not in PROPERTY_OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(PROPERTY_OPERATORS_BY_KIND[kind])
        raise ValueProblem(f"{op} does not apply to a {kind} value; for {kind} values use one of {allowed}")
    return _check_shape(op, raw, path, lambda item: _scalar(kind or "text", item, None, path))


def _check_shape(op: str, raw: Any, path: str, scalar: Any) -> Any:
    if op in _PRESENCE:
        if raw is not None:
            raise ValueProblem(f"{op} takes no value")
        return None
    if raw is None:
        raise ValueProblem(f"{op} needs a value for {path}")
    if op in DURATION_OPERATORS:
        return parse_duration(raw, path)
    if op in LIST_OPERATORS:
        if not isinstance(raw, list) or not raw or len(raw) > MAX_LIST:
            raise ValueProblem(f"{op} needs a list of 1 to {MAX_LIST} values for {path}")
        return [scalar(item) for item in raw]
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise ValueProblem(f"between needs [low, high] for {path}")
        low, high = scalar(raw[0]), scalar(raw[1])
        if _order_key(low) > _order_key(high):
            raise ValueProblem(f"between needs low <= high for {path}, got {raw[0]} > {raw[1]}")
        return [low, high]
    if isinstance(raw, list):
        raise ValueProblem(f"{op} takes one value, not a list, for {path}")
    return scalar(raw)


def _order_key(value: Any) -> Any:
    # A whole day and an instant can bound one range; the day counts from its start.
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return ensure_utc(datetime(value.year, value.month, value.day))
    return value


def _scalar(kind: FieldKind, raw: Any, ref: FieldRef | None, path: str | None = None) -> Any:
    where = ref.path if ref is not None else path
    if kind in ("text", "enum", "multi_enum"):
        text = _text(raw, where)
        return _option(ref, text) if ref is not None and kind != "text" else text
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            raise ValueProblem(f"expected a number for {where}")
        if isinstance(raw, float | Decimal) and not math.isfinite(raw):
            raise ValueProblem(f"expected a finite number for {where}")
        return raw
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise ValueProblem(f"expected true or false for {where}")
        return raw
    if kind == "date":
        return _date(raw, where)
    return _date_or_datetime(raw, where)


def _text(raw: Any, where: str | None) -> str:
    if not isinstance(raw, str) or raw == "":
        raise ValueProblem(f"expected a non-empty string for {where} (is_not_set finds empty values)")
    if len(raw) > MAX_TEXT or "\x00" in raw:
        raise ValueProblem(f"expected a string of at most {MAX_TEXT} characters without NUL for {where}")
    return raw


def _option(ref: FieldRef, text: str) -> str:
    # Options are matched regardless of case and stored as defined, so "PRO" means the option "Pro".
    for option in ref.options:
        if option.casefold() == text.casefold():
            return option
    raise ValueProblem(f"expected one of {', '.join(ref.options)} for {ref.path}, got {text!r}")


def _date(raw: Any, where: str | None) -> date:
    if isinstance(raw, datetime):
        raise ValueProblem(f"expected a date (YYYY-MM-DD) for {where}, not a date and time")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _ISO_DATE.fullmatch(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise ValueProblem(f"expected a date (YYYY-MM-DD) for {where}")


def _date_or_datetime(raw: Any, where: str | None) -> date | datetime:
    """A whole UTC day (a date) or an instant; naive datetimes are taken as UTC."""
    if isinstance(raw, datetime):
        return ensure_utc(raw)
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        if _ISO_DATE.fullmatch(raw):
            return _date(raw, where)
        try:
            return ensure_utc(datetime.fromisoformat(raw))
        except ValueError:
            pass
    raise ValueProblem(f"expected a date (YYYY-MM-DD) or an ISO date and time (2025-03-01T09:00:00Z) for {where}")


def parse_duration(raw: Any, where: str | None = None) -> Duration:
    if isinstance(raw, Duration):
        return raw
    match = _DURATION.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueProblem(f"expected a duration such as 30d, 12h or 2w for {where}")
    unit: Literal["h", "d", "w"] = "h" if match[2] == "h" else "d" if match[2] == "d" else "w"
    duration = Duration(int(match[1]), unit)
    if duration.delta > _MAX_DURATION:
        raise ValueProblem(f"durations are at most 100 years, got {raw} for {where}")
    return duration
