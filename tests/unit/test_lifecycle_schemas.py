"""The lifecycle definition: its format (old files still valid), its errors with paths, and the rules that
decide where a contact moves (forward only, off the ladder, recycle)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pitboard.conditions import FieldRegistry
from pitboard.contacts.custom_fields import FieldSpec
from pitboard.lifecycle.definitions import compare, rules_changed
from pitboard.lifecycle.engine import decide
from pitboard.lifecycle.schemas import (
    SpecInvalid,
    default_spec,
    lifecycle_json_schema,
    validate_lifecycle,
)

SIMPLE = """
stages:
  - {name: subscriber, label: Subscriber}
  - {name: lead, label: Lead}
  - {name: mql, label: Marketing qualified lead}
  - {name: sal, label: Sales accepted lead}
  - {name: sql, label: Sales qualified lead}
  - {name: opportunity, label: Opportunity}
  - {name: customer, label: Customer}
off_ladder:
  - {name: disqualified, label: Disqualified}
  - {name: recycled, label: Recycled}
"""

RULES = """
stages:
  - {name: subscriber, label: Subscriber}
  - name: lead
    label: Lead
    entry: {field: email, op: is_set}
  - {name: mql, label: MQL}
  - name: sql
    label: SQL
    entry: {field: custom.sales_ready, op: eq, value: true}
  - {name: customer, label: Customer}
off_ladder:
  - name: disqualified
    label: Disqualified
    entry: {field: email_domain, op: eq, value: competitor.example}
  - {name: recycled, label: Recycled, resume: true}
recycle:
  - name: stale
    from: [disqualified, sql]
    to: recycled
    when: {not: {field: last_activity_at, op: within_last, value: 90d}}
