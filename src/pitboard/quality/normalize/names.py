"""People's names: tidy spacing, repair names typed in ALL CAPS or all lower case, split a full name
typed into the first-name field, and a nickname key for finding the same person twice.

Case is only repaired when a field has no mixed case at all: "McDonald", "van der Berg" and "DeShawn"
were typed that way on purpose and stay as they are.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from pitboard.quality.normalize._text import collapse_spaces, fold

__all__ = ["fix_name_case", "given_name_keys", "nickname_key", "normalize_person_name", "split_full_name"]

# Surname particles written in lower case when a given name precedes them ("Ludwig van Beethoven").
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "del", "della", "delle", "di", "da", "das", "dos", "du",
                        "la", "le", "lo", "ten", "ter", "te", "zu", "zur", "af", "av", "y", "bin", "binti", "bint",
                        "ibn"})  # fmt: skip
# Words that follow a surname and stay with it ("King Jr.").
_SUFFIXES = {"jr": "Jr", "sr": "Sr", "ii": "II", "iii": "III", "iv": "IV", "v": "V", "phd": "PhD", "md": "MD",
             "esq": "Esq", "mba": "MBA"}  # fmt: skip
# Salutations that are not part of anyone's name; dropped from the front of a first name.
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "herr", "frau", "mme", "mlle", "sir"})
# "Mac" is a prefix only in these surnames; "Machado", "Mackie" or "Macy" are not Mac-Hado.
_MAC_NAMES = frozenset({
    "macadam", "macalister", "macallister", "macarthur", "macaulay", "macbeth", "macbride", "maccallum",
    "maccormack", "macdermott", "macdonald", "macdougall", "macduff", "macewan", "macewen", "macfadyen",
    "macfarlane", "macgillivray", "macgowan", "macgregor", "macinnes", "macintosh", "macintyre", "maciver",
    "mackay", "mackenzie", "mackinlay", "mackinnon", "mackintosh", "maclachlan", "maclaren", "maclean",
    "maclennan", "macleod", "macmahon", "macmanus", "macmillan", "macnab", "macnamara", "macnaughton",
    "macneil", "macneill", "macpherson", "macquarrie", "macqueen", "macrae", "macsween", "mactavish",
    "macvicar", "macaskill", "maccoll", "macdiarmid", "macgill",
})  # fmt: skip
_APOSTROPHES = "'\u2019"  # typewriter and typographic apostrophe
_INITIALS = re.compile(r"^(?:\w\.)+\w?\.?$")


def _load_nicknames() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    text = resources.files("pitboard.quality.normalize.data").joinpath("nicknames.txt").read_text(encoding="utf-8")
    rows = [line.partition(":") for line in text.splitlines() if ":" in line and not line.startswith("#")]
    primary: dict[str, str] = {}
    candidates: dict[str, set[str]] = {}
    for canonical, _, _ in rows:  # a canonical name stands for itself first ("nathan" is not "nathaniel")
        key = fold(canonical)
        primary[key] = key
        candidates.setdefault(key, set()).add(key)
    for canonical, _, others in rows:
        key = fold(canonical)
        for other in (fold(name) for name in others.split(",") if name.strip()):
            primary.setdefault(other, key)
            candidates.setdefault(other, {other}).add(key)
    return primary, {name: frozenset(keys) for name, keys in candidates.items()}


_NICK_PRIMARY, _NICK_CANDIDATES = _load_nicknames()


def _cap(part: str) -> str:
    return part[:1].upper() + part[1:].lower()


def _cap_apostrophe(word: str) -> str:
    for mark in _APOSTROPHES:
        head, sep, tail = word.partition(mark)
        if sep and len(head) == 1 and tail:  # O'Neil, D'Angelo, N'Golo; but Ya'akov keeps its case
            return _cap(head) + sep + _cap_word(tail)
    return _cap(word)


def _cap_word(word: str) -> str:
    """One word of a name in title case, knowing Mc, Mac, O' and initials."""
    lower = word.lower()
    if _INITIALS.match(word):
        return word.upper()  # "j.r." → "J.R."
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + _cap(word[2:])
    if lower in _MAC_NAMES:
        return "Mac" + _cap(word[3:])
    return _cap_apostrophe(word)


