"""Normalise a contact's or an account's fields in one call, keeping what was there before.

Every write path (forms, API, imports, tracking) calls these with the incoming values and stores
``values``; ``originals`` holds the value each changed field had, so it can be kept beside the record
and a normalisation can be audited or undone. Bad data is never an exception: the value is kept as
typed (trimmed), and ``problems`` says what is wrong with it, per field.

Blank text becomes ``None`` without counting as a change (there is nothing to keep). Fields this
module does not know pass through untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pitboard.quality.normalize._text import collapse_spaces
from pitboard.quality.normalize.companies import company_match_key, normalize_company_name
from pitboard.quality.normalize.countries import normalize_country, normalize_region, supported_region_countries
from pitboard.quality.normalize.domains import normalize_domain
from pitboard.quality.normalize.emails import email_info
from pitboard.quality.normalize.names import nickname_key, normalize_person_name
from pitboard.quality.normalize.phones import normalize_phone
from pitboard.quality.normalize.titles import classify_title

__all__ = ["NormalizedFields", "normalize_account_fields", "normalize_contact_fields"]

Fact = str | bool | None
_REGION_FIELDS = ("region", "state")
_REGION_COUNTRIES = supported_region_countries()


@dataclass(slots=True)
class NormalizedFields:
    values: dict[str, object]  # the input, with the known fields normalised
    originals: dict[str, object] = field(default_factory=dict)  # field → value before, for every field changed
    derived: dict[str, Fact] = field(default_factory=dict)  # facts found on the way (free mail, seniority ...)
    problems: dict[str, str] = field(default_factory=dict)  # field → what is wrong with its value

    @property
    def changed(self) -> frozenset[str]:
        return frozenset(self.originals)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Work:
    """The state of one record being normalised; the step functions below fill it in."""

    __slots__ = ("out", "source")

    def __init__(self, source: Mapping[str, object]) -> None:
        self.source = source
        self.out = NormalizedFields(dict(source))

    def text(self, name: str) -> str | None:
        """The field's text (``None`` if absent or blank); a non-text value is reported and skipped."""
        value = self.source.get(name)
        if value is None or isinstance(value, str):
            text = value.strip() if value else None
            if value is not None and not text:
                self.out.values[name] = None
            return text or None
        if isinstance(value, int) and not isinstance(value, bool) and name == "phone":
            return str(value)  # spreadsheets turn phone numbers into integers
        self.out.problems[name] = f"{name} should be text, not {type(value).__name__}"
        return None

    def set(self, name: str, value: object) -> None:
        original = self.source.get(name)
        if value != original:
            self.out.originals[name] = original
            self.out.values[name] = value

    def problem(self, name: str, message: str, text: str) -> None:
        self.out.problems[name] = message
        self.set(name, collapse_spaces(text))  # keep what was typed, minus stray whitespace


def _country(work: _Work, name: str = "country") -> str | None:
    text = work.text(name)
    if text is None:
        return None
    code = normalize_country(text)
    if code is None:
        work.problem(name, f"{name} {text!r} is not a known country", text)
        return None
    work.set(name, code)
    return code


def _region(work: _Work, country: str | None) -> None:
    for name in _REGION_FIELDS:
        text = work.text(name)
        if text is None:
            continue
        code = normalize_region(country, text)
        if code is not None:
            work.set(name, code)
        elif country in _REGION_COUNTRIES:
            work.problem(name, f"{name} {text!r} is not a known subdivision of {country}", text)
        else:
            work.set(name, collapse_spaces(text))  # a country whose subdivisions we do not list


def _email(work: _Work) -> None:
    text = work.text("email")
    if text is None:
        return
    info = email_info(text)
    if not info.valid or info.normalized is None:
        work.problem("email", f"email {text!r} is not valid: {info.reason}", text)
        return
    work.set("email", info.normalized)
    derived = work.out.derived
    derived["email_domain"] = info.domain
    derived["email_registered_domain"] = info.registered_domain
    derived["email_match_key"] = info.match_key
    derived["email_is_free_mail"] = info.is_free_mail
    derived["email_is_role_account"] = info.is_role_account


def _phone(work: _Work, country: str | None) -> None:
    text = work.text("phone")
    if text is None:
        return
    result = normalize_phone(text, country)
    if not result.valid:
        work.problem("phone", f"phone {text!r} is {result.reason}", text)
        return
    work.set("phone", result.value)
    work.out.derived["phone_country"] = result.country


def _names(work: _Work) -> None:
    first, last = work.text("first_name"), work.text("last_name")
    if first is None and last is None:
        return
    new_first, new_last = normalize_person_name(first, last)
    if first is not None or new_first is not None:
        work.set("first_name", new_first)
    if last is not None or new_last is not None:
        work.set("last_name", new_last)
    if new_first:
        work.out.derived["first_name_key"] = nickname_key(new_first)


def _title(work: _Work) -> None:
    text = work.text("title")
    if text is None:
        return
    work.set("title", collapse_spaces(text))
    info = classify_title(text)
    work.out.derived["seniority"] = info.seniority
    work.out.derived["function"] = info.function


def _company(work: _Work, name: str, key_fact: str) -> None:
    text = work.text(name)
    if text is None:
        return
    work.set(name, normalize_company_name(text))
    work.out.derived[key_fact] = company_match_key(text)


def _plain(work: _Work, name: str) -> None:
    text = work.text(name)
    if text is not None:
        work.set(name, collapse_spaces(text))


def normalize_contact_fields(values: Mapping[str, object], *, default_country: str | None = None) -> NormalizedFields:
    """Normalise a contact's email, phone, country, region/state, names, title, company name and city.

    A phone number without a country code is read in the contact's country, or in ``default_country``
    (for instance the workspace's) when the contact has none.
    """
    work = _Work(values)
    country = _country(work)
    _region(work, country)
    _email(work)
    _phone(work, country or default_country)
    _names(work)
    _title(work)
    _company(work, "company_name", "company_match_key")
    _plain(work, "city")
    return work.out


def normalize_account_fields(values: Mapping[str, object]) -> NormalizedFields:
    """Normalise an account's name, domain (host, "www." removed), country and region."""
    work = _Work(values)
    country = _country(work)
    _region(work, country)
    _company(work, "name", "name_match_key")
    _domain(work)
    _plain(work, "city")
    return work.out


def _domain(work: _Work) -> None:
    text = work.text("domain")
    if text is None:
        return
    info = normalize_domain(text)
    if not info.valid or info.host is None:
        work.problem("domain", f"domain {text!r} is {info.reason}", text)
        return
    work.set("domain", info.host)
    work.out.derived["registered_domain"] = info.registered_domain
