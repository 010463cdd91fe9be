"""Normalisation for data quality: countries, regions, phones, emails and domains."""

from __future__ import annotations

import pytest

from pitboard.quality.normalize import (
    email_info,
    normalize_country,
    normalize_domain,
    normalize_phone,
    normalize_region,
    registered_domain_of_email,
)
from pitboard.quality.normalize.countries import _COUNTRIES, country_name, supported_region_countries
from pitboard.quality.normalize.domains import unicode_host
from pitboard.quality.normalize.emails import email_match_key, is_free_mail_domain, is_role_local_part
from pitboard.quality.normalize.phones import format_phone

# --- Countries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("UK", "GB"), ("U.K.", "GB"), ("Great Britain", "GB"), ("England", "GB"), ("Scotland", "GB"),
        ("United Kingdom", "GB"), ("GBR", "GB"), ("gb", "GB"),
        ("Deutschland", "DE"), ("Germany", "DE"), ("germany", "DE"), ("DEU", "DE"), ("Allemagne", "DE"),
        ("USA", "US"), ("U.S.A.", "US"), ("U.S.", "US"), ("us", "US"), ("United States of America", "US"),
        ("united states", "US"), ("  United   States ", "US"), ("Estados Unidos", "US"), ("États-Unis", "US"),
        ("Holland", "NL"), ("The Netherlands", "NL"), ("the netherlands", "NL"), ("Nederland", "NL"), ("NLD", "NL"),
        ("Schweiz", "CH"), ("Suisse", "CH"), ("Svizzera", "CH"), ("CHE", "CH"),
        ("España", "ES"), ("Espana", "ES"), ("ESPAÑA", "ES"), ("Spain", "ES"),
        ("Österreich", "AT"), ("Oesterreich", "AT"), ("Osterreich", "AT"), ("Austria", "AT"),
        ("Brasil", "BR"), ("Brazil", "BR"), ("BRA", "BR"),
        ("Czechia", "CZ"), ("Czech Republic", "CZ"), ("Česká republika", "CZ"),
        ("South Korea", "KR"), ("Korea, Republic of", "KR"), ("Republic of Korea", "KR"), ("KOR", "KR"),
        ("North Korea", "KP"), ("Korea, Democratic People's Republic of", "KP"),
        ("Côte d'Ivoire", "CI"), ("Cote d\u2019Ivoire", "CI"), ("Ivory Coast", "CI"),
        ("Bosnia & Herzegovina", "BA"), ("Trinidad & Tobago", "TT"), ("St. Lucia", "LC"), ("Saint Lucia", "LC"),
        ("Russia", "RU"), ("Russian Federation", "RU"), ("Türkiye", "TR"), ("Turkey", "TR"),
        ("Viet Nam", "VN"), ("Vietnam", "VN"), ("UAE", "AE"), ("Hong Kong", "HK"), ("Taiwan", "TW"),
        ("Democratic Republic of the Congo", "CD"), ("Republic of the Congo", "CG"), ("Congo", "CG"),
        ("Åland Islands", "AX"), ("Curaçao", "CW"), ("Réunion", "RE"), ("Kosovo", "XK"), ("Burma", "MM"),
        ("Swaziland", "SZ"), ("Macedonia", "MK"), ("Ireland", "IE"), ("Éire", "IE"), ("India", "IN"), ("IND", "IN"),
    ],
)  # fmt: skip
def test_country_names_codes_and_aliases(text: str, code: str) -> None:
    assert normalize_country(text) == code


@pytest.mark.parametrize("text", ["", "Narnia", "XX", "ZZZ", "Europe", "12", "the", "   ", "Springfield"])
def test_unknown_countries_are_none(text: str) -> None:
    assert normalize_country(text) is None


def test_every_iso_country_is_found_by_alpha2_alpha3_and_name() -> None:
    assert len(_COUNTRIES) >= 249
    for alpha2, country in _COUNTRIES.items():
        assert normalize_country(alpha2) == alpha2
        assert normalize_country(alpha2.lower()) == alpha2
        assert normalize_country(country.alpha3) == alpha2
        assert normalize_country(country.name) == alpha2, country.name
        assert normalize_country(country.name.upper()) == alpha2
        assert len(alpha2) == 2
        assert len(country.alpha3) == 3


def test_country_name() -> None:
    assert country_name("DE") == "Germany"
    assert country_name("gb") == "United Kingdom"
    assert country_name("XX") is None


