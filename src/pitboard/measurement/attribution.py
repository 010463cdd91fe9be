"""Multi-touch attribution as pure functions over journeys (no database here; see ``journeys.py`` for loading).

A *journey* is one person's (or account's) ordered touchpoints and what it ended in: a conversion with an amount
in integer cents, or nothing. Journeys are held column-wise in numpy arrays (:class:`Journeys`) so every model
runs vectorised over a million journeys.

Conventions (docs/attribution.md gives the sources):

- **Rule-based models** put a weight on every touch of a converting journey and split the journey's amount and its
  one conversion in proportion. They are all *milestone* models: named touches (first, last, lead creation,
  opportunity creation, close) get fixed shares, and what is left is spread evenly over the other touches; when
  there are no other touches, the rest goes to the milestone touches in proportion to their shares (that gives
  position-based its usual rules: one touch 100 %, two touches 50/50). Milestones that fall on the same touch add
  up; a milestone that the journey does not have (no lead-creation touch inside the window) leaves its share to
  the rest. Last non-direct picks the last touch whose channel is not Direct, or the last touch when all are
  Direct (Google Analytics' rule). Time decay weighs a touch ``2 ** (-age / half_life)`` with its age measured
  at the conversion (Google Analytics: 7-day half-life).
- **Markov removal effect** (first order, Anderl et al. 2016): states start, one per channel, conversion, null.
  Transition probabilities are counted from every journey (converting or not); the probability of reaching
  conversion from start is solved exactly from the absorbing chain, ``(I - Q) x = r``; removing a channel sends
  everything that reaches it to null. Credit is proportional to the removal effects. Repeating the same channel
  (a self-loop) does not change absorption probabilities, so repeats need no collapsing.
- **Shapley values** (Shao and Li 2011, Dalessandro et al. 2012): the value of a coalition S of channels is the
  conversion rate (and the amount per journey) of the journeys whose set of channels is exactly S. Shapley values
  are computed exactly over all 2^n coalitions, so the number of channels is limited to :data:`MAX_SHAPLEY_CHANNELS`.
  Negative values (a channel whose presence lowers the rate) are given no credit before normalising.
- **Exact sums**: every credit is an integer number of cents (and of millionths of a conversion) allocated by the
  largest-remainder method, so credits add up to the amount and the conversion count exactly, per journey for the
  rule-based models and per channel for the data-driven ones. Ties go to the earlier touch (or the earlier label).
  Converting journeys without touches are credited to :data:`NO_TOUCH` so nothing is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from pitboard.kit.errors import ValidationFailed

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

NO_TOUCH = "(no touchpoint)"
DIRECT = "Direct"
CONVERSION_UNITS = 1_000_000  # conversions are credited in millionths so they add up exactly
MAX_SHAPLEY_CHANNELS = 20  # 2^20 coalitions: about a second; each extra channel doubles it
DEFAULT_HALF_LIFE_DAYS = 7.0
MILESTONES = ("first", "last", "lead", "opportunity", "close")

RULE_SHARES: dict[str, dict[str, float]] = {
    "first_touch": {"first": 1.0},
    "last_touch": {"last": 1.0},
    "linear": {},
    "position_based": {"first": 0.4, "last": 0.4},
    "w_shaped": {"first": 0.3, "lead": 0.3, "opportunity": 0.3},
    "full_path": {"first": 0.225, "lead": 0.225, "opportunity": 0.225, "close": 0.225},
}
MODELS: tuple[str, ...] = (
    "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based", "w_shaped",
    "full_path", "custom", "markov", "shapley",
)  # fmt: skip
MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position_based": "Position-based 40/20/40",
    "w_shaped": "W-shaped 30/30/30/10",
    "full_path": "Full path 22.5x4/10",
    "custom": "Custom weights",
    "markov": "Markov removal effect",
    "shapley": "Shapley value",
}


@dataclass
class Journeys:
    """Journeys column-wise. Touches of journey ``j`` are ``offsets[j]:offsets[j+1]``, oldest first.

    ``label`` is each touch's channel (or campaign) as an index into ``labels``; ``at`` its time in seconds;
    ``end`` each journey's conversion time (or the end of the window); ``lead``/``opportunity``/``close`` the
    position within the journey of the touch that created the lead, the opportunity and closed the deal (-1: none).
    """

    labels: list[str]
    offsets: I64
    label: I64
    at: F64
    end: F64
    amount_cents: I64
    converted: Bools
    lead: I64
    opportunity: I64
    close: I64
    keys: list[Any] = field(default_factory=list)  # what each journey is (an opportunity id), for drill-down

    def __post_init__(self) -> None:
        j = len(self.offsets) - 1
        if j < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.label) or len(self.at) != len(self.label):
            raise ValueError("offsets must start at 0 and end at the number of touches")
        for name in ("end", "amount_cents", "converted", "lead", "opportunity", "close"):
            if len(getattr(self, name)) != j:
                raise ValueError(f"{name} needs one value per journey")
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must not decrease")
        if np.any(self.amount_cents < 0):
            raise ValueError("amounts must not be negative")

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> I64:
        return np.diff(self.offsets)

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[Sequence[str]],
        *,
        amounts: Sequence[int] | None = None,
        converted: Sequence[bool] | None = None,
        times: Sequence[Sequence[float]] | None = None,
        ends: Sequence[float] | None = None,
        lead: Sequence[int] | None = None,
        opportunity: Sequence[int] | None = None,
        close: Sequence[int] | None = None,
        keys: Sequence[Any] | None = None,
    ) -> Journeys:
        """Journeys from lists of labels (tests, examples). Amounts are in cents; ``converted`` defaults to
        "has an amount", and times (seconds) to one day apart ending at ``ends`` (default 0)."""
        n = len(paths)
        labels: list[str] = []
        index: dict[str, int] = {}
        flat: list[int] = []
        at: list[float] = []
        offsets = [0]
        end_values = list(ends) if ends is not None else [0.0] * n
        for j, path in enumerate(paths):
            for i, name in enumerate(path):
                if name not in index:
                    index[name] = len(labels)
                    labels.append(name)
                flat.append(index[name])
                at.append(times[j][i] if times is not None else end_values[j] - 86400.0 * (len(path) - i))
            offsets.append(len(flat))
        amount = list(amounts) if amounts is not None else [0] * n
        conv = list(converted) if converted is not None else [a > 0 for a in amount]
        minus = [-1] * n
        return cls(
            labels=labels,
            offsets=np.asarray(offsets, dtype=np.int64),
            label=np.asarray(flat, dtype=np.int64),
            at=np.asarray(at, dtype=np.float64),
            end=np.asarray(end_values, dtype=np.float64),
            amount_cents=np.asarray(amount, dtype=np.int64),
            converted=np.asarray(conv, dtype=np.bool_),
            lead=np.asarray(lead if lead is not None else minus, dtype=np.int64),
            opportunity=np.asarray(opportunity if opportunity is not None else minus, dtype=np.int64),
            close=np.asarray(close if close is not None else minus, dtype=np.int64),
            keys=list(keys) if keys is not None else [],
        )


@dataclass(frozen=True)
class Credit:
    label: str
    amount_cents: int
    conversions_micro: int

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_cents) / 100

    @property
    def conversions(self) -> Decimal:
        return Decimal(self.conversions_micro) / CONVERSION_UNITS


@dataclass(frozen=True)
class Attribution:
    """One model's credit per label; amounts in cents and conversions in millionths add up exactly."""

    model: str
    credits: list[Credit]
    total_amount_cents: int
    total_conversions: int
    details: dict[str, Any] = field(default_factory=dict)  # removal effects, Shapley values, parameters

    def by_label(self) -> dict[str, Credit]:
        return {c.label: c for c in self.credits}


