"""Segment definitions without a database: validation with paths, the JSON Schema, checksums, the dependency
graph, the cheap-first ordering of conditions, and reading member lists."""

from __future__ import annotations

from typing import Any

import pytest

from pitboard.conditions import FieldRegistry, condition_to_data, evaluate, parse_condition
from pitboard.conditions.memory import ContactFacts, EventFact
from pitboard.contacts.custom_fields import FieldSpec
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.segments.graph import (
    SegmentCycle,
    dependencies_of,
    dependents_of,
    find_cycle,
    topological_order,
)
from pitboard.segments.matching import cheap_first
from pitboard.segments.refresh import facts_tree, raw_dependencies
from pitboard.segments.schemas import SegmentSpec, SpecInvalid, segment_file_schema, validate_spec
from pitboard.segments.service import read_member_csv

REGISTRY = FieldRegistry(contact_custom={"plan": FieldSpec("plan", "enum", ("free", "Pro"))})


def _issues(data: Any) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        validate_spec(data, REGISTRY)
    assert caught.value.status_code == 422
    return {issue.path: issue.message for issue in caught.value.issues}


def test_a_valid_definition_round_trips_as_plain_data() -> None:
    data = {"key": "pro-trials", "name": "Pro trials", "condition": {"all": [
        {"field": "custom.plan", "op": "eq", "value": "pro"},  # matched to the defined option "Pro"
        {"event": "Trial Started", "within_days": 30},
        {"not": {"in_segment": "customers"}},
    ]}}  # fmt: skip
    spec = validate_spec(data, REGISTRY)
    definition = spec.definition()
    assert definition["condition"]["all"][0] == {"field": "custom.plan", "op": "eq", "value": "Pro"}
    assert definition["entity"] == "contact"
    assert definition["kind"] == "dynamic"
    assert definition["min_contacts"] == 1
    assert validate_spec(definition, REGISTRY) == spec
    assert spec.dependencies == frozenset({"customers"})
    assert spec.checksum == validate_spec(definition, REGISTRY).checksum
    assert spec.checksum != validate_spec({**definition, "name": "Other"}, REGISTRY).checksum
    assert spec.model_dump(mode="json")["condition"] == definition["condition"]  # what the manifest stores


def test_every_problem_is_reported_with_its_path() -> None:
    problems = _issues({"key": "Bad Key", "name": "", "colour": "red", "condition": {"all": [
        {"field": "custom.plan", "op": "eq", "value": "gold"},
        {"field": "contry", "op": "eq", "value": "US"},
        {"event": "x", "bogus": 1},
    ]}})  # fmt: skip
    assert problems["key"] == "use lower-case letters, digits, - and _, starting with a letter or digit"
    assert problems["name"] == "String should have at least 1 character"
    assert problems["colour"] == "unknown key"
    assert "gold" in problems["condition.all[0].value"]
    assert problems["condition.all[1].field"] == "unknown field 'contry'; did you mean country?"
    assert problems["condition.all[2].bogus"] == "is not a key of this node"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key": "a", "name": "A"}, "a dynamic segment needs a condition"),
        ({"key": "a", "name": "A", "kind": "static", "condition": {"field": "email", "op": "is_set"}},
         "a static list has no condition"),
        ({"key": "a", "name": "A", "min_contacts": 3, "condition": {"field": "email", "op": "is_set"}},
         "min_contacts applies to account segments only"),
        ({"key": "new", "name": "A", "kind": "static"}, "the key 'new' is reserved"),
        ({"key": "a", "name": "A", "entity": "company", "kind": "static"}, "Input should be 'contact' or 'account'"),
    ],
)  # fmt: skip
def test_consistency_rules(data: dict[str, Any], message: str) -> None:
    assert any(message in text for text in _issues(data).values())


def test_static_lists_and_account_segments_are_valid() -> None:
    assert validate_spec({"key": "vips", "name": "VIPs", "kind": "static"}, REGISTRY).condition is None
    accounts = validate_spec({"key": "hot", "name": "Hot", "entity": "account", "min_contacts": 3,
                              "condition": {"event": "Page Viewed", "min_count": 5}}, REGISTRY)  # fmt: skip
    assert (accounts.entity, accounts.min_contacts) == ("account", 3)


def test_json_schema_of_a_segment_file() -> None:
    schema = segment_file_schema(REGISTRY)
    assert schema["title"] == "pitboard segment"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"key", "name"}
    assert "custom.plan" in schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"]
    assert "enum" not in segment_file_schema()["$defs"]["FieldCondition"]["properties"]["field"]
    assert "all" in schema["$defs"]["AllCondition"]["properties"]  # the aliases people write, not all_


