"""Keeping memberships equal to the definitions: full refreshes in SQL, incremental updates in memory.

**Full refresh** (on demand, after a definition changes, and daily for relative dates): the matching ids go
into a temporary table in one ``INSERT … SELECT``; stays of members no longer in it are closed with one
``UPDATE … WHERE NOT EXISTS`` and new members open stays with one ``INSERT … SELECT … WHERE NOT EXISTS``.
Ids never travel to Python, so a million contacts cost one pass over the data plus two index-served
set differences. Dependencies (``in_segment``) are refreshed first.

**Incremental** (``contacts.changed``): each changed contact is evaluated in memory against every active
dynamic contact segment, from one load of the facts all of them need; account segments are recounted in
SQL for the changed contacts' accounts only.

A stay is one row: opened with ``entered_at``, closed with ``exited_at`` and an ``exit_reason``, never deleted,
so "who was in on 1 March" stays answerable (see members.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    CursorResult,
    FromClause,
    Integer,
    MetaData,
    Result,
    Select,
    Table,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from pitboard.conditions import (
    AnyCondition,
    CompileContext,
    Condition,
    ContactFacts,
    EventCondition,
    FieldRegistry,
    evaluate,
    load_facts,
    load_field_registry,
    parse_condition,
)
from pitboard.conditions.facts import walk
from pitboard.kit.db import UTCDateTime
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.logging import get_logger
from pitboard.models import Account, Contact, Segment
from pitboard.segments.graph import dependencies_of, dependents_of, topological_order
from pitboard.segments.matching import (
    CONTACTS,
    MEMBERSHIPS,
    active_segments,
    matching_ids,
    segment_resolver,
    stored_spec,
)
from pitboard.segments.schemas import SegmentSpec, SpecInvalid

log = get_logger(__name__)

ENTERED_BY_RULE = "rule"
EXIT_NO_LONGER_MATCHES = "no_longer_matches"
EXIT_MEMBER_DELETED = "member_deleted"
EXIT_DEACTIVATED = "deactivated"
EXIT_REDEFINED = "redefined"

# The matching set of the segment being refreshed. A temporary table is private to the connection and
# transactional on both databases, so a failed refresh leaves nothing behind.
_MATCHES = Table(
    "pitboard_segment_matches",
    MetaData(),
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    prefixes=["TEMPORARY"],
)
_ACCOUNTS: FromClause = Account.__table__


@dataclass(frozen=True)
class RefreshResult:
    key: str
    member_count: int
    entered: int
    exited: int
    refresh_ms: float


def rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def raw_dependencies(condition: Any) -> frozenset[str]:
    """``in_segment`` keys of a stored condition, read from the plain data: the refresh order must be known
    even when one definition no longer validates (a custom field it used was deleted)."""
    found: set[str] = set()
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if isinstance(node.get("in_segment"), str):
                found.add(node["in_segment"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(found)


def dependency_graph(segments: Iterable[Segment]) -> dict[str, frozenset[str]]:
    return {s.key: raw_dependencies(s.condition) for s in segments}


# --- full refresh --------------------------------------------------------------------------------


def refresh_segments(
    session: Session,
    keys: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
    dependencies: bool = True,
    dependents: bool = False,
) -> list[RefreshResult]:
    """Fully refresh ``keys`` (default: every active segment) in dependency order.

    ``dependencies`` refreshes the segments they test first, so they read fresh members; ``dependents``
    also refreshes every segment that tests them (after a definition changed).
    """
    at = ensure_utc(now or utcnow())
    segments = active_segments(session)
    graph = dependency_graph(segments.values())
    wanted = set(segments) if keys is None else set(keys)
    for key in sorted(wanted - set(segments)):
        exists_inactive = session.scalar(select(Segment.id).where(Segment.key == key)) is not None
        raise ValidationFailed(f"segment {key} is inactive") if exists_inactive else NotFound(f"no segment {key}")
    if dependencies:
        wanted = dependencies_of(graph, wanted) & set(segments)
    if dependents:
        wanted |= dependents_of(graph, wanted) & set(segments)
    registry = load_field_registry(session)
    results = []
    for key in topological_order(graph, wanted):
        results.append(refresh_one(session, segments[key], registry=registry, now=at, segments=segments))
    return results


def refresh_all(session: Session, *, now: datetime | None = None) -> list[RefreshResult]:
    """Every active segment, dependencies first: relative dates ("created in the last 30 days") move with
    the clock even when no data changes, so the worker runs this daily."""
    return refresh_segments(session, None, now=now)


def refresh_one(
    session: Session,
    row: Segment,
    *,
    registry: FieldRegistry,
    now: datetime,
    segments: Mapping[str, Segment] | None = None,
) -> RefreshResult:
    """Refresh one segment assuming its dependencies are fresh (see :func:`refresh_segments`)."""
    started = time.perf_counter()
    if session.get_bind().dialect.name == "postgresql":
        # Two refreshes of one segment at once would race over the same stays and counts: one waits.
        session.execute(select(Segment.id).where(Segment.id == row.id).with_for_update())
    spec = stored_spec(row, registry)
    if spec.condition is None:
        # A list has no rule: its refresh only closes the stays of contacts or accounts that no longer exist.
        entered, exited = 0, close_vanished(session, row, now=now)
        count = int(session.scalar(select(func.count()).where(*_open(row.id))) or 0)
    else:
        entered, exited, count = _diff_in_sql(session, row, spec, now=now, segments=segments)
    elapsed = (time.perf_counter() - started) * 1000
    session.execute(
        update(Segment)
        .where(Segment.id == row.id)
        # updated_at says when the definition changed; a refresh is not one.
        .values(member_count=count, refreshed_at=now, refresh_ms=elapsed, updated_at=Segment.updated_at)
    )
    for name, value in (("member_count", count), ("refreshed_at", now), ("refresh_ms", elapsed)):
        set_committed_value(row, name, value)
    log.info("segment refreshed", segment=row.key, members=count, entered=entered, exited=exited, ms=round(elapsed))
    return RefreshResult(row.key, count, entered, exited, elapsed)


def _open(segment_id: int) -> tuple[Any, ...]:
    return (MEMBERSHIPS.c.segment_id == segment_id, MEMBERSHIPS.c.exited_at.is_(None))


def _diff_in_sql(
    session: Session, row: Segment, spec: SegmentSpec, *, now: datetime, segments: Mapping[str, Segment] | None
) -> tuple[int, int, int]:
    assert spec.condition is not None
    resolver = segment_resolver(session, now=now, segments=segments)
    ctx = CompileContext.for_session(session, now=now, segment_members=resolver)
    connection = session.connection()
    _MATCHES.drop(connection, checkfirst=True)
    _MATCHES.create(connection)
    session.execute(
        insert(_MATCHES).from_select(["id"], matching_ids(spec.condition, spec.entity, spec.min_contacts, ctx))
    )
    still: Select[Any] = (
        select(literal_column("1")).select_from(_MATCHES).where(_MATCHES.c.id == MEMBERSHIPS.c.member_id)
    )
    exited = rowcount(
        session.execute(
            update(MEMBERSHIPS)
            .where(*_open(row.id), ~exists(still.correlate(MEMBERSHIPS)))
            .values(exited_at=now, exit_reason=EXIT_NO_LONGER_MATCHES)
        )
    )
    already: Select[Any] = (
        select(literal_column("1"))
        .select_from(MEMBERSHIPS)
        .where(*_open(row.id), MEMBERSHIPS.c.member_id == _MATCHES.c.id)
        .correlate(_MATCHES)
    )
    new_stays = select(
        literal(row.id, BigInteger()), _MATCHES.c.id, literal(now, UTCDateTime()), literal(ENTERED_BY_RULE)
    ).where(~exists(already))
    stmt = insert_stays(session).from_select(["segment_id", "member_id", "entered_at", "entered_by"], new_stays)
    # rowcount of an INSERT is kept only when asked for (SQLAlchemy guarantees it for UPDATE and DELETE).
    entered = rowcount(session.execute(skip_open_duplicates(stmt).execution_options(preserve_rowcount=True)))
    count = int(session.scalar(select(func.count()).select_from(_MATCHES)) or 0)
    _MATCHES.drop(connection)
    return entered, exited, count


def insert_stays(session: Session) -> Any:
    return pg_insert(MEMBERSHIPS) if session.get_bind().dialect.name == "postgresql" else sqlite_insert(MEMBERSHIPS)


def skip_open_duplicates(stmt: Any) -> Any:
    # A concurrent incremental update may open the same stay first (PostgreSQL, many workers): theirs stands.
    return stmt.on_conflict_do_nothing(
        index_elements=["segment_id", "member_id"], index_where=MEMBERSHIPS.c.exited_at.is_(None)
    )


def close_vanished(session: Session, row: Segment, *, now: datetime) -> int:
    """Close the open stays of members whose contact or account row is gone (deleted, merged away)."""
    table = CONTACTS if row.entity == "contact" else _ACCOUNTS
    alive: Select[Any] = select(literal_column("1")).select_from(table).where(table.c.id == MEMBERSHIPS.c.member_id)
    return rowcount(
        session.execute(
            update(MEMBERSHIPS)
            .where(*_open(row.id), ~exists(alive.correlate(MEMBERSHIPS)))
            .values(exited_at=now, exit_reason=EXIT_MEMBER_DELETED)
        )
    )


def close_all(session: Session, row: Segment, *, now: datetime, reason: str) -> int:
    """Close every open stay (the segment was deactivated, or now counts another kind of member)."""
    closed = rowcount(
        session.execute(update(MEMBERSHIPS).where(*_open(row.id)).values(exited_at=now, exit_reason=reason))
    )
    session.execute(update(Segment).where(Segment.id == row.id).values(member_count=0, updated_at=Segment.updated_at))
    set_committed_value(row, "member_count", 0)
    return closed


# --- incremental ---------------------------------------------------------------------------------

# A tree whose facts are the contact and its account only: what load_facts reads when no segment asks
# about events.
_FIELDS_ONLY: Condition = parse_condition({"field": "email", "op": "is_set"}, FieldRegistry())


@dataclass
class IncrementalResult:
    contacts: int = 0
    entered: dict[str, int] = field(default_factory=dict)
    exited: dict[str, int] = field(default_factory=dict)
    # Other contacts at accounts that entered or left an account segment, when a contact segment tests it:
    # their memberships may change although nothing about them did (tasks.py queues them).
    follow_up: list[int] = field(default_factory=list)


@dataclass
class _Batch:
    """What the incremental pass knows about the changed contacts while it walks the segments in order."""

    facts: dict[int, ContactFacts]
    account_of: dict[int, int | None]
    keys: dict[int, set[str]]  # segment keys each contact is in (account segments through its account)
    open_accounts: dict[str, set[int]]  # per account segment: which of the batch's accounts are members


def facts_tree(specs: Sequence[SegmentSpec]) -> Condition:
    """One tree whose facts serve every spec: the union of their event conditions. Fields are always loaded,
    and segment membership is tracked by the pass itself, so neither needs to be in it."""
    nodes = [node for spec in specs if spec.condition is not None for node in walk(spec.condition)]
    events: list[Condition] = [node for node in nodes if isinstance(node, EventCondition)]
    if not events:
        return _FIELDS_ONLY
    return AnyCondition.model_construct(any_=events)  # its parts are valid: validating again would need the registry


def update_contacts(session: Session, contact_ids: Iterable[int], *, now: datetime | None = None) -> IncrementalResult:
    """Open and close stays so that these contacts' memberships match every active dynamic segment."""
    at = ensure_utc(now or utcnow())
    ids = sorted(set(contact_ids))
    result = IncrementalResult(contacts=len(ids))
    segments = active_segments(session)
    if not ids or not segments:
        return result
    registry = load_field_registry(session)
    specs: dict[str, SegmentSpec] = {}
    for key, row in segments.items():
        if row.kind != "dynamic":
            continue
        try:
            specs[key] = stored_spec(row, registry)
        except SpecInvalid as exc:
            # One broken definition must not hold every other segment back; its full refresh reports it.
            log.warning("segment skipped: its definition no longer validates", segment=key, error=exc.message)
    if not specs:
        # Only lists: nothing to evaluate, but contacts deleted since the change was queued leave them.
        alive = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids))))
        gone = [cid for cid in ids if cid not in alive]
        if gone:
            _close_gone_contacts(session, segments, gone, now=at, result=result)
        return result
    order = topological_order(dependency_graph(segments.values()), specs)
    contact_specs = [specs[k] for k in order if segments[k].entity == "contact"]
    tree = facts_tree(contact_specs)
    loaded = {cid: load_facts(session, cid, tree, now=at) for cid in ids}
    gone = [cid for cid, facts in loaded.items() if facts is None]
    if gone:
        _close_gone_contacts(session, segments, gone, now=at, result=result)
    batch = _batch(session, segments, {cid: f for cid, f in loaded.items() if f is not None})
    moved_accounts: set[int] = set()
    graph = dependency_graph(segments.values())
    for key in order:
        row, spec = segments[key], specs[key]
        if row.entity == "contact":
            enter, leave = _evaluate_contacts(batch, spec, at)
        else:
            enter, leave = _recount_accounts(session, batch, row, spec, at, segments)
            tested = dependents_of(graph, [key]) - {key}
            if (enter or leave) and any(segments[k].entity == "contact" for k in tested if k in segments):
                moved_accounts.update(enter, leave)
        _write(session, row, enter, leave, now=at, result=result)
    if moved_accounts:
        others = select(Contact.id).where(Contact.account_id.in_(sorted(moved_accounts)), Contact.id.not_in(ids))
        result.follow_up = sorted(session.scalars(others))
    return result


