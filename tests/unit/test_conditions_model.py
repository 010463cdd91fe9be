"""The condition tree: validation against the field registry, error paths, YAML round trip, JSON Schema."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from pitboard.conditions import (
    AllCondition,
    ConditionError,
    EventCondition,
    FieldCondition,
    FieldRegistry,
    NotCondition,
    condition_to_data,
    json_schema,
    parse_condition,
    validation_context,
)
from pitboard.conditions.model import Condition
from pitboard.conditions.operators import OPERATORS, Duration
from pitboard.contacts.custom_fields import FieldSpec

REGISTRY = FieldRegistry(
    contact_custom={
        "plan": FieldSpec("plan", "enum", ("free", "Pro")),
        "seats": FieldSpec("seats", "integer"),
        "renewal": FieldSpec("renewal", "date"),
        "trial_ends": FieldSpec("trial_ends", "datetime"),
        "interests": FieldSpec("interests", "multi_enum", ("data", "ops")),
        "nickname": FieldSpec("nickname", "text"),
        "vip": FieldSpec("vip", "boolean"),
    },
    account_custom={"tier": FieldSpec("tier", "enum", ("gold", "silver"))},
)

EXAMPLE = """
all:
  - {field: country, op: in, value: [US, CA]}
  - {field: custom.plan, op: eq, value: pro}
  - {field: created_at, op: within_last, value: 30d}
  - {field: account.employee_count, op: gte, value: 200}
  - not: {field: email_domain, op: ends_with, value: ".edu"}
  - any:
      - {event: "Webinar Attended", min_count: 1, within_days: 90}
      - {event: "Page Viewed", where: [{property: path, op: starts_with, value: /pricing}],
         min_count: 3, within_days: 14}
  - {in_segment: enterprise-trials}
