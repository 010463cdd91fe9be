"""Field comparisons with levels: for each candidate pair and field, how alike the two values are.

Levels are ordered from strongest agreement to disagreement; the last level of every field is
``missing`` (one side has no value), which carries no evidence (weight 0). Exactness is a vectorised
comparison of value codes; nickname and fuzzy levels are decided once per distinct pair of values and
cached, because the same few thousand names and companies recur in millions of pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pitboard.quality.dedupe.records import DedupeRecords, EncodedColumn
from pitboard.quality.dedupe.strings import jaro_winkler, osa_distance
from pitboard.quality.normalize.emails import is_role_local_part

__all__ = ["CONTACT_FIELDS", "FieldComparison", "Levels", "compare_pairs"]

I64 = npt.NDArray[np.int64]
Levels = npt.NDArray[np.int8]
# Decides the level of two different, present values; returns an index into FieldComparison.levels.
PairRule = Callable[[DedupeRecords, int, int], int]


@dataclass(frozen=True)
class FieldComparison:
    """A field and its levels; ``labels`` phrase each level for explanations ("{a}~{b}" may be filled in)."""

    name: str
    column: str
    levels: tuple[str, ...]  # level names, strongest first; "exact" first, "different" and "missing" last
    labels: tuple[str, ...]
    fuzzy: PairRule | None = None  # for two different values: a level index (``len(levels) - 2`` = different)
    neutral: int | None = None  # a level that carries no evidence (weight 0), like missing
    role_level: int | None = None  # level for equal values that are both role mailboxes (info@ at two people)
    fuzzy_only_if_same: str | None = None  # run ``fuzzy`` only where this column agrees (a vectorised pre-filter)

    @property
    def different(self) -> int:
        return len(self.levels) - 2

    @property
    def missing(self) -> int:
        return len(self.levels) - 1


def _first_name_level(records: DedupeRecords, a: int, b: int) -> int:
    # 1 = nickname-equivalent, 2 = typo, 3 = different
    va, vb = records.first.values[a], records.first.values[b]
    if records.first_candidates[a] & records.first_candidates[b]:
        return 1
    if osa_distance(va, vb, 2) <= 1 or (_maybe_similar(va, vb) and jaro_winkler(va, vb) >= 0.92):
        return 2
    return 3


def _last_name_level(records: DedupeRecords, a: int, b: int) -> int:
    # 1 = one edit, 2 = two edits or Jaro-Winkler ≥ 0.9, 3 = different
    va, vb = records.last.values[a], records.last.values[b]
    distance = osa_distance(va, vb, 3)
    if distance <= 1 and min(len(va), len(vb)) >= 3:
        return 1
    if (distance == 2 and min(len(va), len(vb)) >= 5) or (_maybe_similar(va, vb) and jaro_winkler(va, vb) >= 0.9):
        return 2
    return 3


def _email_level(records: DedupeRecords, a: int, b: int) -> int:
    # Compares match keys: 1 = same mailbox name at a sibling domain, 2 = shared role mailbox name, 3 = different.
    la, _, da = records.email_key.values[a].rpartition("@")
    lb, _, db = records.email_key.values[b].rpartition("@")
    if la != lb:
        # No "one typo apart" level: at one company, ezhang@ and kzhang@ or jo.lee@ and jo.lee2@ are colleagues
        # far more often than one person's typo (measured: it produced most false merges).
        return 3
    if is_role_local_part(la):
        return 2  # info@acme and info@globex are not one person
    # "gregory.adams@" at gmail.com and at acme.com is what every Gregory Adams is called: that says no more
    # than the names do. At acme.com and acme.io (or outlook.com and hotmail.com) it is one mailbox owner.
    return 1 if _domain_label(da) == _domain_label(db) else 3


_PROVIDER_FAMILIES = {"hotmail": "outlook", "live": "outlook", "msn": "outlook", "googlemail": "gmail",
                      "ymail": "yahoo", "rocketmail": "yahoo", "me": "icloud", "mac": "icloud"}  # fmt: skip


def _domain_label(domain: str) -> str:
    """The brand of a domain: "acme" for acme.com, acme.io and mail.acme.co.uk; "outlook" for hotmail.com."""
    labels = domain.split(".")
    label = labels[-3] if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else labels[-2]
    label = labels[0] if len(labels) == 1 else label
    return _PROVIDER_FAMILIES.get(label, label)


def _company_level(records: DedupeRecords, a: int, b: int) -> int:
    # 2 = similar (Jaro-Winkler ≥ 0.92: a typo, a word added), 3 = different
    va, vb = records.company.values[a], records.company.values[b]
    return 2 if _maybe_similar(va, vb) and jaro_winkler(va, vb) >= 0.92 else 3


def _maybe_similar(a: str, b: str) -> bool:
    """Cheap pre-check before Jaro-Winkler (30 µs in pure Python): same first letter, lengths within a third.

    Typos rarely hit the first letter, and strings of very different lengths cannot reach the thresholds used
    here; skipping the rest made comparing 5x faster.
    """
    return len(a) >= 4 and len(b) >= 4 and a[0] == b[0] and 3 * abs(len(a) - len(b)) <= max(len(a), len(b))


CONTACT_FIELDS: tuple[FieldComparison, ...] = (
    FieldComparison("email", "email_key", ("exact", "sibling_domain", "shared_role", "different", "missing"),
                    ("same mailbox after normalisation", "same mailbox name at a sibling domain",
                     "same shared role mailbox name (no evidence)", "different addresses", "missing"),
                    _email_level, neutral=2, role_level=2, fuzzy_only_if_same="email_local"),
    FieldComparison("first name", "first", ("exact", "nickname", "typo", "different", "missing"),
                    ("same", "{a}~{b} nickname", "{a}~{b} typo", "{a}≠{b}", "missing"), _first_name_level),
    FieldComparison("last name", "last", ("exact", "one_edit", "similar", "different", "missing"),
                    ("same", "{a}~{b} one edit", "{a}~{b} similar", "{a}≠{b}", "missing"), _last_name_level),
    FieldComparison("phone", "phone", ("exact", "different", "missing"), ("same number", "different numbers",
                                                                           "missing")),
    # Account and company name are one piece of evidence (same account ⇒ same company): scored as one field,
    # or a colleague would collect both weights.
    FieldComparison("organisation", "company", ("same_account", "exact", "similar", "different", "missing"),
                    ("same account", "same company after normalisation", "{a}~{b} similar", "{a}≠{b}", "missing"),
                    _company_level),
    FieldComparison("country", "country", ("exact", "different", "missing"), ("same", "{a}≠{b}", "missing")),
    FieldComparison("title", "title", ("exact", "different", "missing"), ("same", "different", "missing")),
    FieldComparison("city", "city", ("exact", "different", "missing"), ("same", "{a}≠{b}", "missing")),
)  # fmt: skip


def _codes(records: DedupeRecords, column: str) -> I64:
    value = getattr(records, column)
    codes = value.codes if isinstance(value, EncodedColumn) else value
    return np.asarray(codes, dtype=np.int64)


def compare_field(
    records: DedupeRecords, field: FieldComparison, left: I64, right: I64, cache: dict[int, int] | None = None
) -> Levels:
    """The level of ``field`` for each pair of rows."""
    codes = _codes(records, field.column)
    a, b = codes[left], codes[right]
    levels = np.full(len(left), field.different, dtype=np.int8)
    levels[a == b] = 0
    levels[(a < 0) | (b < 0)] = field.missing
    if field.name == "organisation":
        _organisation(records, left, right, levels)
    if field.role_level is not None:
        levels[(levels == 0) & records.email_role[left] & records.email_role[right]] = field.role_level
    if field.fuzzy is None:
        return levels
    candidates = (levels == field.different) & (a >= 0) & (b >= 0)
    if field.fuzzy_only_if_same is not None:
        same = _codes(records, field.fuzzy_only_if_same)
        candidates &= same[left] == same[right]
    todo = np.flatnonzero(candidates)
    if len(todo) == 0:
        return levels
    # Each distinct (smaller code, larger code) once: pair keys, their unique values, and back.
    lo, hi = np.minimum(a[todo], b[todo]), np.maximum(a[todo], b[todo])
    keys, inverse = np.unique(lo * (int(codes.max()) + 1) + hi, return_inverse=True)
    width = int(codes.max()) + 1
    cache = {} if cache is None else cache
    rule = field.fuzzy
    decided = np.empty(len(keys), dtype=np.int8)
    for k, key in enumerate(keys.tolist()):
        level = cache.get(key)
        if level is None:
            level = cache[key] = rule(records, key // width, key % width)
        decided[k] = level
    levels[todo] = decided[inverse.reshape(-1)]
    return levels


def _organisation(records: DedupeRecords, left: I64, right: I64, levels: Levels) -> None:
    """Company levels shifted down by one, and level 0 for pairs on the same account."""
    levels[levels == 0] = 1
    account_a, account_b = records.account[left], records.account[right]
    levels[(account_a == account_b) & (account_a >= 0)] = 0


def compare_pairs(
    records: DedupeRecords, left: I64, right: I64, fields: tuple[FieldComparison, ...] = CONTACT_FIELDS
) -> Levels:
    """A (pairs x fields) matrix of levels."""
    out = np.empty((len(left), len(fields)), dtype=np.int8)
    for f, field in enumerate(fields):
        out[:, f] = compare_field(records, field, left, right)
    return out