def _batch(session: Session, segments: Mapping[str, Segment], facts: dict[int, ContactFacts]) -> _Batch:
    account_of = {cid: _account_id(f) for cid, f in facts.items()}
    by_id = {s.id: s for s in segments.values()}
    contact_ids, account_ids = set(facts), {a for a in account_of.values() if a is not None}
    open_contacts: dict[int, set[str]] = {cid: set() for cid in facts}
    open_accounts: dict[str, set[int]] = {s.key: set() for s in segments.values() if s.entity == "account"}
    stmt = select(MEMBERSHIPS.c.segment_id, MEMBERSHIPS.c.member_id).where(
        MEMBERSHIPS.c.exited_at.is_(None),
        MEMBERSHIPS.c.member_id.in_(sorted(contact_ids | account_ids)),
        MEMBERSHIPS.c.segment_id.in_(sorted(by_id)),
    )
    for segment_id, member_id in session.execute(stmt):
        segment = by_id[segment_id]
        if segment.entity == "contact" and member_id in contact_ids:
            open_contacts[member_id].add(segment.key)
        elif segment.entity == "account" and member_id in account_ids:
            open_accounts[segment.key].add(member_id)
    keys = {
        cid: open_contacts[cid] | {k for k, members in open_accounts.items() if account_of[cid] in members}
        for cid in facts
    }
    return _Batch({cid: replace(f, segments=frozenset(keys[cid])) for cid, f in facts.items()}, account_of, keys,
                  open_accounts)  # fmt: skip


