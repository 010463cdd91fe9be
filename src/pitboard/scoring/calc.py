"""From facts to scores: points per criterion, group caps, fit and engagement caps, the total cap, and the
explanation of every point. Vectorised over contacts; the bulk and the incremental path both end here.

All arithmetic is on whole units of 1/10,000 point (int64), so sums and caps are exact and do not depend on
the order contacts or events arrive in. Engagement points of a criterion are
``round(points x sum of decay weights)``: the weights are millionths of an occurrence (see model.Decay).

An explanation is a list of entries ``[criterion, group, kind, points, raw, capped_by, count]``:

* fit: ``[name, group, "fit", points, points, capped_by, null]`` for each criterion that matched;
* engagement: ``[name, group, "engagement", decayed points, undecayed points of the counted occurrences,
  capped_by, occurrences]`` for each criterion with occurrences (counted: at most ``max_occurrences``);
* caps: ``[cap, group or null, "cap", -points cut, points before the cut, null, null]``, where ``cap`` is
  ``group <name>``, ``fit``, ``engagement`` or ``total``.

The points of all entries add up to the total. ``capped_by`` names the innermost cap that cut the sum the
criterion is part of (``group <name>``, ``fit``, ``engagement``, ``total``), or is null.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from pitboard.scoring.model import WEIGHT_SCALE, CompiledModel

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass
class Facts:
    """What scoring needs about ``n`` contacts: which fit criteria match, and per engagement criterion the
    sum of the decay weights of the counted occurrences and how many occurrences there were."""

    contact_ids: Ints  # (n,) ascending
    matched: Bools  # (n, fit criteria)
    weight: Ints  # (n, engagement criteria), millionths
    occurrences: Ints  # (n, engagement criteria)

    @classmethod
    def empty(cls, model: CompiledModel, contact_ids: Ints) -> Facts:
        n = len(contact_ids)
        # Column-major: facts are filled and read one criterion (column) at a time.
        return cls(
            contact_ids,
            np.zeros((n, len(model.fit)), dtype=np.bool_, order="F"),
            np.zeros((n, len(model.engagement)), dtype=np.int64, order="F"),
            np.zeros((n, len(model.engagement)), dtype=np.int64, order="F"),
        )


_SAFE_WEIGHT = (2**63 - 1) // (1_000 * 10_000) - WEIGHT_SCALE  # |points| <= 1,000 points = 1e7 units


def decayed_units(points: int, weight: Ints) -> Ints:
    """round(points x weight / 1e6) for one criterion's points (units) and a column of weights, halves away
    from zero; exact in int64 (the rare weight too large to multiply directly is split first)."""
    magnitude = abs(points)
    half = WEIGHT_SCALE // 2
    if not len(weight) or int(weight.max()) <= _SAFE_WEIGHT:
        units: Ints = (weight * magnitude + half) // WEIGHT_SCALE
    else:
        whole, part = np.divmod(weight, WEIGHT_SCALE)
        units = magnitude * whole + (magnitude * part + half) // WEIGHT_SCALE
    return units if points >= 0 else -units


@dataclass
class Scores:
    """Scores of ``n`` contacts under one model, in units, with what the explanation needs."""

    model: CompiledModel
    contact_ids: Ints
    points: Ints  # (n, criteria) after decay, before caps
    occurrences: Ints  # (n, engagement criteria)
    matched: Bools  # (n, fit criteria)
    group_cut: Ints  # (n, groups)
    group_sum: Ints  # (n, groups) before the group cap
    fit_cut: Ints
    engagement_cut: Ints
    total_cut: Ints
    fit_sum: Ints  # after group caps, before the fit cap
    engagement_sum: Ints
    fit: Ints
    engagement: Ints
    total: Ints

    @property
    def present(self) -> Bools:
        """Contacts with anything to explain (a matched fit criterion or an occurrence). Only they get a row:
        a contact without one has 0 points under the model."""
        return np.asarray(self.matched.any(axis=1) | (self.occurrences > 0).any(axis=1), dtype=np.bool_)

    def explanation(self, i: int) -> list[list[Any]]:
        return orjson.loads(Renderer(self).text(i))  # type: ignore[no-any-return]


def compute(model: CompiledModel, facts: Facts) -> Scores:
    engagement = np.zeros((len(facts.contact_ids), len(model.engagement)), dtype=np.int64, order="F")
    for k, criterion in enumerate(model.engagement):
        engagement[:, k] = decayed_units(criterion.points, facts.weight[:, k])
    return combine(model, facts.contact_ids, facts.matched, engagement, facts.occurrences)


def combine(model: CompiledModel, contact_ids: Ints, matched: Bools, engagement: Ints, occurrences: Ints) -> Scores:
    """Scores from which fit criteria matched and each engagement criterion's decayed points (units) and
    occurrences: the caps and sums. What a stored score's explanation is rendered from (see codec.py)."""
    n = len(contact_ids)
    fit = model.fit
    points = np.zeros((n, len(model.criteria)), dtype=np.int64, order="F")  # column-major: worked per criterion
    for j, criterion in enumerate(fit):
        points[matched[:, j], j] = criterion.points
    if len(model.engagement):
        points[:, len(fit) :] = engagement
    group_sum = np.zeros((n, len(model.groups)), dtype=np.int64, order="F")
    for criterion in model.criteria:
        group_sum[:, criterion.group] += points[:, criterion.index]
    # Zeros the system hands out untouched: most groups have no cap, and their columns are never written.
    group_cut = np.zeros((n, len(model.groups)), dtype=np.int64, order="F")
    fit_sum = np.zeros(n, dtype=np.int64)
    engagement_sum = np.zeros(n, dtype=np.int64)
    for g, group in enumerate(model.groups):
        if group.cap is not None:
            group_cut[:, g] = np.maximum(group_sum[:, g] - group.cap, 0)
        if group.kind == "fit":
            fit_sum += group_sum[:, g] - group_cut[:, g]
        else:
            engagement_sum += group_sum[:, g] - group_cut[:, g]
    fit_cut = _cut(fit_sum, model.fit_cap)
    engagement_cut = _cut(engagement_sum, model.engagement_cap)
    fit_total = fit_sum - fit_cut
    engagement_total = engagement_sum - engagement_cut
    total_cut = _cut(fit_total + engagement_total, model.total_cap)
    return Scores(
        model=model,
        contact_ids=contact_ids,
        points=points,
        occurrences=occurrences,
        matched=matched,
        group_cut=group_cut,
        group_sum=group_sum,
        fit_cut=fit_cut,
        engagement_cut=engagement_cut,
        total_cut=total_cut,
        fit_sum=fit_sum,
        engagement_sum=engagement_sum,
        fit=fit_total,
        engagement=engagement_total,
        total=fit_total + engagement_total - total_cut,
    )


