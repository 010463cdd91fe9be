"""Blocking: which pairs of records are worth comparing at all.

A rule is a key per record (several columns combined); records with the same key are candidate pairs.
Comparing all pairs of a million contacts is 5·10^11 comparisons; the rules below keep the pairs a
duplicate can hide in (same mailbox, same phone, same surname sound or given name at one company) and
drop the rest. Within a key, each record is paired with at most ``window`` records that follow it (in id
order), so one huge block (a company with 5,000 contacts, a shared switchboard number) cannot explode
the pair count: a bounded sorted-neighbourhood, not all pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pitboard.quality.dedupe.records import DedupeRecords

__all__ = ["CONTACT_RULES", "CROSS_COMPANY_RULES", "BlockingRule", "block_pairs", "composite_key", "pairs_in_blocks"]

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BlockingRule:
    name: str
    columns: tuple[str, ...]  # DedupeRecords attributes; all must be present for a record to be blocked


CONTACT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("same email key", ("email_key",)),
    BlockingRule("same phone", ("phone",)),
    BlockingRule("company + surname sound", ("company", "last_soundex")),  # nicknames, first-name typos
    BlockingRule("company + given name", ("company", "first_key")),  # surname typos
    BlockingRule("account + surname sound", ("account", "last_soundex")),  # company spelt beyond the key
    BlockingRule("account + given name", ("account", "first_key")),
)
# Across companies: same person at a new employer, or a free-mail record without company. Not used by default:
# at 1M demo contacts they add 5.9M pairs (97% of all) and not one true pair the rules above miss (docs/dedupe.md).
CROSS_COMPANY_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("email local part + surname sound + country", ("email_local", "last_soundex", "country")),
    BlockingRule("surname + given name + country", ("last", "first_key", "country")),
)


def _codes(records: DedupeRecords, column: str) -> I64:
    value = getattr(records, column)
    codes = value if isinstance(value, np.ndarray) else value.codes
    return np.asarray(codes, dtype=np.int64)


def composite_key(records: DedupeRecords, columns: Sequence[str]) -> I64:
    """One int64 per record combining the columns' codes; -1 when any of them is missing."""
    key = np.zeros(len(records), dtype=np.int64)
    missing = np.zeros(len(records), dtype=np.bool_)
    for column in columns:
        codes = _codes(records, column)
        missing |= codes < 0
        # Re-rank the combination so far: keeps the key dense and far from int64 overflow.
        _, key = np.unique(key * (int(codes.max(initial=0)) + 2) + codes + 1, return_inverse=True)
        key = key.astype(np.int64)
    key[missing] = -1
    return key


def pairs_in_blocks(key: I64, window: int) -> tuple[I64, I64]:
    """Row pairs (left < right) sharing a key ≥ 0, each row paired with up to ``window`` later rows of its block."""
    rows = np.flatnonzero(key >= 0)
    order = rows[np.argsort(key[rows], kind="stable")]  # stable: rows stay in id order inside a block
    sorted_key = key[order]
    lefts: list[I64] = []
    rights: list[I64] = []
    active = np.arange(len(order) - 1)
    for offset in range(1, window + 1):
        # Positions whose block still has a row `offset` places further on; shrinks fast for small blocks.
        active = active[active + offset < len(order)]
        active = active[sorted_key[active] == sorted_key[active + offset]]
        if len(active) == 0:
            break
        lefts.append(order[active])
        rights.append(order[active + offset])
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    left, right = np.concatenate(lefts), np.concatenate(rights)
    return np.minimum(left, right), np.maximum(left, right)


def block_pairs(
    records: DedupeRecords, rules: Sequence[BlockingRule] = CONTACT_RULES, *, window: int = 50
) -> tuple[I64, I64, dict[str, int]]:
    """Distinct candidate row pairs over all rules, and how many pairs each rule produced."""
    n = len(records)
    encoded: list[I64] = []
    per_rule: dict[str, int] = {}
    for rule in rules:
        left, right = pairs_in_blocks(composite_key(records, rule.columns), window)
        per_rule[rule.name] = len(left)
        encoded.append(left * n + right)
    unique = np.unique(np.concatenate(encoded)) if encoded else np.zeros(0, dtype=np.int64)
    return unique // n, unique % n, per_rule