@dataclass(frozen=True)
class ModelSpec:
    """A model and its parameters: ``half_life_days`` for time decay, ``weights`` (milestone -> share, with
    the rest spread over the other touches) for custom."""

    model: str
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    weights: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValidationFailed(f"unknown attribution model {self.model!r}; known: {', '.join(MODELS)}")
        if not (math.isfinite(self.half_life_days) and self.half_life_days > 0):
            raise ValidationFailed("half_life_days must be a positive number of days")
        if self.model == "custom":
            check_weights(self.weights or {})


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Custom milestone weights: known milestones, shares between 0 and 1 that add up to at most 1."""
    if not weights:
        raise ValidationFailed(f"custom weights need at least one of: {', '.join(MILESTONES)}")
    out: dict[str, float] = {}
    for name, share in weights.items():
        if name not in MILESTONES:
            raise ValidationFailed(f"unknown milestone {name!r} in custom weights; known: {', '.join(MILESTONES)}")
        value = float(share)
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise ValidationFailed(f"custom weight {name} must be between 0 and 1, not {share}")
        out[name] = value
    if sum(out.values()) > 1 + 1e-9:
        raise ValidationFailed(f"custom weights add up to {sum(out.values()):g}; they may add up to 1 at most")
    return out


# --- entry points ----------------------------------------------------------------------------------------


def attribute(journeys: Journeys, spec: ModelSpec | str) -> Attribution:
    """Credit per label under one model."""
    spec = ModelSpec(spec) if isinstance(spec, str) else spec
    if spec.model == "markov":
        return markov(journeys)
    if spec.model == "shapley":
        return shapley(journeys)
    weights = touch_weights(journeys, spec)
    return _from_touch_weights(journeys, spec.model, weights)


def attribute_all(journeys: Journeys, specs: Sequence[ModelSpec | str] | None = None) -> dict[str, Attribution]:
    chosen = specs if specs is not None else [m for m in MODELS if m != "custom"]
    out: dict[str, Attribution] = {}
    for spec in chosen:
        result = attribute(journeys, spec)
        out[result.model] = result
    return out


# --- rule-based models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    """Per-touch helpers for the converting journeys' touches."""

    jid: I64  # journey of each touch
    pos: I64  # position within its journey
    starts: I64  # first touch index per journey
    lengths: I64


