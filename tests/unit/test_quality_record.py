"""Normalising a whole contact or account: values, kept originals, derived facts and per-field problems."""

from __future__ import annotations

import random
import string

import pytest

from pitboard.quality.normalize import normalize_account_fields, normalize_contact_fields


def test_dirty_contact_is_normalised_and_originals_are_kept() -> None:
    raw = {
        "email": " Ann.Lee+news@GoogleMail.com ",
        "phone": "(415) 555-2671 x12",
        "country": "usa",
        "state": "Calif.",
        "first_name": "ANN LEE",
        "last_name": "",
        "title": "  VP   Mktg ",
        "company_name": "ACME CORPORATION",
        "city": "  San  Francisco",
        "id": 7,
        "custom": {"tier": "gold"},
    }
    out = normalize_contact_fields(raw)
    assert out.values == {
        "email": "ann.lee+news@googlemail.com",
        "phone": "+14155552671;ext=12",
        "country": "US",
        "state": "US-CA",
        "first_name": "Ann",
        "last_name": "Lee",
        "title": "VP Mktg",
        "company_name": "Acme Corporation",
        "city": "San Francisco",
        "id": 7,
        "custom": {"tier": "gold"},
    }
    assert out.originals == {name: raw[name] for name in out.originals}
    assert out.changed == {"email", "phone", "country", "state", "first_name", "last_name", "title",
                           "company_name", "city"}  # fmt: skip
    assert out.derived == {
        "email_domain": "googlemail.com",
        "email_registered_domain": "googlemail.com",
        "email_match_key": "annlee@gmail.com",
        "email_is_free_mail": True,
        "email_is_role_account": False,
        "phone_country": "US",
        "first_name_key": "anne",
        "seniority": "vp",
        "function": "marketing",
        "company_match_key": "acme",
    }
    assert out.problems == {}
    assert out.ok
    assert raw["country"] == "usa"  # the input is not modified


def test_clean_contact_changes_nothing() -> None:
    clean = {"email": "ann@acme.com", "phone": "+4930123456", "country": "DE", "first_name": "Ann",
             "last_name": "Lee", "title": "CMO", "company_name": "Acme GmbH", "region": "DE-BE"}  # fmt: skip
    out = normalize_contact_fields(clean)
    assert out.values == clean
    assert out.originals == {}
    assert out.derived["company_match_key"] == "acme"
    assert out.derived["seniority"] == "c_level"


def test_normalising_twice_changes_nothing_the_second_time() -> None:
    raw = {"email": "BOB@Acme.COM", "phone": "0049 (0)30 1234567", "country": "Deutschland", "region": "Bayern",
           "first_name": "bob", "last_name": "VAN DER BERG", "title": "Sr. Dir. Sales",
           "company_name": "ACME HOLDING AG", "city": "münchen"}  # fmt: skip
    once = normalize_contact_fields(raw)
    twice = normalize_contact_fields(once.values)
    assert twice.values == once.values
    assert twice.originals == {}
    assert twice.derived == once.derived


def test_bad_values_are_reported_per_field_and_kept_as_typed() -> None:
    raw = {"email": " bad@ ", "phone": "+1 555", "country": "US", "state": "Atlantis", "first_name": "Bob"}
    out = normalize_contact_fields(raw)
    assert out.problems == {
        "email": "email 'bad@' is not valid: there must be something after the @-sign",
        "phone": "phone '+1 555' is not a valid number for US (too short)",
        "state": "state 'Atlantis' is not a known subdivision of US",
    }
    assert not out.ok
    assert out.values["email"] == "bad@"  # trimmed, not dropped
    assert out.values["phone"] == "+1 555"
    assert out.values["state"] == "Atlantis"
    assert out.originals == {"email": " bad@ "}
    assert "email_match_key" not in out.derived


def test_unknown_country_is_a_problem_and_phone_falls_back_to_the_default_country() -> None:
    out = normalize_contact_fields({"country": "Narnia", "phone": "030 1234567"}, default_country="DE")
    assert out.problems == {"country": "country 'Narnia' is not a known country"}
    assert out.values == {"country": "Narnia", "phone": "+49301234567"}


def test_phone_is_read_in_the_contacts_country() -> None:
    assert normalize_contact_fields({"country": "UK", "phone": "020 7946 0958"}).values["phone"] == "+442079460958"
    assert normalize_contact_fields({"country": "France", "phone": "01 42 68 53 00"}).values["phone"] == "+33142685300"
    assert normalize_contact_fields({"country": "IN", "phone": "98765 43210"}).values["phone"] == "+919876543210"
    out = normalize_contact_fields({"phone": "(415) 555-2671"})
    assert (
        out.problems["phone"] == "phone '(415) 555-2671' is missing its country code (and no default country is known)"
    )
    out = normalize_contact_fields({"phone": "(415) 555-2671"}, default_country="US")
    assert out.values["phone"] == "+14155552671"