def _cap_token(token: str, *, particle: bool) -> str:
    lower = token.lower()
    if particle and lower in _PARTICLES:
        return lower
    bare = lower.rstrip(".")
    if bare in _SUFFIXES:
        return _SUFFIXES[bare] + token[len(bare) :]
    return "-".join(_cap_word(part) if part else part for part in token.split("-"))


def _is_single_case(text: str) -> bool:
    return text.isupper() or text.islower()


@lru_cache(maxsize=65536)  # given names and common surnames repeat all the time
def fix_name_case(text: str, surname: bool = False) -> str:
    """``text`` in title case if it is all upper or all lower case, otherwise unchanged.

    In a surname, particles other than the last word are lower case ("VAN DER BERG" → "van der Berg").
    """
    if not _is_single_case(text):
        return text
    tokens = text.split(" ")
    last = len(tokens) - 1
    return " ".join(_cap_token(token, particle=surname and i < last) for i, token in enumerate(tokens))


def _drop_honorifics(tokens: list[str]) -> list[str]:
    while len(tokens) > 1 and tokens[0].lower().rstrip(".") in _HONORIFICS:
        tokens = tokens[1:]
    return tokens


def split_full_name(full: str) -> tuple[str | None, str | None]:
    """(given names, surname) of a whole name: "Ludwig van Beethoven", "Smith, Anna" or "Dr. Ann Lee"."""
    text = collapse_spaces(full)
    if "," in text:
        surname, _, given = (collapse_spaces(part) for part in text.partition(","))
        if surname and given and given.lower().rstrip(".") not in _SUFFIXES:  # "King, Jr." is no "Last, First"
            return " ".join(_drop_honorifics(given.split(" "))), surname
    words = [token for token in text.replace(",", " ").split(" ") if token]
    tokens = _drop_honorifics(words)
    if len(tokens) < 2:
        if tokens and len(words) > 1:
            return None, tokens[0]  # "Mr. Bean": a salutation goes with the surname
        return (tokens[0] if tokens else None), None
    end = len(tokens) - 1
    while end > 1 and tokens[end].lower().rstrip(".") in _SUFFIXES:
        end -= 1  # "King Jr." keeps the suffix with the surname
    start = end
    while start > 1 and tokens[start - 1].lower() in _PARTICLES:
        start -= 1
    return " ".join(tokens[:start]), " ".join(tokens[start:])


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = collapse_spaces(value).strip(" ,;")
    return text or None


def normalize_person_name(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """Tidy first and last name; a full name in ``first`` with no ``last`` is split.

    >>> normalize_person_name("ANNE-MARIE", "O'NEIL"), normalize_person_name("ludwig van beethoven", None)
    (('Anne-Marie', "O'Neil"), ('Ludwig', 'van Beethoven'))
    """
    first, last = _clean(first), _clean(last)
    if first is not None and last is None and " " in first:
        first, last = split_full_name(first)
    elif first is not None and " " in first:
        first = " ".join(_drop_honorifics(first.split(" ")))
    return (fix_name_case(first) if first else None), (fix_name_case(last, True) if last else None)


def _given_token(first: str) -> str:
    """The folded given name that identifies a person: the first word that is not just an initial."""
    tokens = fold(first).split()
    tokens = _drop_honorifics(tokens)
    for token in tokens:
        if len(token) > 1:
            return token
    return tokens[0] if tokens else ""


@lru_cache(maxsize=16384)
def nickname_key(first: str | None) -> str:
    """Canonical given name for matching: "Bob" → "robert", "Kathy" → "katherine", "Zoë" → "zoe".

    Names not in the table come back folded; an empty name gives "".
    """
    if not first:
        return ""
    token = _given_token(first)
    return _NICK_PRIMARY.get(token, token)


def given_name_keys(first: str | None) -> frozenset[str]:
    """Every canonical name ``first`` may stand for: "Alex" → {"alexander", "alexandra"}.

    Two people plausibly share a given name when their sets intersect.
    """
    if not first:
        return frozenset()
    token = _given_token(first)
    return _NICK_CANDIDATES.get(token, frozenset({token}))
