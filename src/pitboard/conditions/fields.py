"""The fields a condition may read: an allow-list of contact and account columns plus typed custom fields.

Nothing outside this list is reachable from a condition, so a hand-written condition can never name an
internal column (``original_values``, ``email_normalized``) or reach another table. Custom fields are typed
by their :class:`~pitboard.models.CustomFieldDefinition`, which says how the JSON value is read and compared.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.contacts.custom_fields import FieldSpec
from pitboard.models import CustomFieldDefinition

FieldKind = Literal["text", "number", "boolean", "date", "datetime", "enum", "multi_enum"]
Entity = Literal["contact", "account"]

# Custom field types map onto comparison kinds: an integer compares like any other number.
_CUSTOM_KIND: dict[str, FieldKind] = {
    "text": "text",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "enum": "enum",
    "multi_enum": "multi_enum",
}

CONTACT_FIELDS: dict[str, FieldKind] = {
    "email": "text",
    "first_name": "text",
    "last_name": "text",
    "title": "text",
    "phone": "text",
    "company_name": "text",
    "country": "text",
    "region": "text",
    "city": "text",
    "lifecycle_stage": "text",
    "lead_source": "text",
    "seniority": "text",
    "job_function": "text",
    "email_domain": "text",
    "is_free_mail": "boolean",
    "account_match": "text",
    "account_id": "number",
    "owner_id": "number",
    "created_at": "datetime",
    "updated_at": "datetime",
    "last_activity_at": "datetime",
}

ACCOUNT_FIELDS: dict[str, FieldKind] = {
    "name": "text",
    "domain": "text",
    "registered_domain": "text",
    "industry": "text",
    "country": "text",
    "region": "text",
    "employee_count": "number",
    "annual_revenue": "number",
    "owner_id": "number",
    "created_at": "datetime",
    "updated_at": "datetime",
}

_STANDARD: dict[Entity, dict[str, FieldKind]] = {"contact": CONTACT_FIELDS, "account": ACCOUNT_FIELDS}


class UnknownField(ValueError):
    """A field path that is not on the allow-list (or names an undefined custom field)."""


@dataclass(frozen=True)
class FieldRef:
    """One readable field: ``column`` for a standard field, ``custom_key`` for a key of the ``custom`` JSON."""

    path: str
    entity: Entity
    kind: FieldKind
    column: str | None = None
    custom_key: str | None = None
    options: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How messages describe the field's type: ``a number``, ``an enum``."""
        article = "an" if self.kind[0] in "aeiou" else "a"
        return f"{article} {self.kind.replace('_', '-')}"


@dataclass(frozen=True)
class FieldRegistry:
    """The fields conditions may use: the standard allow-list plus the custom field definitions given."""

    contact_custom: Mapping[str, FieldSpec] = field(default_factory=dict)
    account_custom: Mapping[str, FieldSpec] = field(default_factory=dict)

    def resolve(self, path: str) -> FieldRef:
        """The field ``path`` names (``country``, ``custom.plan``, ``account.custom.tier``), or UnknownField."""
        entity: Entity = "contact"
        rest = path
        if path.startswith("account."):
            entity, rest = "account", path.removeprefix("account.")
        if rest.startswith("custom."):
            return self._custom(path, entity, rest.removeprefix("custom."))
        kind = _STANDARD[entity].get(rest)
        if kind is None:
            raise UnknownField(self._unknown_message(path))
        return FieldRef(path=path, entity=entity, kind=kind, column=rest)

    def names(self) -> list[str]:
        """Every field path a condition may use, for editor completion and suggestions."""
        out = list(CONTACT_FIELDS)
        out += [f"custom.{name}" for name in self.contact_custom]
        out += [f"account.{name}" for name in ACCOUNT_FIELDS]
        out += [f"account.custom.{name}" for name in self.account_custom]
        return sorted(out)

    def _custom(self, path: str, entity: Entity, name: str) -> FieldRef:
        specs = self.contact_custom if entity == "contact" else self.account_custom
        spec = specs.get(name)
        if spec is None:
            raise UnknownField(
                f"no custom field named {name!r} is defined for {entity}s" + self._suggestion(path, self.names())
            )
        kind = _CUSTOM_KIND.get(spec.field_type)
        if kind is None:
            raise UnknownField(f"custom field {path} has an unknown type {spec.field_type!r}")
        return FieldRef(path=path, entity=entity, kind=kind, custom_key=name, options=spec.options)

    def _unknown_message(self, path: str) -> str:
        return f"unknown field {path!r}" + self._suggestion(path, self.names())

    @staticmethod
    def _suggestion(path: str, names: list[str]) -> str:
        close = difflib.get_close_matches(path, names, n=1)
        return f"; did you mean {close[0]}?" if close else ""


def load_field_registry(session: Session) -> FieldRegistry:
    """The registry for this database: the standard fields plus every custom field definition."""
    specs: dict[str, dict[str, FieldSpec]] = {"contact": {}, "account": {}}
    for row in session.scalars(select(CustomFieldDefinition)):
        if row.entity in specs:
            specs[row.entity][row.name] = FieldSpec(row.name, row.field_type, tuple(row.options or ()), row.required)
    return FieldRegistry(contact_custom=specs["contact"], account_custom=specs["account"])