"""


def parse(data: Any) -> Condition:
    return parse_condition(data, REGISTRY)


def errors_of(data: Any) -> list[str]:
    with pytest.raises(ConditionError) as caught:
        parse(data)
    return [str(issue) for issue in caught.value.issues]


def test_the_example_from_the_issue_parses_into_typed_nodes() -> None:
    tree = parse(yaml.safe_load(EXAMPLE))
    assert isinstance(tree, AllCondition)
    _country, plan, created, employees, edu, either, segment = tree.all_
    assert isinstance(plan, FieldCondition)
    assert plan.value == "Pro"  # enum options match regardless of case and keep their defined spelling
    assert plan.ref.custom_key == "plan"
    assert plan.ref.kind == "enum"
    assert isinstance(created, FieldCondition)
    assert created.value == Duration(30, "d")
    assert isinstance(employees, FieldCondition)
    assert (employees.ref.entity, employees.ref.column, employees.ref.kind) == ("account", "employee_count", "number")
    assert isinstance(edu, NotCondition)
    page_views = either.any_[1]  # type: ignore[union-attr]
    assert isinstance(page_views, EventCondition)
    assert (page_views.min_count, page_views.within_days, page_views.where[0].property) == (3, 14, "path")
    assert segment.in_segment == "enterprise-trials"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"all": [{"field": "country", "op": "eq", "value": "US"}, {"field": "x", "op": "eq", "value": 1},
                     {"field": "account.employee_count", "op": "gte", "value": "200"}]},
            "all[2].value: expected a number for account.employee_count",
        ),
        ({"field": "contry", "op": "eq", "value": "US"}, "field: unknown field 'contry'; did you mean country?"),
        ({"field": "custom.plam", "op": "eq", "value": "x"}, "no custom field named 'plam' is defined for contacts"),
        ({"field": "account.custom.plan", "op": "eq", "value": "x"},
         "no custom field named 'plan' is defined for accounts"),
        ({"field": "email_normalized", "op": "eq", "value": "x"}, "unknown field 'email_normalized'"),
        ({"not": {"field": "country", "op": "gt", "value": "US"}}, "not.op: gt does not apply to country (a text)"),
        ({"field": "account.employee_count", "op": "starts_with", "value": "2"}, "op: starts_with does not apply to"),
        ({"field": "custom.interests", "op": "eq", "value": "data"},
         "op: eq does not apply to custom.interests (a multi-enum)"),
        ({"field": "created_at", "op": "gt", "value": "2025-01-01"}, "use one of eq, neq, before, after"),
        ({"field": "custom.plan", "op": "eq", "value": "gold"},
         "value: expected one of free, Pro for custom.plan, got 'gold'"),
        ({"field": "custom.interests", "op": "any_of", "value": ["data", "sales"]}, "value: expected one of data, ops"),
        ({"field": "country", "op": "is_set", "value": "US"}, "value: is_set takes no value"),
        ({"field": "country", "op": "eq"}, "value: eq needs a value for country"),
        ({"field": "country", "op": "eq", "value": ""}, "value: expected a non-empty string for country"),
        ({"field": "country", "op": "eq", "value": "U\x00S"}, "without NUL"),
        ({"field": "country", "op": "eq", "value": ["US"]}, "value: eq takes one value, not a list, for country"),
        ({"field": "country", "op": "in", "value": []}, "value: in needs a list of 1 to 1000 values for country"),
        ({"field": "country", "op": "in", "value": "US"}, "value: in needs a list"),
        ({"field": "custom.seats", "op": "eq", "value": True}, "value: expected a number for custom.seats"),
        ({"field": "custom.seats", "op": "gt", "value": float("nan")}, "expected a finite number"),
        ({"field": "custom.seats", "op": "between", "value": [10, 1]}, "value: between needs low <= high"),
        ({"field": "custom.seats", "op": "between", "value": [1]}, "value: between needs [low, high]"),
        ({"field": "custom.vip", "op": "eq", "value": "yes"}, "value: expected true or false for custom.vip"),
        ({"field": "created_at", "op": "within_last", "value": 30}, "value: expected a duration such as 30d"),
        ({"field": "created_at", "op": "within_last", "value": "1m"}, "expected a duration such as 30d, 12h or 2w"),
        ({"field": "created_at", "op": "within_last", "value": "6000w"}, "durations are at most 100 years"),
        ({"field": "created_at", "op": "before", "value": "yesterday"}, "expected a date (YYYY-MM-DD) or an ISO date"),
        ({"field": "custom.renewal", "op": "before", "value": "2025-01-01T10:00:00Z"}, "expected a date (YYYY-MM-DD)"),
        ({"field": "custom.renewal", "op": "before", "value": "2025-02-30"}, "expected a date (YYYY-MM-DD)"),
        ({"event": "Signed Up", "min_count": 3, "max_count": 1}, "max_count (1) is less than min_count (3)"),
        ({"event": "Signed Up", "min_count": 0}, "min_count 0 without max_count matches every contact"),
        ({"event": "Signed Up", "within_days": 0}, "within_days: Input should be greater than or equal to 1"),
        ({"event": ""}, "event: String should have at least 1 character"),
        ({"event": "X", "where": [{"property": "a", "op": "gt", "value": "b"}]},
         "where[0].value: gt does not apply to a text value"),
        ({"event": "X", "where": [{"property": "a", "op": "contains", "value": 3}]},
         "contains does not apply to a number value"),
        ({"event": "X", "where": [{"property": 'a"b', "op": "is_set"}]}, "where[0].property: String should match"),
        ({"event": "X", "where": [{"property": "a", "op": "in", "value": ["x", 1]}]}, "expected a non-empty string"),
        ({"in_segment": "Enterprise Trials"}, "in_segment: String should match pattern"),
        ({"all": []}, "all: List should have at least 1 item"),
        ({"any": [{"field": "country", "op": "is_set", "valeu": 1}]}, "any[0].valeu: is not a key of this node"),
        ({"all": [{"field": "country", "op": "is_set"}], "any": []}, "any: is not a key of this node"),
        ({"all": ["country = US"]}, "all[0]: expected a mapping with one of all, any, not, field, event, in_segment"),
        ({"fields": "country"}, "expected a mapping with one of all, any"),
        ({"field": "country", "op": "equals", "value": "US"}, "op: Input should be 'eq', 'neq'"),
    ],
)  # fmt: skip
def test_errors_name_the_path_in_the_tree(data: Any, expected: str) -> None:
    assert any(expected in message for message in errors_of(data)), errors_of(data)


def test_every_problem_is_reported_at_once_with_its_own_path() -> None:
    messages = errors_of(
        {
            "all": [
                {"field": "nope", "op": "eq", "value": 1},
                {"any": [{"event": "X", "min_count": -1}, {"not": {"field": "custom.seats", "op": "gt"}}]},
            ]
        }
    )
    assert [m.split(":")[0] for m in messages] == ["all[0].field", "all[1].any[0].min_count", "all[1].any[1].not.value"]


def test_issues_keep_the_raw_location_for_yaml_line_lookups() -> None:
    with pytest.raises(ConditionError) as caught:
        parse({"all": [{"field": "country", "op": "eq", "value": 3}]})
    (issue,) = caught.value.issues
    assert issue.loc == ("all", 0, "value")
    assert issue.path == "all[0].value"


def test_values_are_normalised_once() -> None:
    def value_of(field: str, op: str, value: Any) -> Any:
        node = parse({"field": field, "op": op, "value": value})
        assert isinstance(node, FieldCondition)
        return node.value

    assert value_of("created_at", "before", "2025-03-01") == date(2025, 3, 1)
    assert value_of("created_at", "before", date(2025, 3, 1)) == date(2025, 3, 1)  # YAML's own dates
    # Offsets are converted to UTC; naive datetimes are taken as UTC.
    assert value_of("created_at", "before", "2025-03-01T10:00:00+02:00") == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert value_of("created_at", "before", datetime(2025, 3, 1, 10)) == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert value_of("created_at", "before", "2025-03-01T10:00:00Z") == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert value_of("custom.renewal", "on_or_after", "2025-03-01") == date(2025, 3, 1)
    assert value_of("custom.interests", "all_of", ["OPS", "data"]) == ["ops", "data"]
    assert value_of("account.custom.tier", "in", ["Gold"]) == ["gold"]
    assert value_of("last_activity_at", "more_than_ago", "12h") == Duration(12, "h")
    assert value_of("custom.seats", "between", [1, 2.5]) == [1, 2.5]


def test_yaml_round_trip_gives_an_equal_tree() -> None:
    tree = parse(
        {
            "all": [
                yaml.safe_load(EXAMPLE),
                {"field": "created_at", "op": "between", "value": ["2024-01-01", "2024-02-01T10:00:00+02:00"]},
                {"field": "custom.renewal", "op": "within_next", "value": "2w"},
                {"field": "custom.trial_ends", "op": "after", "value": "2025-05-01T00:00:00.000001Z"},
                {"field": "account.annual_revenue", "op": "in", "value": [0.1, 200, 1e6]},
                {"field": "custom.vip", "op": "neq", "value": False},
                {"field": "custom.interests", "op": "is_not_set"},
                {"event": "Trial Started", "min_count": 0, "max_count": 0, "within_days": 30},
                {"event": "X", "where": [{"property": "ok", "op": "eq", "value": True}]},
                {"event": "X", "where": [{"property": "n", "op": "is_set"}], "min_count": 2, "max_count": 5},
            ]
        }
    )  # fmt: skip
    text = yaml.safe_dump(condition_to_data(tree), sort_keys=False, allow_unicode=True)
    again = parse(yaml.safe_load(text))
    assert again == tree
    assert condition_to_data(again) == condition_to_data(tree)
    assert parse(json.loads(json.dumps(condition_to_data(tree)))) == tree


def test_serialised_data_is_what_a_person_would_write() -> None:
    tree = parse(
        {"all": [{"field": "created_at", "op": "within_last", "value": "30d"}, {"event": "Signed Up", "min_count": 1}]}
    )
    assert condition_to_data(tree) == {
        "all": [{"field": "created_at", "op": "within_last", "value": "30d"}, {"event": "Signed Up"}]
    }


def test_custom_fields_need_the_registry() -> None:
    """Without a registry only the standard fields are known: a custom field is an error, not a guess."""
    assert FieldCondition(field="country", op="eq", value="US").ref.column == "country"
    with pytest.raises(ValueError, match="no custom field named 'plan'"):
        FieldCondition(field="custom.plan", op="eq", value="pro")


def test_a_condition_embedded_in_another_model_validates_with_the_context() -> None:
    class Segment(BaseModel):
        key: str
        condition: Condition

    segment = Segment.model_validate(
        {"key": "pros", "condition": {"field": "custom.plan", "op": "eq", "value": "PRO"}},
        context=validation_context(REGISTRY),
    )
    assert segment.condition.value == "Pro"  # type: ignore[union-attr]


def test_validated_trees_are_immutable() -> None:
    node = parse({"field": "country", "op": "eq", "value": "US"})
    assert isinstance(node, FieldCondition)
    with pytest.raises(ValueError, match="frozen"):
        node.value = "DE"  # type: ignore[misc]


def test_json_schema_describes_every_node_and_operator() -> None:
    schema = json_schema(REGISTRY)
    json.dumps(schema)  # plain JSON
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in schema["oneOf"]} == {
        "AllCondition", "AnyCondition", "NotCondition", "FieldCondition", "EventCondition", "SegmentCondition",
    }  # fmt: skip
    defs = schema["$defs"]
    field = defs["FieldCondition"]
    assert field["additionalProperties"] is False
    assert field["required"] == ["field", "op"]
    assert tuple(field["properties"]["op"]["enum"]) == OPERATORS
    assert "custom.plan" in field["properties"]["field"]["enum"]
    assert "account.custom.tier" in field["properties"]["field"]["enum"]
    assert "account.employee_count" in field["properties"]["field"]["enum"]
    assert "anyOf" in field["properties"]["value"]
    assert defs["AllCondition"]["properties"]["all"]["items"]["oneOf"] == schema["oneOf"]
    assert defs["NotCondition"]["required"] == ["not"]
    assert defs["EventCondition"]["properties"]["where"]["items"] == {"$ref": "#/$defs/PropertyFilter"}
    assert "pattern" in defs["SegmentCondition"]["properties"]["in_segment"]
    # Without a registry the field is free text (validation still checks it).
    assert "enum" not in json_schema()["$defs"]["FieldCondition"]["properties"]["field"]


def test_every_operator_is_accepted_by_some_kind_of_field() -> None:
    examples = {
        "eq": ("country", "US"), "neq": ("country", "US"), "in": ("country", ["US"]), "not_in": ("country", ["US"]),
        "gt": ("custom.seats", 1), "gte": ("custom.seats", 1), "lt": ("custom.seats", 1), "lte": ("custom.seats", 1),
        "between": ("custom.seats", [1, 2]), "contains": ("email", "@"), "starts_with": ("email", "a"),
        "ends_with": ("email", ".edu"), "any_of": ("custom.interests", ["data"]),
        "all_of": ("custom.interests", ["data"]), "before": ("created_at", "2025-01-01"),
        "after": ("created_at", "2025-01-01"), "on_or_before": ("custom.renewal", "2025-01-01"),
        "on_or_after": ("custom.renewal", "2025-01-01"), "within_last": ("created_at", "30d"),
        "not_within_last": ("created_at", "30d"), "more_than_ago": ("created_at", "30d"),
        "within_next": ("custom.renewal", "30d"), "is_set": ("country", None), "is_not_set": ("country", None),
    }  # fmt: skip
    assert set(examples) == set(OPERATORS)
    for op, (field, value) in examples.items():
        assert isinstance(parse({"field": field, "op": op, "value": value}), FieldCondition)