def test_region_of_a_country_without_a_subdivision_table_is_only_tidied() -> None:
    out = normalize_contact_fields({"country": "France", "region": "  Île-de-France "})
    assert out.values["region"] == "Île-de-France"
    assert "region" not in out.problems


def test_blank_text_becomes_none_without_counting_as_a_change() -> None:
    out = normalize_contact_fields({"email": "", "phone": "  ", "title": "", "first_name": None, "country": " "})
    assert out.values == {"email": None, "phone": None, "title": None, "first_name": None, "country": None}
    assert out.originals == {}
    assert out.problems == {}
    assert out.derived == {}


def test_non_text_values_are_reported_not_raised() -> None:
    out = normalize_contact_fields({"first_name": 42, "email": ["a@b.com"], "phone": 14155552671, "country": "US"})
    assert out.problems == {
        "first_name": "first_name should be text, not int",
        "email": "email should be text, not list",
    }
    assert out.values["first_name"] == 42
    assert out.values["phone"] == "+14155552671"  # spreadsheets make integers of phone numbers


def test_full_name_in_first_name_fills_last_name() -> None:
    out = normalize_contact_fields({"first_name": "Ludwig van Beethoven"})
    assert out.values == {"first_name": "Ludwig", "last_name": "van Beethoven"}
    assert out.originals == {"first_name": "Ludwig van Beethoven", "last_name": None}


def test_role_account_and_company_mail_facts() -> None:
    out = normalize_contact_fields({"email": "Sales@Acme.co.uk"})
    assert out.derived["email_is_role_account"] is True
    assert out.derived["email_is_free_mail"] is False
    assert out.derived["email_registered_domain"] == "acme.co.uk"


def test_account_fields() -> None:
    raw = {"name": "ACME HOLDINGS LTD", "domain": "https://www.Acme.co.uk/about?x", "country": "Great Britain",
           "region": "England", "industry": "Software"}  # fmt: skip
    out = normalize_account_fields(raw)
    assert out.values == {"name": "Acme Holdings Ltd", "domain": "acme.co.uk", "country": "GB", "region": "England",
                          "industry": "Software"}  # fmt: skip
    assert out.derived == {"name_match_key": "acme", "registered_domain": "acme.co.uk"}
    assert out.originals == {"name": "ACME HOLDINGS LTD", "domain": "https://www.Acme.co.uk/about?x",
                             "country": "Great Britain"}  # fmt: skip
    assert out.problems == {}


def test_account_subdomain_is_kept_and_registered_domain_derived() -> None:
    out = normalize_account_fields({"domain": "shop.acme.com.au", "country": "Australia", "region": "nsw"})
    assert out.values == {"domain": "shop.acme.com.au", "country": "AU", "region": "AU-NSW"}
    assert out.derived["registered_domain"] == "acme.com.au"


def test_bad_account_domain_is_reported() -> None:
    out = normalize_account_fields({"name": "Acme", "domain": "co.uk"})
    assert out.problems == {"domain": "domain 'co.uk' is a public suffix that nobody can register"}
    assert out.values["domain"] == "co.uk"


_FIELDS = ("email", "phone", "country", "state", "region", "first_name", "last_name", "title", "company_name", "city")


@pytest.mark.parametrize("seed", range(5))
def test_random_garbage_never_raises(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = string.printable + "äöüßéèñøłİ\u0131\u2019\u201c\u201d\u2013\u2014\u00a0\u200b@+.()/-#xX0123456789漢字"
    for _ in range(400):
        record = {name: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for name in _FIELDS}
        out = normalize_contact_fields(record, default_country=rng.choice([None, "US", "DE", "Narnia"]))
        assert set(out.values) == set(record)
        assert set(out.originals) <= set(record) | {"last_name"}
        account = normalize_account_fields({"name": record["company_name"], "domain": record["email"]})
        assert set(account.values) == {"name", "domain"}


def test_benchmark_generator_and_a_small_run() -> None:
    from bench.bench_normalize import make_records

    records = make_records(2_000, seed=1)
    assert len(records) == 2_000
    results = [normalize_contact_fields(record) for record in records]
    assert sum(r.ok for r in results) > 1_700  # a few percent are deliberately bad
    assert all(r.values["country"] is None or len(str(r.values["country"])) == 2 for r in results)
