"""Pure parts of workflows: durations, definitions, deterministic assignment, the lift statistics."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from pitboard.workflows import engine, schemas, service


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("3d", 259200), ("1w", 604800), (" 5 m ", 300)]
)
def test_durations(text: str, seconds: int) -> None:
    assert schemas.parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "m5", "1y", "-1d", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        schemas.parse_duration(text)


def _spec(steps: list[dict[str, object]], **extra: object) -> schemas.WorkflowSpec:
    return schemas.WorkflowSpec.model_validate(
        {"key": "k", "name": "K", "trigger": {"type": "event", "event": "E"}, "steps": steps, **extra}
    )


def test_following_step_and_explicit_next() -> None:
    spec = _spec([{"id": "a", "action": "exit", "next": "c"}, {"id": "b", "action": "exit"},
                  {"id": "c", "action": "exit"}])  # fmt: skip
    assert spec.following(spec.step("a")) == "c"
    assert spec.following(spec.step("b")) == "c"
    assert spec.following(spec.step("c")) is None


def test_every_reference_must_exist_and_keys_are_not_reserved() -> None:
    with pytest.raises(ValueError, match="'nowhere'"):
        _spec([{"id": "a", "action": "branch", "condition": {"field": "country", "op": "eq", "value": "US"},
                "else": "nowhere"}])  # fmt: skip
    with pytest.raises(ValueError, match="'ghost'"):
        _spec([{"id": "a", "action": "ab_split", "variants": [{"name": "x", "weight": 1, "next": "ghost"},
                                                             {"name": "y", "weight": 1}]}])  # fmt: skip
    with pytest.raises(ValueError, match="reserved"):
        schemas.WorkflowSpec.model_validate({"key": "approvals", "name": "A", "trigger": {"type": "manual"},
                                             "steps": [{"id": "a", "action": "exit"}]})  # fmt: skip


def test_trigger_needs_and_watchable_fields() -> None:
    with pytest.raises(ValueError, match="needs 'event'"):
        schemas.Trigger.model_validate({"type": "event"})
    with pytest.raises(ValueError, match="field must be"):
        schemas.Trigger.model_validate({"type": "field_change", "field": "password_hash"})
    assert schemas.Trigger.model_validate({"type": "field_change", "field": "custom.plan"}).field == "custom.plan"
    assert schemas.Trigger.model_validate({"type": "form_submitted"}).event_name == "form_submitted"
    with pytest.raises(ValueError, match="custom date field"):
        schemas.Trigger.model_validate({"type": "date", "field": "email"})


def test_holdout_share_is_bounded() -> None:
    with pytest.raises(ValueError, match=r"0\.5"):
        _spec([{"id": "a", "action": "exit"}], holdout=0.8)


def test_unit_is_stable_and_roughly_uniform() -> None:
    assert engine.unit("wf", "holdout", 7) == engine.unit("wf", "holdout", 7)
    assert engine.unit("wf", "holdout", 7) != engine.unit("other", "holdout", 7)
    values = [engine.unit("wf", "holdout", i) for i in range(10_000)]
    assert all(0 <= v < 1 for v in values)
    share = sum(v < 0.1 for v in values) / len(values)
    assert 0.09 < share < 0.11


def test_difference_of_proportions_matches_the_textbook_formula() -> None:
    d, (lo, hi) = service.diff_of_proportions(60, 200, 30, 200)
    se = math.sqrt(0.3 * 0.7 / 200 + 0.15 * 0.85 / 200)
    assert d == pytest.approx(0.15)
    assert lo == pytest.approx(0.15 - 1.959963984540054 * se)
    assert hi == pytest.approx(0.15 + 1.959963984540054 * se)
    _, (lo0, hi0) = service.diff_of_proportions(30, 200, 30, 200)
    assert lo0 < 0 < hi0  # no difference: the interval covers zero


def test_difference_of_means() -> None:
    d, (lo, hi) = service.diff_of_means([10.0, 12.0, 14.0], [1.0, 2.0, 3.0])
    assert d == pytest.approx(10.0)
    assert lo < d < hi
    se = math.sqrt(4.0 / 3 + 1.0 / 3)
    assert hi - d == pytest.approx(1.959963984540054 * se)
