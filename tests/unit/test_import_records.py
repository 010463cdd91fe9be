from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pitboard.contacts.custom_fields import FieldSpec
from pitboard.imports.mapping import build_mapping
from pitboard.imports.records import (
    clean_account,
    clean_contact,
    clean_opportunity,
    clean_spend,
    event_message,
    parse_datetime,
)
from pitboard.kit.emails import InvalidEmail, normalize_email
from pitboard.kit.errors import ValidationFailed


def test_hubspot_preset_maps_columns_and_stage_values() -> None:
    m = build_mapping("contacts", ["Email", "Lifecycle Stage", "Favourite Colour"], preset="hubspot")
    assert m.ignored == ("Favourite Colour",)
    assert m.apply({"Email": " a@b.io ", "Lifecycle Stage": "marketingqualifiedlead", "Favourite Colour": "red"}) == {
        "email": "a@b.io",
        "lifecycle_stage": "mql",
    }


def test_no_mapping_means_pitboard_field_names_only() -> None:
    with pytest.raises(ValidationFailed, match="Email"):
        build_mapping("contacts", ["Email"])
    m = build_mapping("contacts", ["email", "custom.plan"])
    assert m.apply({"email": "a@b.io", "custom.plan": "pro", "other": "x"}) == {"email": "a@b.io", "custom.plan": "pro"}


def test_clean_contact_collects_every_problem() -> None:
    _, problems = clean_contact({"email": "x@", "country": "Atlantis", "lifecycle_stage": "hot"}, {})
    assert len(problems) == 3
    ok, problems = clean_contact({"email": "a@b.io", "country": "Deutschland"}, {})
    assert problems == []
    assert (ok["country"], ok["original_values"]) == ("DE", {"country": "Deutschland"})
    record, problems = clean_contact(
        {"email": "Ann@Acme.IO", "country": "de", "custom.seats": "12", "created_at": "2026-03-02 10:15"},
        {"seats": FieldSpec("seats", "integer")},
    )
    assert problems == []
    assert record["email"] == "ann@acme.io"
    assert record["country"] == "DE"
    assert record["custom"] == {"seats": 12}
    assert record["created_at"] == datetime(2026, 3, 2, 10, 15, tzinfo=UTC)  # fmt: skip
    _, problems = clean_contact({"first_name": "Nobody"}, {})
    assert problems == ["a contact needs an email or an external_id to be matched on"]


def test_clean_account_opportunity_spend() -> None:
    acct, problems = clean_account({"domain": "https://www.Acme.io/about", "employee_count": "1,200"}, {})
    assert problems == []
    assert acct == {"domain": "acme.io", "registered_domain": "acme.io", "employee_count": 1200, "name": "acme.io",
                    "original_values": {"domain": "https://www.Acme.io/about"}}  # fmt: skip
    opp, problems = clean_opportunity(
        {"external_id": "1", "name": "Deal", "amount": "12,500.50", "stage": "Closed Won"}, {}
    )
    assert problems == []
    assert (opp["amount"], opp["stage"]) == (Decimal("12500.50"), "closed_won")
    _, problems = clean_opportunity({"name": "x", "amount": "lots", "currency": "euro"}, {})
    assert len(problems) == 3
    spend, problems = clean_spend({"campaign": "c", "date": "2026-11-01", "amount": "10"}, {})
    assert problems == []
    assert spend == {
        "campaign": "c",
        "date": date(2026, 11, 1),
        "amount": Decimal(10),
        "channel": "",
        "currency": "USD",
    }


def test_event_rows_become_segment_messages() -> None:
    msg = event_message({"event": "Paid", "user_id": "u1", "utm_source": "google", "utm_campaign": "brand",
                         "properties.plan": "pro", "page_url": "https://a.io/x"})  # fmt: skip
    assert msg["context"]["campaign"] == {"source": "google", "name": "brand"}
    assert msg["properties"] == {"plan": "pro"}
    assert msg["context"]["page"] == {"url": "https://a.io/x"}


def test_parse_datetime_forms() -> None:
    assert parse_datetime("2026-01-02T03:04:05Z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime("1767323045000") == parse_datetime(1767323045)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_datetime("02/01/2026")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("Ann.Lee@Acme.DE", "ann.lee@acme.de"), ("a+tag@x.io", "a+tag@x.io"), ("üser@bücher.de", "üser@bücher.de")],
)
def test_emails_normalise(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    "raw", ["bad@", "@x.com", "a..b@x.com", "a@x", "a@-x.com", "a@localhost", "x@y.test", "a.@x.io"]
)
def test_emails_rejected(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalize_email(raw)
