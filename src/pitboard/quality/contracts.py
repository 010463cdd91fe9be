"""Data contracts (input standards): what a source promises to send, checked on every record.

A contract names the fields a record must or may carry (dotted paths such as ``properties.plan``
or ``traits.email``), their types, formats, allowed values and ranges, and how fresh a timestamp
must be. :func:`violations` returns every broken promise of one record, not just the first, so
whoever fixes the quarantined record sees all that is wrong at once. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

FieldType = Literal["string", "integer", "number", "boolean", "datetime", "object", "array"]
Format = Literal["email", "url", "iso_country", "iso_currency", "uuid", "domain"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 5m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required: bool = False
    type: FieldType | None = None
    format: Format | None = None
    allowed: list[str | int | float | bool] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = Field(default=None, ge=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from exc
        return value


class Freshness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    max_age: str | None = Field(default=None, description="Older than this is stale, e.g. 30d")
    max_future: str | None = Field(default="1h", description="Later than now by more than this is wrong")

    @field_validator("max_age", "max_future")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class Contract(BaseModel):
    """One ``contracts/<name>.yml`` file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    source: str | None = Field(default=None, description="Tracking source name this applies to")
    entity: Literal["events", "contacts", "accounts", "opportunities", "campaign_spend"]
    event_names: list[str] | None = Field(default=None, description="Only these track events (events only)")
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    freshness: Freshness | None = None


def get_path(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and _is_int(value))
    if kind == "number":
        return (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _is_float(value)
        )
    if kind == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    if kind == "datetime":
        return _as_datetime(value) is not None
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _format_ok(value: Any, fmt: str) -> bool:
    text = str(value)
    if fmt == "email":
        return bool(_EMAIL.match(text))
    if fmt == "url":
        parsed = urlparse(text)
        return parsed.scheme in ("http", "https") and bool(parsed.netloc)
    if fmt == "iso_country":
        return len(text) == 2 and text.isalpha() and text.isupper()
    if fmt == "iso_currency":
        return len(text) == 3 and text.isalpha() and text.isupper()
    if fmt == "uuid":
        return bool(_UUID.match(text))
    return bool(_DOMAIN.match(text))


def _check_field(path: str, rule: FieldRule, value: Any) -> list[str]:
    if value is None or value == "":
        return [f"{path} is required"] if rule.required else []
    problems: list[str] = []
    if rule.type and not _type_ok(value, rule.type):
        return [f"{path} must be {rule.type}, got {type(value).__name__} {value!r}"[:300]]
    if rule.format and not _format_ok(value, rule.format):
        problems.append(f"{path} must be a valid {rule.format}, got {value!r}"[:300])
    if rule.allowed is not None and value not in rule.allowed and str(value) not in map(str, rule.allowed):
        problems.append(f"{path} must be one of {', '.join(map(str, rule.allowed))}, got {value!r}"[:300])
    if rule.pattern and not re.search(rule.pattern, str(value)):
        problems.append(f"{path} does not match {rule.pattern}")
    if rule.max_length is not None and len(str(value)) > rule.max_length:
        problems.append(f"{path} is longer than {rule.max_length} characters")
    if rule.min is not None or rule.max is not None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{path} must be a number to compare with its limits")
        else:
            if rule.min is not None and number < rule.min:
                problems.append(f"{path} is {value}, below the minimum {rule.min:g}")
            if rule.max is not None and number > rule.max:
                problems.append(f"{path} is {value}, above the maximum {rule.max:g}")
    return problems


def applies(contract: Contract, *, entity: str, source: str | None, event_name: str | None = None) -> bool:
    if contract.entity != entity:
        return False
    if contract.source is not None and contract.source != source:
        return False
    return not (contract.event_names is not None and event_name not in contract.event_names)


def violations(contract: Contract, record: dict[str, Any], *, now: datetime) -> list[str]:
    """Every way ``record`` breaks ``contract``, each as a sentence naming the field; empty if none."""
    problems: list[str] = []
    # Sorted by path: stored contracts (JSONB on PostgreSQL) do not keep the file's key order.
    for path, rule in sorted(contract.fields.items()):
        problems.extend(_check_field(path, rule, get_path(record, path)))
    if contract.freshness is not None:
        problems.extend(_freshness(contract.freshness, record, now))
    return [f"[{contract.name}] {p}" for p in problems]


def _freshness(rule: Freshness, record: dict[str, Any], now: datetime) -> list[str]:
    raw = get_path(record, rule.field)
    if raw is None:
        return []
    when = _as_datetime(raw)
    if when is None:
        return [f"{rule.field} is not a date-time: {raw!r}"]
    if rule.max_age and now - when > parse_duration(rule.max_age):
        return [f"{rule.field} is {(now - when).days} days old; the contract allows {rule.max_age}"]
    if rule.max_future and when - now > parse_duration(rule.max_future):
        return [f"{rule.field} is in the future ({when.isoformat()}); the contract allows {rule.max_future}"]
    return []
