"""Text folding shared by the normalisers: one definition of "the same text" for look-ups and match keys.

Folding lower-cases, removes accents, deletes dots and apostrophes (so "U.S.A." is "usa" and "O'Neil" is
"oneil"), turns "&" into "and" and every other punctuation mark into a space, and collapses whitespace.
Tables are folded with the same function when they load, so a table entry matches every spelling that
folds to it.
"""

from __future__ import annotations

import unicodedata

# Letters that NFKD does not decompose into a base letter and an accent, so accent stripping misses them.
_LETTERS = {"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d",
            "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "\u0131": "i", "ß": "ss"}  # fmt: skip
# Joining marks, deleted: "S.A." is "sa", "O'Neil" is "oneil" (apostrophe, right quote, grave, acute).
_DELETED = ".'\u2019`\u00b4"
# Separators, turned into spaces (en and em dashes and typographic quotes among them).
_SPACED = ',;:/\\|-\u2013\u2014_()[]{}<>"\u201c\u201d\u201e\u00ab\u00bb!?*#+=~^%$@'


def _table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(c): None for c in _DELETED}
    table.update({ord(c): " " for c in _SPACED})
    table[ord("&")] = " and "
    table.update({ord(k): v for k, v in _LETTERS.items()})
    return table


_TABLE = _table()


def strip_accents(text: str) -> str:
    """``text`` without combining accents ("Österreich" → "Osterreich"); ASCII passes through untouched."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold(text: str) -> str:
    """The look-up form of ``text``: lower case, no accents or punctuation, single spaces."""
    return " ".join(strip_accents(text.translate(_TABLE)).casefold().split())


def collapse_spaces(text: str) -> str:
    """Trim and collapse every run of whitespace (including no-break spaces) into one space."""
    return " ".join(text.split())
