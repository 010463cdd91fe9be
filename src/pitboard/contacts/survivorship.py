"""Survivorship: when two contacts become one, which value of each field survives. Pure.

Rules, chosen per field (``DEFAULT_RULES``; pass your own to :func:`choose_values`):

- ``keep_survivor``: the surviving record's value, unless it has none.
- ``most_complete``: the longer text ("Katherine" over "Kate"); a tie keeps the survivor's.
- ``most_recent``: the value of the record updated last, unless it has none.
- ``oldest``: the value of the record created first (first-touch facts such as lead source).
- ``source_priority``: the value whose recorded source ranks higher (quality/enrich.py's ranking),
  then the most recent.
- ``furthest_stage``: the lifecycle stage further down the funnel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.quality.enrich import source_rank

DEFAULT_RULES: dict[str, str] = {
    "email": "keep_survivor",
    "first_name": "most_complete",
    "last_name": "most_complete",
    "title": "most_recent",
    "phone": "most_recent",
    "company_name": "most_recent",
    "country": "source_priority",
    "region": "most_recent",
    "city": "most_recent",
    "account_id": "keep_survivor",
    "owner_id": "keep_survivor",
    "lifecycle_stage": "furthest_stage",
    "lead_source": "oldest",
}
RULES = ("keep_survivor", "most_complete", "most_recent", "oldest", "source_priority", "furthest_stage")


@dataclass(frozen=True)
class Side:
    values: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    field_sources: dict[str, Any]


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _pick(rule: str, field: str, survivor: Side, merged: Side) -> Any:
    mine, theirs = survivor.values.get(field), merged.values.get(field)
    if _empty(theirs):
        return mine
    if _empty(mine):
        return theirs
    if rule == "most_complete":
        return theirs if len(str(theirs)) > len(str(mine)) else mine
    if rule == "most_recent":
        return theirs if merged.updated_at > survivor.updated_at else mine
    if rule == "oldest":
        return theirs if merged.created_at < survivor.created_at else mine
    if rule == "source_priority":
        a = source_rank((survivor.field_sources.get(field) or {}).get("source"))
        b = source_rank((merged.field_sources.get(field) or {}).get("source"))
        if a != b:
            return theirs if b > a else mine
        return theirs if merged.updated_at > survivor.updated_at else mine
    if rule == "furthest_stage":
        order = {s: i for i, s in enumerate(DEFAULT_STAGES)}
        return theirs if order.get(str(theirs), -1) > order.get(str(mine), -1) else mine
    return mine


def choose_values(survivor: Side, merged: Side, rules: dict[str, str] | None = None) -> dict[str, tuple[Any, str]]:
    """``{field: (winning value, rule)}`` for every field whose value changes on the survivor."""
    rules = rules or DEFAULT_RULES
    unknown = sorted(set(rules.values()) - set(RULES))
    if unknown:
        raise ValueError(f"unknown survivorship rule(s): {', '.join(unknown)}")
    out: dict[str, tuple[Any, str]] = {}
    for field, rule in rules.items():
        value = _pick(rule, field, survivor, merged)
        if value != survivor.values.get(field):
            out[field] = (value, rule)
    return out
