"""The scoring arithmetic against a plain-Python reference written from docs/scoring.md: decay weights, exact
rounding, group / fit / engagement / total caps, and explanations whose points add up to the total, in the
text ``orjson.dumps`` writes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitboard.scoring.calc import Facts, Renderer, compute, decayed_units
from pitboard.scoring.model import WEIGHT_SCALE, CompiledModel, Decay, compile_model
from pitboard.scoring.schemas import validate_scoring

MODEL = """
models:
  - key: m
    name: M
    fit:
      cap: 20
      criteria:
        - {name: Senior, group: title, points: 15, condition: {field: seniority, op: eq, value: vp}}
        - {name: Manager, group: title, points: 8, condition: {field: seniority, op: eq, value: manager}}
        - {name: Big, points: 7.5, condition: {field: account.employee_count, op: gte, value: 200}}
        - {name: Free mail, points: -4.25, condition: {field: is_free_mail, op: eq, value: true}}
    engagement:
      decay: {half_life_days: 7}
      cap: 25
      criteria:
        - {name: Demo, group: intent, event: demo_requested, points: 12}
        - {name: Trial, group: intent, event: trial_started, points: 9.5, max_occurrences: 2}
        - {name: Views, group: web, event: page_viewed, points: 0.3333}
        - {name: Unsubscribed, event: email_unsubscribed, points: -6}
    group_caps: {title: 15, intent: 18}
    total_cap: 35
