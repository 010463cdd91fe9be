"""The contact deduplication engine: block, compare, estimate, score, band, cluster.

``dedupe_contacts(records)`` runs the whole method (docs/dedupe.md) and returns scored candidate pairs
above the review threshold, with explanations, and clusters for the auto-merge band and for the
auto-merge + review bands.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from pitboard.quality.dedupe.blocking import CONTACT_RULES, BlockingRule, block_pairs
from pitboard.quality.dedupe.cluster import cluster_pairs
from pitboard.quality.dedupe.compare import CONTACT_FIELDS, FieldComparison, Levels, compare_pairs
from pitboard.quality.dedupe.explain import explain_pair
from pitboard.quality.dedupe.model import MatchModel, estimate_m, estimate_prior, estimate_u, probability
from pitboard.quality.dedupe.records import DedupeRecords

__all__ = ["CandidatePair", "DedupeConfig", "DedupeResult", "dedupe_contacts"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Band = Literal["auto_merge", "review"]

_EMAIL, _FIRST, _LAST, _PHONE = 0, 1, 2, 3  # positions in CONTACT_FIELDS used by the deterministic rules


@dataclass(frozen=True)
class DedupeConfig:
    auto_merge: float = 0.999  # match probability at or above which a pair may be merged without a person
    review: float = 0.5  # at or above: shown to a person for review
    window: int = 50  # blocking: each record meets at most this many later records of a block
    u_sample: int = 100_000  # random pairs for estimating u
    seed: int = 20240601
    max_cluster_size: int = 10  # union-find guard against chaining (see cluster.py)
    # A deterministic rule merges automatically only if the other fields add this much evidence (bits, i.e.
    # 2^10 ≈ 1000:1); otherwise it goes to review. 10 removed every false rule merge at 1M demo contacts
    # (138 at 0 bits, 29 at 5) and lost no true one (docs/dedupe.md).
    rule_support_bits: float = 10.0
    rules: tuple[BlockingRule, ...] = CONTACT_RULES
    fields: tuple[FieldComparison, ...] = CONTACT_FIELDS
    explain: bool = True


@dataclass(frozen=True)
class CandidatePair:
    left_id: int
    right_id: int
    probability: float
    match_weight: float
    band: Band
    explanation: tuple[str, ...]
    rule: str | None = None  # the deterministic rule that matched, if any


@dataclass
class DedupeResult:
    pairs: list[CandidatePair]
    auto_clusters: list[list[int]]  # contact ids; clusters from auto-merge pairs only
    review_clusters: list[list[int]]  # contact ids; clusters from auto-merge and review pairs
    model: MatchModel
    candidate_pairs: int
    pairs_per_rule: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    refused_merges: dict[str, int] = field(default_factory=dict)


def _random_pair_levels(records: DedupeRecords, config: DedupeConfig) -> Levels:
    rng = np.random.default_rng(config.seed)
    n = len(records)
    left = rng.integers(0, n, config.u_sample, dtype=np.int64)
    right = rng.integers(0, n, config.u_sample, dtype=np.int64)
    keep = left != right
    return compare_pairs(records, left[keep], right[keep], config.fields)


def _m_from_rules(
    fields: tuple[FieldComparison, ...],
    levels: Levels,
    by_email: npt.NDArray[np.bool_],
    by_phone: npt.NDArray[np.bool_],
) -> tuple[tuple[float, ...], ...]:
    """m per field from deterministic matches: email-key matches for every field but email, phone matches
    for email (a field is never measured on pairs chosen because they agree on it)."""
    return estimate_m(fields, [levels[by_phone if f == _EMAIL else by_email, f] for f in range(len(fields))])


def deterministic_rules(levels: Levels) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Two masks over the pairs: same email key (not a role mailbox); same phone + same surname + a given
    name that is not different. The given-name condition keeps family members sharing a home number (and
    strangers who typed one switchboard number) apart."""
    by_email = levels[:, _EMAIL] == 0
    compatible_first = levels[:, _FIRST] != CONTACT_FIELDS[_FIRST].different
    by_phone = (levels[:, _PHONE] == 0) & (levels[:, _LAST] == 0) & compatible_first
    return by_email, by_phone


