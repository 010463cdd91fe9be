"""scoring.yml: a realistic model validates, every mistake is named with its path, the checksum covers what
decides scores only, thresholds are checked against the lifecycle."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from pitboard.conditions import FieldRegistry
from pitboard.contacts.custom_fields import FieldSpec
from pitboard.lifecycle.schemas import SpecInvalid, default_spec, validate_lifecycle
from pitboard.scoring.schemas import check_thresholds, scoring_json_schema, to_units, validate_scoring

EXAMPLE = """
models:
  - key: default
    name: Default lead score
    description: Who they are and what they did lately
    fit:
      cap: 50
      criteria:
        - {name: Decision maker, group: seniority, points: 15,
           condition: {field: seniority, op: in, value: [director, vp, c_level]}}
        - {name: Pro plan, points: 7.5, condition: {field: custom.plan, op: eq, value: pro}}
        - {name: Free mail, points: -10, condition: {field: is_free_mail, op: eq, value: true}}
    engagement:
      decay: {half_life_days: 30}
      cap: 60
      criteria:
        - {name: Pricing page, group: web, event: page_viewed, points: 3, max_occurrences: 5,
           where: [{property: path, op: starts_with, value: /pricing}]}
        - {name: Demo requested, group: intent, event: demo_requested, points: 30}
    group_caps: {web: 10, seniority: 15}
    total_cap: 100
    thresholds:
      - {score: 60}
      - {score: 90, stage: sql}
  - key: product-b
    name: Product B
    active: false
    engagement:
      decay: {window_days: 90}
      criteria:
        - {name: Trial, event: trial_started, points: 20}
"""

REGISTRY = FieldRegistry(contact_custom={"plan": FieldSpec("plan", "enum", ("free", "pro"))})


def _data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE)  # type: ignore[no-any-return]


def _issues(data: Any) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        validate_scoring(data, REGISTRY)
    return [str(i) for i in caught.value.issues]


def test_a_realistic_file_validates_and_round_trips() -> None:
    scoring = validate_scoring(_data(), REGISTRY)
    default, product_b = scoring.models
    assert default.fit.criteria[1].condition.value == "pro"  # type: ignore[union-attr]
    assert default.fit.criteria[0].group_name == "seniority"
    assert default.fit.criteria[1].group_name == "Pro plan"  # a criterion without a group is a group of one
    assert default.engagement.decay is not None
    assert default.engagement.decay.half_life_days == 30
    assert not product_b.active
    dumped = scoring.model_dump(mode="json", exclude_none=True)
    assert validate_scoring(dumped, REGISTRY) == scoring
    assert dumped["models"][0]["engagement"]["criteria"][0]["where"] == [
        {"property": "path", "op": "starts_with", "value": "/pricing"}
    ]


def test_points_are_whole_units_of_a_ten_thousandth() -> None:
    assert to_units(7.5) == 75_000
    assert to_units(-10) == -100_000
    assert to_units(0.0001) == 1
    assert to_units(0.3) == 3_000  # not 2999 from a float product


def test_the_checksum_covers_what_decides_scores_only() -> None:
    base = validate_scoring(_data(), REGISTRY).models[0]
    renamed = _data()
    renamed["models"][0]["name"] = "Renamed"
    renamed["models"][0]["description"] = "Other words"
    assert validate_scoring(renamed, REGISTRY).models[0].checksum == base.checksum
    changed = _data()
    changed["models"][0]["thresholds"][0]["score"] = 55
    assert validate_scoring(changed, REGISTRY).models[0].checksum != base.checksum


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("fit", "criteria", 0, "points"), 0, "models[0].fit.criteria[0].points: points must not be 0"),
        (("fit", "criteria", 0, "points"), 1.00001, "models[0].fit.criteria[0].points: points may have at most four"),
        (("fit", "criteria", 0, "points"), 5000, "models[0].fit.criteria[0].points: Input should be less than or"),
        (("fit", "criteria", 1, "condition", "field"), "custom.plna", "models[0].fit.criteria[1].condition.field: no"),
        (("fit", "criteria", 1, "condition"), {"in_segment": "x"}, "models[0].fit.criteria[1]: a scoring criterion"),
        (("engagement", "decay"), {"half_life_days": 30, "window_days": 9}, "models[0].engagement.decay: set exactly"),
        (("engagement", "decay"), {"half_life_days": 400}, "models[0].engagement.decay.half_life_days: Input"),
        (("engagement", "criteria", 0, "where", 0, "op"), "gte", "models[0].engagement.criteria[0].where[0].value"),
        (("engagement", "criteria", 1, "group"), "seniority", "a group holds fit or engagement criteria, not both"),
        (("group_caps",), {"wbe": 5}, "group_caps names groups no criterion is in: wbe"),
        (("engagement", "criteria", 1, "name"), "Decision maker", "criterion names must be unique"),
        (("thresholds", 0, "score"), 0, "models[0].thresholds[0].score: Input should be greater than 0"),
        (("thresholds", 1, "score"), 60, "threshold scores must be unique"),
        (("total_cap",), 100.12345, "models[0].total_cap: a number of points may have at most four decimals"),
        (("fit", "cap", "x"), None, "models[0].fit.cap"),
        (("fitt",), {}, "models[0].fitt: unknown key"),
    ],
)
def test_mistakes_are_named_with_their_path(path: tuple[Any, ...], value: Any, message: str) -> None:
    data = _data()
    target = data["models"][0]
    if path[-1] == "x":  # a cap given as a mapping
        target["fit"]["cap"] = {"x": 1}
    else:
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    issues = _issues(data)
    assert any(issue.startswith(message) or message in issue for issue in issues), issues


def test_a_model_needs_a_criterion_and_keys_are_unique() -> None:
    data = _data()
    data["models"].append(copy.deepcopy(data["models"][1]))
    assert "model keys must be unique; repeated: product-b" in _issues(data)
    empty = {"models": [{"key": "x", "name": "X"}]}
    assert "models[0]: a model needs at least one fit or engagement criterion" in _issues(empty)


def test_thresholds_must_name_lifecycle_stages() -> None:
    scoring = validate_scoring(_data(), REGISTRY)
    assert check_thresholds(scoring.models, default_spec()) == []
    without_sql = validate_lifecycle({"stages": [{"name": "subscriber", "label": "S"}, {"name": "lead", "label": "L"}]})
    issues = [str(i) for i in check_thresholds(scoring.models, without_sql)]
    assert issues == [
        "models[0].thresholds[0].stage: name a stage: the lifecycle has no mql and no score_threshold_stage",
        "models[0].thresholds[1].stage: 'sql' is not a lifecycle stage",
    ]


def test_json_schema_for_editors() -> None:
    schema = scoring_json_schema(REGISTRY)
    assert schema["title"] == "pitboard scoring"
    assert "custom.plan" in schema["$defs"]["FieldCondition"]["properties"]["field"]["enum"]
    assert {"fit", "engagement", "group_caps", "total_cap", "thresholds"} <= set(
        schema["$defs"]["ScoringModelSpec"]["properties"]
    )