score_threshold_stage: mql
"""

REGISTRY = FieldRegistry(contact_custom={"sales_ready": FieldSpec("sales_ready", "boolean")})


def _issues(data: Any, registry: FieldRegistry | None = None) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate_lifecycle(data, registry)
    return [str(i) for i in caught.value.issues]


def test_the_simple_format_of_earlier_versions_is_still_valid() -> None:
    spec = validate_lifecycle(yaml.safe_load(SIMPLE))
    assert spec.ladder == ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
    assert spec.off_ladder_names == ("disqualified", "recycled")
    assert spec.forward_only is True
    assert spec.recycle == []
    assert spec.threshold_stage() == "mql"
    # Without resume, recycled waits for a rule or a person like disqualified does.
    assert not spec.may_move_on("recycled")


def test_the_default_ladder_lets_recycled_contacts_requalify() -> None:
    spec = default_spec()
    assert spec.names[:3] == ("subscriber", "lead", "mql")
    assert spec.may_enter("recycled", "mql")
    assert not spec.may_enter("disqualified", "mql")
    assert validate_lifecycle(spec.definition()) == spec


def test_rules_round_trip_through_the_stored_definition() -> None:
    spec = validate_lifecycle(yaml.safe_load(RULES), REGISTRY)
    stored = spec.definition()
    assert stored["recycle"][0]["from"] == ["disqualified", "sql"]
    assert stored["recycle"][0]["when"] == {"not": {"field": "last_activity_at", "op": "within_last", "value": "90d"}}
    assert validate_lifecycle(stored, REGISTRY) == spec


def test_every_problem_is_reported_with_its_path() -> None:
    data = yaml.safe_load(RULES)
    data["stages"][1]["entry"] = {"all": [{"field": "emial", "op": "is_set"}]}
    data["stages"][3]["entry"] = {"in_segment": "hot"}
    issues = _issues(data, REGISTRY)
    assert "stages[1].entry.all[0].field: unknown field 'emial'; did you mean email?" in issues
    assert any(i.startswith("stages[3]: an entry rule cannot use in_segment") for i in issues)


def test_custom_fields_need_the_registry() -> None:
    issues = _issues(yaml.safe_load(RULES))
    assert any("stages[3].entry.field" in i and "sales_ready" in i for i in issues)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["recycle"][0].update({"to": "nowhere"}), "recycle[0] (stale): unknown stage 'nowhere'"),
        (lambda d: d["recycle"][0].update({"to": "sql"}), "recycle[0] (stale): moves sql to itself"),
        (lambda d: d["stages"].append({"name": "lead", "label": "Again"}), "repeated: lead"),
        (lambda d: d["stages"].pop(0), "the ladder needs a subscriber stage"),
        (lambda d: d["stages"][2].update({"resume": True}), "resume is for off-ladder stages only, not mql"),
        (lambda d: d.update({"score_threshold_stage": "hot"}), "score_threshold_stage 'hot' is not a stage"),
        (lambda d: d["recycle"].append(dict(d["recycle"][0])), "recycle rule names must be unique"),
        (lambda d: d.update({"forward_onyl": False}), "forward_onyl: unknown key"),
    ],
)
def test_inconsistent_definitions_are_refused(change: Any, message: str) -> None:
    data = yaml.safe_load(RULES)
    change(data)
    assert any(message in issue for issue in _issues(data, REGISTRY)), _issues(data, REGISTRY)


def test_may_enter_follows_the_ladder() -> None:
    spec = validate_lifecycle(yaml.safe_load(RULES), REGISTRY)
    assert spec.may_enter("lead", "sql")  # skipping is fine, forward
    assert not spec.may_enter("sql", "lead")  # never back by a rule
    assert not spec.may_enter("sql", "sql")
    assert spec.may_enter("customer", "disqualified")  # off the ladder is not back
    assert spec.may_enter("recycled", "lead")  # resume: counts as before the ladder
    assert not spec.may_enter("disqualified", "lead")
    assert spec.may_enter("some_old_stage", "lead")  # unknown stages count as before the ladder
    backwards = validate_lifecycle({**spec.definition(), "forward_only": False}, REGISTRY)
    assert backwards.may_enter("sql", "lead")


def test_decide_recycle_first_then_off_ladder_then_the_highest_ladder_stage() -> None:
    spec = validate_lifecycle(yaml.safe_load(RULES), REGISTRY)
    everything = {("entry", "lead"), ("entry", "sql"), ("entry", "disqualified"), ("recycle", "stale")}
    assert decide(spec, "sql", everything) == ("recycled", "recycle rule stale")
    assert decide(spec, "lead", everything) == ("disqualified", "entry rule of disqualified")
    assert decide(spec, "subscriber", {("entry", "lead"), ("entry", "sql")}) == ("sql", "entry rule of sql")
    assert decide(spec, "mql", {("entry", "lead")}) is None  # forward only
    assert decide(spec, "disqualified", {("entry", "lead"), ("entry", "sql")}) is None  # waits for recycle
    assert decide(spec, "recycled", {("entry", "lead")}) == ("lead", "entry rule of lead")
    assert decide(spec, "customer", {("recycle", "stale")}) is None  # not in the rule's from


def test_without_forward_only_the_highest_matching_stage_decides_even_downwards() -> None:
    spec = validate_lifecycle({**yaml.safe_load(RULES), "forward_only": False}, REGISTRY)
    assert decide(spec, "sql", {("entry", "lead")}) == ("lead", "entry rule of lead")
    assert decide(spec, "sql", {("entry", "lead"), ("entry", "sql")}) is None  # it is where it belongs


def test_compare_names_each_change() -> None:
    old = validate_lifecycle(yaml.safe_load(RULES), REGISTRY)
    data = yaml.safe_load(RULES)
    data["stages"][2]["label"] = "Marketing qualified"
    data["stages"][1].pop("entry")
    data["stages"].insert(3, {"name": "sal", "label": "SAL"})
    data["recycle"][0]["when"] = {"field": "last_activity_at", "op": "more_than_ago", "value": "60d"}
    data["forward_only"] = False
    new = validate_lifecycle(data, REGISTRY)
    changes = compare(old, new, contacts_per_stage={"sal": 0})
    assert changes == {
        "added": ["stage sal"],
        "removed": ["entry rule of lead"],
        "changed": ["stage mql: label", "recycle rule stale", "forward_only: True → False"],
    }
    assert rules_changed(changes)
    assert compare(old, old) == {}
    fewer = validate_lifecycle({**yaml.safe_load(RULES), "off_ladder": [{"name": "recycled", "label": "R"}],
                                "recycle": []}, REGISTRY)  # fmt: skip
    warned = compare(old, fewer, contacts_per_stage={"disqualified": 7})
    assert warned["warnings"] == ["7 contacts are in stage disqualified, which would no longer exist"]
    assert not rules_changed({"changed": ["stage mql: label"]})


def test_json_schema_lists_fields_for_completion() -> None:
    schema = lifecycle_json_schema(REGISTRY)
    assert schema["title"] == "pitboard lifecycle"
    assert "custom.sales_ready" in schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"]
    assert "from" in schema["$defs"]["RecycleRule"]["properties"]
