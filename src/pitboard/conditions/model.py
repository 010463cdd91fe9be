"""The condition tree: what a marketer writes in YAML or JSON, validated into typed pydantic models.

A node is a mapping whose key says what it is::

    all: [...]                                   every child matches
    any: [...]                                   at least one child matches
    not: {...}                                   the child does not match
    {field: country, op: in, value: [US, CA]}    a field comparison
    {event: Page Viewed, min_count: 3, ...}      did an event (with property filters) N times in D days
    {in_segment: enterprise-trials}              membership of another segment

Validation needs the field registry (which custom fields exist, of which type): use
:func:`parse_condition`. Errors name the place in the tree: ``all[2].value: expected a number for
account.employee_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pitboard.conditions.fields import FieldRef, FieldRegistry, UnknownField
from pitboard.conditions.operators import (
    Duration,
    Operator,
    PropertyOperator,
    ValueProblem,
    check_property_value,
    check_value,
    operator_problem,
)

REGISTRY_CONTEXT_KEY = "pitboard.conditions.registry"
_STANDARD_ONLY = FieldRegistry()
# Tags mark the union member in pydantic's error locations; they are dropped when paths are printed.
_TAGS = {"all": "<all>", "any": "<any>", "not": "<not>", "field": "<field>", "event": "<event>", "in_segment": "<seg>"}
_VALUE_SCHEMA: dict[str, Any] = {
    "description": "The value to compare with; a list for in, not_in, any_of, all_of and between; "
    "a duration such as 30d, 12h or 2w for within_last, not_within_last, more_than_ago and within_next; "
    "none for is_set and is_not_set.",
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        {"type": "null"},
    ],
}


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True, validate_by_alias=True)


def _registry(info: ValidationInfo) -> FieldRegistry:
    context = info.context if isinstance(info.context, Mapping) else {}
    registry = context.get(REGISTRY_CONTEXT_KEY, _STANDARD_ONLY)
    if not isinstance(registry, FieldRegistry):
        raise TypeError(f"{REGISTRY_CONTEXT_KEY} must be a FieldRegistry")
    return registry


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("condition", message)


def _serialize_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_serialize_value(v) for v in value]
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


class FieldCondition(_Node):
    """Compare one field (``country``, ``custom.plan``, ``account.employee_count``) with a value."""

    field: str = Field(description="A contact field, custom.<name>, account.<field> or account.custom.<name>")
    op: Operator
    # validate_default: a missing value must still be checked ("eq needs a value"), at the path of value.
    value: Annotated[Any, Field(validate_default=True, json_schema_extra=_VALUE_SCHEMA)] = None
    _ref: FieldRef = PrivateAttr()

    @property
    def ref(self) -> FieldRef:
        """The resolved field: which table and column or custom key, and its kind."""
        return self._ref

    @field_validator("field")
    @classmethod
    def _known_field(cls, path: str, info: ValidationInfo) -> str:
        try:
            _registry(info).resolve(path)
        except UnknownField as exc:
            raise _problem(str(exc)) from exc
        return path

    @field_validator("op")
    @classmethod
    def _operator_fits(cls, op: str, info: ValidationInfo) -> str:
        if "field" in info.data:
            problem = operator_problem(op, _registry(info).resolve(info.data["field"]))
            if problem:
                raise _problem(problem)
        return op

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        if "field" not in info.data or "op" not in info.data:
            return value  # the field or operator is wrong already; that error is the useful one
        try:
            return check_value(_registry(info).resolve(info.data["field"]), info.data["op"], value)
        except ValueProblem as exc:
            raise _problem(str(exc)) from exc

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> FieldCondition:
        self._ref = _registry(info).resolve(self.field)
        return self

    @field_serializer("value")
    def _dump_value(self, value: Any) -> Any:
        return _serialize_value(value)


class PropertyFilter(_Node):
    """A filter on an event's ``properties``; the value's type (string, number, boolean) says how it compares."""

    property: str = Field(min_length=1, max_length=100, pattern=r'^[^"\\\x00-\x1f]+$')
    op: PropertyOperator
    value: Annotated[Any, Field(validate_default=True, json_schema_extra=_VALUE_SCHEMA)] = None

    @field_validator("value")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        if "property" not in info.data or "op" not in info.data:
            return value
        try:
            return check_property_value(info.data["property"], info.data["op"], value)
        except ValueProblem as exc:
            raise _problem(str(exc)) from exc

    @field_serializer("value")
    def _dump_value(self, value: Any) -> Any:
        return _serialize_value(value)


class EventCondition(_Node):
    """Did the contact do ``event`` (matching every ``where`` filter) between min_count and max_count times
    in the last ``within_days`` days? ``max_count: 0`` (with ``min_count: 0``) means "never"."""

    event: str = Field(min_length=1, max_length=200, description="The event name, exactly as tracked")
    where: list[PropertyFilter] = Field(default_factory=list)
    min_count: int = Field(default=1, ge=0, le=1_000_000)
    max_count: int | None = Field(default=None, ge=0, le=1_000_000)
    within_days: int | None = Field(default=None, ge=1, le=36_525, description="Omit for all time")

    @model_validator(mode="after")
    def _sensible_counts(self) -> EventCondition:
        if self.max_count is not None and self.max_count < self.min_count:
            raise _problem(f"max_count ({self.max_count}) is less than min_count ({self.min_count})")
        if self.min_count == 0 and self.max_count is None:
            raise _problem("min_count 0 without max_count matches every contact; set max_count (0 means never)")
        return self


class SegmentCondition(_Node):
    """Membership of the segment with this key."""

    in_segment: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class AllCondition(_Node):
    all_: list[Condition] = Field(alias="all", min_length=1, description="Every condition matches")


class AnyCondition(_Node):
    any_: list[Condition] = Field(alias="any", min_length=1, description="At least one condition matches")


class NotCondition(_Node):
    not_: Condition = Field(alias="not", description="The condition does not match")


_CLASSES: dict[type[_Node], str] = {
    AllCondition: "all",
    AnyCondition: "any",
    NotCondition: "not",
    FieldCondition: "field",
    EventCondition: "event",
    SegmentCondition: "in_segment",
}


def _node_tag(data: Any) -> str | None:
    if isinstance(data, Mapping):
        for key, tag in _TAGS.items():
            if key in data:
                return tag
        return None
    kind = _CLASSES.get(type(data))
    return _TAGS[kind] if kind else None


Condition = Annotated[
    Union[  # noqa: UP007 - the X | Y form cannot carry the tags
        Annotated[AllCondition, Tag(_TAGS["all"])],
        Annotated[AnyCondition, Tag(_TAGS["any"])],
        Annotated[NotCondition, Tag(_TAGS["not"])],
        Annotated[FieldCondition, Tag(_TAGS["field"])],
        Annotated[EventCondition, Tag(_TAGS["event"])],
        Annotated[SegmentCondition, Tag(_TAGS["in_segment"])],
    ],
    Discriminator(
        _node_tag,
        custom_error_type="condition_node",
        custom_error_message="expected a mapping with one of all, any, not, field, event, in_segment",
    ),
]
for _model in (AllCondition, AnyCondition, NotCondition):
    _model.model_rebuild()

_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


@dataclass(frozen=True)
class ConditionIssue:
    """One problem: ``path`` as people read it (``all[2].value``), ``loc`` as keys for YAML line look-ups."""

    path: str
    loc: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConditionError(ValueError):
    def __init__(self, issues: list[ConditionIssue]) -> None:
        super().__init__("; ".join(str(issue) for issue in issues))
        self.issues = issues


def validation_context(registry: FieldRegistry) -> dict[str, Any]:
    """Pass as ``context=`` when a pydantic model that embeds a :data:`Condition` is validated."""
    return {REGISTRY_CONTEXT_KEY: registry}


def parse_condition(data: Any, registry: FieldRegistry) -> Condition:
    """Validate a condition from YAML/JSON data against the fields in ``registry``; raises ConditionError."""
    try:
        return _ADAPTER.validate_python(data, context=validation_context(registry))
    except ValidationError as exc:
        raise ConditionError([_issue(error) for error in exc.errors()]) from None


def condition_to_data(condition: Condition) -> dict[str, Any]:
    """Plain JSON/YAML data that :func:`parse_condition` reads back into an equal tree."""
    data = _ADAPTER.dump_python(condition, mode="json", exclude_none=True, exclude_defaults=True)
    assert isinstance(data, dict)
    return data


def json_schema(registry: FieldRegistry | None = None) -> dict[str, Any]:
    """JSON Schema of a condition, for editor completion; with a registry, ``field`` lists the known fields."""
    schema = _ADAPTER.json_schema(by_alias=True)
    schema["title"] = "pitboard condition"
    if registry is not None:
        schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"] = registry.names()
    return schema


def format_path(loc: tuple[str | int, ...]) -> str:
    """``('all', 2, 'not', 'value')`` → ``all[2].not.value``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _issue(error: Any) -> ConditionIssue:
    loc = tuple(part for part in error["loc"] if part not in _TAG_VALUES)
    message = {
        "missing": "is required",
        "extra_forbidden": "is not a key of this node",
    }.get(error["type"], error["msg"])
    return ConditionIssue(path=format_path(loc), loc=loc, message=message)


_TAG_VALUES = frozenset(_TAGS.values())
