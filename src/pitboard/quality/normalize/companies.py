"""Company names: a tidy display form, and a match key under which "Acme Inc.", "ACME, Inc" and "acme"
are one company.

The key folds case, accents and punctuation ("&" becomes "and"), drops a leading "The", joins runs
of single letters ("S. A." → "sa", "A/S" → "as") and then drops legal-form words from the end
(repeatedly, so "GmbH & Co. KG" goes entirely), and after them "Group", "Holding" or "Holdings".
It never drops the last word that is left: "The Company" keys as "company". Words are dropped only at
the end, so "Company" in "The Boston Company Partners" stays.
"""

from __future__ import annotations

from functools import lru_cache

from pitboard.quality.normalize._text import collapse_spaces, fold

__all__ = ["LEGAL_FORMS", "company_match_key", "normalize_company_name"]

# Legal forms as folded words, dots and slashes gone ("S.A." → "sa", "A/S" → "as", "S.p.A." → "spa").
LEGAL_FORMS = frozenset({
    # English-speaking countries
    "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd", "limited", "plc",
    "pty", "pte", "pvt", "private", "lc", "pllc", "pc",
    # German-speaking countries
    "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "gbr", "ug", "haftungsbeschrankt", "ev", "se", "eg",
    # French, Spanish, Portuguese, Italian
    "sa", "sas", "sasu", "sarl", "eurl", "sl", "slu", "srl", "spa", "sapa", "snc", "ltda", "cv", "sab", "sca",
    # Dutch, Belgian, Nordic
    "bv", "nv", "bvba", "vof", "cvba", "oy", "oyj", "ab", "publ", "as", "asa", "aps", "hf", "ehf",
    # Asia-Pacific
    "kk", "gk", "yk", "bhd", "sdn", "tbk", "jsc", "ojsc", "pjsc", "ooo", "zao", "oao",
})  # fmt: skip
# Dropped after the legal forms; "Acme Group" and "Acme Holdings Ltd" are Acme.
_GROUP_WORDS = frozenset({"group", "holding", "holdings", "gruppe", "groupe", "grupo", "and", "de"})
# Kept upper case when an ALL CAPS name is repaired: legal forms that are written in capitals.
_UPPER_FORMS = frozenset({"AG", "KG", "SA", "SE", "NV", "BV", "AB", "AS", "ASA", "PLC", "LLC", "LLP", "LP", "SAS",
                          "SARL", "SRL", "SPA", "KK", "OHG", "UG", "APS", "JSC"})  # fmt: skip
_MIXED_FORMS = {"GMBH": "GmbH", "MBH": "mbH", "KGAA": "KGaA", "INC": "Inc", "INC.": "Inc.", "LTD": "Ltd",
                "LTD.": "Ltd.", "CORP": "Corp", "CORP.": "Corp.", "CO": "Co", "CO.": "Co.", "PTY": "Pty",
                "OY": "Oy", "OYJ": "Oyj", "LTDA": "Ltda", "BHD": "Bhd", "SDN": "Sdn", "E.V.": "e.V."}  # fmt: skip
_SMALL_WORDS = frozenset({"OF", "AND", "THE", "FOR", "DE", "DES", "DU", "LA", "LE", "UND", "ET", "Y", "DER", "DIE"})


def _fix_word(word: str, first: bool) -> str:
    if word in _MIXED_FORMS:
        return _MIXED_FORMS[word]
    if word.rstrip(".,") in _UPPER_FORMS:
        return word
    if word in _SMALL_WORDS:
        return word.capitalize() if first else word.lower()
    if sum(c.isalpha() for c in word) <= 3:
        return word  # IBM, SAP, BMW, B.V., 3M: short all-caps words are usually acronyms
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


@lru_cache(maxsize=32768)
def normalize_company_name(name: str | None) -> str | None:
    """Display form: trimmed, single spaces, an ALL CAPS name in title case ("ACME CORP" → "Acme Corp").

    Acronyms of up to three letters stay ("IBM DEUTSCHLAND GMBH" → "IBM Deutschland GmbH"); names with
    any lower-case letter, including all lower-case brand names ("adidas"), stay as typed.
    """
    if name is None:
        return None
    text = collapse_spaces(name).strip(" ,;")
    if not text:
        return None
    if not text.isupper() or not any(len(word) > 3 for word in text.split(" ")):
        return text
    return " ".join(_fix_word(word, i == 0) for i, word in enumerate(text.split(" ")))


def _join_letters(words: list[str]) -> list[str]:
    """Runs of one-letter words become one word: "s a" → "sa", "a s" → "as"."""
    out: list[str] = []
    run = ""
    for word in words:
        if len(word) == 1 and word.isalpha():
            run += word
            continue
        if run:
            out.append(run)
            run = ""
        out.append(word)
    if run:
        out.append(run)
    return out


@lru_cache(maxsize=65536)
def company_match_key(name: str | None) -> str:
    """The key two spellings of one company share ("Acme Inc." == "ACME, Inc" == "acme"); "" if empty."""
    if not name:
        return ""
    words = _join_letters(fold(name).split())
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    while len(words) > 1 and (words[-1] in _GROUP_WORDS or words[-1] in LEGAL_FORMS):
        words.pop()
    return " ".join(words)
