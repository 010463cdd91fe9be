"""The in-memory evaluator on hand-made facts: every operator, missing values, time, events, segments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from pitboard.conditions import ContactFacts, EventFact, FieldRegistry, evaluate, facts_needed, parse_condition
from pitboard.conditions.stored import parse_datetime_text, read_date, read_number, read_text
from pitboard.contacts.custom_fields import FieldSpec

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
REGISTRY = FieldRegistry(
    contact_custom={
        "plan": FieldSpec("plan", "enum", ("free", "Pro")),
        "seats": FieldSpec("seats", "integer"),
        "score": FieldSpec("score", "number"),
        "renewal": FieldSpec("renewal", "date"),
        "trial_ends": FieldSpec("trial_ends", "datetime"),
        "interests": FieldSpec("interests", "multi_enum", ("data", "ops", "sales")),
        "nickname": FieldSpec("nickname", "text"),
        "vip": FieldSpec("vip", "boolean"),
    },
    account_custom={"tier": FieldSpec("tier", "enum", ("gold", "silver"))},
)


def contact(**fields: Any) -> dict[str, Any]:
    return {"custom": {}, "created_at": NOW - timedelta(days=400), **fields}


def matches(condition: Any, facts: ContactFacts | Mapping[str, Any], now: datetime = NOW) -> bool:
    if not isinstance(facts, ContactFacts):
        facts = ContactFacts(contact=facts)
    return evaluate(parse_condition(condition, REGISTRY), facts, now=now)


def field(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": name, "op": op, "value": value} if value is not None else {"field": name, "op": op}


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", "us", "US", True),
        ("eq", "US", "USA", False),
        ("neq", "us", "US", False),
        ("neq", "us", "DE", True),
        ("in", ["de", "Us"], "US", True),
        ("not_in", ["de", "Us"], "US", False),
        ("not_in", ["de"], "US", True),
        ("contains", "ACME", "team@acme.io", True),
        ("starts_with", "TEAM@", "team@acme.io", True),
        ("ends_with", ".EDU", "ann@mit.edu", True),
        ("ends_with", ".edu", "ann@mit.edu.au", False),
        # Only A-Z fold: the databases do not agree on anything else, so neither do we.
        ("eq", "émile", "Émile", False),
        ("eq", "Émile", "Émile", True),
        ("eq", "straße", "STRASSE", False),
        # LIKE's wildcards are plain characters here.
        ("contains", "50%", "save 50% now", True),
        ("contains", "50%", "save 500 now", False),
        ("starts_with", "a_b", "axb", False),
        ("starts_with", "a_b", "a_b", True),
        ("ends_with", "\\", "c:\\", True),
    ],
)
def test_text_operators_fold_ascii_case_only(op: str, value: Any, stored: str, expected: bool) -> None:
    assert matches(field("email", op, value), contact(email=stored)) is expected


@pytest.mark.parametrize("stored", [None, ""])
@pytest.mark.parametrize(
    ("op", "value"),
    [("eq", "US"), ("neq", "US"), ("in", ["US"]), ("not_in", ["US"]), ("contains", "U"), ("starts_with", "U")],
)
def test_every_comparison_is_false_on_a_missing_value(op: str, value: Any, stored: str | None) -> None:
    facts = contact(country=stored)
    assert matches(field("country", op, value), facts) is False
    assert matches(field("country", "is_set"), facts) is False
    assert matches(field("country", "is_not_set"), facts) is True
    # "not" flips the whole answer, so it includes the contacts without a value.
    assert matches({"not": field("country", op, value)}, facts) is True


def test_neq_and_not_eq_differ_exactly_on_missing_values() -> None:
    neq = field("country", "neq", "US")
    not_eq = {"not": field("country", "eq", "US")}
    for stored, neq_expected, not_eq_expected in [("US", False, False), ("DE", True, True), (None, False, True)]:
        facts = contact(country=stored)
        assert (matches(neq, facts), matches(not_eq, facts)) == (neq_expected, not_eq_expected)


# --- enums, numbers, booleans --------------------------------------------------------------------


def test_enums_compare_exactly_with_the_canonical_option() -> None:
    assert matches(field("custom.plan", "eq", "PRO"), contact(custom={"plan": "Pro"}))
    assert not matches(field("custom.plan", "eq", "pro"), contact(custom={"plan": "pro"}))  # not an option as stored
    assert matches(field("custom.plan", "in", ["free", "pro"]), contact(custom={"plan": "free"}))
    assert matches(field("custom.plan", "not_in", ["free"]), contact(custom={"plan": "Pro"}))
    assert not matches(field("custom.plan", "not_in", ["free"]), contact(custom={}))


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", 200, 200, True),
        ("eq", 200, 200.0, True),
        ("eq", 0.1, 0.1, True),
        ("eq", 0.3, 0.1 + 0.2, False),  # 0.30000000000000004 is stored as such
        ("gt", 199.99, 200, True),
        ("gte", 200, 200, True),
        ("lt", 200, 200, False),
        ("lte", 200, 200, True),
        ("between", [100, 200], 200, True),
        ("between", [100, 200], 200.01, False),
        ("in", [1, 2.5], 2.5, True),
        ("not_in", [1, 2.5], 3, True),
        ("neq", 1, 1.0, False),
    ],
)
def test_numbers_compare_as_exact_decimals(op: str, value: Any, stored: Any, expected: bool) -> None:
    assert matches(field("custom.score", op, value), contact(custom={"score": stored})) is expected


@pytest.mark.parametrize("stored", ["200", True, None, [200], {"v": 200}])
def test_a_json_value_of_the_wrong_type_is_missing(stored: Any) -> None:
    facts = contact(custom={"score": stored})
    assert not matches(field("custom.score", "eq", 200), facts)
    assert not matches(field("custom.score", "neq", 1), facts)
    assert matches(field("custom.score", "is_not_set"), facts)


def test_account_numbers_from_the_database_are_decimals() -> None:
    facts = ContactFacts(contact=contact(), account={"annual_revenue": Decimal("1250000.50"), "custom": {}})
    assert matches(field("account.annual_revenue", "gte", 1250000.5), facts)
    assert not matches(field("account.annual_revenue", "gt", 1250000.5), facts)


def test_booleans() -> None:
    assert matches(field("is_free_mail", "eq", True), contact(is_free_mail=True))
    assert matches(field("is_free_mail", "neq", True), contact(is_free_mail=False))
    assert not matches(field("is_free_mail", "neq", True), contact(is_free_mail=None))
    assert matches({"not": field("is_free_mail", "eq", True)}, contact(is_free_mail=None))
    assert not matches(field("custom.vip", "eq", True), contact(custom={"vip": "true"}))
    assert not matches(field("custom.vip", "eq", True), contact(custom={"vip": 1}))
    assert matches(field("custom.vip", "eq", False), contact(custom={"vip": False}))


# --- dates and times -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("within_last", "30d", NOW - timedelta(days=30), True),  # the boundary is inside
        ("within_last", "30d", NOW - timedelta(days=30, microseconds=1), False),
        ("within_last", "30d", NOW + timedelta(seconds=1), False),  # the future is not "the last 30 days"
        ("more_than_ago", "30d", NOW - timedelta(days=30), False),
        ("more_than_ago", "30d", NOW - timedelta(days=30, microseconds=1), True),
        ("not_within_last", "12h", NOW - timedelta(hours=13), True),
        ("not_within_last", "12h", NOW - timedelta(hours=11), False),
        ("not_within_last", "12h", NOW + timedelta(hours=1), True),
        ("within_next", "2w", NOW + timedelta(days=14), True),
        ("within_next", "2w", NOW - timedelta(seconds=1), False),
        # A date stands for that whole UTC day.
        ("eq", "2025-05-31", datetime(2025, 5, 31, 23, 59, 59, 999999, tzinfo=UTC), True),
        ("eq", "2025-05-31", datetime(2025, 6, 1, tzinfo=UTC), False),
        ("before", "2025-05-31", datetime(2025, 5, 30, 23, 59, 59, tzinfo=UTC), True),
        ("before", "2025-05-31", datetime(2025, 5, 31, tzinfo=UTC), False),
        ("after", "2025-05-31", datetime(2025, 5, 31, 23, tzinfo=UTC), False),
        ("after", "2025-05-31", datetime(2025, 6, 1, tzinfo=UTC), True),
        ("on_or_before", "2025-05-31", datetime(2025, 5, 31, 23, tzinfo=UTC), True),
        ("on_or_after", "2025-05-31", datetime(2025, 5, 31, tzinfo=UTC), True),
        ("neq", "2025-05-31", datetime(2025, 5, 31, 8, tzinfo=UTC), False),
        ("between", ["2025-05-01", "2025-05-31"], datetime(2025, 5, 31, 23, tzinfo=UTC), True),
        # An instant is an instant: after is strict, on_or_after is not.
        ("after", "2025-05-31T10:00:00Z", datetime(2025, 5, 31, 10, tzinfo=UTC), False),
        ("on_or_after", "2025-05-31T12:00:00+02:00", datetime(2025, 5, 31, 10, tzinfo=UTC), True),
        ("eq", "2025-05-31T10:00:00Z", datetime(2025, 5, 31, 10, tzinfo=UTC), True),
        # Stored in another zone: the same instant, so 01:00 at +02:00 on June 1st is still May 31st in UTC.
        ("eq", "2025-05-31", datetime(2025, 6, 1, 1, tzinfo=timezone(timedelta(hours=2))), True),
    ],
)
def test_datetime_operators(op: str, value: Any, stored: datetime, expected: bool) -> None:
    assert matches(field("last_activity_at", op, value), contact(last_activity_at=stored)) is expected


def test_missing_datetimes_and_the_inactive_contacts_idiom() -> None:
    never_active = contact(last_activity_at=None)
    # not_within_last needs a value: a contact that never did anything is not "inactive for 30 days" ...
    assert not matches(field("last_activity_at", "not_within_last", "30d"), never_active)
    # ... "not within the last 30 days" includes them.
    assert matches({"not": field("last_activity_at", "within_last", "30d")}, never_active)


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", "2025-06-01", "2025-06-01", True),
        ("before", "2025-06-01", "2025-05-31", True),
        ("on_or_before", "2025-06-01", "2025-06-01", True),
        ("after", "2025-06-01", "2025-06-01", False),
        ("within_last", "1d", "2025-05-31", True),  # dates compare with the UTC date of now - 1 day
        ("within_last", "1d", "2025-05-30", False),
        ("within_last", "12h", "2025-06-01", True),
        ("more_than_ago", "1d", "2025-05-30", True),
        ("within_next", "30d", "2025-07-01", True),
        ("within_next", "30d", "2025-07-02", False),
        ("not_within_last", "7d", "2025-06-02", True),
        ("between", ["2025-01-01", "2025-12-31"], "2025-12-31", True),
        ("eq", "2025-06-01", "2025-6-1", False),  # not the stored form: missing
        ("eq", "2024-02-29", "2024-02-29", True),
        ("before", "2025-06-01", "2023-02-29", False),  # no such day: missing
    ],
)
def test_date_fields(op: str, value: Any, stored: Any, expected: bool) -> None:
    assert matches(field("custom.renewal", op, value), contact(custom={"renewal": stored})) is expected


def test_custom_datetimes_are_read_in_every_zone() -> None:
    ten_utc = datetime(2025, 5, 31, 10, tzinfo=UTC)
    for stored in (
        "2025-05-31T12:00:00+02:00",
        "2025-05-31T10:00:00",
        "2025-05-31T10:00:00Z",
        "2025-05-31T04:30:00-05:30",
    ):
        assert matches(field("custom.trial_ends", "eq", "2025-05-31T10:00:00Z"), contact(custom={"trial_ends": stored}))
    assert parse_datetime_text("2025-05-31T10:00:00.5+00:00") == ten_utc + timedelta(milliseconds=500)
    assert parse_datetime_text("2025-05-31T10:00:00.000001") == ten_utc + timedelta(microseconds=1)


@pytest.mark.parametrize(
    "text",
    [
        "2025-05-31", "2025-05-31 10:00:00", "2025-05-31t10:00:00", "2025-05-31T10:00", "2025-05-31T24:00:00",
        "2025-02-30T10:00:00", "2025-05-31T10:00:60", "2025-05-31T10:00:00.1234567", "2025-05-31T10:00:00+15:00",
        "2025-05-31T10:00:00z", "0000-01-01T00:00:00", "9999-12-31T23:00:00-02:00", "2025-05-31T10:00:00+0200",
        "٢٠٢٥-05-31T10:00:00", "",
    ],
)  # fmt: skip
def test_datetime_text_that_pitboard_does_not_write_is_missing(text: str) -> None:
    assert parse_datetime_text(text) is None


def test_readers() -> None:
    assert read_text("") is None
    assert read_number(True) is None
    assert read_number(float("inf")) is None
    assert read_number(0.1) == Decimal("0.1")
    assert read_date(datetime(2025, 1, 1, tzinfo=UTC)) is None
    assert read_date(date(2025, 1, 1)) == date(2025, 1, 1)


def test_naive_now_is_utc() -> None:
    stored = contact(last_activity_at=datetime(2025, 5, 31, 12, tzinfo=UTC))
    assert matches(field("last_activity_at", "within_last", "1d"), stored, now=datetime(2025, 6, 1, 12))
    assert not matches(field("last_activity_at", "within_last", "1d"), stored, now=datetime(2025, 6, 1, 12, 0, 1))


# --- lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("contains", "data", ["data", "ops"], True),
        ("contains", "sales", ["data", "ops"], False),
        ("any_of", ["sales", "ops"], ["data", "ops"], True),
        ("any_of", ["sales"], ["data", "ops"], False),
        ("all_of", ["data", "ops"], ["ops", "data"], True),
        ("all_of", ["data", "sales"], ["data", "ops"], False),
        ("contains", "data", "data", False),  # a string is not a list
        ("contains", "data", [["data"]], False),
        ("contains", "data", [1, "data"], True),
        ("is_set", None, [], False),
        ("is_set", None, [None], True),
        ("is_not_set", None, [], True),
        ("is_not_set", None, "data", True),
    ],
)
def test_multi_enum_operators(op: str, value: Any, stored: Any, expected: bool) -> None:
    assert matches(field("custom.interests", op, value), contact(custom={"interests": stored})) is expected


# --- accounts ------------------------------------------------------------------------------------


def test_account_fields_are_missing_without_an_account() -> None:
    alone = ContactFacts(contact=contact())
    big = ContactFacts(contact=contact(), account={"employee_count": 500, "custom": {"tier": "gold"}})
    assert matches(field("account.employee_count", "gte", 200), big)
    assert not matches(field("account.employee_count", "gte", 200), alone)
    assert not matches(field("account.employee_count", "lt", 200), alone)
    assert matches(field("account.employee_count", "is_not_set"), alone)
    assert matches(field("account.custom.tier", "eq", "GOLD"), big)
    assert matches({"not": field("account.custom.tier", "eq", "gold")}, alone)


# --- events --------------------------------------------------------------------------------------


def views(*days_ago: float, path: Any = "/pricing", name: str = "Page Viewed") -> list[EventFact]:
    return [EventFact(name, NOW - timedelta(days=d), {"path": path}) for d in days_ago]


def with_events(events: list[EventFact]) -> ContactFacts:
    return ContactFacts(contact=contact(), events=events)


def test_event_counts_in_a_window() -> None:
    three_in_two_weeks = {"event": "Page Viewed", "min_count": 3, "within_days": 14}
    assert matches(three_in_two_weeks, with_events(views(1, 2, 14)))
    assert not matches(three_in_two_weeks, with_events(views(1, 2, 14.0001)))
    assert not matches(three_in_two_weeks, with_events(views(1, 2, -0.5)))  # after now does not count
    assert matches({"event": "Page Viewed", "min_count": 3}, with_events(views(1, 2, 400)))
    at_most = {"event": "Page Viewed", "min_count": 1, "max_count": 2, "within_days": 30}
    assert matches(at_most, with_events(views(1, 2)))
    assert not matches(at_most, with_events(views(1, 2, 3)))
    assert not matches(at_most, with_events([]))


def test_never_and_not_did() -> None:
    never = {"event": "Page Viewed", "min_count": 0, "max_count": 0, "within_days": 30}
    assert matches(never, with_events([]))
    assert matches(never, with_events(views(31)))
    assert not matches(never, with_events(views(29)))
    assert matches({"not": {"event": "Page Viewed", "within_days": 30}}, with_events(views(31)))


def test_event_names_are_exact() -> None:
    assert not matches({"event": "page viewed"}, with_events(views(1)))
    assert matches({"event": "Signed Up"}, with_events(views(1, name="Signed Up")))


@pytest.mark.parametrize(
    ("where", "path", "expected"),
    [
        ({"property": "path", "op": "starts_with", "value": "/PRICING"}, "/pricing/teams", True),
        ({"property": "path", "op": "eq", "value": "/pricing"}, "/pricing", True),
        ({"property": "path", "op": "neq", "value": "/pricing"}, None, False),
        ({"property": "path", "op": "neq", "value": "/pricing"}, "/blog", True),
        ({"property": "path", "op": "eq", "value": 3}, 3.0, True),
        ({"property": "path", "op": "eq", "value": 3}, "3", False),  # types must match
        ({"property": "path", "op": "gt", "value": 2}, 3, True),
        ({"property": "path", "op": "eq", "value": True}, True, True),
        ({"property": "path", "op": "eq", "value": True}, 1, False),
        ({"property": "path", "op": "is_set"}, "", False),
        ({"property": "path", "op": "is_set"}, 0, True),
        ({"property": "path", "op": "is_not_set"}, None, True),
        ({"property": "other", "op": "is_not_set"}, "/x", True),
    ],
)
def test_event_property_filters(where: dict[str, Any], path: Any, expected: bool) -> None:
    condition = {"event": "Page Viewed", "where": [where], "within_days": 14}
    assert matches(condition, with_events(views(1, path=path))) is expected


def test_every_property_filter_must_hold_for_the_same_event() -> None:
    events = [
        EventFact("Form Submitted", NOW - timedelta(days=1), {"form": "demo", "country": "DE"}),
        EventFact("Form Submitted", NOW - timedelta(days=1), {"form": "newsletter", "country": "US"}),
    ]
    both = [{"property": "form", "op": "eq", "value": "demo"}, {"property": "country", "op": "eq", "value": "us"}]
    assert not matches({"event": "Form Submitted", "where": both}, with_events(events))
    assert matches({"event": "Form Submitted", "where": both[:1]}, with_events(events))


# --- trees and segments --------------------------------------------------------------------------


def test_all_any_not_and_segments() -> None:
    facts = ContactFacts(contact=contact(country="US", email="a@b.edu"), segments=frozenset({"trials"}))
    us = field("country", "eq", "US")
    edu = field("email", "ends_with", ".edu")
    assert matches({"all": [us, {"in_segment": "trials"}]}, facts)
    assert not matches({"all": [us, {"not": edu}]}, facts)
    assert matches({"any": [{"not": us}, edu]}, facts)
    assert not matches({"in_segment": "customers"}, facts)
    assert matches({"not": {"not": us}}, facts)


def test_facts_needed_asks_for_the_widest_window_and_only_the_named_events() -> None:
    tree = parse_condition(
        {
            "any": [
                {"event": "A", "within_days": 14},
                {"not": {"event": "B", "within_days": 90, "where": [{"property": "p", "op": "is_set"}]}},
                {"in_segment": "s1"},
            ]
        },
        REGISTRY,
    )
    needed = facts_needed(tree, now=NOW)
    assert needed.event_names == {"A", "B"}
    assert needed.since == NOW - timedelta(days=90)
    assert needed.event_properties
    assert needed.segment_keys == {"s1"}
    all_time = facts_needed(
        parse_condition({"all": [{"event": "A", "within_days": 1}, {"event": "C"}]}, REGISTRY), now=NOW
    )
    assert all_time.since is None
    assert not all_time.event_properties
    nothing = facts_needed(parse_condition(field("country", "is_set"), REGISTRY), now=NOW)
    assert (nothing.event_names, nothing.segment_keys) == (frozenset(), frozenset())
