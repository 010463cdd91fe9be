from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from pitboard.quality.contracts import Contract, applies, parse_duration, violations

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _contract(**fields: object) -> Contract:
    return Contract.model_validate({"name": "c", "entity": "events", **fields})


def test_every_violation_is_reported_naming_its_field() -> None:
    c = _contract(
        fields={
            "properties.plan": {"required": True, "allowed": ["free", "pro"]},
            "traits.email": {"format": "email"},
            "properties.seats": {"type": "integer", "min": 1, "max": 500},
            "context.page.url": {"format": "url"},
            "properties.sku": {"pattern": "^SKU-[0-9]+$"},
        }
    )
    record = {
        "properties": {"plan": "gold", "seats": "900", "sku": "X1"},
        "traits": {"email": "nope"},
        "context": {"page": {"url": "ftp://x"}},
    }
    assert violations(c, record, now=NOW) == [
        "[c] context.page.url must be a valid url, got 'ftp://x'",
        "[c] properties.plan must be one of free, pro, got 'gold'",
        "[c] properties.seats is 900, above the maximum 500",
        "[c] properties.sku does not match ^SKU-[0-9]+$",
        "[c] traits.email must be a valid email, got 'nope'",
    ]
    good = {"properties": {"plan": "pro", "seats": 3, "sku": "SKU-1"}, "traits": {"email": "a@b.io"},
            "context": {"page": {"url": "https://acme.io/x"}}}  # fmt: skip
    assert violations(c, good, now=NOW) == []


def test_missing_optional_fields_pass_and_required_ones_fail() -> None:
    c = _contract(fields={"properties.a": {"type": "string"}, "properties.b": {"required": True}})
    assert violations(c, {"properties": {}}, now=NOW) == ["[c] properties.b is required"]
    assert violations(c, {"properties": {"b": ""}}, now=NOW) == ["[c] properties.b is required"]


def test_type_checks_accept_text_forms_of_numbers_from_files() -> None:
    c = _contract(fields={"n": {"type": "number"}, "i": {"type": "integer"}, "b": {"type": "boolean"}})
    assert violations(c, {"n": "3.5", "i": "7", "b": "true"}, now=NOW) == []
    assert len(violations(c, {"n": "x", "i": "7.5", "b": "yes"}, now=NOW)) == 3
    assert violations(c, {"i": True}, now=NOW) == ["[c] i must be integer, got bool True"]


def test_freshness_rejects_stale_and_future_times() -> None:
    c = _contract(freshness={"field": "timestamp", "max_age": "30d", "max_future": "5m"})
    assert violations(c, {"timestamp": (NOW - timedelta(days=2)).isoformat()}, now=NOW) == []
    stale = violations(c, {"timestamp": (NOW - timedelta(days=45)).isoformat()}, now=NOW)
    assert stale == ["[c] timestamp is 45 days old; the contract allows 30d"]
    future = violations(c, {"timestamp": (NOW + timedelta(hours=1)).isoformat()}, now=NOW)
    assert "in the future" in future[0]
    assert "not a date-time" in violations(c, {"timestamp": "yesterday"}, now=NOW)[0]


def test_applies_by_entity_source_and_event_name() -> None:
    c = _contract(source="website", event_names=["Signed Up"])
    assert applies(c, entity="events", source="website", event_name="Signed Up")
    assert not applies(c, entity="events", source="app", event_name="Signed Up")
    assert not applies(c, entity="events", source="website", event_name="Page Viewed")
    assert not applies(c, entity="contacts", source="website", event_name="Signed Up")


def test_contract_files_are_strict() -> None:
    with pytest.raises(ValidationError):
        _contract(fields={"x": {"requried": True}})
    with pytest.raises(ValidationError):
        _contract(fields={"x": {"pattern": "("}})
    with pytest.raises(ValidationError):
        _contract(freshness={"field": "t", "max_age": "a month"})
    assert parse_duration("12h") == timedelta(hours=12)