def test_topological_order_and_cycles() -> None:
    graph = {"c": {"b"}, "b": {"a"}, "a": set(), "d": {"a", "unknown"}}
    assert topological_order(graph) == ["a", "b", "c", "d"]
    assert topological_order(graph, ["c"]) == ["c"]  # only what was asked for, in order
    assert topological_order(graph, ["d", "b"]) == ["b", "d"]
    assert dependencies_of(graph, ["c"]) == {"a", "b", "c"}
    assert dependents_of(graph, ["a"]) == {"a", "b", "c", "d"}
    assert find_cycle(graph) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    with pytest.raises(SegmentCycle, match="x → x") as caught:
        topological_order({"x": {"x"}})
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.details == {"cycle": ["x", "x"]}


def test_raw_dependencies_read_stored_data() -> None:
    stored = {"any": [{"in_segment": "a"}, {"not": {"all": [{"in_segment": "b"}, {"field": "x", "op": "is_set"}]}}]}
    assert raw_dependencies(stored) == frozenset({"a", "b"})
    assert raw_dependencies(None) == frozenset()


def test_cheap_first_orders_and_keeps_the_meaning() -> None:
    now = utcnow()
    tree = parse_condition({"all": [
        {"event": "Page Viewed", "min_count": 2},
        {"in_segment": "s"},
        {"field": "account.employee_count", "op": "gte", "value": 10},
        {"any": [{"event": "Webinar Attended"}, {"field": "custom.plan", "op": "eq", "value": "free"}]},
        {"field": "custom.plan", "op": "is_set"},
        {"not": {"field": "country", "op": "eq", "value": "US"}},
    ]}, REGISTRY)  # fmt: skip
    ordered = cheap_first(tree)
    kinds = [next(iter(condition_to_data(child))) for child in ordered.all_]  # type: ignore[union-attr]
    # An any costs what its dearest branch costs (when the cheap one is false, both run): ties keep their order.
    assert kinds == ["not", "field", "field", "in_segment", "event", "any"]
    inner = ordered.all_[5]  # type: ignore[union-attr]
    assert next(iter(condition_to_data(inner.any_[0]))) == "field"  # type: ignore[union-attr]
    facts = ContactFacts(
        contact={"country": "DE", "custom": {"plan": "free"}}, account={"employee_count": 50},
        events=[EventFact("Page Viewed", now), EventFact("Page Viewed", now)], segments=frozenset({"s"}),
    )  # fmt: skip
    assert evaluate(tree, facts, now=now) is evaluate(ordered, facts, now=now) is True


def test_facts_tree_covers_every_event_condition() -> None:
    specs = [
        validate_spec({"key": "a", "name": "A", "condition": {"event": "Page Viewed", "within_days": 7}}, REGISTRY),
        validate_spec({"key": "b", "name": "B", "condition": {"all": [{"in_segment": "a"}, {
            "event": "Form Submitted", "where": [{"property": "form", "op": "eq", "value": "demo"}]}]}}, REGISTRY),
        validate_spec({"key": "c", "name": "C", "kind": "static"}, REGISTRY),
    ]  # fmt: skip
    data = condition_to_data(facts_tree(specs))
    assert [node["event"] for node in data["any"]] == ["Page Viewed", "Form Submitted"]
    assert "in_segment" not in str(data)  # memberships are tracked by the pass, not loaded per segment
    assert condition_to_data(facts_tree(specs[2:])) == {"field": "email", "op": "is_set"}


def test_member_lists_from_csv_or_lines() -> None:
    assert read_member_csv("email,name\nann@acme.io,Ann\n,Nobody\nbob@acme.io,Bob\n") == ([], ["ann@acme.io",
                                                                                          "bob@acme.io"])  # fmt: skip
    assert read_member_csv("\ufeffContact_ID\n12\n\n13\n") == ([12, 13], [])
    assert read_member_csv("ann@acme.io\n42\n") == ([42], ["ann@acme.io"])
    assert read_member_csv("") == ([], [])
    with pytest.raises(ValidationFailed, match="line 3: id 'x1' is not a number"):
        read_member_csv("id\n1\nx1\n")


def test_spec_is_immutable_data() -> None:
    spec = SegmentSpec.model_validate({"key": "a", "name": "A", "kind": "static"})
    with pytest.raises(ValueError, match="extra"):
        SegmentSpec.model_validate({"key": "a", "name": "A", "kind": "static", "surprise": 1})
    assert spec.dependencies == frozenset()