# --- Regions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "text", "code"),
    [
        ("US", "California", "US-CA"), ("US", "CA", "US-CA"), ("US", "Calif.", "US-CA"), ("usa", "calif", "US-CA"),
        ("United States", "ca", "US-CA"), ("US", "US-CA", "US-CA"), ("US", "New York", "US-NY"),
        ("US", "N.Y.", "US-NY"),
        ("US", "Mass.", "US-MA"), ("US", "Washington", "US-WA"), ("US", "Washington, D.C.", "US-DC"),
        ("US", "W.Va.", "US-WV"), ("US", "Puerto Rico", "US-PR"), ("US", "tex", "US-TX"),
        ("DE", "Bayern", "DE-BY"), ("Germany", "Bavaria", "DE-BY"), ("DE", "BY", "DE-BY"), ("DE", "NRW", "DE-NW"),
        ("DE", "Nordrhein-Westfalen", "DE-NW"), ("DE", "North Rhine-Westphalia", "DE-NW"), ("DE", "Thüringen", "DE-TH"),
        ("DE", "Thueringen", "DE-TH"), ("DE", "Baden-Württemberg", "DE-BW"), ("DE", "hessen", "DE-HE"),
        ("CA", "Ontario", "CA-ON"), ("Canada", "ON", "CA-ON"), ("CA", "Québec", "CA-QC"), ("CA", "Quebec", "CA-QC"),
        ("CA", "B.C.", "CA-BC"), ("CA", "Newfoundland", "CA-NL"), ("CA", "P.E.I.", "CA-PE"),
        ("AU", "NSW", "AU-NSW"), ("AU", "New South Wales", "AU-NSW"), ("AU", "Qld", "AU-QLD"), ("AU", "WA", "AU-WA"),
        ("AU", "Victoria", "AU-VIC"), ("AT", "Wien", "AT-9"), ("AT", "Vienna", "AT-9"), ("CH", "Zürich", "CH-ZH"),
        ("CH", "Genf", "CH-GE"), ("CH", "Geneva", "CH-GE"),
    ],
)  # fmt: skip
def test_regions(country: str, text: str, code: str) -> None:
    assert normalize_region(country, text) == code


def test_region_without_country_needs_a_full_code_or_a_unique_name() -> None:
    assert normalize_region(None, "US-CA") == "US-CA"
    assert normalize_region(None, "de-by") == "DE-BY"
    assert normalize_region(None, "Bavaria") == "DE-BY"
    assert normalize_region(None, "California") == "US-CA"
    assert normalize_region(None, "WA") is None  # Washington or Western Australia
    assert normalize_region(None, "CA") is None


def test_region_rejects_other_countries_and_unknowns() -> None:
    assert normalize_region("US", "Bavaria") is None
    assert normalize_region("US", "DE-BY") is None
    assert normalize_region("FR", "Île-de-France") is None  # subdivisions not listed for France
    assert normalize_region("US", "Atlantis") is None
    assert normalize_region("US", "") is None
    assert {"US", "CA", "AU", "DE"} <= supported_region_countries()


def test_all_us_states_canadian_provinces_australian_states_and_german_lander_are_listed() -> None:
    from pitboard.quality.normalize.countries import _REGIONS

    counts = {country: len(set(index.values())) for country, index in _REGIONS.items()}
    assert counts["US"] >= 51  # 50 states and DC (plus territories)
    assert counts["CA"] == 13
    assert counts["AU"] == 8
    assert counts["DE"] == 16