"""


def _model(text: str = MODEL) -> CompiledModel:
    return compile_model(validate_scoring(__import__("yaml").safe_load(text)).models[0])


def test_half_life_weights_halve_every_half_life_and_end_at_zero() -> None:
    decay = Decay.build(7, None)
    assert decay.weight(0) == WEIGHT_SCALE
    assert decay.weight(7) == 500_000
    assert decay.weight(14) == 250_000
    assert decay.weight(3) == math.floor(WEIGHT_SCALE * 0.5 ** (3 / 7) + 0.5)
    horizon = decay.horizon_days
    assert horizon is not None
    assert decay.weight(horizon - 1) > 0
    assert decay.weight(horizon) == 0
    assert 20 * 7 < horizon < 22 * 7  # about 21 half-lives until a millionth rounds away
    assert decay.weight(-1) == 0  # events after now never count


def test_window_and_no_decay() -> None:
    window = Decay.build(None, 30)
    assert [window.weight(a) for a in (0, 29, 30)] == [WEIGHT_SCALE, WEIGHT_SCALE, 0]
    assert window.horizon_days == 30
    none = Decay.build(None, None)
    assert none.horizon_days is None
    assert none.weight(10_000) == WEIGHT_SCALE
    ages = np.array([-1, 0, 29, 30, 31], dtype=np.int64)
    assert window.weights(ages).tolist() == [0, WEIGHT_SCALE, WEIGHT_SCALE, 0, 0]


@given(
    points=st.integers(min_value=-10_000_000, max_value=10_000_000),
    weight=st.integers(min_value=0, max_value=10**14),
)
def test_decayed_units_round_halves_away_from_zero_without_overflow(points: int, weight: int) -> None:
    exact = abs(points) * weight
    expected = (exact + WEIGHT_SCALE // 2) // WEIGHT_SCALE * (1 if points >= 0 else -1)
    assert decayed_units(points, np.array([weight], dtype=np.int64)).tolist() == [expected]


# --- the reference -------------------------------------------------------------------------------


def reference(model: CompiledModel, matched: list[bool], weight: list[int], occurrences: list[int]) -> dict[str, Any]:
    """Scores and explanation of one contact, straight from the documented rules, in plain Python."""
    points: dict[int, int] = {}
    for j, criterion in enumerate(model.fit):
        if matched[j]:
            points[criterion.index] = criterion.points
    for k, criterion in enumerate(model.engagement):
        units = (abs(criterion.points) * weight[k] + WEIGHT_SCALE // 2) // WEIGHT_SCALE
        points[criterion.index] = units if criterion.points >= 0 else -units
    group_sum = [sum(points.get(c.index, 0) for c in model.criteria if c.group == g) for g in range(len(model.groups))]
    group_cut = [max(s - g.cap, 0) if g.cap is not None else 0 for s, g in zip(group_sum, model.groups, strict=True)]
    fit_sum = sum(s - c for s, c, g in zip(group_sum, group_cut, model.groups, strict=True) if g.kind == "fit")
    eng_sum = sum(s - c for s, c, g in zip(group_sum, group_cut, model.groups, strict=True) if g.kind != "fit")
    fit_cut = max(fit_sum - model.fit_cap, 0) if model.fit_cap is not None else 0
    eng_cut = max(eng_sum - model.engagement_cap, 0) if model.engagement_cap is not None else 0
    fit, eng = fit_sum - fit_cut, eng_sum - eng_cut
    total_cut = max(fit + eng - model.total_cap, 0) if model.total_cap is not None else 0

    def capped(criterion: Any) -> str | None:
        if group_cut[criterion.group]:
            return f"group {model.groups[criterion.group].name}"
        if (fit_cut if criterion.kind == "fit" else eng_cut) > 0:
            return criterion.kind  # type: ignore[no-any-return]
        return "total" if total_cut else None

    entries: list[list[Any]] = []
    for j, criterion in enumerate(model.fit):
        if matched[j]:
            value = criterion.points / 10_000
            group = model.groups[criterion.group].name
            entries.append([criterion.name, group, "fit", value, value, capped(criterion), None])
    for k, criterion in enumerate(model.engagement):
        if occurrences[k]:
            cap = criterion.max_occurrences
            counted = occurrences[k] if cap is None else min(occurrences[k], cap)
            entries.append([criterion.name, model.groups[criterion.group].name, "engagement",
                            points[criterion.index] / 10_000, criterion.points * counted / 10_000,
                            capped(criterion), occurrences[k]])  # fmt: skip
    for g, group in enumerate(model.groups):
        if group_cut[g]:
            entries.append([f"group {group.name}", group.name, "cap", -group_cut[g] / 10_000,
                            group_sum[g] / 10_000, None, None])  # fmt: skip
    for label, cut, before in (("fit", fit_cut, fit_sum), ("engagement", eng_cut, eng_sum),
                               ("total", total_cut, fit + eng)):  # fmt: skip
        if cut:
            entries.append([label, None, "cap", -cut / 10_000, before / 10_000, None, None])
    return {"fit": fit, "engagement": eng, "total": fit + eng - total_cut, "entries": entries}


contacts = st.lists(
    st.tuples(
        st.lists(st.booleans(), min_size=4, max_size=4),
        st.lists(st.integers(min_value=0, max_value=12), min_size=4, max_size=4),  # occurrences
        st.lists(st.integers(min_value=0, max_value=WEIGHT_SCALE), min_size=4, max_size=4),  # weight per occurrence
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=contacts)
def test_compute_and_explanations_match_the_reference(rows: list[Any]) -> None:
    model = _model()
    ids = np.arange(1, len(rows) + 1, dtype=np.int64)
    facts = Facts.empty(model, ids)
    for i, (matched, occurrences, unit_weight) in enumerate(rows):
        facts.matched[i] = matched
        facts.occurrences[i] = occurrences
        facts.weight[i] = [o * w for o, w in zip(occurrences, unit_weight, strict=True)]
    scores = compute(model, facts)
    texts = Renderer(scores).texts()
    for i in range(len(rows)):
        expected = reference(model, list(facts.matched[i]), facts.weight[i].tolist(), facts.occurrences[i].tolist())
        assert (int(scores.fit[i]), int(scores.engagement[i]), int(scores.total[i])) == (
            expected["fit"], expected["engagement"], expected["total"]
        )  # fmt: skip
        assert texts[i] == orjson.dumps(expected["entries"]).decode()
        # The points of the entries add up to the total: caps are entries of their own.
        assert round(sum(e[3] for e in expected["entries"]), 4) == expected["total"] / 10_000


def test_a_hand_computed_contact() -> None:
    model = _model()
    facts = Facts.empty(model, np.array([7], dtype=np.int64))
    facts.matched[0] = [True, True, True, False]  # 15 + 8 in "title" (cap 15), 7.5 -> fit 30.5 -> cap 20
    facts.occurrences[0] = [1, 3, 0, 0]
    facts.weight[0] = [WEIGHT_SCALE, 2 * WEIGHT_SCALE // 2, 0, 0]  # demo today; trial: two counted at half weight
    scores = compute(model, facts)
    # intent: 12 + 9.5 = 21.5 -> group cap 18; engagement 18 (cap 25); total 20 + 18 = 38 -> cap 35
    assert (int(scores.fit[0]), int(scores.engagement[0]), int(scores.total[0])) == (200_000, 180_000, 350_000)
    entries = orjson.loads(Renderer(scores).texts()[0])
    assert entries == [
        ["Senior", "title", "fit", 15.0, 15.0, "group title", None],
        ["Manager", "title", "fit", 8.0, 8.0, "group title", None],
        ["Big", "Big", "fit", 7.5, 7.5, "fit", None],
        ["Demo", "intent", "engagement", 12.0, 12.0, "group intent", 1],
        ["Trial", "intent", "engagement", 9.5, 19.0, "group intent", 3],
        ["group title", "title", "cap", -8.0, 23.0, None, None],
        ["group intent", "intent", "cap", -3.5, 21.5, None, None],
        ["fit", None, "cap", -2.5, 22.5, None, None],
        ["total", None, "cap", -3.0, 38.0, None, None],
    ]
    assert sum(e[3] for e in entries) == 35.0


def test_negative_points_lower_the_score_and_no_entries_means_no_row() -> None:
    model = _model()
    facts = Facts.empty(model, np.array([1, 2], dtype=np.int64))
    facts.matched[0] = [False, False, False, True]
    facts.occurrences[0] = [0, 0, 0, 1]
    facts.weight[0] = [0, 0, 0, WEIGHT_SCALE]
    scores = compute(model, facts)
    assert int(scores.total[0]) == -102_500  # -4.25 - 6
    assert scores.present.tolist() == [True, False]
    assert Renderer(scores).texts()[1] == "[]"


def _signature_facts(model: CompiledModel) -> Facts:
    facts = Facts.empty(model, np.arange(1, 7, dtype=np.int64))
    facts.matched[:, 0] = [True, True, False, False, True, False]
    facts.matched[:, 2] = [True, False, True, False, True, False]
    facts.matched[:, 3] = [False, False, False, False, False, True]  # contact 4 alone has nothing
    facts.weight[:, 0] = [WEIGHT_SCALE, 0, 2 * WEIGHT_SCALE, 0, WEIGHT_SCALE, 0]
    facts.occurrences[:, 0] = [1, 0, 2, 0, 1, 0]
    facts.weight[:, 2] = [0, 500_000, 0, 0, 0, 0]
    facts.occurrences[:, 2] = [0, 1, 0, 0, 0, 0]
    return facts


def test_signatures_follow_the_explanation_exactly() -> None:
    from pitboard.scoring.calc import signatures

    model = _model()
    facts = _signature_facts(model)
    scores = compute(model, facts)
    sigs = signatures(scores)
    texts = Renderer(scores).texts()
    # Contacts 1 and 5 have the same facts, hence the same explanation and the same signature; every other
    # pair differs in both. No signature is 0 (the table's "not known").
    assert texts[0] == texts[4]
    assert sigs[0] == sigs[4]
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6) if (i, j) != (0, 4)]
    assert all(sigs[i] != sigs[j] for i, j in pairs)
    assert (sigs != 0).all()
    # Same input, same signature: from one call, one subset and one process to the next (they are stored).
    assert signatures(scores, np.array([4, 1])).tolist() == [sigs[4], sigs[1]]
    assert signatures(compute(model, _signature_facts(model))).tolist() == sigs.tolist()
    # One more occurrence that the cap swallows leaves the total alone but changes the explanation (the
    # count), so the signature changes too.
    more = _signature_facts(model)
    more.occurrences[2, 0] = 3
    changed = signatures(compute(model, more))
    assert compute(model, more).total[2] == scores.total[2]
    assert Renderer(compute(model, more)).texts()[2] != texts[2]
    assert changed[2] != sigs[2]
    assert changed[[0, 1, 3, 4, 5]].tolist() == sigs[[0, 1, 3, 4, 5]].tolist()


def test_signatures_computed_by_threads_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """At scale each CPU's thread hashes its share of the rows: the result must not depend on it."""
    from pitboard.scoring import calc

    model = _model()
    scores = compute(model, _signature_facts(model))
    single = calc.signatures(scores, np.array([5, 0, 3, 2]))
    monkeypatch.setattr(calc, "_THREADED_FROM", 1)
    monkeypatch.setattr(calc.os, "cpu_count", lambda: 3)
    assert calc.signatures(scores, np.array([5, 0, 3, 2])).tolist() == single.tolist()
    assert calc.signatures(scores).tolist() == calc._signatures(scores, np.arange(6, dtype=np.int64)).tolist()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 5), st.integers(0, 3), st.integers(-(2**40), 2**40).filter(lambda d: d != 0))
def test_a_change_in_any_one_value_changes_the_signature(row: int, column: int, delta: int) -> None:
    from pitboard.scoring.calc import signatures

    model = _model()
    scores = compute(model, _signature_facts(model))
    before = signatures(scores)
    scores.points[row, len(model.fit) + column] += delta  # an engagement criterion's points
    assert signatures(scores)[row] != before[row]
    scores = compute(model, _signature_facts(model))
    scores.occurrences[row, column] += delta
    assert signatures(scores)[row] != before[row]
    scores = compute(model, _signature_facts(model))
    scores.matched[row, column] = not scores.matched[row, column]
    assert signatures(scores)[row] != before[row]
