"""Full refreshes of segments on SQLite and PostgreSQL: entries and exits with history, relative dates, event
conditions, account segments, in_segment dependencies and cycles, and agreement with the incremental path.

The helpers at the top are shared by the other test_segments_* modules.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import AccountCreate, ContactCreate, CustomFieldCreate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, CustomFieldDefinition, Event, Segment, SegmentMembership
from pitboard.segments import members, service
from pitboard.segments.graph import SegmentCycle
from pitboard.segments.refresh import refresh_all, refresh_segments, update_contacts
from pitboard.segments.schemas import SegmentSpec

_messages = itertools.count()

# --- shared helpers ------------------------------------------------------------------------------


def add_contact(session: Session, email: str, **fields: Any) -> Contact:
    return contacts.create_contact(session, ContactCreate.model_validate({"email": email, **fields}), actor=SYSTEM)


def add_account(session: Session, name: str, **fields: Any) -> int:
    return contacts.create_account(session, AccountCreate.model_validate({"name": name, **fields}), actor=SYSTEM).id


def add_event(session: Session, contact_id: int, name: str, at: datetime, **properties: Any) -> None:
    event = Event(message_id=f"m-{next(_messages)}", event_type="track", name=name, contact_id=contact_id,
                  occurred_at=at, received_at=at, properties=properties, context={})  # fmt: skip
    session.add(event)
    session.flush()


def spec(session: Session, key: str, condition: Any = None, **fields: Any) -> SegmentSpec:
    data = {"key": key, "name": fields.pop("name", key.replace("-", " ").title()), "condition": condition, **fields}
    return service.parse_spec(session, data)


def create(session: Session, key: str, condition: Any = None, **fields: Any) -> Segment:
    """A segment created through the service (its refresh left to the test)."""
    return service.create_segment(session, spec(session, key, condition, **fields), actor=SYSTEM, refresh="none")


def open_members(session: Session, key: str) -> set[int]:
    segment = service.get_segment(session, key)
    stmt = select(SegmentMembership.member_id).where(
        SegmentMembership.segment_id == segment.id, SegmentMembership.exited_at.is_(None)
    )
    return set(session.scalars(stmt))


def stays(session: Session, key: str, member_id: int) -> list[SegmentMembership]:
    segment = service.get_segment(session, key)
    stmt = (
        select(SegmentMembership)
        .where(SegmentMembership.segment_id == segment.id, SegmentMembership.member_id == member_id)
        .order_by(SegmentMembership.entered_at, SegmentMembership.id)
    )
    return list(session.scalars(stmt))


def set_country(session: Session, contact_id: int, country: str) -> None:
    session.execute(update(Contact).where(Contact.id == contact_id).values(country=country))


# --- full refresh --------------------------------------------------------------------------------


def test_full_refresh_opens_and_closes_stays_and_keeps_history(session: Session) -> None:
    today = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    t0, t1, t2 = today - timedelta(days=2), today - timedelta(days=1), today
    ann, bob, cai = (add_contact(session, f"{n}@example.org", country=c).id for n, c in
                     (("ann", "US"), ("bob", "US"), ("cai", "DE")))  # fmt: skip
    row = create(session, "us", {"field": "country", "op": "eq", "value": "US"})

    [first] = refresh_segments(session, ["us"], now=t0)
    assert (first.member_count, first.entered, first.exited) == (2, 2, 0)
    assert open_members(session, "us") == {ann, bob}
    assert (row.member_count, row.refreshed_at) == (2, t0)

    set_country(session, bob, "DE")
    set_country(session, cai, "US")
    [second] = refresh_segments(session, ["us"], now=t1)
    assert (second.member_count, second.entered, second.exited) == (2, 1, 1)
    assert open_members(session, "us") == {ann, cai}

    set_country(session, bob, "us")  # text compares without case: back in
    [third] = refresh_segments(session, ["us"], now=t2)
    assert (third.entered, third.exited) == (1, 0)
    [stay1, stay2] = stays(session, "us", bob)
    assert (stay1.entered_at, stay1.exited_at, stay1.exit_reason, stay1.entered_by) == (t0, t1, "no_longer_matches",
                                                                                        "rule")  # fmt: skip
    assert (stay2.entered_at, stay2.exited_at) == (t2, None)

    at = lambda t: set(session.scalars(members.members_at(row.id, t)))  # noqa: E731
    assert at(t0 - timedelta(seconds=1)) == set()
    assert at(t0 + timedelta(hours=1)) == {ann, bob}
    assert at(t1 + timedelta(hours=1)) == {ann, cai}
    assert at(t2) == {ann, bob, cai}

    history = members.daily_history(session, row.id, days=3, today=today.date())
    assert [(d.day, d.entered, d.exited, d.members) for d in history] == [
        (t0.date(), 2, 0, 2), (t1.date(), 1, 1, 2), (t2.date(), 1, 0, 3),
    ]  # fmt: skip
    page = members.list_members(session, row, limit=2)
    assert [m.id for m in page.items] == sorted([ann, bob, cai])[:2]
    assert page.next_cursor
    rest = members.list_members(session, row, cursor=page.next_cursor, limit=2)
    assert [m.id for m in rest.items] == sorted([ann, bob, cai])[2:]
    assert rest.next_cursor is None
    then = members.list_members(session, row, at=t1 + timedelta(hours=1))
    assert {m.id for m in then.items} == {ann, cai}


def test_a_second_refresh_without_changes_changes_nothing(session: Session) -> None:
    for i in range(5):
        add_contact(session, f"p{i}@example.org", country="US" if i % 2 else "FR")
    create(session, "us", {"field": "country", "op": "eq", "value": "US"})
    now = utcnow()
    refresh_segments(session, ["us"], now=now)
    rows_before = session.scalar(select(func.count()).select_from(SegmentMembership))
    [again] = refresh_segments(session, ["us"], now=now + timedelta(minutes=5))
    assert (again.member_count, again.entered, again.exited) == (2, 0, 0)
    assert session.scalar(select(func.count()).select_from(SegmentMembership)) == rows_before


def test_relative_dates_move_with_the_clock(session: Session) -> None:
    fresh = add_contact(session, "fresh@example.org").id
    old = add_contact(session, "old@example.org").id
    now = utcnow()
    session.execute(update(Contact).where(Contact.id == old).values(created_at=now - timedelta(days=20)))
    session.execute(update(Contact).where(Contact.id == fresh).values(created_at=now - timedelta(days=5)))
    create(session, "new-this-week", {"field": "created_at", "op": "within_last", "value": "7d"})
    refresh_segments(session, ["new-this-week"], now=now)
    assert open_members(session, "new-this-week") == {fresh}
    [later] = refresh_all(session, now=now + timedelta(days=3))  # nothing changed but the date
    assert (later.exited, later.member_count) == (1, 0)
    assert stays(session, "new-this-week", fresh)[0].exit_reason == "no_longer_matches"


def test_event_condition_counts_events_in_the_window(session: Session) -> None:
    now = utcnow()
    busy, once, stale = (add_contact(session, f"{n}@example.org").id for n in ("busy", "once", "stale"))
    for days in (1, 2, 3):
        add_event(session, busy, "Page Viewed", now - timedelta(days=days), path="/pricing")
        add_event(session, stale, "Page Viewed", now - timedelta(days=40 + days), path="/pricing")
    add_event(session, once, "Page Viewed", now - timedelta(days=1), path="/pricing")
    add_event(session, once, "Page Viewed", now - timedelta(days=1), path="/blog")
    create(session, "pricing-3x", {"event": "Page Viewed", "where": [{"property": "path", "op": "starts_with",
           "value": "/pricing"}], "min_count": 3, "within_days": 30})  # fmt: skip
    refresh_segments(session, ["pricing-3x"], now=now)
    assert open_members(session, "pricing-3x") == {busy}


def test_account_segment_counts_matching_contacts_per_account(session: Session) -> None:
    big, small, none = (add_account(session, n) for n in ("Big", "Small", "Nobody"))
    for i in range(3):
        add_contact(session, f"b{i}@bigcorp.io", account_id=big, lifecycle_stage="mql")
    add_contact(session, "s0@smallco.io", account_id=small, lifecycle_stage="mql")
    add_contact(session, "s1@smallco.io", account_id=small, lifecycle_stage="lead")
    add_contact(session, "loner@example.org", lifecycle_stage="mql")  # no account: never counts
    create(session, "engaged-accounts", {"field": "lifecycle_stage", "op": "eq", "value": "mql"}, entity="account",
           min_contacts=2)  # fmt: skip
    create(session, "any-mql-account", {"field": "lifecycle_stage", "op": "eq", "value": "mql"}, entity="account")
    refresh_all(session)
    assert open_members(session, "engaged-accounts") == {big}
    assert open_members(session, "any-mql-account") == {big, small}
    assert none not in open_members(session, "any-mql-account")


def test_in_segment_refreshes_dependencies_first_and_refuses_cycles(session: Session) -> None:
    us = add_contact(session, "us@example.org", country="US", lifecycle_stage="mql").id
    add_contact(session, "de@example.org", country="DE", lifecycle_stage="mql")
    create(session, "us", {"field": "country", "op": "eq", "value": "US"})
    mqls = {"field": "lifecycle_stage", "op": "eq", "value": "mql"}
    create(session, "us-mqls", {"all": [{"in_segment": "us"}, mqls]})
    create(session, "not-us", {"not": {"in_segment": "us"}})
    results = refresh_segments(session, ["us-mqls"])  # "us" has never been refreshed: it goes first
    assert [r.key for r in results] == ["us", "us-mqls"]
    assert open_members(session, "us-mqls") == {us}
    assert [r.key for r in refresh_segments(session, ["us"], dependents=True)] == ["us", "not-us", "us-mqls"]
    assert us not in open_members(session, "not-us")

    with pytest.raises(SegmentCycle, match=r"cycle: us → us-mqls → us"):
        service.update_segment(session, "us", spec(session, "us", {"in_segment": "us-mqls"}), actor=SYSTEM)
    with pytest.raises(SegmentCycle, match="loop → loop"):
        create(session, "loop", {"in_segment": "loop"})
    with pytest.raises(ValidationFailed, match="in_segment nowhere names no active segment"):
        create(session, "dangling", {"in_segment": "nowhere"})
    with pytest.raises(ValidationFailed, match="segment not-us uses in_segment us; change not-us first"):
        service.delete_segment(session, "us", actor=SYSTEM)
    with pytest.raises(NotFound):
        refresh_segments(session, ["nowhere"])


def test_in_segment_of_an_account_segment_means_contacts_at_its_accounts(session: Session) -> None:
    big = add_account(session, "Big", employee_count=5000)
    tiny = add_account(session, "Tiny", employee_count=5)
    at_big = add_contact(session, "a@bigcorp.io", account_id=big).id
    add_contact(session, "b@tinyco.io", account_id=tiny)
    create(session, "enterprise", {"field": "account.employee_count", "op": "gte", "value": 1000}, entity="account")
    create(session, "people-at-enterprises", {"in_segment": "enterprise"})
    refresh_all(session)
    assert open_members(session, "enterprise") == {big}
    assert open_members(session, "people-at-enterprises") == {at_big}


def test_static_list_refresh_closes_stays_of_deleted_contacts(session: Session) -> None:
    keep = add_contact(session, "keep@example.org").id
    gone = add_contact(session, "gone@example.org").id
    create(session, "vips", kind="static")
    service.add_members(session, "vips", ids=[keep, gone], entered_by="manual", actor=SYSTEM)
    contacts.delete_contact(session, gone, actor=SYSTEM)
    [result] = refresh_segments(session, ["vips"])
    assert (result.member_count, result.exited) == (1, 1)
    assert stays(session, "vips", gone)[0].exit_reason == "member_deleted"


def test_a_stored_definition_that_no_longer_validates_fails_its_refresh_with_the_reason(session: Session) -> None:
    field = CustomFieldCreate(entity="contact", name="plan", label="Plan", field_type="text")
    contacts.create_custom_field(session, field, actor=SYSTEM)
    create(session, "pro", {"field": "custom.plan", "op": "eq", "value": "pro"})
    session.execute(CustomFieldDefinition.__table__.delete())
    with pytest.raises(ValidationFailed, match=r"segment pro: condition.field: no custom field named 'plan'"):
        refresh_segments(session, ["pro"])


# --- SQL and memory agree ------------------------------------------------------------------------

CONDITIONS: dict[str, Any] = {
    "us-or-ca": {"field": "country", "op": "in", "value": ["US", "CA"]},
    "mql-not-free": {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "mql"},
                             {"not": {"field": "email_domain", "op": "ends_with", "value": "freemail.io"}}]},
    "viewed-twice": {"event": "Page Viewed", "min_count": 2, "within_days": 10},
    "never-webinar": {"event": "Webinar Attended", "min_count": 0, "max_count": 0, "within_days": 30},
    "big-company": {"field": "account.employee_count", "op": "gte", "value": 100},
    "active-us": {"all": [{"in_segment": "us-or-ca"}, {"in_segment": "viewed-twice"}]},
    "at-hot-accounts": {"in_segment": "hot-accounts"},
}  # fmt: skip


def test_incremental_evaluation_agrees_with_the_full_refresh(session: Session) -> None:
    now = datetime.now(UTC)
    accounts = [add_account(session, f"A{i}", employee_count=n) for i, n in enumerate((10, 150, 5000))]
    people = []
    for i in range(24):
        c = add_contact(
            session, f"p{i}@{'freemail' if i % 5 == 0 else 'corp'}.io", country=["US", "CA", "DE", None][i % 4],
            lifecycle_stage=["lead", "mql"][i % 2], account_id=accounts[i % 3] if i % 4 else None,
        )  # fmt: skip
        people.append(c.id)
        for k in range(i % 3):
            add_event(session, c.id, "Page Viewed", now - timedelta(days=3 * k + 1))
        if i % 6 == 0:
            add_event(session, c.id, "Webinar Attended", now - timedelta(days=2))
    for key in ("us-or-ca", "mql-not-free", "viewed-twice", "never-webinar", "big-company"):
        create(session, key, CONDITIONS[key])
    create(session, "hot-accounts", {"in_segment": "viewed-twice"}, entity="account", min_contacts=2)
    create(session, "active-us", CONDITIONS["active-us"])
    create(session, "at-hot-accounts", CONDITIONS["at-hot-accounts"])
    keys = [*CONDITIONS, "hot-accounts"]

    refresh_all(session, now=now)
    by_sql = {key: open_members(session, key) for key in keys}
    assert all(by_sql[k] for k in keys), by_sql  # every segment selects someone, so agreement means something
    assert any(people[0] not in v for v in by_sql.values())
    # Start from nobody: memory must rebuild every membership, and member_count must follow.
    session.execute(SegmentMembership.__table__.delete())
    session.execute(update(Segment).values(member_count=0))
    update_contacts(session, people, now=now)
    assert {key: open_members(session, key) for key in keys} == by_sql
    counts = dict(session.execute(select(Segment.key, Segment.member_count)).all())
    assert counts == {key: len(v) for key, v in by_sql.items()}
