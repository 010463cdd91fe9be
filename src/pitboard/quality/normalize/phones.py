"""Phone numbers to E.164 with the ``phonenumbers`` library (Google's libphonenumber metadata, offline).

A number written without a country code is read in the contact's country. "00" and "+" both introduce
an international number, whatever the default country dials abroad with (an American export of a German
number keeps its "0049"). Extensions ("x123", "ext. 123", "#123") are kept apart from the number.
Only numbers that the metadata says are valid get an E.164 form; anything else gets a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult

from pitboard.quality.normalize.countries import normalize_country

__all__ = ["PhoneResult", "format_phone", "normalize_phone"]


@dataclass(frozen=True, slots=True)
class PhoneResult:
    """The outcome for one phone number.

    ``e164`` is set only when ``valid``; ``reason`` (only when not valid) reads after "is", as in
    "phone '+1 555' is not a valid number for US (too short)". ``country`` is the number's own country,
    which may differ from the default (a German number on a US contact).
    """

    e164: str | None
    valid: bool
    reason: str | None = None
    extension: str | None = None
    country: str | None = None

    @property
    def value(self) -> str | None:
        """The form to store: E.164, with an extension as the RFC 3966 parameter ``;ext=``."""
        if self.e164 is None:
            return None
        return f"{self.e164};ext={self.extension}" if self.extension else self.e164


_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_POSSIBLE_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "of a length no number there has",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number without its area code",
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "using an unknown country calling code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short to be a phone number",
    NumberParseException.TOO_LONG: "too long to be a phone number",
}


def _region(default_country: str | None) -> str | None:
    """The default region as phonenumbers knows it; ``None`` for a country it has no numbering plan for."""
    if not default_country:
        return None
    if not (len(default_country) == 2 and default_country.isupper()):  # the common case is an alpha-2 code
        default_country = normalize_country(default_country)
    return default_country if default_country in _REGIONS else None


def _international(text: str) -> str | None:
    """``text`` with a leading "00" international prefix turned into "+", or ``None`` if it has none."""
    stripped = text.lstrip(" (")
    if stripped.startswith("00") and not stripped.startswith("000"):
        return "+" + stripped[2:]
    return None


def _parse(text: str, region: str | None) -> PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        # "0049 30 ..." in a country that dials abroad with 011 parses as a national number or not at all
        international = _international(text)
        if international is None:
            raise
        return phonenumbers.parse(international, None)


def _valid_region(number: PhoneNumber, hint: str | None = None) -> str | None:
    """The number's country when the number is valid there, else ``None``.

    The same test as ``phonenumbers.is_valid_number``, which works the region out first (for "+1"
    numbers by validating against up to 25 countries) and then validates again. Most numbers belong
    to the contact's own country, so that country (``hint``) is tried first and alone.
    """
    if hint is not None and _is_valid_in(number, hint):
        return hint
    where = phonenumbers.region_code_for_number(number)
    if where is None or where == hint:
        return None  # the hint was just tested and failed
    return where if phonenumbers.is_valid_number_for_region(number, where) else None


def _is_valid_in(number: PhoneNumber, region: str) -> bool:
    same_code = phonenumbers.country_code_for_region(region) == number.country_code
    return same_code and phonenumbers.is_valid_number_for_region(number, region)


def _invalid(number: PhoneNumber, region: str | None) -> PhoneResult:
    # An invalid number has no region of its own; its calling code still says where it claims to be
    # ("+1 555" is a US number whatever the contact's country), "ZZ" meaning the code belongs to none.
    claimed = phonenumbers.region_code_for_country_code(number.country_code or 0)
    where = region if claimed in (None, "ZZ") else claimed
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        return PhoneResult(None, False, f"using an unknown country calling code (+{number.country_code})")
    detail = _POSSIBLE_REASONS.get(possible)
    place = f" for {where}" if where else ""
    reason = f"not a valid number{place}" + (f" ({detail})" if detail else "")
    return PhoneResult(None, False, reason, number.extension or None, where)


@lru_cache(maxsize=65536)  # re-imports and repeated switchboard numbers make many values repeat
def normalize_phone(text: str | None, default_country: str | None = None) -> PhoneResult:
    """Parse ``text`` as a phone number, national numbers read in ``default_country`` (code or name)."""
    if text is None or not text.strip():
        return PhoneResult(None, False, "empty")
    region = _region(default_country)
    try:
        number = _parse(text, region)
    except NumberParseException as exc:
        no_prefix = not text.lstrip(" (").startswith(("+", "00"))
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None and no_prefix:
            return PhoneResult(None, False, "missing its country code (and no default country is known)")
        return PhoneResult(None, False, _PARSE_REASONS.get(exc.error_type, "not a phone number"))
    country = _valid_region(number, region)
    if country is None:
        retry = _retry_international(text)
        if retry is None:
            return _invalid(number, region)
        number, country = retry
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return PhoneResult(e164, True, None, number.extension or None, country)


def _retry_international(text: str) -> tuple[PhoneNumber, str] | None:
    """The number read as international when a "00" prefix made it an invalid national one."""
    international = _international(text)
    if international is None:
        return None
    try:
        retry = phonenumbers.parse(international, None)
    except NumberParseException:
        return None
    country = _valid_region(retry)
    return (retry, country) if country is not None else None


def format_phone(e164: str, style: str = "international") -> str:
    """Display form of a stored number: ``international`` ("+49 30 1234567") or ``national``."""
    number = phonenumbers.parse(e164, None)
    fmt = PhoneNumberFormat.NATIONAL if style == "national" else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)
