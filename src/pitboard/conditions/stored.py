"""How a stored value is read for comparison, and when it counts as missing (the Python side).

Each reader returns the typed value or ``None`` for "missing". Missing is: NULL / an absent JSON key /
JSON null, a value of the wrong JSON type (a string in a number field), an empty string, an empty list,
and a date or datetime text that is not one. ``sql_dialects.py`` implements the very same rules in SQL;
the property test in ``tests/integration/test_conditions_agree.py`` holds the two to each other.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pitboard.kit.time import ensure_utc

# Date and datetime custom values are read in the form pitboard writes (``date.isoformat()``,
# ``datetime.isoformat()``): fixed positions, ASCII digits only, an upper-case T and Z. Anything else is
# missing rather than guessed at, because each database would guess differently.
DATE_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
DATETIME_TEXT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
# SQLite's date functions accept UTC offsets up to 14:59 and PostgreSQL up to 15:59; real zones end at 14:00.
MAX_OFFSET_HOURS = 14


def read_text(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw != "" else None


def read_number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        return None
    value = to_decimal(raw)
    return value if value.is_finite() else None


def to_decimal(value: int | float | Decimal) -> Decimal:
    """Numbers compare as exact decimals. A float becomes the decimal of its shortest repr, which is the
    text JSON and PostgreSQL's numeric keep, so 0.1 is 0.1 here and there."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def read_boolean(raw: Any) -> bool | None:
    return raw if isinstance(raw, bool) else None


def read_list(raw: Any) -> list[Any] | None:
    return raw if isinstance(raw, list) and raw else None


def read_date(raw: Any) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    return parse_date_text(raw) if isinstance(raw, str) else None


def read_datetime(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        return ensure_utc(raw)
    return parse_datetime_text(raw) if isinstance(raw, str) else None


def parse_date_text(text: str) -> date | None:
    match = DATE_TEXT.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_datetime_text(text: str) -> datetime | None:
    """A stored datetime text in UTC; naive text is UTC (as everywhere in pitboard)."""
    match = DATETIME_TEXT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    zone = _zone(offset)
    if zone is None:
        return None
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=zone)
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        # Out-of-range parts (Feb 30, 24:00) or a UTC time outside years 1-9999.
        return None


def _zone(offset: str | None) -> timezone | None:
    if offset is None or offset == "Z":
        return UTC
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > MAX_OFFSET_HOURS or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)


def read_property_present(raw: Any) -> bool:
    """``is_set`` on an event property: there, not null and not the empty string."""
    return raw is not None and raw != ""