def _fit(
    fields: tuple[FieldComparison, ...], levels: Levels, u: tuple[tuple[float, ...], ...], support_bits: float
) -> tuple[MatchModel, npt.NDArray[np.bool_]]:
    """m from deterministic matches in two passes, then λ by EM; returns the model and the trusted rule pairs.

    Pass 1 uses every rule match. Some are wrong: two people whose Gmail addresses differ only in dots
    (one mailbox to Google, two people to the data), a shared phone. Pass 2 keeps only rule matches whose
    *other* fields support them by at least ``support_bits`` (match weight without the prior and the rule's
    own field) and re-estimates. Those are the trusted rule matches.
    """
    by_email, by_phone = deterministic_rules(levels)
    model = estimate_prior(fields, levels, _m_from_rules(fields, levels, by_email, by_phone), u)
    for _ in range(2):
        table = model.weight_table()
        weights = model.match_weights(levels)
        email_ok = by_email & (weights - table[_EMAIL][levels[:, _EMAIL]] - model.prior_weight >= support_bits)
        phone_ok = by_phone & (weights - table[_PHONE][levels[:, _PHONE]] - model.prior_weight >= support_bits)
        model = estimate_prior(fields, levels, _m_from_rules(fields, levels, email_ok, phone_ok), u)
    return model, email_ok | phone_ok


_RULE_NAMES = {1: "same email key", 2: "same phone, surname and given name"}


def dedupe_contacts(records: DedupeRecords, config: DedupeConfig | None = None) -> DedupeResult:
    config = config or DedupeConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    left, right, per_rule = block_pairs(records, config.rules, window=config.window)
    lap("blocking")
    levels = compare_pairs(records, left, right, config.fields)
    lap("comparing")
    u = estimate_u(config.fields, _random_pair_levels(records, config))
    model, trusted = _fit(config.fields, levels, u, config.rule_support_bits)
    by_email, by_phone = deterministic_rules(levels)
    rule = np.where(by_email, 1, np.where(by_phone, 2, 0)).astype(np.int8)
    lap("estimating m/u")
    weights = model.match_weights(levels)
    probs = probability(weights)
    # A rule match the other fields do not support (not trusted) goes to review, not to an automatic merge.
    contradicted = (rule > 0) & ~trusted
    auto = ((probs >= config.auto_merge) & ~contradicted) | trusted
    keep = auto | (probs >= config.review) | (rule > 0)
    lap("scoring")
    auto_clusters = cluster_pairs(left[auto], right[auto], probs[auto] + rule[auto], max_size=config.max_cluster_size)
    all_clusters = cluster_pairs(left[keep], right[keep], probs[keep] + auto[keep], max_size=config.max_cluster_size)
    lap("clustering")
    pairs = _candidate_pairs(records, model, config, left[keep], right[keep], levels[keep], weights[keep],
                             probs[keep], auto[keep], rule[keep])  # fmt: skip
    lap("explaining")
    ids = records.ids.tolist()
    return DedupeResult(
        pairs=pairs,
        auto_clusters=[[ids[r] for r in c] for c in auto_clusters.clusters],
        review_clusters=[[ids[r] for r in c] for c in all_clusters.clusters],
        model=model,
        candidate_pairs=len(left),
        pairs_per_rule=per_rule,
        timings=timings,
        refused_merges={"auto_merge": auto_clusters.refused_edges, "review": all_clusters.refused_edges},
    )


def _candidate_pairs(records: DedupeRecords, model: MatchModel, config: DedupeConfig, left: I64, right: I64,
                     levels: Levels, weights: F64, probs: F64, auto: npt.NDArray[np.bool_],
                     rule: npt.NDArray[np.int8]) -> list[CandidatePair]:  # fmt: skip
    table = model.weight_table()
    ids = records.ids
    out: list[CandidatePair] = []
    for k in range(len(left)):
        a, b = int(left[k]), int(right[k])
        explanation = explain_pair(records, model, table, a, b, levels[k]) if config.explain else ()
        out.append(CandidatePair(
            left_id=int(ids[a]), right_id=int(ids[b]), probability=float(probs[k]), match_weight=float(weights[k]),
            band="auto_merge" if auto[k] else "review", explanation=explanation, rule=_RULE_NAMES.get(int(rule[k])),
        ))  # fmt: skip
    return out
