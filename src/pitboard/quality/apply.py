"""Normalisation as every write path applies it: one place decides what is stored, what is kept as the
original, which facts are derived into columns, and which problems stop a write.

"Hard" problems are values the record cannot hold at all (an unreadable email is no identity; an
unknown country does not fit an ISO code column): the API answers 422, an import quarantines the row.
Everything else is stored as typed and left for data-quality scores to count (a phone that is not a
valid number is still worth keeping).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pitboard.quality.normalize import normalize_account_fields, normalize_contact_fields

CONTACT_FACTS = {"seniority": "seniority", "function": "job_function", "email_domain": "email_domain",
                 "email_is_free_mail": "is_free_mail"}  # fmt: skip
# Which facts follow which field: writing the field (even to empty) replaces them.
_FACT_SOURCES = {"title": ("seniority", "job_function"), "email": ("email_domain", "is_free_mail")}
HARD_FIELDS = frozenset({"email", "country", "domain"})


@dataclass
class Applied:
    values: dict[str, Any]
    originals: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # stored anyway
    rejects: dict[str, str] = field(default_factory=dict)  # the write cannot go ahead with these

    @property
    def reject_message(self) -> str:
        return "; ".join(self.rejects.values())


def _split(problems: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    soft = {f: m for f, m in problems.items() if f not in HARD_FIELDS}
    hard = {f: m for f, m in problems.items() if f in HARD_FIELDS}
    return soft, hard


def contact_values(values: Mapping[str, Any]) -> Applied:
    """Normalise the contact fields present in ``values``; other keys pass through unchanged."""
    result = normalize_contact_fields(values)
    out = dict(result.values)
    for source, facts in _FACT_SOURCES.items():
        if source in values:
            for fact in facts:
                out[fact] = None
    for fact, column in CONTACT_FACTS.items():
        if fact in result.derived:
            out[column] = result.derived[fact]
    soft, hard = _split(result.problems)
    originals = {f: v for f, v in result.originals.items() if v not in (None, "")}
    return Applied(out, originals, soft, hard)


def account_values(values: Mapping[str, Any]) -> Applied:
    result = normalize_account_fields(values)
    out = dict(result.values)
    if "domain" in values:
        out["registered_domain"] = result.derived.get("registered_domain")
    soft, hard = _split(result.problems)
    originals = {f: v for f, v in result.originals.items() if v not in (None, "")}
    return Applied(out, originals, soft, hard)


def merged_originals(
    stored: Mapping[str, Any], written: Mapping[str, Any], originals: Mapping[str, Any]
) -> dict[str, Any]:
    """The record's originals after a write: fields written anew drop their old original, and fields
    normalisation changed this time keep what was received."""
    kept = {f: v for f, v in stored.items() if f not in written}
    return {**kept, **originals}