def _account_id(facts: ContactFacts) -> int | None:
    value = facts.contact.get("account_id")
    return int(value) if value is not None else None


def _set_membership(batch: _Batch, cid: int, key: str, member: bool) -> None:
    keys = batch.keys[cid]
    if member:
        keys.add(key)
    else:
        keys.discard(key)
    batch.facts[cid] = replace(batch.facts[cid], segments=frozenset(keys))


def _evaluate_contacts(batch: _Batch, spec: SegmentSpec, now: datetime) -> tuple[list[int], list[int]]:
    assert spec.condition is not None
    enter: list[int] = []
    leave: list[int] = []
    for cid, facts in batch.facts.items():
        matches = evaluate(spec.condition, facts, now=now)
        if matches != (spec.key in batch.keys[cid]):
            (enter if matches else leave).append(cid)
    for cid in enter:
        _set_membership(batch, cid, spec.key, True)
    for cid in leave:
        _set_membership(batch, cid, spec.key, False)
    return enter, leave


def _recount_accounts(
    session: Session, batch: _Batch, row: Segment, spec: SegmentSpec, now: datetime, segments: Mapping[str, Segment]
) -> tuple[list[int], list[int]]:
    """Account segments count matching contacts per account: in SQL, for the batch's accounts only (an
    account may have thousands of contacts; only one of them changed)."""
    assert spec.condition is not None
    accounts = sorted({a for a in batch.account_of.values() if a is not None})
    if not accounts:
        return [], []
    resolver = segment_resolver(session, now=now, segments=segments)
    ctx = CompileContext.for_session(session, now=now, segment_members=resolver)
    query = matching_ids(spec.condition, "account", spec.min_contacts, ctx).where(Contact.account_id.in_(accounts))
    matched = {int(a) for a in session.scalars(query)}
    members = batch.open_accounts[row.key]
    enter, leave = sorted(matched - members), sorted(members - matched)
    members.update(enter)
    members.difference_update(leave)
    changed = set(enter) | set(leave)
    for cid, account_id in batch.account_of.items():
        if account_id in changed:
            _set_membership(batch, cid, row.key, account_id in members)
    return enter, leave