def _frame(journeys: Journeys) -> _Frame:
    lengths = journeys.lengths
    jid = np.repeat(np.arange(journeys.count, dtype=np.int64), lengths)
    starts = journeys.offsets[:-1]
    pos = np.arange(len(journeys.label), dtype=np.int64) - starts[jid]
    return _Frame(jid, pos, starts, lengths)


def touch_weights(journeys: Journeys, spec: ModelSpec) -> F64:
    """Each touch's share of its journey (shares of a journey with touches add up to 1)."""
    frame = _frame(journeys)
    if spec.model == "time_decay":
        age = np.maximum(journeys.end[frame.jid] - journeys.at, 0.0)
        raw = np.exp2(-age / (spec.half_life_days * 86400.0))
        total = np.bincount(frame.jid, weights=raw, minlength=journeys.count).astype(np.float64)
        return np.asarray(raw / total[frame.jid], dtype=np.float64)
    if spec.model == "last_non_direct":
        return _last_non_direct(journeys, frame)
    shares = check_weights(spec.weights or {}) if spec.model == "custom" else RULE_SHARES[spec.model]
    return milestone_weights(journeys, shares, frame)


def _milestone_index(journeys: Journeys, frame: _Frame, milestone: str) -> I64:
    """The touch index of a milestone per journey, -1 where the journey has none."""
    has = frame.lengths > 0
    if milestone == "first":
        idx = frame.starts.copy()
    elif milestone == "last":
        idx = frame.starts + frame.lengths - 1
    else:
        pos = getattr(journeys, milestone)
        has = has & (pos >= 0) & (pos < frame.lengths)
        idx = frame.starts + pos
    return np.where(has, idx, -1).astype(np.int64)


