"""Stored facts (codec.py) decode to the very scores and explanation texts they were encoded from, at any
width, and facts that do not fit their model version are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitboard.scoring import codec
from pitboard.scoring.calc import Facts, Renderer, compute, signatures
from tests.unit.test_scoring_calc import _model

LIMIT = 2**40


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(st.booleans(), min_size=4, max_size=4),
            st.lists(st.integers(0, LIMIT), min_size=4, max_size=4),
            st.lists(st.integers(0, LIMIT), min_size=4, max_size=4),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_facts_round_trip_to_the_same_scores_and_texts(rows: list[tuple[list[bool], list[int], list[int]]]) -> None:
    model = _model()
    facts = Facts.empty(model, np.arange(1, len(rows) + 1, dtype=np.int64))
    for i, (matched, weight, occurrences) in enumerate(rows):
        facts.matched[i] = matched
        facts.weight[i] = weight
        facts.occurrences[i] = occurrences
    scores = compute(model, facts)
    packed = codec.encode(scores)
    assert len({len(b) for b in codec.as_bytes(packed)}) == 1
    decoded = codec.decode(model, scores.contact_ids, codec.as_bytes(packed))
    assert decoded.total.tolist() == scores.total.tolist()
    assert Renderer(decoded).texts() == Renderer(scores).texts()
    assert signatures(decoded).tolist() == signatures(scores).tolist()
    # Every contact with facts, in any order: the same bytes as their rows of the whole (the widths come from
    # whole columns, where the others are 0). A few of them: widths of their own, decoded the same.
    present = np.flatnonzero(scores.present)
    assert np.array_equal(codec.encode(scores, present[::-1]), packed[present[::-1]])
    few = present[::2]
    texts = Renderer(scores).texts()
    decoded_few = codec.decode(model, scores.contact_ids[few], codec.as_bytes(codec.encode(scores, few)))
    assert Renderer(decoded_few).texts() == [texts[i] for i in few.tolist()]


def test_widths_follow_the_largest_value_and_rows_of_several_writes_decode_together() -> None:
    model = _model()
    small = Facts.empty(model, np.array([1], dtype=np.int64))
    small.occurrences[0, 0], small.weight[0, 0] = 3, 3_000_000
    big = Facts.empty(model, np.array([2], dtype=np.int64))
    big.occurrences[0, 2], big.weight[0, 2] = 70_000, 70_000 * 1_000_000  # 23,331 points: 4 bytes of units
    small_bytes = codec.as_bytes(codec.encode(compute(model, small)))
    big_bytes = codec.as_bytes(codec.encode(compute(model, big)))
    # 1 format byte + 1 byte of fit bits + 4 criteria x (points + occurrences)
    assert len(small_bytes[0]) == 1 + 1 + 4 * (4 + 1)  # 360,000 units need 4 bytes, 3 occurrences 1
    assert len(big_bytes[0]) == 1 + 1 + 4 * (4 + 4)  # 70,000 occurrences need 4 bytes too
    both = codec.decode(model, np.array([1, 2], dtype=np.int64), [small_bytes[0], big_bytes[0]])
    assert both.occurrences[:, 0].tolist() == [3, 0]
    assert both.occurrences[:, 2].tolist() == [0, 70_000]


def test_facts_of_another_model_version_are_refused() -> None:
    model = _model()
    facts = Facts.empty(model, np.array([1], dtype=np.int64))
    stored = codec.as_bytes(codec.encode(compute(model, facts)))[0]
    with pytest.raises(codec.FactsError, match="do not fit version"):
        codec.decode(model, np.array([1], dtype=np.int64), [stored + b"\x00"])
    with pytest.raises(codec.FactsError, match="format 2"):
        codec.decode(model, np.array([1], dtype=np.int64), [bytes([0x20]) + stored[1:]])
