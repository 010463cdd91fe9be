"""The pure data-quality scorers, on hand-made rows with exact expected numbers (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from rich.console import Console

from pitboard.quality.scores import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    AccountRow,
    ContactRow,
    QualityReport,
    is_country_code,
    render_report,
    score_accounts,
    score_contacts,
    snapshot_rows,
)

TODAY = date(2025, 6, 30)  # 180 days before is 2025-01-01: fresh means updated on or after 2025-01-01 00:00 UTC


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def contact(id: int, **kw: object) -> ContactRow:
    values: dict[str, object] = dict.fromkeys(ContactRow._fields)
    values.update({"id": id, "updated_at": at(2025, 6, 1), **kw})
    return ContactRow(**values)  # type: ignore[arg-type]


def account(id: int, **kw: object) -> AccountRow:
    values: dict[str, object] = dict.fromkeys(AccountRow._fields)
    values.update({"id": id, "updated_at": at(2025, 6, 1), **kw})
    return AccountRow(**values)  # type: ignore[arg-type]


CONTACTS = [
    # Everything present and valid.
    contact(1, email="ann@acme.com", first_name="Ann", last_name="Lee", title="VP Marketing", company_name="Acme",
            country="US", phone="+14155552671", account_id=1),
    # Same mailbox as 1 (a +tag), lower-case country, a too-short phone, stale by one minute.
    contact(2, email="ann+news@acme.com", first_name="Ann", company_name="Acme Inc", country="us", phone="555",
            updated_at=at(2024, 12, 31, 23, 59)),
    # A bad email, so uniqueness falls back to name + company; a national phone read in the contact's country;
    # updated exactly at the cut-off, which counts as fresh.
    contact(3, email="not-an-email", first_name="Bob", last_name="Stone", title="CTO", company_name="Globex Corp",
            country="DE", phone="030 901820", account_id=2, updated_at=at(2025, 1, 1, 0, 0)),
    # The same person as 3 spelled differently; a blank title is empty, a country name is not a code.
    contact(4, first_name="BOB", last_name="stone", title="  ", company_name="GLOBEX, Inc.", country="Germany",
            updated_at=at(2025, 3, 1)),
    # Nearly empty: a blank email, a first name alone (no key: a name without a company says too little).
    contact(5, email="  ", first_name="Carol", updated_at=at(2020, 1, 1)),
]  # fmt: skip


def test_contact_field_completeness_and_validity() -> None:
    s = score_contacts(CONTACTS, today=TODAY)
    completeness = {f.field: f.completeness for f in s.fields}
    assert completeness == {"email": 0.6, "first_name": 1.0, "last_name": 0.6, "title": 0.4, "company_name": 0.8,
                            "country": 0.8, "phone": 0.6, "account_id": 0.4}  # fmt: skip
    validity = {f.field: (f.valid, f.checked) for f in s.fields if f.has_validator}
    assert validity == {"email": (2, 3), "country": (2, 4), "phone": (2, 3)}
    assert s.field("title").validity is None  # no validator: not scored for validity
    assert [f.field for f in s.fields] == list(CONTACT_FIELDS)


def test_contact_dataset_scores() -> None:
    s = score_contacts(CONTACTS, today=TODAY)
    assert s.records == 5
    assert s.completeness == pytest.approx(26 / 40)
    assert s.validity == pytest.approx(6 / 10)
    assert s.duplicates == 4  # 1 and 2 share a mailbox, 3 and 4 a name at one company
    assert s.uniqueness == pytest.approx(0.2)
    assert s.fresh == 3
    assert s.freshness == pytest.approx(0.6)
    assert s.overall == pytest.approx((0.65 + 0.6 + 0.2 + 0.6) / 4)


def test_worst_contacts_are_lowest_score_first_ties_by_id_and_perfect_records_left_out() -> None:
    s = score_contacts(CONTACTS, today=TODAY)
    assert [(r.id, r.score) for r in s.worst] == [(5, 0.125), (2, 0.375), (4, 0.375), (3, 0.875)]
    two = next(r for r in s.worst if r.id == 2)
    assert two.label == "Ann"
    assert two.url == "/contacts/2"
    assert two.problems == (
        "last_name is missing",
        "title is missing",
        "country 'us' is not an ISO 3166-1 alpha-2 code",
        "phone '555' is not a valid number for US (too short)",
        "account_id is missing",
        "shares its email with 1 other contact",
        "not updated in 180 days (last on 2024-12-31)",
    )
    three = next(r for r in s.worst if r.id == 3)
    assert three.problems == (
        "email 'not-an-email' is not valid: an email address must have an @-sign with text before it",
        "shares its name and company with 1 other contact",
    )
    five = s.worst[0]
    assert five.label == "Carol"
    assert "shares" not in " ".join(five.problems)


def test_worst_limit_keeps_only_the_lowest() -> None:
    # Fed in reverse order so the bounded heap has to replace entries, not just keep the first ones.
    s = score_contacts(reversed(CONTACTS), today=TODAY, worst_limit=2)
    assert [r.id for r in s.worst] == [5, 2]
    assert score_contacts(CONTACTS, today=TODAY, worst_limit=0).worst == ()


def test_freshness_window_is_configurable() -> None:
    assert score_contacts(CONTACTS, today=TODAY, fresh_days=30).fresh == 1  # only the June update
    assert score_contacts(CONTACTS, today=TODAY, fresh_days=10_000).fresh == 5


def test_phone_without_country_code_needs_the_contact_country() -> None:
    rows = [contact(1, phone="030 901820", country="DE"), contact(2, phone="030 901820")]
    s = score_contacts(rows, today=TODAY)
    assert (s.field("phone").valid, s.field("phone").checked) == (1, 2)
    problems = next(r for r in s.worst if r.id == 2).problems
    assert "phone '030 901820' is missing its country code (and no default country is known)" in problems


def test_accounts() -> None:
    rows = [
        account(1, name="Acme", domain="acme.com", industry="Software", employee_count=50, country="US"),
        account(2, name="Acme UK", domain="https://shop.acme.com/x", employee_count=0, country="GB"),
        account(3, name="", domain="localhost", industry="Retail", updated_at=at(2024, 6, 1)),
    ]
    s = score_accounts(rows, today=TODAY)
    assert [f.field for f in s.fields] == list(ACCOUNT_FIELDS)
    assert {f.field: f.present for f in s.fields} == {"name": 2, "domain": 3, "industry": 2, "employee_count": 2,
                                                      "country": 2}  # fmt: skip
    assert s.completeness == pytest.approx(11 / 15)
    assert s.validity == pytest.approx(4 / 5)  # domain 2 of 3, country 2 of 2
    assert s.duplicates == 2  # shop.acme.com and acme.com are one registered domain
    assert s.uniqueness == pytest.approx(1 / 3)
    assert s.freshness == pytest.approx(2 / 3)
    assert s.overall == pytest.approx((11 / 15 + 0.8 + 1 / 3 + 2 / 3) / 4)
    assert [(r.id, r.score) for r in s.worst] == [(3, 0.2), (2, 0.8)]
    assert s.worst[0].label == "localhost"
    assert s.worst[0].url == "/accounts/3"
    assert s.worst[0].problems == (
        "name is missing",
        "domain 'localhost' is not valid: missing a top-level domain such as .com",
        "employee_count is missing",
        "country is missing",
        "not updated in 180 days (last on 2024-06-01)",
    )
    assert s.worst[1].problems == ("industry is missing", "shares its registered domain with 1 other account")


def test_no_records_means_no_scores() -> None:
    s = score_contacts([], today=TODAY)
    assert s.records == 0
    assert s.metrics() == dict.fromkeys(("completeness", "validity", "uniqueness", "freshness", "overall"))
    assert snapshot_rows(s, TODAY) == []


def test_validity_without_any_value_is_not_measured_and_overall_averages_the_rest() -> None:
    s = score_contacts([contact(1, first_name="Ann")], today=TODAY)
    assert s.validity is None
    assert s.overall == pytest.approx((1 / 8 + 1.0 + 1.0) / 3)


def test_country_codes() -> None:
    assert is_country_code("DE")
    assert is_country_code("XK")  # Kosovo: user-assigned, but in the table everyone uses
    assert not is_country_code("de")
    assert not is_country_code("ZZ")
    assert not is_country_code("DEU")


def test_snapshot_rows_use_each_share_denominator() -> None:
    rows = snapshot_rows(score_contacts(CONTACTS, today=TODAY), TODAY)
    by_key = {(r["field"], r["metric"]): (r["value"], r["records"]) for r in rows}
    assert by_key[("", "overall")] == (pytest.approx(0.5125), 5)
    assert by_key[("", "uniqueness")] == (pytest.approx(0.2), 5)
    assert by_key[("phone", "completeness")] == (0.6, 5)
    assert by_key[("phone", "validity")] == (pytest.approx(2 / 3), 3)
    assert ("title", "validity") not in by_key
    assert len(rows) == 5 + 8 + 3  # dataset measures, completeness per field, validity per validated field
    assert {r["entity"] for r in rows} == {"contact"}


def test_render_report_prints_every_table() -> None:
    contacts = score_contacts(CONTACTS, today=TODAY)
    accounts = score_accounts([account(1, name="Acme", domain="acme.com")], today=TODAY)
    console = Console(record=True, width=200)
    render_report(QualityReport(at(2025, 6, 30), TODAY, (contacts, accounts)), console)
    text = console.export_text()
    assert "Data quality on 2025-06-30" in text
    assert "51.2%" in text  # contacts overall
    assert "not validated" in text
    assert "Worst contacts" in text
    assert "phone '555' is not a valid number for US (too short)" in text
    assert "No snapshot stored yet" in text
