"""Load the facts a condition needs about one contact, in at most three queries.

1. the contact and its account (one outer join, the allow-listed columns only),
2. only the events the tree asks about: their names, from the start of the widest window until ``now``,
3. only the segments the tree asks about, one EXISTS per key in one SELECT.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, literal_column, select
from sqlalchemy.orm import Session

from pitboard.conditions.fields import ACCOUNT_FIELDS, CONTACT_FIELDS
from pitboard.conditions.memory import ContactFacts, EventFact
from pitboard.conditions.model import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    SegmentCondition,
)
from pitboard.conditions.sql import SegmentResolver
from pitboard.kit.time import ensure_utc
from pitboard.models import Account, Contact, Event


@dataclass(frozen=True)
class FactsNeeded:
    """What to load for a tree: event names, how far back (None: all time), properties or not, segments."""

    event_names: frozenset[str]
    since: datetime | None
    event_properties: bool
    segment_keys: frozenset[str]


def walk(condition: Condition) -> Iterator[Condition]:
    """Every node of the tree, parents before children."""
    yield condition
    if isinstance(condition, AllCondition | AnyCondition):
        for child in condition.all_ if isinstance(condition, AllCondition) else condition.any_:
            yield from walk(child)
    elif isinstance(condition, NotCondition):
        yield from walk(condition.not_)


def facts_needed(condition: Condition, *, now: datetime) -> FactsNeeded:
    events = [node for node in walk(condition) if isinstance(node, EventCondition)]
    windows = [node.within_days for node in events]
    since = None
    if events and None not in windows:
        since = ensure_utc(now) - timedelta(days=max(w for w in windows if w is not None))
    return FactsNeeded(
        event_names=frozenset(node.event for node in events),
        since=since,
        event_properties=any(node.where for node in events),
        segment_keys=frozenset(node.in_segment for node in walk(condition) if isinstance(node, SegmentCondition)),
    )


def load_facts(
    session: Session,
    contact_id: int,
    condition: Condition,
    *,
    now: datetime,
    segment_members: SegmentResolver | None = None,
) -> ContactFacts | None:
    """The facts ``condition`` needs about contact ``contact_id`` at ``now``; None if there is no such contact."""
    now = ensure_utc(now)
    needed = facts_needed(condition, now=now)
    if needed.segment_keys and segment_members is None:
        keys = ", ".join(sorted(needed.segment_keys))
        raise ValueError(f"the condition uses segments ({keys}) but no segment resolver was given")
    records = _contact_and_account(session, contact_id)
    if records is None:
        return None
    contact, account = records
    return ContactFacts(
        contact=contact,
        account=account,
        events=_events(session, contact_id, needed, now),
        segments=_segments(session, contact_id, needed.segment_keys, segment_members),
    )


def _contact_and_account(session: Session, contact_id: int) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    contact_columns = [getattr(Contact, name) for name in (*CONTACT_FIELDS, "custom")]
    account_columns = [getattr(Account, name).label(f"account__{name}") for name in ("id", *ACCOUNT_FIELDS, "custom")]
    stmt = (
        select(*contact_columns, *account_columns)
        .outerjoin(Account, Account.id == Contact.account_id)
        .where(Contact.id == contact_id)
    )
    row = session.execute(stmt).mappings().first()
    if row is None:
        return None
    contact = {name: row[name] for name in (*CONTACT_FIELDS, "custom")}
    if row["account__id"] is None:
        return contact, None
    return contact, {name: row[f"account__{name}"] for name in (*ACCOUNT_FIELDS, "custom")}


def _events(session: Session, contact_id: int, needed: FactsNeeded, now: datetime) -> list[EventFact]:
    if not needed.event_names:
        return []
    columns: list[Any] = [Event.name, Event.occurred_at]
    if needed.event_properties:
        columns.append(Event.properties)
    # Same shape as the SQL compiler's subqueries: served by ix_events_contact_name_occurred (or name_contact).
    stmt = select(*columns).where(
        Event.contact_id == contact_id, Event.occurred_at <= now, Event.name.in_(sorted(needed.event_names))
    )
    if needed.since is not None:
        stmt = stmt.where(Event.occurred_at >= needed.since)
    stmt = stmt.order_by(Event.occurred_at)  # the index's own order: free, and the facts read like a timeline
    return [
        EventFact(row[0], row[1], row[2] if needed.event_properties and isinstance(row[2], dict) else {})
        for row in session.execute(stmt)
    ]


def _segments(
    session: Session, contact_id: int, keys: frozenset[str], segment_members: SegmentResolver | None
) -> frozenset[str]:
    if not keys:
        return frozenset()
    assert segment_members is not None  # checked by load_facts before any query
    ordered = sorted(keys)
    checks = []
    for key in ordered:
        members = segment_members(key).subquery()
        member_id = next(iter(members.c))
        checks.append(exists(select(literal_column("1")).select_from(members).where(member_id == contact_id)))
    row = session.execute(select(*checks)).one()
    return frozenset(key for key, member in zip(ordered, row, strict=True) if member)