# --- Phones ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "country", "e164"),
    [
        # United States
        ("(415) 555-2671", "US", "+14155552671"), ("415.555.2671", "US", "+14155552671"),
        ("1-415-555-2671", "US", "+14155552671"), ("+1 415 555 2671", None, "+14155552671"),
        ("001 415 555 2671", "DE", "+14155552671"), ("011 49 30 1234567", "US", "+49301234567"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        # Germany
        ("030 1234567", "DE", "+49301234567"), ("+49 30 1234567", None, "+49301234567"),
        ("+49 (0)30 1234567", "US", "+49301234567"), ("0049 30 1234567", "US", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"), ("0151 23456789", "DE", "+4915123456789"),
        ("030/1234567", "Germany", "+49301234567"),
        # United Kingdom
        ("020 7946 0958", "GB", "+442079460958"), ("+44 (0) 20 7946 0958", None, "+442079460958"),
        ("07911 123456", "GB", "+447911123456"), ("0044 7911 123456", "US", "+447911123456"),
        # France
        ("01 42 68 53 00", "FR", "+33142685300"), ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 1 42 68 53 00", None, "+33142685300"), ("01.42.68.53.00", "France", "+33142685300"),
        # India
        ("098765 43210", "IN", "+919876543210"), ("+91 98765 43210", None, "+919876543210"),
        ("9876543210", "IN", "+919876543210"), ("011 2345 6789", "IN", "+911123456789"),
    ],
)  # fmt: skip
def test_phone_formats(text: str, country: str | None, e164: str) -> None:
    result = normalize_phone(text, country)
    assert result.valid, result.reason
    assert result.e164 == e164
    assert result.reason is None


def test_phone_extensions_are_kept_apart() -> None:
    for text in ("(415) 555-2671 x123", "415-555-2671 ext. 123", "+1 415 555 2671 #123", "+14155552671;ext=123"):
        result = normalize_phone(text, "US")
        assert (result.e164, result.extension) == ("+14155552671", "123"), text
        assert result.value == "+14155552671;ext=123"
        assert normalize_phone(result.value, None) == result  # the stored form reads back the same
    assert normalize_phone("(415) 555-2671", "US").value == "+14155552671"


def test_phone_country_is_the_numbers_own() -> None:
    assert normalize_phone("+49 30 1234567", "US").country == "DE"
    assert normalize_phone("(416) 555-0123", "US").country == "CA"  # +1 is shared; Toronto is Canadian
    assert normalize_phone("+44 1534 123456", "GB").country == "JE"


@pytest.mark.parametrize(
    ("text", "country", "reason"),
    [
        ("+1 555", "US", "not a valid number for US (too short)"),
        ("+1 555", "GB", "not a valid number for US (too short)"),  # the calling code says where it claims to be
        ("abc", "US", "not a phone number"),
        ("n/a", "DE", "not a phone number"),
        ("555-1234", None, "missing its country code (and no default country is known)"),
        ("", "US", "empty"),
        ("   ", "US", "empty"),
        ("030 1234567", "US", "not a valid number for US"),
        ("+1 415 555 26711234", "US", "not a valid number for US (too long)"),
    ],
)
def test_invalid_phones_have_a_reason(text: str, country: str | None, reason: str) -> None:
    result = normalize_phone(text, country)
    assert not result.valid
    assert result.e164 is None
    assert result.value is None
    assert result.reason == reason


def test_phone_with_unknown_calling_code_and_none_text() -> None:
    assert normalize_phone("+999 123456", None).reason == "using an unknown country calling code"
    assert normalize_phone(None, "US").reason == "empty"
    assert normalize_phone("030 1234567", "XX").valid is False  # an unknown default country is no default


def test_format_phone() -> None:
    assert format_phone("+49301234567") == "+49 30 1234567"
    assert format_phone("+14155552671", "national") == "(415) 555-2671"


# --- Emails ------------------------------------------------------------------------------------------------


def test_email_info_for_a_company_address() -> None:
    info = email_info("  Ann.Lee@Mail.Acme.co.uk ")
    assert info.valid
    assert info.reason is None
    assert info.normalized == "ann.lee@mail.acme.co.uk"
    assert info.domain == "mail.acme.co.uk"
    assert info.registered_domain == "acme.co.uk"
    assert not info.is_free_mail
    assert not info.is_role_account
    assert info.match_key == "ann.lee@mail.acme.co.uk"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Ann.Lee+news@GoogleMail.com", "annlee@gmail.com"),
        ("a.n.n.lee@gmail.com", "annlee@gmail.com"),
        ("AnnLee@Gmail.com", "annlee@gmail.com"),
        ("ann.lee+x+y@acme.com", "ann.lee@acme.com"),  # dots matter outside Gmail
        ("ann.lee@acme.com", "ann.lee@acme.com"),
        ("+tag@acme.com", "+tag@acme.com"),  # nothing before the tag: keep the whole local part
    ],
)
def test_email_match_key(text: str, key: str) -> None:
    assert email_info(text).match_key == key


def test_gmail_variants_share_a_match_key() -> None:
    variants = ["John.Smith@gmail.com", "johnsmith+work@googlemail.com", "j.o.h.n.smith@GMAIL.COM"]
    assert {email_info(v).match_key for v in variants} == {"johnsmith@gmail.com"}
    assert email_match_key("j.smith@googlemail.com") == "jsmith@gmail.com"


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.com.br", "yahoo.fr", "ymail.com",
     "outlook.com", "outlook.de", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "live.com", "msn.com",
     "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "web.de",
     "t-online.de", "mail.ru", "yandex.ru", "yandex.com", "proton.me", "protonmail.com", "protonmail.ch",
     "pm.me", "zoho.com", "qq.com", "163.com", "126.com", "naver.com", "orange.fr", "free.fr", "libero.it",
     "comcast.net", "btinternet.com", "seznam.cz", "wp.pl", "rediffmail.com", "fastmail.com", "GMAIL.COM"],
)  # fmt: skip
def test_free_mail_domains(domain: str) -> None:
    assert is_free_mail_domain(domain)
    assert email_info(f"someone@{domain}").is_free_mail


