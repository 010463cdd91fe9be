"""Finding a person in free-form JSON, and the export document's serialisation (pure parts)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pitboard.privacy.export import document_bytes, document_sha256, jsonable, register_section
from pitboard.privacy.subject import Subject, json_mentions, json_mentions_clause


def _subject() -> Subject:
    return Subject(contact_id=1, emails={"ann_lee@acme.io"}, user_ids={"42"}, anonymous_ids={"anon-7"},
                   external_ids={"SF-001"})  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "found"),
    [
        ({"record": {"Email": "ANN_LEE@ACME.IO"}}, True),
        ({"note": "write to ann_lee@acme.io soon"}, True),  # an address inside a text counts
        ({"userId": 42}, True),  # ids match as values, numbers included
        ({"list": [{"anonymousId": "anon-7"}]}, True),
        ({"ids": ["SF-001"]}, True),
        ({"userId": "1427"}, False),  # but not as substrings of other values
        ({"anonymousId": "anon-77"}, False),
        ({"flag": True, "n": 1.5, "empty": None}, False),
        ({"42": "key, not value"}, False),
    ],
)
def test_json_mentions(payload: object, found: bool) -> None:
    assert json_mentions(payload, _subject()) is found


def test_no_identifiers_means_no_search() -> None:
    assert json_mentions_clause(object(), Subject(contact_id=1, names={"Ann"})) is None


def test_jsonable_turns_dates_and_money_into_strings() -> None:
    at = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)
    value = {"at": at, "day": date(2025, 6, 1), "amount": Decimal("10.50"), "nested": [{"at": at}], "n": 3}
    assert jsonable(value) == {"at": "2025-06-01T12:30:00+00:00", "day": "2025-06-01", "amount": "10.50",
                               "nested": [{"at": "2025-06-01T12:30:00+00:00"}], "n": 3}  # fmt: skip


def test_the_document_hash_is_of_its_canonical_bytes() -> None:
    a = {"b": [1, 2], "a": "é"}
    b = {"a": "é", "b": [1, 2]}
    assert document_bytes(a) == document_bytes(b)  # key order does not change the file
    assert document_sha256(a) == hashlib.sha256(document_bytes(a)).hexdigest()
    assert "é".encode() in document_bytes(a)


def test_built_in_sections_cannot_be_taken_over() -> None:
    with pytest.raises(ValueError, match="built in"):
        register_section("contact", lambda session, contact_id: [])
