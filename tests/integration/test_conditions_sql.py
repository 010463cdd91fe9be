"""Example-based tests of the SQL compiler, on SQLite and PostgreSQL: every operator on a small known data
set (checked against the in-memory evaluator too), query shapes, facts loading and the field registry."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, Select, event, select
from sqlalchemy.orm import Session

from pitboard.conditions import (
    CompileContext,
    Condition,
    ConditionCompileError,
    ConditionError,
    ContactFacts,
    FieldRegistry,
    SegmentResolver,
    compile_condition,
    evaluate,
    load_facts,
    load_field_registry,
    matching_contacts,
    parse_condition,
)
from pitboard.contacts.custom_fields import FieldSpec
from pitboard.models import Account, Contact, CustomFieldDefinition, Event

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CEST = timezone(timedelta(hours=2))
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


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {
        "email": "Ann@MIT.edu", "country": "US", "is_free_mail": False, "created_at": ago(days=10),
        "last_activity_at": ago(days=1), "account": "acme",
        "custom": {"plan": "Pro", "seats": 5, "score": 0.1, "renewal": "2025-06-20", "vip": True,
                   "trial_ends": "2025-05-31T23:30:00Z", "interests": ["data", "ops"], "nickname": "Annie"},
    },
    "bob": {
        "email": "bob@shop.de", "country": "de", "is_free_mail": True, "created_at": ago(days=40),
        "last_activity_at": None, "account": "tiny",
        "custom": {"plan": "free", "seats": 50, "score": 200.5, "renewal": "2025-01-15",
                   "trial_ends": "2025-06-01T01:30:00+02:00", "interests": ["sales"], "vip": False},
    },
    "cai": {
        "email": "cai_100%@x.io", "country": None, "is_free_mail": None, "created_at": ago(days=30),
        "last_activity_at": ago(days=30, microseconds=1), "account": None, "custom": {},
    },
    "dee": {
        "email": "", "country": "", "first_name": "Émile", "created_at": datetime(2025, 5, 31, 1, 0, tzinfo=CEST),
        "last_activity_at": ago(days=-2), "account": None,
        "custom": {"plan": "", "seats": "5", "score": None, "renewal": "2025-02-30", "trial_ends": "soon",
                   "interests": "data", "nickname": "a\\b_c", "vip": "true"},
    },
}  # fmt: skip
ACCOUNTS = {
    "acme": {"name": "Acme Analytics", "employee_count": 500, "annual_revenue": Decimal("1000000.50"),
             "custom": {"tier": "gold"}},
    "tiny": {"name": "tiny shop", "employee_count": 20, "annual_revenue": None, "custom": {}},
}  # fmt: skip
EVENTS = [
    ("ann", "Page Viewed", ago(days=1), {"path": "/pricing"}),
    ("ann", "Page Viewed", ago(days=3), {"path": "/Pricing/teams"}),
    ("ann", "Page Viewed", ago(days=14), {"path": "/pricing", "seconds": 40}),
    ("ann", "Webinar Attended", ago(days=20), {"webinar": "Attribution"}),
    ("bob", "Page Viewed", ago(days=2), {"path": "/blog", "seconds": 5}),
    ("bob", "Page Viewed", ago(days=15), {"path": "/pricing"}),
    ("bob", "Page Viewed", ago(days=-1), {"path": "/pricing"}),  # in the future: never counted
    ("cai", "Webinar Attended", ago(days=200), {}),
]
SEGMENTS = {"trials": ["ann", "cai"], "customers": []}

CASES: list[tuple[dict[str, Any], set[str]]] = [
    # text: case-insensitive (ASCII), missing values never match, LIKE characters are literal
    ({"field": "country", "op": "eq", "value": "us"}, {"ann"}),
    ({"field": "country", "op": "neq", "value": "US"}, {"bob"}),
    ({"not": {"field": "country", "op": "eq", "value": "US"}}, {"bob", "cai", "dee"}),
    ({"field": "country", "op": "in", "value": ["US", "DE"]}, {"ann", "bob"}),
    ({"field": "country", "op": "not_in", "value": ["US"]}, {"bob"}),
    ({"field": "country", "op": "is_set"}, {"ann", "bob"}),
    ({"field": "country", "op": "is_not_set"}, {"cai", "dee"}),
    ({"field": "email", "op": "contains", "value": "@MIT."}, {"ann"}),
    ({"field": "email", "op": "contains", "value": "_100%"}, {"cai"}),
    ({"field": "email", "op": "contains", "value": "0%@"}, {"cai"}),
    ({"field": "email", "op": "starts_with", "value": "c_"}, set()),
    ({"field": "email", "op": "starts_with", "value": "cai_"}, {"cai"}),
    ({"field": "email", "op": "ends_with", "value": ".EDU"}, {"ann"}),
    ({"field": "custom.nickname", "op": "contains", "value": "\\b_"}, {"dee"}),
    ({"field": "custom.nickname", "op": "eq", "value": "ANNIE"}, {"ann"}),
    ({"field": "first_name", "op": "eq", "value": "émile"}, set()),
    ({"field": "first_name", "op": "eq", "value": "ÉMILE"}, {"dee"}),
    # enums
    ({"field": "custom.plan", "op": "eq", "value": "pro"}, {"ann"}),
    ({"field": "custom.plan", "op": "neq", "value": "pro"}, {"bob"}),
    ({"field": "custom.plan", "op": "in", "value": ["free", "Pro"]}, {"ann", "bob"}),
    ({"field": "custom.plan", "op": "not_in", "value": ["free"]}, {"ann"}),
    ({"field": "custom.plan", "op": "is_not_set"}, {"cai", "dee"}),
    ({"field": "account.custom.tier", "op": "eq", "value": "gold"}, {"ann"}),
    # numbers: standard, account and JSON; a string "5" is not a number
    ({"field": "custom.seats", "op": "eq", "value": 5}, {"ann"}),
    ({"field": "custom.seats", "op": "neq", "value": 5}, {"bob"}),
    ({"field": "custom.seats", "op": "gt", "value": 5}, {"bob"}),
    ({"field": "custom.seats", "op": "gte", "value": 5}, {"ann", "bob"}),
    ({"field": "custom.seats", "op": "lt", "value": 50}, {"ann"}),
    ({"field": "custom.seats", "op": "lte", "value": 50.0}, {"ann", "bob"}),
    ({"field": "custom.seats", "op": "between", "value": [5, 49.99]}, {"ann"}),
    ({"field": "custom.seats", "op": "in", "value": [50, 7]}, {"bob"}),
    ({"field": "custom.seats", "op": "not_in", "value": [50]}, {"ann"}),
    ({"field": "custom.score", "op": "eq", "value": 0.1}, {"ann"}),
    ({"field": "custom.score", "op": "gt", "value": 200.49}, {"bob"}),
    ({"field": "custom.score", "op": "is_set"}, {"ann", "bob"}),
    ({"field": "account.employee_count", "op": "gte", "value": 200}, {"ann"}),
    ({"field": "account.employee_count", "op": "lt", "value": 200}, {"bob"}),
    ({"field": "account.annual_revenue", "op": "eq", "value": 1000000.5}, {"ann"}),
    ({"field": "account.annual_revenue", "op": "is_not_set"}, {"bob", "cai", "dee"}),
    ({"field": "account.employee_count", "op": "is_not_set"}, {"cai", "dee"}),
    ({"not": {"field": "account.employee_count", "op": "gte", "value": 200}}, {"bob", "cai", "dee"}),
    # booleans
    ({"field": "is_free_mail", "op": "eq", "value": True}, {"bob"}),
    ({"field": "is_free_mail", "op": "neq", "value": True}, {"ann"}),
    ({"field": "custom.vip", "op": "eq", "value": True}, {"ann"}),
    ({"field": "custom.vip", "op": "neq", "value": True}, {"bob"}),
    # datetimes: relative windows include their start, dates are whole UTC days, zones are converted
    ({"field": "created_at", "op": "within_last", "value": "30d"}, {"ann", "cai", "dee"}),
    ({"field": "created_at", "op": "more_than_ago", "value": "30d"}, {"bob"}),
    ({"field": "last_activity_at", "op": "within_last", "value": "30d"}, {"ann"}),
    ({"field": "last_activity_at", "op": "not_within_last", "value": "30d"}, {"cai", "dee"}),
    ({"not": {"field": "last_activity_at", "op": "within_last", "value": "30d"}}, {"bob", "cai", "dee"}),
    ({"field": "last_activity_at", "op": "within_next", "value": "2d"}, {"dee"}),
    ({"field": "created_at", "op": "eq", "value": "2025-05-30"}, {"dee"}),  # 01:00 at +02:00 is the 30th in UTC
    ({"field": "created_at", "op": "before", "value": "2025-05-02"}, {"bob"}),
    ({"field": "created_at", "op": "on_or_before", "value": "2025-05-02"}, {"bob", "cai"}),
    ({"field": "created_at", "op": "after", "value": "2025-05-02"}, {"ann", "dee"}),
    ({"field": "created_at", "op": "on_or_after", "value": "2025-05-02T12:00:00Z"}, {"ann", "cai", "dee"}),
    ({"field": "created_at", "op": "after", "value": "2025-05-02T12:00:00Z"}, {"ann", "dee"}),
    ({"field": "created_at", "op": "neq", "value": "2025-05-02"}, {"ann", "bob", "dee"}),
    ({"field": "created_at", "op": "between", "value": ["2025-05-02", "2025-05-22"]}, {"ann", "cai"}),
    ({"field": "created_at", "op": "between", "value": ["2025-05-02T12:00:00.000001Z", "2025-05-30"]}, {"ann", "dee"}),
    ({"field": "custom.trial_ends", "op": "eq", "value": "2025-05-31"}, {"ann", "bob"}),
    ({"field": "custom.trial_ends", "op": "on_or_after", "value": "2025-05-31T23:30:00Z"}, {"ann", "bob"}),
    ({"field": "custom.trial_ends", "op": "after", "value": "2025-05-31T23:30:00Z"}, set()),
    ({"field": "custom.trial_ends", "op": "is_set"}, {"ann", "bob"}),
    # dates
    ({"field": "custom.renewal", "op": "within_next", "value": "30d"}, {"ann"}),
    ({"field": "custom.renewal", "op": "before", "value": "2025-06-01"}, {"bob"}),
    ({"field": "custom.renewal", "op": "eq", "value": "2025-06-20"}, {"ann"}),
    ({"field": "custom.renewal", "op": "is_not_set"}, {"cai", "dee"}),
    # lists
    ({"field": "custom.interests", "op": "contains", "value": "data"}, {"ann"}),
    ({"field": "custom.interests", "op": "any_of", "value": ["sales", "ops"]}, {"ann", "bob"}),
    ({"field": "custom.interests", "op": "all_of", "value": ["ops", "data"]}, {"ann"}),
    ({"field": "custom.interests", "op": "is_not_set"}, {"cai", "dee"}),
    ({"not": {"field": "custom.interests", "op": "contains", "value": "data"}}, {"bob", "cai", "dee"}),
    # events
    ({"event": "Page Viewed", "min_count": 3, "within_days": 14}, {"ann"}),
    ({"event": "Page Viewed", "min_count": 2, "within_days": 30}, {"ann", "bob"}),
    ({"event": "Page Viewed", "where": [{"property": "path", "op": "starts_with", "value": "/pricing"}],
      "min_count": 3, "within_days": 14}, {"ann"}),
    ({"event": "Page Viewed", "where": [{"property": "path", "op": "eq", "value": "/PRICING"}], "within_days": 14},
     {"ann"}),
    ({"event": "Page Viewed", "where": [{"property": "seconds", "op": "gte", "value": 10}]}, {"ann"}),
    ({"event": "Page Viewed", "where": [{"property": "seconds", "op": "is_not_set"}], "within_days": 7}, {"ann"}),
    ({"event": "Page Viewed", "min_count": 1, "max_count": 1, "within_days": 7}, {"bob"}),
    ({"event": "Webinar Attended", "min_count": 0, "max_count": 0, "within_days": 90}, {"bob", "cai", "dee"}),
    ({"event": "Webinar Attended"}, {"ann", "cai"}),
    ({"event": "webinar attended"}, set()),
    # segments and logic
    ({"in_segment": "trials"}, {"ann", "cai"}),
    ({"not": {"in_segment": "trials"}}, {"bob", "dee"}),
    ({"in_segment": "customers"}, set()),
    ({"all": [{"in_segment": "trials"}, {"field": "country", "op": "is_not_set"}]}, {"cai"}),
    ({"any": [{"field": "country", "op": "eq", "value": "DE"}, {"event": "Webinar Attended", "within_days": 365}]},
     {"ann", "bob", "cai"}),
]  # fmt: skip


def people(session: Session) -> dict[str, int]:
    accounts = {key: Account(**row) for key, row in ACCOUNTS.items()}
    session.add_all(accounts.values())
    session.flush()
    contacts: dict[str, Contact] = {}
    for name, row in PEOPLE.items():
        fields = {k: v for k, v in row.items() if k != "account"}
        fields.setdefault("first_name", name)
        account = accounts[row["account"]].id if row["account"] else None
        contacts[name] = Contact(**fields, account_id=account)
    session.add_all(contacts.values())
    session.flush()
    session.add_all(
        Event(message_id=uuid.uuid4().hex, event_type="track", name=event_name, contact_id=contacts[who].id,
              occurred_at=at, received_at=at, properties=props)
        for who, event_name, at, props in EVENTS
    )  # fmt: skip
    session.commit()
    return {name: contact.id for name, contact in contacts.items()}


@pytest.fixture
def ids(session: Session) -> dict[str, int]:
    return people(session)


def segments(ids: dict[str, int]) -> SegmentResolver:
    def members(key: str) -> Select[Any]:
        return select(Contact.id).where(Contact.id.in_([ids[name] for name in SEGMENTS[key]]))

    return members


def facts(session: Session, contact_id: int, tree: Condition, ids: dict[str, int]) -> ContactFacts:
    loaded = load_facts(session, contact_id, tree, now=NOW, segment_members=segments(ids))
    assert loaded is not None
    return loaded


def test_every_operator_selects_the_expected_contacts(session: Session, ids: dict[str, int]) -> None:
    names = {cid: name for name, cid in ids.items()}
    ctx = CompileContext.for_session(session, now=NOW, segment_members=segments(ids))
    # The bulk fit scan's form: account fields on one LEFT JOINed account row instead of an EXISTS each.
    account = Account.__table__.alias("joined_account")
    joined = replace(ctx, joined_account=account)
    source = Contact.__table__.outerjoin(account, account.c.id == Contact.account_id)
    wrong = []
    for condition, expected in CASES:
        tree = parse_condition(condition, REGISTRY)
        in_sql = {names[cid] for cid in session.scalars(matching_contacts(tree, ctx))}
        in_join = {names[cid] for cid in session.scalars(select(Contact.id).select_from(source)
                                                         .where(compile_condition(tree, joined)))}  # fmt: skip
        in_memory = {name for name, cid in ids.items() if evaluate(tree, facts(session, cid, tree, ids), now=NOW)}
        if in_sql != expected or in_memory != expected or in_join != expected:
            wrong.append(f"{condition}: expected {sorted(expected)}, SQL {sorted(in_sql)}, joined {sorted(in_join)}, "
                         f"memory {sorted(in_memory)}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_expression_composes_with_the_callers_query(session: Session, ids: dict[str, int]) -> None:
    """The compiled condition aliases accounts and events, so a query that joins them itself still works."""
    ctx = CompileContext.for_session(session, now=NOW)
    tree = parse_condition(
        {"all": [{"field": "account.employee_count", "op": "lt", "value": 200}, {"event": "Page Viewed"}]}, REGISTRY
    )
    stmt = (
        select(Contact.id, Account.name)
        .join(Account, Account.id == Contact.account_id)
        .where(Account.name.is_not(None), compile_condition(tree, ctx))
    )
    assert session.execute(stmt).all() == [(ids["bob"], "tiny shop")]


def test_in_segment_needs_a_resolver(session: Session) -> None:
    tree = parse_condition({"any": [{"field": "country", "op": "is_set"}, {"in_segment": "trials"}]}, REGISTRY)
    with pytest.raises(ConditionCompileError, match="in_segment trials: no segment resolver"):
        compile_condition(tree, CompileContext.for_session(session, now=NOW))
    with pytest.raises(ValueError, match=r"uses segments \(trials\) but no segment resolver"):
        load_facts(session, 1, tree, now=NOW)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_facts_load_in_three_queries_with_only_the_events_the_tree_needs(
    engine: Engine, session: Session, ids: dict[str, int]
) -> None:
    tree = parse_condition(
        {"all": [{"field": "account.employee_count", "op": "gt", "value": 1}, {"in_segment": "trials"},
                 {"event": "Page Viewed", "within_days": 7}]},
        REGISTRY,
    )  # fmt: skip
    with statements(engine) as seen:
        facts = load_facts(session, ids["ann"], tree, now=NOW, segment_members=segments(ids))
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 3
    assert facts is not None
    assert facts.account is not None
    assert facts.account["employee_count"] == 500
    assert facts.contact["custom"]["plan"] == "Pro"
    assert [(e.name, e.occurred_at) for e in facts.events] == [
        ("Page Viewed", ago(days=3)),
        ("Page Viewed", ago(days=1)),
    ]
    assert all(e.properties == {} for e in facts.events)  # no property filters: properties are not loaded
    assert facts.segments == {"trials"}
    assert evaluate(tree, facts, now=NOW)

    plain = parse_condition({"field": "country", "op": "is_set"}, REGISTRY)
    with statements(engine) as seen:
        only_contact = load_facts(session, ids["cai"], plain, now=NOW)
    assert len(seen) == 1
    assert only_contact is not None
    assert (only_contact.account, only_contact.events, only_contact.segments) == (None, [], frozenset())
    assert load_facts(session, 10**9, plain, now=NOW) is None


def test_the_registry_comes_from_the_custom_field_definitions(session: Session) -> None:
    session.add_all([
        CustomFieldDefinition(entity="contact", name="plan", label="Plan", field_type="enum", options=["free", "pro"]),
        CustomFieldDefinition(entity="account", name="arr", label="ARR", field_type="number"),
    ])  # fmt: skip
    session.flush()
    registry = load_field_registry(session)
    session.rollback()
    assert parse_condition({"field": "custom.plan", "op": "eq", "value": "PRO"}, registry).value == "pro"  # type: ignore[union-attr]
    assert parse_condition({"field": "account.custom.arr", "op": "gt", "value": 1}, registry).ref.kind == "number"  # type: ignore[union-attr]
    with pytest.raises(ConditionError, match="no custom field named 'arr' is defined for contacts"):
        parse_condition({"field": "custom.arr", "op": "gt", "value": 1}, registry)


def test_event_conditions_range_scan_the_contact_name_time_index_on_sqlite(
    session: Session, ids: dict[str, int]
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL picks by its statistics (see bench/bench_conditions.py)")
    tree = parse_condition({"event": "Page Viewed", "min_count": 2, "within_days": 14}, REGISTRY)
    stmt = matching_contacts(tree, CompileContext.for_session(session, now=NOW))
    sql = str(stmt.compile(session.get_bind()))
    # Without statistics SQLite's plan does not depend on the bound values, so placeholders will do.
    plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (None,) * sql.count("?")).all()
    details = " | ".join(str(row[-1]) for row in plan)
    # Either covering index with the contact and the name in front serves it with one range scan per contact.
    assert re.search(
        r"COVERING INDEX ix_events_(contact_name|name_contact)_occurred "
        r"\((contact_id=\? AND name=\?|name=\? AND contact_id=\?) AND occurred_at>\? AND occurred_at<\?\)",
        details,
    ), details