def milestone_weights(journeys: Journeys, shares: Mapping[str, float], frame: _Frame | None = None) -> F64:
    frame = frame or _frame(journeys)
    n = len(journeys.label)
    weights = np.zeros(n, dtype=np.float64)
    milestone = np.zeros(n, dtype=np.bool_)
    for name, share in shares.items():
        idx = _milestone_index(journeys, frame, name)
        idx = idx[idx >= 0]
        np.add.at(weights, idx, share)
        milestone[idx] = True
    assigned = np.bincount(frame.jid, weights=weights, minlength=journeys.count).astype(np.float64)
    others = np.bincount(frame.jid, weights=(~milestone).astype(np.float64), minlength=journeys.count).astype(
        np.float64
    )
    rest = np.maximum(1.0 - assigned, 0.0)
    spread = np.divide(rest, others, out=np.zeros_like(rest), where=others > 0)
    weights = np.where(milestone, weights, spread[frame.jid])
    # No other touches: the rest goes to the milestones in proportion to their shares.
    scale = np.divide(1.0, assigned, out=np.ones_like(assigned), where=(others == 0) & (assigned > 0))
    return np.asarray(np.where(milestone, weights * scale[frame.jid], weights), dtype=np.float64)


def _last_non_direct(journeys: Journeys, frame: _Frame) -> F64:
    direct = np.array([name == DIRECT for name in journeys.labels], dtype=np.bool_)
    non_direct = ~direct[journeys.label] if len(journeys.labels) else np.zeros(0, dtype=np.bool_)
    key = np.where(non_direct, frame.pos, -1)
    best = np.full(journeys.count, -1, dtype=np.int64)
    np.maximum.at(best, frame.jid, key)
    chosen = np.where(best >= 0, best, frame.lengths - 1)
    return np.asarray(frame.pos == chosen[frame.jid], dtype=np.float64)


def _from_touch_weights(journeys: Journeys, model: str, weights: F64) -> Attribution:
    converting = journeys.converted
    frame = _frame(journeys)
    touch_on = converting[frame.jid]
    amount = np.where(converting, journeys.amount_cents, 0)
    units = np.where(converting, CONVERSION_UNITS, 0).astype(np.int64)
    cents = largest_remainder_per_journey(weights, frame, amount, touch_on)
    micro = largest_remainder_per_journey(weights, frame, units, touch_on)
    nlab = len(journeys.labels)
    by_cents = np.rint(np.bincount(journeys.label, weights=cents.astype(np.float64), minlength=nlab)).astype(np.int64)
    by_micro = np.rint(np.bincount(journeys.label, weights=micro.astype(np.float64), minlength=nlab)).astype(np.int64)
    untouched = converting & (frame.lengths == 0)
    return _result(
        model, journeys.labels, by_cents, by_micro,
        no_touch=(int(journeys.amount_cents[untouched].sum()), int(untouched.sum()) * CONVERSION_UNITS),
        total_amount=int(amount.sum()), total_conversions=int(converting.sum()),
    )  # fmt: skip


def largest_remainder_per_journey(weights: F64, frame: _Frame, totals: I64, active: Bools) -> I64:
    """Integer credits per touch: ``totals[j]`` split over journey j's touches in proportion to ``weights``,
    floors first, then one unit each to the largest fractions (ties: earlier touch). Sums are exact."""
    share = np.where(active, weights, 0.0)
    raw = share * totals[frame.jid].astype(np.float64)
    base = np.floor(raw).astype(np.int64)
    missing = totals - np.bincount(frame.jid, weights=base.astype(np.float64), minlength=len(totals)).astype(np.int64)
    missing = np.where(frame.lengths > 0, missing, 0)
    frac = np.round(raw - base, 9)
    order = np.lexsort((frame.pos, -frac, frame.jid))
    rank = np.arange(len(order), dtype=np.int64) - frame.starts[frame.jid[order]]
    bump = rank < missing[frame.jid[order]]
    base[order[bump]] += 1
    return np.asarray(base, dtype=np.int64)


