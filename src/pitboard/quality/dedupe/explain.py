"""Human-readable reasons for a pair's score: each field's level and weight.

"first name: Bob~Robert nickname (+4.1)", "email: same mailbox after normalisation (+12.3)",
"title: different (-3.2)". The prior comes first, so the weights add up to the pair's match weight.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pitboard.quality.dedupe.model import MatchModel
from pitboard.quality.dedupe.records import DedupeRecords, EncodedColumn

__all__ = ["explain_pair"]


def _value(records: DedupeRecords, column: str, row: int) -> str:
    value = getattr(records, column)
    if isinstance(value, EncodedColumn):
        return value.value(row) or ""
    return str(value[row])


def explain_pair(
    records: DedupeRecords,
    model: MatchModel,
    weight_table: list[npt.NDArray[np.float64]],
    a: int,
    b: int,
    levels: npt.NDArray[np.int8],
) -> tuple[str, ...]:
    """One line per field, after the prior: "<field>: <level label> (<signed weight>)"."""
    lines = [f"prior: {model.prior:.2%} of candidate pairs match ({model.prior_weight:+.1f})"]
    for f, field in enumerate(model.fields):
        level = int(levels[f])
        label = field.labels[level]
        if "{" in label:
            label = label.format(a=_value(records, field.column, a), b=_value(records, field.column, b))
        lines.append(f"{field.name}: {label} ({float(weight_table[f][level]):+.1f})")
    return tuple(lines)