@pytest.mark.parametrize("domain", ["acme.com", "acme.co.uk", "yahoo-inc.com", "gmail.acme.com", "live.io", "x.de"])
def test_company_domains_are_not_free_mail(domain: str) -> None:
    assert not is_free_mail_domain(domain)


@pytest.mark.parametrize(
    "local",
    ["info", "sales", "support", "noreply", "no-reply", "no_reply", "No.Reply", "donotreply", "do-not-reply",
     "noreply-billing", "admin", "marketing", "hello", "team", "careers", "webmaster", "postmaster", "kontakt",
     "info+web", "INFO", "billing"],
)  # fmt: skip
def test_role_accounts(local: str) -> None:
    assert is_role_local_part(local)
    assert email_info(f"{local}@acme.com").is_role_account


@pytest.mark.parametrize("local", ["ann", "ann.lee", "information.architect", "salesforce.admin.jo", "bob+info"])
def test_person_mailboxes_are_not_role_accounts(local: str) -> None:
    assert not is_role_local_part(local)


@pytest.mark.parametrize("text", ["bad@", "@acme.com", "ann", "ann@acme", "ann@@acme.com", "ann lee@acme.com",
                                  "ann@localhost", "ann@example.test"])  # fmt: skip
def test_invalid_emails_are_reported_not_raised(text: str) -> None:
    info = email_info(text)
    assert not info.valid
    assert info.reason
    assert info.normalized is None
    assert info.match_key is None
    assert info.domain is None
    assert not info.is_free_mail
    assert not info.is_role_account


def test_empty_and_international_email() -> None:
    assert email_info(None).reason == "empty"
    assert email_info("  ").reason == "empty"
    info = email_info("Jürgen@Bücher.de")
    assert info.valid
    assert info.normalized == "jürgen@bücher.de"
    assert info.registered_domain == "xn--bcher-kva.de"


# --- Domains -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "registered"),
    [
        ("https://www.Acme.co.uk/about?x", "acme.co.uk", "acme.co.uk"),
        ("acme.com", "acme.com", "acme.com"),
        ("WWW.ACME.COM.", "acme.com", "acme.com"),
        ("http://shop.acme.com.au/cart", "shop.acme.com.au", "acme.com.au"),
        ("acme.com.au", "acme.com.au", "acme.com.au"),
        ("blog.acme.co.jp", "blog.acme.co.jp", "acme.co.jp"),
        ("https://user:pw@acme.de:8443/x", "acme.de", "acme.de"),
        ("acme.com/about", "acme.com", "acme.com"),
        ("//acme.io", "acme.io", "acme.io"),
        ("www2.acme.fr", "acme.fr", "acme.fr"),
        ("ann@mail.acme.co.uk", "mail.acme.co.uk", "acme.co.uk"),
        ("acme.github.io", "acme.github.io", "acme.github.io"),  # a private suffix: Acme's, not GitHub's
        ("bücher.de", "xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("https://www.Bücher.DE/x", "xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("münchen.de", "xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
        ("www.com", "www.com", "www.com"),  # "com" alone is no one's, so the www stays
    ],
)
def test_domains(text: str, host: str, registered: str) -> None:
    info = normalize_domain(text)
    assert info.valid, info.reason
    assert (info.host, info.registered_domain) == (host, registered)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("co.uk", "a public suffix that nobody can register"),
        ("com.au", "a public suffix that nobody can register"),
        ("acme", "missing a top-level domain such as .com"),
        ("localhost", "missing a top-level domain such as .com"),
        ("acme.notatld", "under an unknown top-level domain (.notatld)"),
        ("acme.test", "a special-use domain (.test)"),
        ("192.168.0.1", "an IP address, not a domain name"),
        ("http://[::1]/", "an IP address, not a domain name"),
        ("acme..com", "not a valid host name"),
        ("-acme.com", "not a valid host name"),
        ("a_b.com", "not a valid host name"),
        ("https://", "has no host name"),
        ("http://[oops", "has no host name"),
    ],
)
def test_invalid_domains(text: str, reason: str) -> None:
    info = normalize_domain(text)
    assert not info.valid
    assert info.registered_domain is None
    assert info.reason == reason


def test_registered_domain_of_email_and_unicode_host() -> None:
    assert registered_domain_of_email("ann@mail.acme.co.uk") == "acme.co.uk"
    assert registered_domain_of_email("ann@acme.com.au") == "acme.com.au"
    assert registered_domain_of_email("nobody") is None
    assert registered_domain_of_email(None) is None
    assert registered_domain_of_email("ann@co.uk") is None
    assert unicode_host("xn--bcher-kva.de") == "bücher.de"
