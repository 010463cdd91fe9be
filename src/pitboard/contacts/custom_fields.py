"""Typed custom fields without schema changes.

Values live in the entity's ``custom`` JSON column; a :class:`CustomFieldDefinition` row says
what type each key holds. This module is pure: it coerces and checks values against a definition
so the API, the importer and the web UI reject the same bad input with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FIELD_TYPES = ("text", "number", "integer", "boolean", "date", "datetime", "enum", "multi_enum")
ENTITIES = ("contact", "account")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TRUE = {"true", "yes", "1", "y", "on"}
_FALSE = {"false", "no", "0", "n", "off"}


class CustomFieldError(ValueError):
    pass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    field_type: str
    options: tuple[str, ...] = ()
    required: bool = False


def check_definition(name: str, field_type: str, options: list[str] | None) -> None:
    if not _NAME.match(name):
        raise CustomFieldError(f"field name {name!r} must be lower_snake_case, start with a letter, ≤ 63 characters")
    if field_type not in FIELD_TYPES:
        raise CustomFieldError(f"field type {field_type!r} is not one of {', '.join(FIELD_TYPES)}")
    if field_type in ("enum", "multi_enum") and not options:
        raise CustomFieldError(f"field {name!r} of type {field_type} needs a list of options")


def coerce(spec: FieldSpec, value: Any) -> Any:
    """The JSON value to store for ``value``, or :class:`CustomFieldError` saying why not."""
    if value is None or value == "":
        if spec.required:
            raise CustomFieldError(f"{spec.name} is required")
        return None
    kind = spec.field_type
    try:
        if kind == "text":
            return str(value)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "boolean":
            return _boolean(value)
        if kind == "date":
            return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()
        if kind == "datetime":
            return (value if isinstance(value, datetime) else datetime.fromisoformat(str(value))).isoformat()
        if kind == "enum":
            return _option(spec, str(value))
        if kind == "multi_enum":
            items = value if isinstance(value, list) else [v.strip() for v in str(value).split(";") if v.strip()]
            return [_option(spec, str(v)) for v in items]
    except (ValueError, TypeError) as exc:
        if isinstance(exc, CustomFieldError):
            raise
        raise CustomFieldError(f"{spec.name} must be a {kind}, got {value!r}") from exc
    raise CustomFieldError(f"{spec.name} has unknown type {kind}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _option(spec: FieldSpec, value: str) -> str:
    if value in spec.options:
        return value
    raise CustomFieldError(f"{spec.name} must be one of {', '.join(spec.options)}, got {value!r}")


def coerce_all(specs: dict[str, FieldSpec], values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Check a whole ``custom`` mapping; unknown keys are an error, so typos never go unnoticed."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    for key, raw in values.items():
        spec = specs.get(key)
        if spec is None:
            errors.append(f"{key} is not a defined custom field")
            continue
        try:
            out[key] = coerce(spec, raw)
        except CustomFieldError as exc:
            errors.append(str(exc))
    if not partial:
        errors.extend(f"{s.name} is required" for s in specs.values() if s.required and s.name not in values)
    if errors:
        raise CustomFieldError("; ".join(errors))
    return out
