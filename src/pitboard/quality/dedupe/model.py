"""Fellegi-Sunter scoring: per field and level, m = P(level | same person), u = P(level | different people).

A level's match weight is log2(m / u); a pair's match weight is the prior log-odds plus the sum of its
fields' weights, and its match probability is 1 / (1 + 2^-weight). A missing value weighs 0.

* **u** is measured on random pairs of records (almost all different people): how often two strangers
  share a surname, a company, a title.
* **m** and the prior λ (the share of candidate pairs that are matches) are estimated by
  expectation-maximisation over the candidate pairs with u held fixed: E-step, each distinct comparison
  pattern's match probability; M-step, m = the probability-weighted level frequencies. Patterns, not
  pairs, are iterated (a few thousand instead of millions), so EM takes milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pitboard.quality.dedupe.compare import FieldComparison, Levels

__all__ = ["MatchModel", "estimate_m", "estimate_prior", "estimate_u", "fit_em", "pattern_table"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_FLOOR = 1e-6  # no level is impossible: keeps log2(m/u) finite when a sample never saw it


@dataclass(frozen=True)
class MatchModel:
    """Estimated parameters: ``m[f][l]``, ``u[f][l]`` per field f and level l, and the prior λ."""

    fields: tuple[FieldComparison, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    iterations: int = 0

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def weight_table(self) -> list[F64]:
        """Per field, the match weight of each level (0 for missing)."""
        out: list[F64] = []
        for field, m, u in zip(self.fields, self.m, self.u, strict=True):
            w = np.log2(np.maximum(np.asarray(m), _FLOOR) / np.maximum(np.asarray(u), _FLOOR))
            w[field.missing] = 0.0
            if field.neutral is not None:
                w[field.neutral] = 0.0
            # A partial agreement never counts for more than the exact one: "Alexandra" for "Alexander" is
            # weaker evidence than "Alexander", whatever the sample says about how rare such typos are.
            w[1 : field.different] = np.minimum(w[1 : field.different], w[0])
            out.append(w)
        return out

    def match_weights(self, levels: Levels) -> F64:
        """Match weight (prior log-odds + Σ field weights) of each pair of a (pairs x fields) level matrix."""
        total = np.full(len(levels), self.prior_weight, dtype=np.float64)
        for f, table in enumerate(self.weight_table()):
            total += table[levels[:, f]]
        return total


def probability(weights: F64) -> F64:
    return 1.0 / (1.0 + np.exp2(-np.clip(weights, -60.0, 60.0)))


def estimate_u(fields: tuple[FieldComparison, ...], levels: Levels) -> tuple[tuple[float, ...], ...]:
    """Level frequencies among random pairs; ``levels`` compares those random pairs."""
    out: list[tuple[float, ...]] = []
    for f, field in enumerate(fields):
        counts = np.bincount(levels[:, f], minlength=len(field.levels)).astype(np.float64)
        present = counts[: field.missing].sum()
        freq = (counts + 0.5) / (present + 0.5 * field.missing)  # add-half smoothing: unseen ≠ impossible
        freq[field.missing] = 1.0
        out.append(tuple(float(x) for x in freq))
    return tuple(out)


def estimate_m(
    fields: tuple[FieldComparison, ...], levels_by_field: list[Levels], *, minimum_pairs: int = 20
) -> tuple[tuple[float, ...], ...]:
    """Level frequencies among pairs known to match, per field.

    ``levels_by_field[f]`` holds the levels of field f over pairs matched by a rule that does *not*
    use field f (the email field's m comes from phone-matched pairs, the others' from email-matched
    pairs), so a field is never scored on pairs selected for agreeing on it. Fewer than
    ``minimum_pairs`` known matches fall back to a generic prior (mostly exact).
    """
    out: list[tuple[float, ...]] = []
    for field, levels in zip(fields, levels_by_field, strict=True):
        counts = np.bincount(levels, minlength=len(field.levels)).astype(np.float64)
        present = counts[: field.missing].sum()
        if field.neutral is not None:
            present -= counts[field.neutral]
        if present < minimum_pairs:
            out.append(tuple(float(x) for x in _initial_m(field)))
            continue
        freq = (counts + 0.5) / (present + 0.5 * field.missing)
        freq[field.missing] = 1.0
        out.append(tuple(float(x) for x in freq))
    return tuple(out)


def estimate_prior(
    fields: tuple[FieldComparison, ...],
    levels: Levels,
    m: tuple[tuple[float, ...], ...],
    u: tuple[tuple[float, ...], ...],
    *,
    start: float = 0.05,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> MatchModel:
    """λ, the share of candidate pairs that match, by EM with m and u held fixed (a one-parameter EM,
    which cannot run away the way a free m can: see docs/dedupe.md)."""
    patterns, counts = pattern_table(levels)
    m_arrays = [np.asarray(x) for x in m]
    u_arrays = [np.maximum(np.asarray(x), _FLOOR) for x in u]
    prior, iteration = start, 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported as MatchModel.iterations
        posterior = _e_step(fields, patterns, m_arrays, u_arrays, prior)
        new_prior = min(max(float((counts * posterior).sum() / max(counts.sum(), 1)), 1e-9), 1 - 1e-9)
        if abs(new_prior - prior) < tolerance:
            prior = new_prior
            break
        prior = new_prior
    return MatchModel(fields, m, u, prior, iteration)


def pattern_table(levels: Levels) -> tuple[npt.NDArray[np.int8], I64]:
    """Distinct comparison patterns (rows of ``levels``) and how many pairs show each."""
    if len(levels) == 0:
        return levels, np.zeros(0, dtype=np.int64)
    # One int64 per row (levels < 16, so 4 bits a field): a 1-D unique is ~20x faster than unique(axis=0).
    code = np.zeros(len(levels), dtype=np.int64)
    for f in range(levels.shape[1]):
        code = (code << 4) | levels[:, f].astype(np.int64)
    _, first, counts = np.unique(code, return_index=True, return_counts=True)
    return levels[first], counts.astype(np.int64)


def _initial_m(field: FieldComparison) -> F64:
    # Matches mostly agree exactly; the rest is spread over the partial levels, a little on "different".
    m = np.full(len(field.levels), 0.05 / max(field.different - 1, 1))
    m[0], m[field.different], m[field.missing] = 0.9, 0.05, 1.0
    return m


def fit_em(
    fields: tuple[FieldComparison, ...],
    levels: Levels,
    u: tuple[tuple[float, ...], ...],
    *,
    prior: float = 0.05,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
) -> MatchModel:
    """Estimate m and λ by EM over the candidate pairs' comparison patterns, with u fixed."""
    patterns, counts = pattern_table(levels)
    m = [_initial_m(field) for field in fields]
    u_arrays = [np.maximum(np.asarray(x), _FLOOR) for x in u]
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - reported as MatchModel.iterations
        posterior = _e_step(fields, patterns, m, u_arrays, prior)
        new_m, new_prior = _m_step(fields, patterns, counts, posterior)
        change = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True))
        m, change, prior = new_m, max(change, abs(new_prior - prior)), new_prior
        if change < tolerance:
            break
    return MatchModel(fields, tuple(tuple(float(x) for x in row) for row in m), u, prior, iteration)


def _e_step(
    fields: tuple[FieldComparison, ...], patterns: npt.NDArray[np.int8], m: list[F64], u: list[F64], prior: float
) -> F64:
    log_ratio = np.full(len(patterns), math.log2(prior / (1.0 - prior)))
    for f, field in enumerate(fields):
        weights = np.log2(np.maximum(m[f], _FLOOR) / u[f])
        weights[field.missing] = 0.0
        if field.neutral is not None:
            weights[field.neutral] = 0.0
        log_ratio += weights[patterns[:, f]]
    return probability(log_ratio)


def _m_step(
    fields: tuple[FieldComparison, ...], patterns: npt.NDArray[np.int8], counts: I64, posterior: F64
) -> tuple[list[F64], float]:
    matched = counts * posterior
    new_m: list[F64] = []
    for f, field in enumerate(fields):
        mass = np.bincount(patterns[:, f], weights=matched, minlength=len(field.levels))
        present = mass[: field.missing].sum()
        m = mass / present if present > 0 else _initial_m(field)
        m[field.missing] = 1.0
        new_m.append(np.maximum(m, _FLOOR))
    prior = float(matched.sum() / counts.sum())
    return new_m, min(max(prior, 1e-9), 1 - 1e-9)