def largest_remainder(shares: Sequence[float] | F64, total: int) -> list[int]:
    """``total`` split in proportion to ``shares`` into integers that add up to it exactly (ties: earlier)."""
    values = np.asarray(shares, dtype=np.float64)
    if total == 0 or values.sum() <= 0:
        return [0] * len(values)
    raw = values / values.sum() * total
    base = np.floor(raw).astype(np.int64)
    missing = int(total - base.sum())
    frac = np.round(raw - base, 9)
    order = np.lexsort((np.arange(len(values)), -frac))
    base[order[:missing]] += 1
    return [int(v) for v in base]


def _result(
    model: str,
    labels: Sequence[str],
    cents: I64 | Sequence[int],
    micro: I64 | Sequence[int],
    *,
    no_touch: tuple[int, int],
    total_amount: int,
    total_conversions: int,
    details: dict[str, Any] | None = None,
) -> Attribution:
    credits = [Credit(label, int(c), int(m)) for label, c, m in zip(labels, cents, micro, strict=True) if c or m]
    if no_touch[0] or no_touch[1]:
        credits.append(Credit(NO_TOUCH, no_touch[0], no_touch[1]))
    credits.sort(key=lambda c: (-c.amount_cents, -c.conversions_micro, c.label))
    return Attribution(model, credits, total_amount, total_conversions, details or {})


# --- Markov removal effect -------------------------------------------------------------------------------


def transition_counts(journeys: Journeys) -> npt.NDArray[np.float64]:
    """Counts between states 0 = start, 1..n = labels, n+1 = conversion, n+2 = null, over journeys with touches."""
    n = len(journeys.labels)
    size = n + 3
    conv, null = n + 1, n + 2
    lengths = journeys.lengths
    touched = lengths > 0
    state = journeys.label + 1
    jid = np.repeat(np.arange(journeys.count, dtype=np.int64), lengths)
    inside = jid[:-1] == jid[1:]  # consecutive touches of one journey
    pairs = state[:-1][inside] * size + state[1:][inside]
    first = state[journeys.offsets[:-1][touched]]
    last = state[(journeys.offsets[1:] - 1)[touched]]
    outcome = np.where(journeys.converted[touched], conv, null)
    flat = np.concatenate([pairs, first, last * size + outcome]).astype(np.int64)
    return np.bincount(flat, minlength=size * size).astype(np.float64).reshape(size, size)


def conversion_probability(counts: npt.NDArray[np.float64], removed: int | None = None) -> float:
    """P(reaching conversion from start) in the absorbing chain, optionally with one label state removed
    (everything that reaches it goes to null), solved exactly."""
    size = counts.shape[0]
    n = size - 3
    totals = counts.sum(axis=1)
    probs = np.divide(counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0)
    transient = n + 1  # start + labels
    q = probs[:transient, :transient].copy()
    r = probs[:transient, n + 1].copy()
    if removed is not None:
        q[removed, :] = 0.0
        r[removed] = 0.0
    x = np.linalg.solve(np.eye(transient) - q, r)
    return float(x[0])


def markov(journeys: Journeys) -> Attribution:
    counts = transition_counts(journeys)
    n = len(journeys.labels)
    base = conversion_probability(counts)
    effects = np.zeros(n, dtype=np.float64)
    if base > 0:
        for i in range(n):
            effects[i] = max(0.0, 1.0 - conversion_probability(counts, removed=i + 1) / base)
    details = {
        "conversion_probability": base,
        "removal_effects": {lab: float(e) for lab, e in zip(journeys.labels, effects, strict=True)},
    }
    return _data_driven("markov", journeys, effects, effects, details)


