"""Normalisation for data quality: pure functions that turn what people type into one standard form.

Countries and regions to ISO codes, phones to E.164, emails with free-mail, role and match-key facts,
person names, job titles to seniority and function, company names and match keys, web domains, and
:func:`normalize_contact_fields` / :func:`normalize_account_fields` that apply them all to a record
and keep the original of every value they change. No I/O beyond reading the bundled tables at import;
nothing is looked up on the network. See docs/normalisation.md.
"""

from __future__ import annotations

from pitboard.quality.normalize.companies import company_match_key, normalize_company_name
from pitboard.quality.normalize.countries import country_name, normalize_country, normalize_region
from pitboard.quality.normalize.domains import DomainInfo, normalize_domain, registered_domain_of_email
from pitboard.quality.normalize.emails import EmailInfo, email_info
from pitboard.quality.normalize.names import given_name_keys, nickname_key, normalize_person_name
from pitboard.quality.normalize.phones import PhoneResult, normalize_phone
from pitboard.quality.normalize.record import NormalizedFields, normalize_account_fields, normalize_contact_fields
from pitboard.quality.normalize.titles import TitleInfo, classify_title

__all__ = [
    "DomainInfo",
    "EmailInfo",
    "NormalizedFields",
    "PhoneResult",
    "TitleInfo",
    "classify_title",
    "company_match_key",
    "country_name",
    "email_info",
    "given_name_keys",
    "nickname_key",
    "normalize_account_fields",
    "normalize_company_name",
    "normalize_contact_fields",
    "normalize_country",
    "normalize_domain",
    "normalize_person_name",
    "normalize_phone",
    "normalize_region",
    "registered_domain_of_email",
]
