"""Robust anomaly detection with weekly seasonality, as pure functions.

A day is compared with the same weekday of the previous ``weeks`` weeks (Mondays with Mondays: B2B traffic
has a strong weekly rhythm), using the median as the expected value and the median absolute deviation (MAD)
as the spread, scaled by 1.4826 so it estimates a standard deviation under normal noise. The robust z-score
``(x - median) / (1.4826 * MAD)`` is compared with the sensitivity (3.5 by default, Iglewicz and Hoaglin's
cut-off). Medians ignore a past outlier that a mean and standard deviation would absorb.

When the history is flat (MAD 0), the spread falls back to 1.2533 times the mean absolute deviation around the
median, and when that is 0 too, any change of at least ``min_change`` (and more than nothing) is anomalous.
Weekly checks compare a week's total with the previous ``weeks`` weeks' totals the same way.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533


@dataclass(frozen=True)
class Verdict:
    value: float
    expected: float
    lower: float
    upper: float
    score: float | None  # robust z-score, None when the spread is 0
    anomalous: bool
    baseline: tuple[float, ...]

    @property
    def direction(self) -> str:
        return "above" if self.value > self.expected else "below"


def robust_check(
    value: float,
    baseline: Sequence[float],
    *,
    sensitivity: float = 3.5,
    direction: str = "both",
    min_change: float = 0.0,
) -> Verdict | None:
    """Is ``value`` anomalous against ``baseline``? ``None`` when there are fewer than 3 baseline values."""
    if len(baseline) < 3:
        return None
    median = float(statistics.median(baseline))
    mad = float(statistics.median(abs(b - median) for b in baseline))
    spread = MAD_SCALE * mad
    if spread == 0:
        spread = MEAN_AD_SCALE * float(statistics.fmean(abs(b - median) for b in baseline))
    delta = value - median
    if spread > 0:
        score: float | None = delta / spread
        outside = abs(delta) > sensitivity * spread
    else:
        score = None
        outside = delta != 0
    big_enough = abs(delta) >= min_change
    side = direction == "both" or (direction == "above" and delta > 0) or (direction == "below" and delta < 0)
    band = sensitivity * spread
    return Verdict(value, median, median - band, median + band, score, bool(outside and big_enough and side),
                   tuple(baseline))  # fmt: skip


def weekday_baseline(days: Mapping[date, float], day: date, weeks: int) -> list[float]:
    """The same weekday in each of the previous ``weeks`` weeks that has a value."""
    out = []
    for k in range(1, weeks + 1):
        past = day - timedelta(weeks=k)
        if past in days:
            out.append(days[past])
    return out


def weekly_totals(days: Mapping[date, float], week_start: date, weeks: int) -> tuple[float, list[float]]:
    """The total of the week starting ``week_start`` and of each of the ``weeks`` weeks before it."""

    def total(start: date) -> float:
        return sum(days.get(start + timedelta(days=i), 0.0) for i in range(7))

    return total(week_start), [total(week_start - timedelta(weeks=k)) for k in range(1, weeks + 1)]