def _data_driven(
    model: str, journeys: Journeys, conv_shares: F64, amount_shares: F64, details: dict[str, Any]
) -> Attribution:
    touched = journeys.lengths > 0
    converting = journeys.converted
    credited = converting & touched
    total_conv = int(credited.sum())
    amount = np.where(converting, journeys.amount_cents, 0)
    total_amount = int(amount[credited].sum())
    # Only labels seen in a converting journey can get credit for conversions.
    seen = np.zeros(len(journeys.labels), dtype=np.bool_)
    seen[np.unique(journeys.label[np.repeat(credited, journeys.lengths)])] = True
    cs = np.where(seen, conv_shares, 0.0)
    ams = np.where(seen, amount_shares, 0.0)
    if cs.sum() <= 0 and total_conv:
        cs = seen.astype(np.float64)  # nothing distinguishable: share evenly among the converting labels
    if ams.sum() <= 0 and total_amount:
        ams = seen.astype(np.float64)
    micro = largest_remainder(cs, total_conv * CONVERSION_UNITS)
    cents = largest_remainder(ams, total_amount)
    untouched = converting & ~touched
    return _result(
        model, journeys.labels, cents, micro,
        no_touch=(int(journeys.amount_cents[untouched].sum()), int(untouched.sum()) * CONVERSION_UNITS),
        total_amount=int(amount.sum()), total_conversions=int(converting.sum()), details=details,
    )  # fmt: skip


# --- Shapley values --------------------------------------------------------------------------------------


def coalition_values(journeys: Journeys) -> tuple[F64, F64]:
    """v(S) for every coalition S (as a bitmask over labels): the conversion rate and the amount per journey
    of the journeys whose set of labels is exactly S (0 where there are none)."""
    n = len(journeys.labels)
    if n > MAX_SHAPLEY_CHANNELS:
        raise ValidationFailed(
            f"Shapley values are computed exactly over 2^n coalitions, which needs at most "
            f"{MAX_SHAPLEY_CHANNELS} channels; these journeys have {n} (attribute by channel, or use markov)"
        )
    touched = journeys.lengths > 0
    bits = np.left_shift(np.int64(1), journeys.label)
    masks = np.zeros(journeys.count, dtype=np.int64)
    if len(bits):
        starts = journeys.offsets[:-1][touched]
        masks[touched] = np.bitwise_or.reduceat(bits, starts)
    size = 1 << n
    m = masks[touched]
    journeys_per = np.bincount(m, minlength=size).astype(np.float64)
    conv_per = np.bincount(m, weights=journeys.converted[touched].astype(np.float64), minlength=size)
    amount = np.where(journeys.converted, journeys.amount_cents, 0)[touched].astype(np.float64)
    amount_per = np.bincount(m, weights=amount, minlength=size)
    rate = np.divide(conv_per, journeys_per, out=np.zeros(size), where=journeys_per > 0)
    value = np.divide(amount_per, journeys_per, out=np.zeros(size), where=journeys_per > 0)
    return rate, value


def shapley_values(v: F64, n: int) -> F64:
    """Exact Shapley values of the game ``v`` (indexed by bitmask, ``v[0]`` = empty coalition)."""
    size = 1 << n
    masks = np.arange(size, dtype=np.int64)
    popcount = np.zeros(size, dtype=np.int64)
    for bit in range(n):
        popcount += (masks >> bit) & 1
    fact = [math.factorial(k) for k in range(n + 1)]
    weight = np.array([fact[k] * fact[n - k - 1] / fact[n] for k in range(n)] + [0.0], dtype=np.float64)
    phi = np.zeros(n, dtype=np.float64)
    for c in range(n):
        without = masks[((masks >> c) & 1) == 0]
        phi[c] = float(np.sum(weight[popcount[without]] * (v[without | (1 << c)] - v[without])))
    return phi


def shapley(journeys: Journeys) -> Attribution:
    n = len(journeys.labels)
    rate, value = coalition_values(journeys)
    phi_conv = shapley_values(rate, n) if n else np.zeros(0)
    phi_amount = shapley_values(value, n) if n else np.zeros(0)
    details = {"shapley_conversion_rate": {lab: float(p) for lab, p in zip(journeys.labels, phi_conv, strict=True)}}
    return _data_driven("shapley", journeys, np.maximum(phi_conv, 0.0), np.maximum(phi_amount, 0.0), details)