_THREADED_FROM = 200_000  # rows from which signatures are computed by a thread per CPU
# Fixed odd 64-bit constants (splitmix64's): signatures must be the same from one run, process and release to
# the next, as they are compared with the stored ones.
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def signatures(scores: Scores, rows: Ints | None = None) -> Ints:
    """A 64-bit fingerprint per contact of everything its explanation is made of (which fit criteria matched,
    each engagement criterion's points and occurrences), so a bulk rescore finds the rows that changed by
    comparing integers instead of building and comparing a million JSON texts. Never 0 (0 stands for "not
    known" in the table).

    Each value goes through splitmix64's finaliser and is folded in with its position, so a change in any
    one value always changes the signature, and two different explanations share one with a chance of
    about 2^-64.
    """
    rows = np.arange(len(scores.contact_ids), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    workers = min(os.cpu_count() or 1, 4)
    if len(rows) >= _THREADED_FROM and workers > 1:
        # NumPy lets go of the GIL in each array operation: a thread per CPU on its share of the rows (a million
        # rows on two CPUs: 0.23 s against 0.3-0.6 s).
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return np.concatenate(list(pool.map(lambda part: _signatures(scores, part), np.array_split(rows, workers))))
    return _signatures(scores, rows)


def _signatures(scores: Scores, rows: Ints) -> Ints:
    # The facts (codec.py): everything else in an explanation (fit points, caps, cuts) follows from them and
    # the model version, which seeds the hash.
    n_fit = len(scores.model.fit)
    matched = scores.matched[rows]
    # The fit matches as bit masks of 62 criteria each: one column to hash instead of one per criterion.
    masks = [(matched[:, start : start + 62].astype(np.int64) << np.arange(min(62, n_fit - start), dtype=np.int64))
             .sum(axis=1, dtype=np.int64)[:, None] for start in range(0, n_fit, 62)]  # fmt: skip
    columns = [*masks, scores.points[rows, n_fit:], scores.occurrences[rows]]
    position = np.uint64(0)
    with np.errstate(over="ignore"):  # multiplication modulo 2^64 is the point
        h = np.full(len(rows), np.uint64(scores.model.version) * _GOLDEN, dtype=np.uint64)
        for block in columns:
            for j in range(block.shape[1]):
                position += np.uint64(1)
                x = block[:, j].astype(np.uint64) + position * _GOLDEN
                x = (x ^ (x >> np.uint64(30))) * _MIX1
                x = (x ^ (x >> np.uint64(27))) * _MIX2
                x ^= x >> np.uint64(31)
                h = (h ^ x) * _MIX1 + position
    out = h.view(np.int64)
    return np.where(out == 0, 1, out).astype(np.int64)


def _cut(values: Ints, cap: int | None) -> Ints:
    if cap is None:
        return np.zeros(len(values), dtype=np.int64)
    return np.maximum(values - cap, 0)


# --- explanations --------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class _Numbers:
    """Points (given in units) as JSON numbers, exactly as ``orjson.dumps(units / 10000)`` writes them, each
    distinct value formatted once."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}

    def __call__(self, units: Ints) -> list[str]:
        if not len(units):
            return []
        distinct, inverse = np.unique(units, return_inverse=True)
        texts = self.texts
        rendered = []
        for value in distinct.tolist():
            text = texts.get(value)
            if text is None:
                text = texts[value] = _json(value / 10_000)
            rendered.append(text)
        return [rendered[i] for i in inverse.reshape(-1).tolist()]


class Renderer:
    """Explanations as compact JSON text, the same text ``orjson.dumps`` writes for the list (a test holds it
    to that). The fit entries of a contact depend only on which fit criteria matched and which caps cut them:
    they are rendered once per such pattern. Engagement and cap entries are rendered per criterion, each
    distinct number formatted once, and appended to the contacts' texts in criterion order. (The plain loop
    over contacts and their entries took longer than the queries at a million contacts.)
    """

    def __init__(self, scores: Scores) -> None:
        self.scores = scores
        model = scores.model
        self.n_fit = len(model.fit)
        self.heads = [_json([c.name, model.groups[c.group].name, c.kind])[:-1] for c in model.criteria]
        groups = model.groups
        # How the capped_by field reads per code (see capped_codes), with the commas around it.
        self.capped_fit = {0: ",null,", -1: ',"fit",', -2: ',"total",'}
        self.capped_engagement = {0: ",null,", -1: ',"engagement",', -2: ',"total",'}
        for g, group in enumerate(groups):
            label = "," + _json(f"group {group.name}") + ","
            self.capped_fit[g + 1] = label
            self.capped_engagement[g + 1] = label
        self.numbers = _Numbers()

    def capped_codes(self, rows: Ints) -> Ints:
        """(rows, criteria): 0 none, 1 + group index for a group cap, -1 fit/engagement cap, -2 total cap; the
        innermost cap that cut the sum the criterion is part of."""
        s = self.scores
        model = s.model
        codes = np.zeros((len(rows), len(model.criteria)), dtype=np.int64)
        if not len(model.criteria):
            return codes
        groups = np.array([c.group for c in model.criteria], dtype=np.int64)
        kind_fit = np.array([c.kind == "fit" for c in model.criteria], dtype=np.bool_)
        total_hit = (s.total_cut[rows] > 0)[:, None]
        kind_hit = np.where(kind_fit[None, :], (s.fit_cut[rows] > 0)[:, None], (s.engagement_cut[rows] > 0)[:, None])
        group_hit = s.group_cut[rows][:, groups] > 0
        codes = np.where(total_hit, -2, codes)
        codes = np.where(kind_hit, -1, codes)
        return np.where(group_hit, groups[None, :] + 1, codes).astype(np.int64)

    def _fit_parts(self, rows: Ints, codes: Ints) -> list[str]:
        """Each contact's fit entries, joined: one string per distinct (matched, capped by) pattern."""
        s = self.scores
        n_fit = self.n_fit
        if not n_fit:
            return [""] * len(rows)
        matched = s.matched[rows]
        fit_codes = np.where(matched, codes[:, :n_fit] + 3, 0)  # 0: not matched; 1..: matched with code - 3
        base = len(self.scores.model.groups) + 4
        if base**n_fit < 2**62:
            # One integer per pattern: np.unique on rows (axis=0) sorts a million rows and took seconds.
            key = fit_codes @ (base ** np.arange(n_fit, dtype=np.int64))
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            patterns = fit_codes[first]
        else:
            patterns, inverse = np.unique(fit_codes, axis=0, return_inverse=True)
        rendered = []
        for pattern in patterns.tolist():
            entries = []
            for j, code in enumerate(pattern):
                if code:
                    value = _json(self.scores.model.fit[j].points / 10_000)
                    entries.append(f"{self.heads[j]},{value},{value}{self.capped_fit[code - 3]}null]")
            rendered.append(",".join(entries))
        return [rendered[i] for i in np.asarray(inverse).reshape(-1).tolist()]

    def texts(self, rows: Ints | None = None) -> list[str]:
        """The explanation of each contact in ``rows`` (positions; default all), as JSON text."""
        s = self.scores
        model = s.model
        rows = np.arange(len(s.contact_ids), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        codes = self.capped_codes(rows)
        parts = self._fit_parts(rows, codes)

        def append(positions: Ints, fragments: list[str]) -> None:
            for position, fragment in zip(positions.tolist(), fragments, strict=True):
                before = parts[position]
                parts[position] = f"{before},{fragment}" if before else fragment

        numbers = self.numbers
        for k, criterion in enumerate(model.engagement):
            j = self.n_fit + k
            occurrences = s.occurrences[rows, k]
            positions = np.flatnonzero(occurrences > 0)
            if not len(positions):
                continue
            counted = occurrences[positions]
            if criterion.max_occurrences is not None:
                counted = np.minimum(counted, criterion.max_occurrences)
            head, capped = self.heads[j], self.capped_engagement
            points = numbers(s.points[rows[positions], j])
            raw = numbers(criterion.points * counted)
            cap_codes = codes[positions, j].tolist()
            counts = occurrences[positions].tolist()
            append(positions, [f"{head},{p},{r}{capped[c]}{n}]" for p, r, c, n in zip(points, raw, cap_codes, counts,
                                                                                     strict=True)])  # fmt: skip
        for g, group in enumerate(model.groups):
            cut = s.group_cut[rows, g]
            positions = np.flatnonzero(cut > 0)
            if len(positions):
                head = _json([f"group {group.name}", group.name, "cap"])[:-1]
                append(positions, self._cap_entries(head, cut[positions], s.group_sum[rows[positions], g]))
        for label, cut_all, before_all in (
            ("fit", s.fit_cut, s.fit_sum),
            ("engagement", s.engagement_cut, s.engagement_sum),
            ("total", s.total_cut, s.fit + s.engagement),
        ):
            cut = cut_all[rows]
            positions = np.flatnonzero(cut > 0)
            if len(positions):
                head = f'["{label}",null,"cap"'
                append(positions, self._cap_entries(head, cut[positions], before_all[rows[positions]]))
        return [f"[{part}]" for part in parts]

    def _cap_entries(self, head: str, cut: Ints, before: Ints) -> list[str]:
        cuts = self.numbers(-cut)
        befores = self.numbers(before)
        return [f"{head},{c},{b},null,null]" for c, b in zip(cuts, befores, strict=True)]

    def text(self, i: int) -> str:
        return self.texts(np.array([i], dtype=np.int64))[0]
