"""Which contacts or accounts a segment definition selects, as SQL: for refreshes, counts and previews.

A contact segment selects ``contacts.id`` where the condition holds; an account segment selects the
``account_id`` of the matching contacts, grouped, with at least ``min_contacts`` of them. ``in_segment`` is
answered from open memberships (:func:`segment_resolver`); an account segment named there stands for the
contacts of its accounts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import FromClause, Select, Table, false, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pitboard.conditions import (
    AllCondition,
    AnyCondition,
    CompileContext,
    Condition,
    EventCondition,
    FieldCondition,
    FieldRegistry,
    NotCondition,
    SegmentCondition,
    SegmentResolver,
    compile_condition,
)
from pitboard.kit.db import is_time_limit_error, time_limit
from pitboard.kit.errors import TooSlow
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Account, Contact, Segment, SegmentMembership
from pitboard.segments.schemas import SegmentSpec, SpecInvalid, SpecIssue, validate_spec

CONTACTS: FromClause = Contact.__table__
MEMBERSHIPS: Table = cast(Table, SegmentMembership.__table__)  # a Table, so it can be UPDATEd and INSERTed into
# A live preview answers while someone types; a condition that would scan for minutes is stopped instead.
PREVIEW_TIMEOUT_SECONDS = 20.0
# A live preview answers while someone types; a condition that would scan for minutes is stopped instead.
PREVIEW_TIMEOUT_SECONDS = 20.0
PREVIEW_LIMIT = 20


# --- stored definitions --------------------------------------------------------------------------


def stored_definition(row: Segment) -> dict[str, Any]:
    return {
        "key": row.key, "name": row.name, "description": row.description, "entity": row.entity,
        "kind": row.kind, "min_contacts": row.min_contacts, "condition": row.condition,
    }  # fmt: skip


_spec_cache: dict[tuple[str, tuple[Any, ...]], SegmentSpec] = {}
_spec_lock = threading.Lock()


def _registry_key(registry: FieldRegistry) -> tuple[Any, ...]:
    return (tuple(sorted(registry.contact_custom.items())), tuple(sorted(registry.account_custom.items())))


def stored_spec(row: Segment, registry: FieldRegistry) -> SegmentSpec:
    """The row's definition, validated again against today's fields (a custom field may have been deleted
    since it was saved); raises SpecInvalid naming the segment. Parsed trees are cached per definition."""
    definition = stored_definition(row)
    cache_key = (row.checksum or "", _registry_key(registry))
    with _spec_lock:
        cached = _spec_cache.get(cache_key)
    if cached is not None and cached.definition() == definition:
        return cached
    try:
        spec = validate_spec(definition, registry)
    except SpecInvalid as exc:
        issues = [SpecIssue(f"segment {row.key}: {i.path}".rstrip(": "), i.message) for i in exc.issues]
        raise SpecInvalid(issues) from None
    with _spec_lock:
        if len(_spec_cache) > 2000:  # definitions change rarely; this only bounds a long-lived process
            _spec_cache.clear()
        _spec_cache[cache_key] = spec
    return spec


def active_segments(session: Session) -> dict[str, Segment]:
    return {s.key: s for s in session.scalars(select(Segment).where(Segment.active).order_by(Segment.key))}


# --- membership as SQL ---------------------------------------------------------------------------


def open_member_ids(segment_id: int) -> Select[Any]:
    """Ids of the segment's current members (contacts or accounts, by the segment's entity)."""
    return select(MEMBERSHIPS.c.member_id).where(
        MEMBERSHIPS.c.segment_id == segment_id, MEMBERSHIPS.c.exited_at.is_(None)
    )


def contacts_of(entity: str, member_ids: Select[Any]) -> Select[Any]:
    """Contact ids for a selection of member ids: the ids themselves, or the contacts of those accounts.
    An alias of contacts, so that nested in a query over contacts it never correlates with the outer one."""
    if entity == "contact":
        return member_ids
    inner = CONTACTS.alias("member_contacts")
    return select(inner.c.id).where(inner.c.account_id.in_(member_ids.scalar_subquery()))


def _nobody() -> Select[Any]:
    inner = CONTACTS.alias("no_contacts")
    return select(inner.c.id).where(false())


def segment_resolver(
    session: Session,
    *,
    now: datetime,
    pending: Mapping[str, SegmentSpec] | None = None,
    segments: Mapping[str, Segment] | None = None,
) -> SegmentResolver:
    """``segment_members(key)`` for the compile context: the contacts currently in segment ``key``.

    ``pending`` definitions (a plan, a preview of several changes) are compiled in place of their stored
    members, so a dependent's count reflects the change too. A key that names no active segment selects
    nobody: validation refuses such references, and a refresh must not fail because one slipped through.
    """
    known = dict(segments) if segments is not None else active_segments(session)
    dialect = session.get_bind().dialect.name
    now = ensure_utc(now)

    def resolve(key: str) -> Select[Any]:
        spec = (pending or {}).get(key)
        if spec is not None and spec.condition is not None:
            ctx = CompileContext(dialect, now, resolve)
            return contacts_of(spec.entity, matching_ids(spec.condition, spec.entity, spec.min_contacts, ctx))
        row = known.get(key)
        if row is None:
            return _nobody()
        return contacts_of(row.entity, open_member_ids(row.id))

    return resolve


def _cost(node: Condition) -> int:
    """A rough price per contact: a column < the custom JSON < an account look-up < a membership look-up < an
    event count. All, any and not cost what their dearest part costs."""
    if isinstance(node, FieldCondition):
        return 2 if node.ref.entity == "account" else 1 if node.ref.custom_key else 0
    if isinstance(node, SegmentCondition):
        return 3
    if isinstance(node, EventCondition):
        return 4
    if isinstance(node, NotCondition):
        return _cost(node.not_)
    children = node.all_ if isinstance(node, AllCondition) else node.any_
    return max(_cost(child) for child in children)


def cheap_first(condition: Condition) -> Condition:
    """The same condition with the children of every all/any ordered cheapest first.

    SQLite evaluates the terms of a WHERE in the order written and stops at the first false one (of an AND;
    true of an OR), so "country is US and viewed pricing 3 times" counts events only for US contacts, whatever
    order the marketer wrote them in. Every leaf is two-valued, so the order never changes the answer;
    PostgreSQL orders by cost itself and is not hurt.
    """
    # model_copy, not model_validate: the nodes are valid already, and validating again would need the registry.
    if isinstance(condition, AllCondition):
        return condition.model_copy(update={"all_": sorted((cheap_first(c) for c in condition.all_), key=_cost)})
    if isinstance(condition, AnyCondition):
        return condition.model_copy(update={"any_": sorted((cheap_first(c) for c in condition.any_), key=_cost)})
    if isinstance(condition, NotCondition):
        return condition.model_copy(update={"not_": cheap_first(condition.not_)})
    return condition


def matching_ids(condition: Condition, entity: str, min_contacts: int, ctx: CompileContext) -> Select[Any]:
    """``SELECT id`` of the members a condition selects: contacts, or accounts with >= min_contacts matches."""
    predicate = compile_condition(cheap_first(condition), ctx)
    if entity == "contact":
        return select(Contact.id.label("id")).where(predicate)
    return (
        select(Contact.account_id.label("id"))
        .where(Contact.account_id.is_not(None), predicate)
        .group_by(Contact.account_id)
        .having(func.count() >= min_contacts)
    )


def compile_context(
    session: Session, *, now: datetime | None = None, pending: Mapping[str, SegmentSpec] | None = None
) -> CompileContext:
    at = ensure_utc(now or utcnow())
    return CompileContext.for_session(
        session, now=at, segment_members=segment_resolver(session, now=at, pending=pending)
    )


def count_matching(
    session: Session,
    spec: SegmentSpec,
    *,
    now: datetime | None = None,
    pending: Mapping[str, SegmentSpec] | None = None,
) -> int:
    """How many members ``spec`` would have now, computed without writing anything.

    For a static list, its current members (none for a new one). ``pending`` maps keys to definitions that
    are about to change (``diff_segments`` passes the whole plan), so ``in_segment`` sees them as changed.
    """
    if spec.condition is None:
        row = session.scalar(select(Segment).where(Segment.key == spec.key))
        if row is None:
            return 0
        return int(session.scalar(select(func.count()).select_from(open_member_ids(row.id).subquery())) or 0)
    ctx = compile_context(session, now=now, pending=pending)
    ids = matching_ids(spec.condition, spec.entity, spec.min_contacts, ctx)
    return int(session.scalar(select(func.count()).select_from(ids.subquery())) or 0)


# --- preview -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    """A member as the builder lists it: a contact (name, email, company, country, stage) or an account."""

    id: int
    label: str
    email: str | None = None
    company: str | None = None
    country: str | None = None
    lifecycle_stage: str | None = None
    domain: str | None = None
    matching_contacts: int | None = None


@dataclass(frozen=True)
class Preview:
    entity: str
    count: int
    rows: list[PreviewRow]
    took_ms: float


def preview(
    session: Session,
    condition: Condition,
    *,
    entity: str = "contact",
    min_contacts: int = 1,
    limit: int = PREVIEW_LIMIT,
    now: datetime | None = None,
    timeout_seconds: float = PREVIEW_TIMEOUT_SECONDS,
) -> Preview:
    """The count and the first ``limit`` members (by id) of a condition, without saving anything.

    One pass over the data: ``count(*) OVER ()`` counts every match while ``LIMIT`` keeps the first rows,
    so the condition is evaluated once, not once for the count and again for the sample.
    """
    started = time.perf_counter()
    ctx = compile_context(session, now=now)
    ids = matching_ids(condition, entity, min_contacts, ctx)
    extra = [func.count().label("matching")] if entity == "account" else []
    stmt = ids.add_columns(*extra, func.count().over().label("total")).order_by("id").limit(limit)
    try:
        # Outside the savepoint: the limit is restored after the savepoint has rolled back a stopped statement.
        with time_limit(session, timeout_seconds), session.begin_nested():
            found = session.execute(stmt).all()
    except OperationalError as exc:
        if not is_time_limit_error(exc):
            raise
        raise TooSlow(
            f"counting this condition took longer than {timeout_seconds:g} s and was stopped; narrow it (a shorter "
            "event window, fewer OR branches) or save the segment and let the background refresh count it"
        ) from exc
    total = int(found[0].total) if found else 0
    if entity == "contact":
        rows = _contact_rows(session, [int(r.id) for r in found])
    else:
        rows = _account_rows(session, {int(r.id): int(r.matching) for r in found})
    return Preview(entity, total, rows, (time.perf_counter() - started) * 1000)


def _contact_rows(session: Session, ids: list[int]) -> list[PreviewRow]:
    if not ids:
        return []
    stmt = select(
        Contact.id, Contact.first_name, Contact.last_name, Contact.email, Contact.company_name, Contact.country,
        Contact.lifecycle_stage,
    ).where(Contact.id.in_(ids)).order_by(Contact.id)  # fmt: skip
    return [
        PreviewRow(
            id=r.id,
            label=" ".join(p for p in (r.first_name, r.last_name) if p) or r.email or f"contact {r.id}",
            email=r.email,
            company=r.company_name,
            country=r.country,
            lifecycle_stage=r.lifecycle_stage,
        )
        for r in session.execute(stmt)
    ]


def _account_rows(session: Session, matching: dict[int, int]) -> list[PreviewRow]:
    if not matching:
        return []
    stmt = select(Account.id, Account.name, Account.domain, Account.country).where(Account.id.in_(list(matching)))
    return [
        PreviewRow(id=r.id, label=r.name, domain=r.domain, country=r.country, matching_contacts=matching[r.id])
        for r in session.execute(stmt.order_by(Account.id))
    ]