def _write(
    session: Session, row: Segment, enter: list[int], leave: list[int], *, now: datetime, result: IncrementalResult
) -> None:
    entered = exited = 0
    if enter:
        values = [{"segment_id": row.id, "member_id": m, "entered_at": now, "entered_by": ENTERED_BY_RULE}
                  for m in enter]  # fmt: skip
        stmt = skip_open_duplicates(insert_stays(session).values(values)).returning(MEMBERSHIPS.c.member_id)
        entered = len(session.execute(stmt).all())
    if leave:
        stmt = (
            update(MEMBERSHIPS)
            .where(*_open(row.id), MEMBERSHIPS.c.member_id.in_(leave))
            .values(exited_at=now, exit_reason=EXIT_NO_LONGER_MATCHES)
        )
        exited = rowcount(session.execute(stmt))
    count_change(session, row, entered - exited)
    if entered:
        result.entered[row.key] = result.entered.get(row.key, 0) + entered
    if exited:
        result.exited[row.key] = result.exited.get(row.key, 0) + exited


def count_change(session: Session, row: Segment, delta: int) -> None:
    if not delta:
        return
    session.execute(
        update(Segment)
        .where(Segment.id == row.id)
        .values(member_count=Segment.member_count + delta, updated_at=Segment.updated_at)
    )
    session.expire(row, ["member_count"])


def _close_gone_contacts(
    session: Session, segments: Mapping[str, Segment], gone: list[int], *, now: datetime, result: IncrementalResult
) -> None:
    """Contacts deleted (or merged away) since the change was queued leave every contact segment, lists too."""
    for row in segments.values():
        if row.entity != "contact":
            continue
        stmt = (
            update(MEMBERSHIPS)
            .where(*_open(row.id), MEMBERSHIPS.c.member_id.in_(gone))
            .values(exited_at=now, exit_reason=EXIT_MEMBER_DELETED)
        )
        closed = rowcount(session.execute(stmt))
        count_change(session, row, -closed)
        if closed:
            result.exited[row.key] = result.exited.get(row.key, 0) + closed
