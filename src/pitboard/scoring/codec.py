"""A stored score's facts, packed into a few bytes: what its explanation is rendered from when it is read.

A score's explanation is a function of the model version and three things per contact: which fit criteria
matched, each engagement criterion's decayed points (units) and its occurrences (``calc.combine`` derives the
caps, cuts and sums). ``contact_scores.facts`` stores exactly those, so a full rescore writes about 30 bytes per
contact instead of about 480 bytes of JSON, and builds them with a few NumPy operations over all contacts
instead of formatting a million texts (3.4 s at a million contacts). Reading a score renders its explanation
with ``calc.Renderer``, as before: the same entries, byte for byte.

Layout, little-endian::

    byte 0          format (high 4 bits, 1) | points width code << 2 | occurrences width code
    bits            one per fit criterion, in definition order (numpy.packbits, little bit order)
    points          one signed integer per engagement criterion: decayed points in units
    occurrences     one unsigned integer per engagement criterion

A width code c means 2**c bytes (1, 2, 4 or 8). One bulk write picks the narrowest widths that hold all its
values, so all its rows have one length; each row carries its own code, so rows written at different times
decode together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pitboard.scoring.calc import Ints, Scores, combine
from pitboard.scoring.model import CompiledModel

FORMAT = 1
Bytes = npt.NDArray[np.uint8]


class FactsError(ValueError):
    """Stored facts that do not fit the model version they claim to be of."""


def _code(largest: int) -> int:
    """The narrowest width code (0..3) whose signed integers hold -largest-1 .. largest."""
    for code in range(3):
        if largest < 2 ** (8 * 2**code - 1):
            return code
    return 3


def encode(scores: Scores, rows: Ints | None = None) -> Bytes:
    """The facts of the contacts at positions ``rows`` (default: all), one row of bytes each: an (n, length)
    uint8 matrix, every row the same length."""
    model = scores.model
    rows = np.arange(len(scores.contact_ids), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    n, n_fit = len(rows), len(model.fit)
    points = scores.points[:, n_fit:]
    occurrences = scores.occurrences
    taken = len(rows) < int(np.count_nonzero(scores.present))
    if taken:
        # A few rows: take them first. Otherwise (``rows``, distinct, hold every contact with facts; the others'
        # points and occurrences are 0) the widths come from whole columns, and each column is narrowed before
        # the rows are taken: at a million rows, 0.2 s instead of 0.6 s of copying wide integers.
        points, occurrences = points[rows], occurrences[rows]
    points_code = _code(max(int(points.max(initial=0)), -int(points.min(initial=0)))) if points.size else 0
    # Occurrences are never negative: an unsigned width holds twice as many, but one rule for both is simpler
    # and a count past 32,767 is rare enough not to matter.
    occurrences_code = _code(int(occurrences.max(initial=0))) if occurrences.size else 0
    parts: list[Bytes] = [np.full((n, 1), FORMAT << 4 | points_code << 2 | occurrences_code, dtype=np.uint8)]
    if n_fit:
        parts.append(np.packbits(scores.matched[rows], axis=1, bitorder="little"))
    k = len(model.engagement)
    if k:
        points_width, occurrences_width = 2**points_code, 2**occurrences_code
        for values, width in ((points, points_width), (occurrences, occurrences_width)):
            narrow = values.astype(f"<i{width}")
            narrow = np.ascontiguousarray(narrow if taken else narrow[rows])
            parts.append(narrow.view(np.uint8).reshape(n, k * width))
    return np.ascontiguousarray(np.hstack(parts))


def as_bytes(packed: Bytes) -> list[bytes]:
    """Each row of :func:`encode`'s matrix as a bytes object (what a driver binds)."""
    n = len(packed)
    if not n:
        return []
    width = packed.shape[1]
    data = packed.tobytes()
    return [data[i : i + width] for i in range(0, n * width, width)]


def row_length(model: CompiledModel, first_byte: int) -> int:
    points_width, occurrences_width = 2 ** ((first_byte >> 2) & 3), 2 ** (first_byte & 3)
    return int(1 + (len(model.fit) + 7) // 8 + len(model.engagement) * (points_width + occurrences_width))


def decode(model: CompiledModel, contact_ids: Ints, facts: Sequence[bytes]) -> Scores:
    """The scores of these contacts, facts as stored (one per contact id, written under ``model``'s version)."""
    n, n_fit, k = len(contact_ids), len(model.fit), len(model.engagement)
    matched = np.zeros((n, n_fit), dtype=np.bool_)
    points = np.zeros((n, k), dtype=np.int64, order="F")
    occurrences = np.zeros((n, k), dtype=np.int64, order="F")
    firsts = np.fromiter((f[0] if f else 0 for f in facts), dtype=np.uint8, count=n)
    for first in np.unique(firsts).tolist():
        if first >> 4 != FORMAT:
            raise FactsError(f"stored score facts of format {first >> 4}; this release reads format {FORMAT}")
        at = np.flatnonzero(firsts == first)
        length = row_length(model, first)
        picked = [facts[i] for i in at.tolist()]
        if any(len(f) != length for f in picked):
            raise FactsError(f"stored score facts do not fit version {model.version} of model {model.key!r}")
        data = np.frombuffer(b"".join(picked), dtype=np.uint8).reshape(len(at), length)
        start = 1 + (n_fit + 7) // 8
        if n_fit:
            matched[at] = np.unpackbits(data[:, 1:start], axis=1, count=n_fit, bitorder="little").astype(np.bool_)
        if k:
            points_width, occurrences_width = 2 ** ((first >> 2) & 3), 2 ** (first & 3)
            end = start + k * points_width
            points[at] = np.ascontiguousarray(data[:, start:end]).view(f"<i{points_width}").astype(np.int64)
            occurrences[at] = np.ascontiguousarray(data[:, end:]).view(f"<i{occurrences_width}").astype(np.int64)
    return combine(model, np.asarray(contact_ids, dtype=np.int64), matched, points, occurrences)
