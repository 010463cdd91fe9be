"""A cheap phone match key: the same number typed in different formats gives the same ``+<cc><digits>``.

:func:`pitboard.quality.normalize.normalize_phone` validates against libphonenumber's metadata and costs
~90 µs a number (a minute and a half for a million contacts); matching needs only that two spellings of
one number agree, so this key uses just the country calling code and national trunk prefix from the
same metadata (~2 µs). It also keys numbers the metadata does not call valid (new ranges, the demo's
fictional numbers): for matching, "typed the same digits" is the evidence, validity is another check.
For every valid number it equals the library's E.164 form (tested).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata

__all__ = ["phone_match_key"]

_EXTENSION = re.compile(r"(?:[;#,]|[a-zA-Z]).*$")  # "x12", "ext. 12", "#12", ";ext=12" and what follows
_TRUNK_IN_BRACKETS = re.compile(r"\(0\)")  # "+44 (0)20 ...": the trunk 0 that international form omits
_NON_DIGITS = re.compile(r"\D")
_MIN_DIGITS, _MAX_DIGITS = 6, 15


@lru_cache(maxsize=512)
def _national(region: str) -> tuple[int, str | None]:
    """(country calling code, national trunk prefix) of a region; (0, None) when unknown."""
    code = phonenumbers.country_code_for_region(region)
    metadata = PhoneMetadata.metadata_for_region(region) if code else None
    return code, (metadata.national_prefix if metadata else None)


def phone_match_key(text: str | None, country: str | None) -> str | None:
    """``+<country code><national number>`` of a phone as typed; ``None`` when it cannot be keyed.

    A number without "+" or "00" is read in ``country`` (ISO alpha-2); without a country it has no key.
    """
    if not text:
        return None
    body = _TRUNK_IN_BRACKETS.sub("", _EXTENSION.sub("", text)).strip()
    digits = _NON_DIGITS.sub("", body)
    if body.startswith("+"):
        international: str | None = digits
    elif digits.startswith("00") and not digits.startswith("000"):
        international = digits[2:]
    else:
        international = _read_national(digits, country)
    if international is None or not _MIN_DIGITS <= len(international) <= _MAX_DIGITS:
        return None
    return "+" + international


def _read_national(digits: str, country: str | None) -> str | None:
    if not country:
        return None
    code, trunk = _national(country)
    if not code:
        return None
    if code == 1:
        if digits.startswith("011"):  # North American international prefix
            return digits[3:]
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
    elif trunk and digits.startswith(trunk):
        digits = digits[len(trunk) :]
    return f"{code}{digits}"
