"""Job titles to a seniority and a business function, for segmentation and lead scoring.

How a title is read (docs/normalisation.md has the full tables):

1. Fold it (case, accents, punctuation) and split it into words; German compounds are split before
   their head noun ("Vertriebsleiterin" → "vertrieb leiter"), and abbreviations are spelled out
   ("Sr. Dir., Mktg" → "senior director marketing"; "VP" → "vp", "PDG" → "ceo").
2. Seniority: the first rule in :data:`SENIORITY_RULES` that matches wins; the rules run from the most
   specific exceptions ("Executive Assistant to the CEO" is no CEO, "Product Owner" no owner) down the
   ladder c_level → vp → director → manager → senior → individual. A title that matches no rule but
   names a function is ``individual``; one that matches nothing at all is ``unknown``.
3. Function: the first rule in :data:`FUNCTION_RULES` that matches wins; compound phrases come first
   ("Product Marketing" is marketing, "Sales Engineer" sales, "Data Engineer" data), then single
   words in a fixed order in which the specific functions beat the generic ones (operations and
   executive come last, so "Marketing Ops Manager" is marketing). No match gives ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from pitboard.quality.normalize._text import fold

__all__ = ["FUNCTIONS", "FUNCTION_RULES", "SENIORITIES", "SENIORITY_RULES", "TitleInfo", "classify_title"]

Seniority = Literal["c_level", "vp", "director", "manager", "senior", "individual", "intern", "unknown"]
Function = Literal["marketing", "sales", "engineering", "it", "product", "finance", "hr", "operations",
                   "executive", "customer_success", "legal", "data", "design", "other"]  # fmt: skip
SENIORITIES: tuple[Seniority, ...] = ("c_level", "vp", "director", "manager", "senior", "individual", "intern",
                                      "unknown")  # fmt: skip
FUNCTIONS: tuple[Function, ...] = ("marketing", "sales", "engineering", "it", "product", "finance", "hr",
                                   "operations", "executive", "customer_success", "legal", "data", "design",
                                   "other")  # fmt: skip


@dataclass(frozen=True, slots=True)
class TitleInfo:
    seniority: Seniority
    function: Function


def _sections() -> dict[str, list[str]]:
    """The sections of ``data/titles.txt``, continuation lines joined to the line they continue."""
    text = resources.files("pitboard.quality.normalize.data").joinpath("titles.txt").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[] "), [])
        elif line[0].isspace() and current:
            current[-1] += " " + line.strip()
        else:
            current.append(line.strip())
    return sections


def _rules(lines: list[str], labels: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    rules = []
    for line in lines:
        label, _, phrases = line.partition(":")
        if label not in labels:
            raise ValueError(f"titles.txt: unknown label {label!r}")
        rules.append((label, tuple(p.strip() for p in phrases.split(",") if p.strip())))
    return tuple(rules)


_SECTIONS = _sections()
_EXPAND = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in _SECTIONS["expand"])}
# German compounds are split before these head nouns, longest first: "Marketingleiterin" → "marketing leiterin".
_GERMAN_HEADS = tuple(sorted(" ".join(_SECTIONS["german heads"]).split(), key=len, reverse=True))
#: Seniority rules in order, as (seniority, phrases); the first that matches wins.
SENIORITY_RULES = _rules(_SECTIONS["seniority"], SENIORITIES)
#: Function rules in order, as (function, phrases); the first that matches wins.
FUNCTION_RULES = _rules(_SECTIONS["function"], FUNCTIONS)


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    words: frozenset[str]  # one-word phrases, matched by set intersection
    phrases: tuple[str, ...]  # multi-word phrases, padded with spaces for whole-word substring tests


def _compile(rules: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[_Rule, ...]:
    return tuple(
        _Rule(label, frozenset(p for p in phrases if " " not in p), tuple(f" {p} " for p in phrases if " " in p))
        for label, phrases in rules
    )


_SENIORITY = _compile(SENIORITY_RULES)
_FUNCTION = _compile(FUNCTION_RULES)
# For titles ending in "lead": the rules above the first manager rule, which may still say more.
_ABOVE_MANAGER = _SENIORITY[: next(i for i, rule in enumerate(_SENIORITY) if rule.label == "manager")]
_SENIORITY_OF: dict[str, Seniority] = {s: s for s in SENIORITIES}
_FUNCTION_OF: dict[str, Function] = {f: f for f in FUNCTIONS}


def _split_german(word: str) -> list[str]:
    for head in _GERMAN_HEADS:
        if word.endswith(head) and len(word) >= len(head) + 3:
            return [word[: -len(head)], head]
    return [word]


def _words(title: str) -> list[str]:
    words: list[str] = []
    for raw in fold(title).split():
        for part in _split_german(raw):
            words.extend(_EXPAND.get(part, part).split())
    text = " ".join(words)
    # "Vice President" must not read as "President"; join it before the C-level rule can see it.
    return text.replace("vice president", "vp").split()


def _match(rules: tuple[_Rule, ...], words: list[str]) -> str | None:
    present = set(words)
    padded = f" {' '.join(words)} "
    for rule in rules:
        if not rule.words.isdisjoint(present) or any(p in padded for p in rule.phrases):
            return rule.label
    return None


def _seniority(words: list[str], function: Function) -> Seniority:
    if words[-1] == "lead" and "tech" not in words and "technical" not in words:
        matched = _match(_ABOVE_MANAGER, words)  # "Demand Gen Lead" leads a team, unless a higher rule says more
        return _SENIORITY_OF[matched or "manager"]
    matched = _match(_SENIORITY, words)
    if matched is not None:
        return _SENIORITY_OF[matched]
    return "unknown" if function == "other" else "individual"


@lru_cache(maxsize=32768)  # a few thousand distinct titles make up nearly every record
def classify_title(title: str | None) -> TitleInfo:
    """Seniority and function of a job title ("Sr. Dir., Mktg Ops" → director, marketing)."""
    words = _words(title) if title else []
    if not words:
        return TitleInfo("unknown", "other")
    function = _FUNCTION_OF.get(_match(_FUNCTION, words) or "other", "other")
    return TitleInfo(_seniority(words, function), function)
