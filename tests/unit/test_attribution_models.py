"""Attribution models checked against their published definitions on hand-worked examples, and exact sums."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pitboard.kit.errors import ValidationFailed
from pitboard.measurement.attribution import (
    CONVERSION_UNITS,
    MAX_SHAPLEY_CHANNELS,
    MODELS,
    NO_TOUCH,
    Journeys,
    ModelSpec,
    attribute,
    attribute_all,
    conversion_probability,
    largest_remainder,
    markov,
    shapley,
    shapley_values,
    transition_counts,
)

DAY = 86400.0


def cents(result_credits: dict[str, object]) -> dict[str, int]:
    return {k: v.amount_cents for k, v in result_credits.items()}  # type: ignore[attr-defined]


def one(path: list[str], amount: int = 10_000, **kw: object) -> Journeys:
    return Journeys.from_paths([path], amounts=[amount], **kw)  # type: ignore[arg-type]


def credit(path: list[str], model: str | ModelSpec, amount: int = 10_000, **kw: object) -> dict[str, int]:
    return cents(attribute(one(path, amount, **kw), model).by_label())


# --- single-touch models ---------------------------------------------------------------------------------


def test_first_last_and_last_non_direct() -> None:
    path = ["Organic Search", "Email", "Paid Search", "Direct"]
    assert credit(path, "first_touch") == {"Organic Search": 10_000}
    assert credit(path, "last_touch") == {"Direct": 10_000}
    # Google Analytics: direct traffic is ignored unless the path is direct only.
    assert credit(path, "last_non_direct") == {"Paid Search": 10_000}
    assert credit(["Direct", "Direct"], "last_non_direct") == {"Direct": 10_000}


def test_linear_splits_evenly_and_the_spare_cent_goes_to_the_earliest_touch() -> None:
    assert credit(["A", "B", "C"], "linear", amount=100) == {"A": 34, "B": 33, "C": 33}
    assert credit(["A", "B", "A", "B"], "linear", amount=1000) == {"A": 500, "B": 500}


def test_time_decay_uses_a_seven_day_half_life_by_default() -> None:
    # Touches 14 days and 7 days before the conversion, and on the day: weights 1/4, 1/2, 1 -> 1/7, 2/7, 4/7.
    kw = {"times": [[-14 * DAY, -7 * DAY, 0.0]], "ends": [0.0]}
    assert credit(["A", "B", "C"], "time_decay", amount=70_000, **kw) == {"A": 10_000, "B": 20_000, "C": 40_000}
    # A one-day half-life: weights 2^-14, 2^-7, 1.
    spec = ModelSpec("time_decay", half_life_days=1.0)
    got = credit(["A", "B", "C"], spec, amount=1_000_000, **kw)
    w = [2**-14, 2**-7, 1.0]
    assert got["C"] == pytest.approx(1_000_000 * w[2] / sum(w), abs=1)
    assert sum(got.values()) == 1_000_000


def test_position_based_40_20_40_with_the_one_and_two_touch_rules() -> None:
    assert credit(["A", "B", "C", "D"], "position_based") == {"A": 4000, "B": 1000, "C": 1000, "D": 4000}
    assert credit(["A", "B", "C"], "position_based") == {"A": 4000, "B": 2000, "C": 4000}
    assert credit(["A", "B"], "position_based") == {"A": 5000, "B": 5000}
    assert credit(["A"], "position_based") == {"A": 10_000}
    assert credit(["A", "B", "A"], "position_based") == {"A": 8000, "B": 2000}


def test_w_shaped_on_first_touch_lead_and_opportunity_creation() -> None:
    path = ["A", "B", "C", "D", "E"]
    got = credit(path, "w_shaped", lead=[1], opportunity=[3])
    assert got == {"A": 3000, "B": 3000, "C": 500, "D": 3000, "E": 500}
    # Lead created on the first touch: that touch carries both shares.
    got = credit(path, "w_shaped", lead=[0], opportunity=[3])
    assert got == {"A": 6000, "B": 334, "C": 333, "D": 3000, "E": 333}


def test_full_path_gives_22_5_percent_to_four_milestones() -> None:
    path = ["A", "B", "C", "D", "E", "F"]
    got = credit(path, "full_path", lead=[1], opportunity=[3], close=[5])
    assert got == {"A": 2250, "B": 2250, "C": 500, "D": 2250, "E": 500, "F": 2250}


def test_missing_milestones_leave_their_share_to_the_other_touches() -> None:
    # An opportunity still open has no closing touch: 22.5 % more for the others.
    got = credit(["A", "B", "C", "D"], "full_path", lead=[1], opportunity=[2])
    assert got == {"A": 2250, "B": 2250, "C": 2250, "D": 3250}


def test_custom_weights_and_their_validation() -> None:
    spec = ModelSpec("custom", weights={"first": 0.5, "last": 0.5})
    assert credit(["A", "B", "C"], spec) == {"A": 5000, "C": 5000}
    spec = ModelSpec("custom", weights={"first": 0.6})
    assert credit(["A", "B", "C"], spec) == {"A": 6000, "B": 2000, "C": 2000}
    with pytest.raises(ValidationFailed, match=r"add up to 1\.2"):
        ModelSpec("custom", weights={"first": 0.6, "last": 0.6})
    with pytest.raises(ValidationFailed, match="unknown milestone 'middle'"):
        ModelSpec("custom", weights={"middle": 0.5})
    with pytest.raises(ValidationFailed, match="need at least one"):
        ModelSpec("custom")
    with pytest.raises(ValidationFailed, match="unknown attribution model"):
        ModelSpec("u_shaped")
    with pytest.raises(ValidationFailed, match="half_life_days"):
        ModelSpec("time_decay", half_life_days=0)


# --- Markov ----------------------------------------------------------------------------------------------

CLASSIC = [["C1", "C2", "C3"], ["C1"], ["C2", "C3"]]


def test_markov_removal_effects_on_the_classic_three_channel_example() -> None:
    # start->C1 2/3, start->C2 1/3, C1->C2 1/2, C1->null 1/2, C2->C3 1, C3->conv 1/2, C3->null 1/2.
    # P(conv) = 2/3*1/2*1*1/2 + 1/3*1*1/2 = 1/3. Without C1: 1/6 (effect 0.5); without C2 or C3: 0 (effect 1).
    # Shares 0.5/2.5, 1/2.5, 1/2.5 = 0.2, 0.4, 0.4.
    journeys = Journeys.from_paths(CLASSIC, amounts=[100_000, 0, 0])
    result = markov(journeys)
    assert result.details["conversion_probability"] == pytest.approx(1 / 3)
    assert result.details["removal_effects"] == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0})
    assert cents(result.by_label()) == {"C1": 20_000, "C2": 40_000, "C3": 40_000}
    assert {k: v.conversions_micro for k, v in result.by_label().items()} == {"C1": 200_000, "C2": 400_000,
                                                                              "C3": 400_000}  # fmt: skip


def test_markov_is_exact_and_self_loops_do_not_change_it() -> None:
    counts = transition_counts(Journeys.from_paths(CLASSIC, amounts=[1, 0, 0]))
    assert conversion_probability(counts) == pytest.approx(1 / 3, abs=1e-15)
    looped = Journeys.from_paths([["C1", "C1", "C2", "C3", "C3"], ["C1", "C1"], ["C2", "C2", "C3"]],
                                 amounts=[100_000, 0, 0])  # fmt: skip
    assert markov(looped).details["removal_effects"] == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0})


# --- Shapley ---------------------------------------------------------------------------------------------


def test_shapley_values_on_a_two_channel_example() -> None:
    # v(A) = 1/10, v(B) = 2/10, v(AB) = 5/10. phi_A = (0.1 + 0.5 - 0.2)/2 = 0.2, phi_B = (0.2 + 0.5 - 0.1)/2 = 0.3.
    paths = [["A"]] * 10 + [["B"]] * 10 + [["A", "B"]] * 10
    converted = [i < 1 for i in range(10)] + [i < 2 for i in range(10)] + [i < 5 for i in range(10)]
    result = shapley(Journeys.from_paths(paths, converted=converted, amounts=[0] * 30))
    assert result.details["shapley_conversion_rate"] == pytest.approx({"A": 0.2, "B": 0.3})
    # 8 conversions, 40 % / 60 %.
    assert {k: v.conversions_micro for k, v in result.by_label().items()} == {"A": 3_200_000, "B": 4_800_000}


def test_shapley_values_satisfy_efficiency_and_symmetry() -> None:
    rng = np.random.default_rng(3)
    n = 5
    v = rng.random(1 << n)
    v[0] = 0.0
    phi = shapley_values(v, n)
    assert phi.sum() == pytest.approx(v[-1] - v[0])
    # A game symmetric in players 0 and 1.
    sym = np.array([bin(m & 0b11).count("1") * 2.0 + (m >> 2) for m in range(1 << n)])
    phi = shapley_values(sym, n)
    assert phi[0] == pytest.approx(phi[1])


def test_shapley_refuses_more_channels_than_it_can_enumerate() -> None:
    paths = [[f"c{i}" for i in range(MAX_SHAPLEY_CHANNELS + 1)]]
    with pytest.raises(ValidationFailed, match=f"at most {MAX_SHAPLEY_CHANNELS} channels"):
        shapley(Journeys.from_paths(paths, amounts=[100]))


# --- exact sums for every model --------------------------------------------------------------------------


def random_journeys(seed: int, count: int = 400, channels: int = 6) -> Journeys:
    rng = np.random.default_rng(seed)
    names = ["Direct", "Email", "Paid Search", "Organic Search", "Referral", "Paid Social"][:channels]
    paths, amounts, leads, opps, closes, times, ends = [], [], [], [], [], [], []
    for _ in range(count):
        k = int(rng.integers(0, 7))
        paths.append([names[int(i)] for i in rng.integers(0, channels, k)])
        amounts.append(int(rng.integers(1, 5_000_000)) if rng.random() < 0.4 else 0)
        leads.append(int(rng.integers(-1, k)) if k else -1)
        opps.append(int(rng.integers(-1, k)) if k else -1)
        closes.append(k - 1 if k and rng.random() < 0.5 else -1)
        times.append(sorted(float(t) for t in rng.uniform(-90 * DAY, 0, k)))
        ends.append(0.0)
    return Journeys.from_paths(paths, amounts=amounts, lead=leads, opportunity=opps, close=closes, times=times,
                               ends=ends)  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_model_sums_exactly_to_the_amount_and_the_conversions(seed: int) -> None:
    journeys = random_journeys(seed)
    total = int(journeys.amount_cents[journeys.converted].sum())
    conversions = int(journeys.converted.sum())
    specs = [m for m in MODELS if m != "custom"] + [ModelSpec("custom", weights={"lead": 0.5, "close": 0.25})]
    results = attribute_all(journeys, specs)
    assert set(results) == set(MODELS)
    for model, result in results.items():
        assert sum(c.amount_cents for c in result.credits) == total, model
        assert sum(c.conversions_micro for c in result.credits) == conversions * CONVERSION_UNITS, model
        assert all(c.amount_cents >= 0 and c.conversions_micro >= 0 for c in result.credits), model
        assert result.total_amount_cents == total
    # Converting journeys without touches are credited to "(no touchpoint)", not dropped.
    untouched = journeys.converted & (journeys.lengths == 0)
    if untouched.any():
        assert results["linear"].by_label()[NO_TOUCH].conversions_micro == int(untouched.sum()) * CONVERSION_UNITS


def test_rule_based_credits_are_exact_per_journey() -> None:
    # Three journeys of 1 cent each over 3 touches: each journey's cent goes to its earliest touch.
    journeys = Journeys.from_paths([["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"]], amounts=[1, 1, 1])
    assert cents(attribute(journeys, "linear").by_label()) == {"A": 1, "B": 1, "C": 1}


def test_largest_remainder() -> None:
    assert largest_remainder([1, 1, 1], 100) == [34, 33, 33]
    assert largest_remainder([0.2, 0.4, 0.4], 7) == [1, 3, 3]
    assert sum(largest_remainder([math.pi, math.e, 1.0], 1_000_001)) == 1_000_001
    assert largest_remainder([0, 0], 5) == [0, 0]


def test_bad_journeys_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Journeys.from_paths([["A"]], amounts=[-1])


def test_no_journeys_and_journeys_without_touches() -> None:
    empty = Journeys.from_paths([])
    for model in MODELS:
        spec = ModelSpec(model, weights={"first": 1.0}) if model == "custom" else model
        result = attribute(empty, spec)
        assert result.credits == [], model
        assert result.total_amount_cents == 0, model
    untouched = Journeys.from_paths([[], []], amounts=[500, 0])
    for model in MODELS:
        spec = ModelSpec(model, weights={"first": 1.0}) if model == "custom" else model
        assert attribute(untouched, spec).by_label()[NO_TOUCH].amount_cents == 500, model
