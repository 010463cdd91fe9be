"""Robust anomaly detection with weekly seasonality, on hand-worked numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pitboard.measurement.anomaly import robust_check, weekday_baseline, weekly_totals


def test_median_and_mad_on_a_worked_example() -> None:
    # Baseline 10, 12, 9, 11, 10, 13, 10, 11: median 10.5; |deviations| 0.5 1.5 1.5 0.5 0.5 2.5 0.5 0.5 -> MAD 0.5,
    # spread 1.4826 * 0.5 = 0.7413; a band of 3.5 spreads is +-2.5946 around 10.5.
    baseline = [10, 12, 9, 11, 10, 13, 10, 11]
    v = robust_check(40, baseline)
    assert v is not None
    assert v.anomalous
    assert v.direction == "above"
    assert v.expected == 10.5
    assert v.upper == pytest.approx(10.5 + 3.5 * 0.7413)
    assert v.score == pytest.approx(29.5 / 0.7413)
    normal = robust_check(12, baseline)
    assert normal is not None
    assert not normal.anomalous
    assert robust_check(13.2, baseline) is not None
    assert robust_check(13.2, baseline).anomalous


def test_one_past_outlier_does_not_widen_the_band() -> None:
    # A mean/standard deviation would be dragged up by the 100; the median and MAD are not.
    v = robust_check(20, [10, 12, 9, 100, 11, 10, 13, 10])  # median 10.5, MAD 1.0
    assert v is not None
    assert v.anomalous


def test_direction_min_change_and_flat_history() -> None:
    baseline = [10.0, 11.0, 10.0, 9.0, 10.0]
    low = robust_check(2, baseline, direction="above")
    assert low is not None
    assert not low.anomalous
    assert robust_check(2, baseline, direction="below").anomalous  # type: ignore[union-attr]
    assert not robust_check(40, baseline, min_change=50).anomalous  # type: ignore[union-attr]
    # MAD 0 (mostly flat): the mean absolute deviation takes over.
    flat = robust_check(7, [5, 5, 5, 5, 6])
    assert flat is not None
    assert flat.anomalous
    # Entirely flat: any change counts, no change does not.
    assert robust_check(6, [5, 5, 5]).anomalous  # type: ignore[union-attr]
    assert not robust_check(5, [5, 5, 5]).anomalous  # type: ignore[union-attr]
    assert robust_check(5, [5, 5]) is None  # not enough history


def test_weekday_baseline_and_weekly_totals() -> None:
    monday = date(2026, 3, 30)
    days = {monday - timedelta(weeks=k): float(k) for k in range(1, 10)}
    days[monday - timedelta(days=1)] = 99.0  # a Sunday: not in a Monday baseline
    assert weekday_baseline(days, monday, 8) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    current, past = weekly_totals(days, monday - timedelta(weeks=1), 2)
    assert current == 1.0 + 99.0
    assert past == [2.0, 3.0]
