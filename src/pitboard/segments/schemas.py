"""The shape of a segment definition: one file ``segments/<key>.yml`` of the project folder, or one API/web body.

    key: enterprise-trials
    name: Enterprise trials
    entity: contact            # or account: an account is in when >= min_contacts of its contacts match
    kind: dynamic              # or static: a list, members added by hand, import or the API
    condition:
      all:
        - {field: account.employee_count, op: gte, value: 1000}
        - {event: Trial Started, within_days: 30}

The condition is validated against the field registry (custom fields included), so validate with
:func:`validate_spec` or ``SegmentSpec.model_validate(data, context=validation_context(registry))``.
References to other segments (``in_segment``) and cycles need the database: the service checks those.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, model_validator
from pydantic_core import PydanticCustomError

from pitboard.conditions import Condition, FieldRegistry, SegmentCondition, condition_to_data, validation_context
from pitboard.conditions.facts import walk
from pitboard.conditions.model import format_path
from pitboard.kit.errors import ValidationFailed

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# Path words of the web UI and the API (/segments/new, /segments/preview): a segment with such a key
# could never be opened there.
RESERVED_KEYS = frozenset({"new", "preview"})
Entity = Literal["contact", "account"]
Kind = Literal["dynamic", "static"]


class _SegmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1, max_length=100, pattern=KEY_PATTERN,
        description="Lower-case letters, digits, - and _; what in_segment and the URLs use",
    )  # fmt: skip
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    entity: Entity = Field(default="contact", description="contact: a set of people; account: a set of companies")
    kind: Kind = Field(default="dynamic", description="dynamic: follows the condition; static: a list")
    min_contacts: int = Field(
        default=1, ge=1, le=1_000_000,
        description="Account segments: an account is in when at least this many of its contacts match",
    )  # fmt: skip


class SegmentSpec(_SegmentFields):
    """A segment definition. ``condition`` is the condition tree (docs/conditions.md); dynamic segments need
    one, static lists have none."""

    condition: Condition | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SegmentSpec:
        if self.key in RESERVED_KEYS:
            raise PydanticCustomError("segment", f"the key {self.key!r} is reserved; choose another")
        if self.kind == "dynamic" and self.condition is None:
            raise PydanticCustomError("segment", "a dynamic segment needs a condition")
        if self.kind == "static" and self.condition is not None:
            raise PydanticCustomError(
                "segment", "a static list has no condition: its members are added by hand, by import or the API"
            )
        if self.entity == "contact" and self.min_contacts != 1:
            raise PydanticCustomError("segment", "min_contacts applies to account segments only")
        return self

    @field_serializer("condition")
    def _dump_condition(self, condition: Condition | None) -> dict[str, Any] | None:
        # The tree's own plain-data form (all/any/not, durations as 30d), which parses back to an equal tree.
        return None if condition is None else condition_to_data(condition)

    def definition(self) -> dict[str, Any]:
        """The definition as stored and compared: plain data, without defaults left implicit."""
        return self.model_dump(mode="json")

    @property
    def checksum(self) -> str:
        return definition_checksum(self.definition())

    @property
    def dependencies(self) -> frozenset[str]:
        """Keys of the segments this one's condition asks about (``in_segment``)."""
        return condition_dependencies(self.condition)


def definition_checksum(definition: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(definition), option=orjson.OPT_SORT_KEYS)).hexdigest()


def condition_dependencies(condition: Condition | None) -> frozenset[str]:
    if condition is None:
        return frozenset()
    return frozenset(node.in_segment for node in walk(condition) if isinstance(node, SegmentCondition))


class SegmentIn(_SegmentFields):
    """A segment definition as the API receives it: the condition as plain JSON, validated by the service
    against this database's custom fields (request parsing has no registry to validate it with)."""

    condition: dict[str, Any] | None = Field(default=None, description="The condition tree (docs/conditions.md)")


class SegmentPatch(BaseModel):
    """Change some parts of a segment; what is left out stays as it is (``condition: null`` removes it)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    entity: Entity | None = None
    kind: Kind | None = None
    min_contacts: int | None = Field(default=None, ge=1, le=1_000_000)
    condition: dict[str, Any] | None = None


@dataclass(frozen=True)
class SpecIssue:
    """One problem with a definition: ``path`` as people read it (``condition.all[2].value``)."""

    path: str
    message: str
    loc: tuple[str | int, ...] = ()  # the keys, for finding the line in a YAML file

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecInvalid(ValidationFailed):
    """A definition that does not validate; ``issues`` holds every problem at once, each with its path."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        super().__init__(
            "; ".join(str(issue) for issue in issues),
            details=[{"path": i.path, "message": i.message} for i in issues],
        )
        self.issues = issues


def validate_spec(data: Any, registry: FieldRegistry) -> SegmentSpec:
    """A :class:`SegmentSpec` from YAML/JSON data, its condition checked against ``registry``; raises SpecInvalid."""
    try:
        return SegmentSpec.model_validate(data, context=validation_context(registry))
    except ValidationError as exc:
        raise SpecInvalid([spec_issue(error) for error in exc.errors()]) from None


def spec_issue(error: Mapping[str, Any]) -> SpecIssue:
    """A pydantic error as a :class:`SpecIssue`; the condition union's internal tags (``<all>``) are dropped."""
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("<")))
    in_condition = len(loc) > 1 and loc[0] == "condition"
    messages = {
        "missing": "is required",
        "extra_forbidden": "is not a key of this node" if in_condition else "unknown key",
        "string_pattern_mismatch": "use lower-case letters, digits, - and _, starting with a letter or digit"
        if loc == ("key",)
        else error["msg"],
    }
    return SpecIssue(format_path(loc), messages.get(error["type"], error["msg"]), loc)


def segment_file_schema(registry: FieldRegistry | None = None) -> dict[str, Any]:
    """JSON Schema of a ``segments/<key>.yml`` file for editor completion; with a registry, ``field`` lists
    every known field (as :func:`pitboard.conditions.json_schema` does)."""
    schema = SegmentSpec.model_json_schema(by_alias=True)
    schema["title"] = "pitboard segment"
    if registry is not None:
        schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"] = registry.names()
    return schema
