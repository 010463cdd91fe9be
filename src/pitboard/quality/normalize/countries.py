"""Countries to ISO 3166-1 alpha-2 and states or provinces to ISO 3166-2, from whatever people type.

Both look-ups fold the text first (case, accents, dots, apostrophes and other punctuation do not matter,
a leading "The" is ignored) and then consult tables bundled in ``data/``: every ISO country by alpha-2,
alpha-3 and English short name plus an alias table, and the subdivisions of the US, Canada, Australia,
Germany, Austria and Switzerland. Results are cached because the same few dozen values make up nearly
all of the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pitboard.quality.normalize._text import fold

__all__ = ["Country", "country_name", "normalize_country", "normalize_region", "supported_region_countries"]


@dataclass(frozen=True, slots=True)
class Country:
    alpha2: str
    alpha3: str
    name: str


def _rows(filename: str) -> list[list[str]]:
    text = resources.files("pitboard.quality.normalize.data").joinpath(filename).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _add(index: dict[str, str], key: str, value: str, source: str) -> None:
    # A key that points at two different places is a mistake in the bundled table: fail loudly at
    # import (the tests import this module) instead of answering one of the two at random.
    folded = fold(key)
    if not folded:
        raise ValueError(f"{source}: empty key for {value}")
    existing = index.setdefault(folded, value)
    if existing != value:
        raise ValueError(f"{source}: {key!r} means both {existing} and {value}")


def _load_countries() -> tuple[dict[str, Country], dict[str, str]]:
    by_code: dict[str, Country] = {}
    index: dict[str, str] = {}
    for row in _rows("countries.tsv"):
        alpha2, alpha3, name = row[0], row[1], row[2]
        by_code[alpha2] = Country(alpha2, alpha3, name)
        aliases = row[3].split("|") if len(row) > 3 and row[3] else []
        for key in (alpha2, alpha3, name, *aliases):
            _add(index, key, alpha2, "countries.tsv")
    return by_code, index


def _load_regions() -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    per_country: dict[str, dict[str, str]] = {}
    by_name: dict[str, set[str]] = {}
    for row in _rows("regions.tsv"):
        code, name = row[0], row[1]
        country, _, suffix = code.partition("-")
        index = per_country.setdefault(country, {})
        aliases = row[2].split("|") if len(row) > 2 and row[2] else []
        for key in (code, suffix, name, *aliases):
            _add(index, key, code, "regions.tsv")
        # Without a country only full names (and long aliases such as "Calif.") are safe to guess from;
        # "WA" or "NT" mean different places in different countries.
        for key in (name, *aliases):
            if len(fold(key)) > 3:
                by_name.setdefault(fold(key), set()).add(code)
    unambiguous = {key: next(iter(codes)) for key, codes in by_name.items() if len(codes) == 1}
    return per_country, unambiguous


_COUNTRIES, _COUNTRY_INDEX = _load_countries()
_REGIONS, _REGION_BY_NAME = _load_regions()
_REGION_CODES = {code for index in _REGIONS.values() for code in index.values()}


def _strip_the(key: str) -> str:
    return key[4:] if key.startswith("the ") else key


def _without_umlaut_spelling(key: str) -> str:
    """German written without umlauts ("Thueringen", "Oesterreich") in the folded form ("thuringen")."""
    return key.replace("ae", "a").replace("oe", "o").replace("ue", "u")


def _lookup(index: dict[str, str], key: str) -> str | None:
    found = index.get(key) or index.get(_strip_the(key))
    if found is None and ("ae" in key or "oe" in key or "ue" in key):
        found = index.get(_without_umlaut_spelling(key))  # only a fallback: "Israel" or "Quebec" match first
    return found


@lru_cache(maxsize=4096)
def normalize_country(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country code, name or alias; ``None`` when it is not recognised.

    >>> normalize_country("Deutschland"), normalize_country("U.S.A."), normalize_country("The Netherlands")
    ('DE', 'US', 'NL')
    """
    if not text:
        return None
    return _lookup(_COUNTRY_INDEX, fold(text))


def country_name(alpha2: str) -> str | None:
    """The English short name of an alpha-2 code (``"DE"`` → ``"Germany"``)."""
    country = _COUNTRIES.get(alpha2.upper())
    return country.name if country else None


def supported_region_countries() -> frozenset[str]:
    """Countries whose subdivisions :func:`normalize_region` knows."""
    return frozenset(_REGIONS)


@lru_cache(maxsize=4096)
def normalize_region(country: str | None, text: str | None) -> str | None:
    """ISO 3166-2 code for a state, province or Land of ``country``; ``None`` when it is not recognised.

    ``country`` may be anything :func:`normalize_country` understands. Without a country only a full
    ISO code ("US-CA") or a name that exists in one country alone ("Bavaria") is recognised.
    """
    if not text:
        return None
    key = fold(text)
    alpha2 = normalize_country(country) if country else None
    if alpha2 is not None:
        index = _REGIONS.get(alpha2)
        if index is None:
            return None
        return _lookup(index, key) or _full_code(key, alpha2)
    return _full_code(key, None) or _REGION_BY_NAME.get(key)


def _full_code(key: str, alpha2: str | None) -> str | None:
    # Folding turned "US-CA" into "us ca"; accept it only when it names a known subdivision.
    code = key.upper().replace(" ", "-", 1)
    if code in _REGION_CODES and (alpha2 is None or code.startswith(alpha2 + "-")):
        return code
    return None
