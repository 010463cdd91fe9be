"""Facts for every contact, gathered in SQL: the interpreter for a full rescore.

* **Fit**: one scan of ``contacts`` returns, per contact, a bit mask of the fit criteria that match (each a
  condition compiled by the condition language's SQL compiler, ``CASE WHEN … THEN 2^i``).
* **Engagement**: one aggregate over ``events`` grouped by contact returns, per criterion, the number of
  occurrences and (half-life decay) the sum of their weights, looked up by the event's UTC day in a small
  table of weights. Criteria without property filters read only the covering index
  ``ix_events_name_contact_occurred`` (the scored names' entries, in contact order); criteria with filters
  need the events' properties and are a second statement. Where ``max_occurrences`` cuts a half-life
  criterion, a follow-up reads those contacts' days and keeps the most recent ones.

Both scans are split into ranges of contact ids and run in parallel (see reading.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

import numpy as np
import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    any_,
    case,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    select,
    union_all,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from pitboard.conditions import CompileContext, compile_condition
from pitboard.conditions.model import AllCondition, AnyCondition, Condition, FieldCondition, NotCondition
from pitboard.conditions.sql import _Compiler  # property filters compile exactly as in event conditions
from pitboard.kit.db import UTCDateTime
from pitboard.kit.time import ensure_utc
from pitboard.models import Account, Contact, Event
from pitboard.scoring.calc import Bools, Facts, Ints
from pitboard.scoring.model import WEIGHT_SCALE, CompiledModel, Criterion
from pitboard.scoring.reading import parallelism, partitions, read_all, should_parallelise

_CONTACTS: FromClause = Contact.__table__
_ACCOUNTS: FromClause = Account.__table__
_EVENTS: FromClause = Event.__table__
_MASK_BITS = 62  # criteria per mask column: a signed 64-bit integer holds 62 bits plus room
NO_ACCOUNT = -1  # the account id of contacts without one, in the fit scan (ids are positive)

Progress = Callable[[str], None]


class _NoIndex(ColumnElement[Any]):
    """A column SQLite must not use an index for (``+column``): on ``occurred_at`` it would pick
    ``(name, occurred_at)`` and look up every event row for its contact id, where a covering index streams the
    groups in contact order (94 s against 6 s at 20M events). SQLite renders no table hints, and other
    databases get the plain column."""

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_NoIndex)
def _no_index_default(element: _NoIndex, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(_NoIndex, "sqlite")
def _no_index_sqlite(element: _NoIndex, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def _ranges(session: Session, parts: int) -> list[tuple[int, int]]:
    found: tuple[Any, ...] = tuple(session.execute(select(func.min(Contact.id), func.max(Contact.id))).one())
    if found[0] is None:
        return []
    low, high = int(found[0]), int(found[1])
    parts = max(1, min(parts, high - low + 1))
    step = (high - low + 1) // parts
    bounds = [low + i * step for i in range(parts)] + [high + 1]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]


# --- fit -----------------------------------------------------------------------------------------


def account_only(condition: Condition) -> bool:
    """Whether the condition tests only the contact's account (``account.*`` fields, combined any way)."""
    if isinstance(condition, AllCondition):
        return all(account_only(child) for child in condition.all_)
    if isinstance(condition, AnyCondition):
        return all(account_only(child) for child in condition.any_)
    if isinstance(condition, NotCondition):
        return account_only(condition.not_)
    return isinstance(condition, FieldCondition) and condition.ref.entity == "account"


def _masks(
    model: CompiledModel, ctx: CompileContext, account: FromClause, include: Callable[[Criterion], bool]
) -> list[ColumnElement[Any]]:
    """One integer column per 62 fit criteria: bit ``i % 62`` of column ``i // 62`` is set when criterion
    ``i`` matches; criteria not ``include``-d leave their bit 0. Account fields test ``account``."""
    ctx = replace(ctx, joined_account=account)
    masks: list[ColumnElement[Any]] = []
    for start in range(0, len(model.fit), _MASK_BITS):
        terms: list[ColumnElement[Any]] = [literal(0, BigInteger)]
        for bit, criterion in enumerate(model.fit[start : start + _MASK_BITS]):
            assert criterion.condition is not None
            if include(criterion):
                terms.append(
                    case(
                        (compile_condition(criterion.condition, ctx), literal(1 << bit, BigInteger)),
                        else_=literal(0, BigInteger),
                    )
                )
        masks.append(reduce(operator.add, terms).label(f"mask{start // _MASK_BITS}"))
    return masks


def _on_account(criterion: Criterion) -> bool:
    assert criterion.condition is not None
    return account_only(criterion.condition)


def fit_statements(model: CompiledModel, ctx: CompileContext, ranges: Sequence[tuple[int, int]]) -> list[Select[Any]]:
    """Per range of contact ids: (contact id, masks of the criteria that test the contact[, account id]).

    Criteria on the account alone are left to :func:`account_statement`; then the last column is the
    contact's account id (``NO_ACCOUNT`` for none). Each account is evaluated once instead of once per
    contact through a join: at a million contacts and 125,000 accounts, SQLite's scan took 1.9 s against
    3.6 s. A criterion mixing contact and account fields tests the account LEFT JOINed once, not an EXISTS
    per account field. (The scans run in parallel, each on its own snapshot: an account created between them
    reads as missing until the next rescore, as an event between the fit and engagement scans does.)
    """
    account = _ACCOUNTS.alias("fit_account")
    masks = _masks(model, ctx, account, lambda criterion: not _on_account(criterion))
    joined = any(account in mask._from_objects for mask in masks)
    source = _CONTACTS.outerjoin(account, account.c.id == _CONTACTS.c.account_id) if joined else _CONTACTS
    columns = [_CONTACTS.c.id, *masks]
    if any(_on_account(criterion) for criterion in model.fit):
        columns.append(func.coalesce(_CONTACTS.c.account_id, NO_ACCOUNT).label("account"))
    statements = [select(*columns).select_from(source).where(_CONTACTS.c.id.between(low, high))
                  for low, high in ranges]  # fmt: skip
    if ctx.dialect == "sqlite":  # in rowid order anyway; PostgreSQL scans the heap faster than the key (0.2 s)
        statements = [statement.order_by(_CONTACTS.c.id) for statement in statements]
    return statements


def account_statement(model: CompiledModel, ctx: CompileContext) -> Select[Any] | None:
    """(account id, masks of the criteria on the account alone) per account, and a row with id ``NO_ACCOUNT``
    for contacts without one: the same expressions over an account that is not there (a NOT of an account
    condition matches those). None when no criterion tests only the account."""
    if not any(_on_account(criterion) for criterion in model.fit):
        return None
    account = _ACCOUNTS.alias("fit_account")
    masks = _masks(model, ctx, account, _on_account)
    nothing = select(literal(1).label("one")).subquery("no_account")
    return (
        union_all(
            select(account.c.id, *masks),
            select(literal(NO_ACCOUNT, BigInteger), *masks).select_from(nothing.outerjoin(account, false())),
        )
        .subquery("accounts_fit")
        .select()
    )


def fit_facts(
    session: Session, model: CompiledModel, ctx: CompileContext, ranges: Sequence[tuple[int, int]],
    *, parallel: bool | None,
) -> tuple[Ints, Bools]:  # fmt: skip
    """The contacts that match a fit criterion (ascending ids) and which criteria each matches: the contact
    scans and, for criteria on the account alone, the account scan (:func:`gather` runs them beside the
    engagement reads instead)."""
    statements = fit_statements(model, ctx, ranges)
    accounts = account_statement(model, ctx)
    arrays = read_all(session, [*statements, *([accounts] if accounts is not None else [])], parallel=parallel)
    data = np.concatenate(arrays[: len(statements)])
    return _fit_matrix(model, data, arrays[-1] if accounts is not None else None)


def _fit_matrix(model: CompiledModel, data: Ints, accounts: Ints | None = None) -> tuple[Ints, Bools]:
    """Which criteria each contact matches, from the contact scan's rows and (criteria on the account alone)
    the account rows: its account's masks, or the ``NO_ACCOUNT`` row's when it has none or it is gone."""
    n_fit = len(model.fit)
    n_masks = (n_fit + _MASK_BITS - 1) // _MASK_BITS
    ids = data[:, 0]
    masks = data[:, 1 : 1 + n_masks]
    if accounts is not None:
        order = np.argsort(accounts[:, 0], kind="stable")
        account_ids, account_masks = accounts[order, 0], accounts[order, 1:]
        no_account = account_masks[np.searchsorted(account_ids, NO_ACCOUNT)]
        wanted = data[:, 1 + n_masks]
        at = np.minimum(np.searchsorted(account_ids, wanted), len(account_ids) - 1)
        by_contact = np.where((account_ids[at] == wanted)[:, None], account_masks[at], no_account[None, :])
        masks = masks | by_contact
    matched = np.zeros((len(ids), n_fit), dtype=np.bool_)
    for col in range(n_fit):
        matched[:, col] = (masks[:, col // _MASK_BITS] >> (col % _MASK_BITS)) & 1 == 1
    keep = matched.any(axis=1)
    return ids[keep], matched[keep]


# --- engagement ----------------------------------------------------------------------------------


def _day_key(dialect: str, occurred_at: ColumnElement[Any], today: date) -> ColumnElement[Any]:
    if dialect == "sqlite":
        # UTCDateTime stores naive UTC as 'YYYY-MM-DD HH:MM:SS[.ffffff]': the first ten characters are the day.
        return func.substr(occurred_at, 1, 10)
    return literal(today, Date) - cast(func.timezone("UTC", occurred_at), Date)


def _weights(model: CompiledModel, dialect: str, today: date) -> FromClause:
    table = model.decay.table
    if dialect == "sqlite":
        keys: list[Any] = [(today - timedelta(days=age)).isoformat() for age in range(len(table))]
        key_type: Any = String
    else:
        keys, key_type = list(range(len(table))), Integer
    rows = list(zip(keys, table, strict=True))
    return (
        values(column("day", key_type), column("w", BigInteger), name="weights", literal_binds=True)
        .data(rows)
        .cte("weights")
    )


def _weight_lookup(model: CompiledModel, occurred_at: ColumnElement[Any], today: date) -> ColumnElement[Any]:
    """PostgreSQL: an occurrence's weight looked up in an array constant by its age. A join with a table of
    weights (as on SQLite) made the planner hash-aggregate two million (name, contact) groups (3.8 s at a
    million contacts); without it the groups stream out of the (name, contact_id, occurred_at) index in
    order (2.2 s). Ages past the table read NULL, which sum() skips; the WHERE clause keeps them out anyway."""
    table = ",".join(str(w) for w in model.decay.table)
    weights = literal_column(f"(ARRAY[{table}]::bigint[])", type_=ARRAY(BigInteger))
    return weights[_day_key("postgresql", occurred_at, today) + 1]


def engagement_statements(
    model: CompiledModel,
    criteria: Sequence[Criterion],
    ctx: CompileContext,
    ranges: Sequence[tuple[int, int]],
    *,
    filtered: bool,
) -> list[Select[Any]]:
    """Occurrences and (half-life) the sum of their weights, per contact.

    Criteria without property filters: grouped by contact and event name, one row per pair with the name as
    its index in :func:`plain_names` (two aggregates per event instead of two per criterion, and the groups
    come straight out of the covering index). Criteria with filters: grouped by contact, two columns per
    criterion.
    """
    now = ensure_utc(ctx.now)
    today = now.date()
    since = model.decay.since(now)
    compiler = _Compiler(ctx)
    events = _EVENTS
    weight: ColumnElement[Any] | None = None
    source: FromClause = events
    if model.decay.kind == "half_life" and ctx.dialect == "postgresql":
        weight = _weight_lookup(model, events.c.occurred_at, today)
    elif model.decay.kind == "half_life":
        weights = _weights(model, ctx.dialect, today)
        source = events.join(weights, weights.c.day == _day_key(ctx.dialect, events.c.occurred_at, today))
        weight = weights.c.w
    names = plain_names(criteria) if not filtered else sorted({c.event for c in criteria if c.event is not None})
    columns: list[ColumnElement[Any]] = [events.c.contact_id]
    group_by: list[ColumnElement[Any]] = [events.c.contact_id]
    if filtered:
        for criterion in criteria:
            match = and_(
                events.c.name == literal(criterion.event, String),
                *[compiler.property_predicate(events.c.properties, item) for item in criterion.where],
            )
            columns.append(func.count(case((match, 1))))
            if weight is not None:
                columns.append(func.coalesce(func.sum(case((match, weight))), 0))
    else:
        columns += [case({name: i for i, name in enumerate(names)}, value=events.c.name), func.count()]
        if weight is not None:
            columns.append(func.sum(weight))
        # Grouped by name, then contact: the order of ix_events_name_contact_occurred, which holds only the
        # scored names' entries (``+occurred_at`` on SQLite keeps the non-covering (name, occurred_at) index out).
        group_by = [events.c.name, events.c.contact_id]
    name: ColumnElement[Any] = events.c.name
    occurred_at: ColumnElement[Any] = events.c.occurred_at if filtered else _NoIndex(events.c.occurred_at)
    where: list[ColumnElement[bool]] = [name.in_(names), occurred_at <= literal(now, UTCDateTime())]
    if since is not None:
        where.append(occurred_at >= literal(since, UTCDateTime()))
    return [
        select(*columns).select_from(source).where(events.c.contact_id.between(low, high), *where).group_by(*group_by)
        for low, high in ranges
    ]


def plain_names(criteria: Sequence[Criterion]) -> list[str]:
    return sorted({c.event for c in criteria if c.event is not None})


def _top_recent_statements(
    model: CompiledModel, criterion: Criterion, over: Ints, ctx: CompileContext, parallel: bool | None
) -> list[Select[Any]]:
    """Occurrences per contact and age in days of ``criterion``, for the contacts ``over`` (ascending) that
    have more than ``max_occurrences``."""
    now = ensure_utc(ctx.now)
    today = now.date()
    since = model.decay.since(now)
    compiler = _Compiler(ctx)
    events = _EVENTS
    if ctx.dialect == "sqlite":
        day = func.julianday(func.substr(events.c.occurred_at, 1, 10))
        age: ColumnElement[Any] = cast(func.julianday(literal(today.isoformat(), String)) - day, Integer)
    else:
        age = _day_key(ctx.dialect, events.c.occurred_at, today)
    where = [
        events.c.name == literal(criterion.event, String),
        events.c.occurred_at <= literal(now, UTCDateTime()),
        *[compiler.property_predicate(events.c.properties, item) for item in criterion.where],
    ]
    if since is not None:
        where.append(events.c.occurred_at >= literal(since, UTCDateTime()))
    parts = np.array_split(over, parallelism()) if parallel else [over]
    return [
        select(events.c.contact_id, age, func.count())
        .where(_one_of(events.c.contact_id, part, ctx.dialect), *where)
        .group_by(events.c.contact_id, age)
        for part in parts
        if len(part)
    ]


def _top_recent_weights(model: CompiledModel, criterion: Criterion, over: Ints, data: Ints) -> Ints:
    """The weight of the ``max_occurrences`` most recent occurrences of each contact in ``over``, from
    (contact, age, occurrences) rows: youngest counted first."""
    assert criterion.max_occurrences is not None
    result = np.zeros(len(over), dtype=np.int64)
    if not len(data):
        return result
    data = data[np.lexsort((data[:, 1], data[:, 0]))]  # by contact, youngest first
    owner, ages, counts = data[:, 0], data[:, 1], data[:, 2]
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    running = np.cumsum(counts)
    before = running - counts - np.repeat(running[starts] - counts[starts], np.diff(np.r_[starts, len(owner)]))
    counted = np.clip(criterion.max_occurrences - before, 0, counts)
    weights = counted * model.decay.weights(ages)
    sums = np.add.reduceat(weights, starts)
    result[np.searchsorted(over, owner[starts])] = sums
    return result


def _one_of(column: ColumnElement[Any], ids: Ints, dialect: str) -> ColumnElement[bool]:
    """``column IN ids`` for tens of thousands of ids: one JSON array (SQLite) or one array value
    (PostgreSQL) instead of a bound parameter per id, which SQLite limits and both parse slowly."""
    if dialect == "sqlite":
        listed = func.json_each(literal(orjson.dumps(ids.tolist()).decode(), String)).table_valued("value")
        return column.in_(select(listed.c.value))
    return column == any_(literal(ids.tolist(), ARRAY(BigInteger)))


# --- all together --------------------------------------------------------------------------------


def gather(
    session: Session,
    model: CompiledModel,
    *,
    now: datetime,
    progress: Progress | None = None,
    parallel: bool | None = None,
) -> Facts:
    """Facts for every contact that matches a fit criterion or has an occurrence of an engagement one."""
    note = progress or (lambda _phase: None)
    ctx = CompileContext.for_session(session, now=now)
    if parallel is None:
        parallel = should_parallelise(session)
    ranges = _ranges(session, partitions(session, parallel))
    if not ranges:
        return Facts.empty(model, np.zeros(0, dtype=np.int64))
    plain = [c for c in model.engagement if not c.where]
    filtered = [c for c in model.engagement if c.where]
    parts: dict[str, list[Select[Any]]] = {"fit": [], "account": [], "plain": [], "filtered": []}
    if model.fit:
        parts["fit"] = fit_statements(model, ctx, ranges)
        accounts = account_statement(model, ctx)
        parts["account"] = [] if accounts is None else [accounts]
    if plain:
        parts["plain"] = engagement_statements(model, plain, ctx, ranges, filtered=False)
    if filtered:
        parts["filtered"] = engagement_statements(model, filtered, ctx, ranges, filtered=True)
    # Interleaved, so each round of parallel readers gets a mix of the cheap and the expensive statements.
    order = [(kind, i) for i in range(len(ranges)) for kind in ("plain", "filtered", "fit") if parts[kind]]
    order += [("account", 0)] if parts["account"] else []
    note("reading contacts and events")
    arrays = read_all(session, [parts[kind][i] for kind, i in order], parallel=parallel)
    results: dict[str, list[Ints]] = {"fit": [], "account": [], "plain": [], "filtered": []}
    for (kind, _i), array in zip(order, arrays, strict=True):
        results[kind].append(array)
    n_masks = (len(model.fit) + _MASK_BITS - 1) // _MASK_BITS
    width = {"fit": 1 + n_masks + bool(parts["account"]), "account": 1 + n_masks, "plain": 3, "filtered": 1}
    data = {k: np.concatenate(v) if v else np.zeros((0, width[k]), dtype=np.int64) for k, v in results.items()}
    follow_ups = _start_max_occurrences(session, model, (plain, data["plain"]), (filtered, data["filtered"]), ctx,
                                        note, parallel)  # fmt: skip
    note("combining")
    if model.fit:
        fit_ids, matched = _fit_matrix(model, data["fit"], data["account"] if parts["account"] else None)
    else:
        fit_ids, matched = np.zeros(0, np.int64), None
    weighted = model.decay.kind == "half_life"
    plain_data = data["plain"]
    filtered_data = data["filtered"]
    ids, position = _union(fit_ids, plain_data[:, 0], filtered_data[:, 0])
    facts = Facts.empty(model, ids)
    if matched is not None and len(fit_ids):
        facts.matched[position(fit_ids)] = matched
    column = {c.index: k for k, c in enumerate(model.engagement)}
    if plain and len(plain_data):
        rows = position(plain_data[:, 0])
        occurrences = plain_data[:, 2]
        weights = plain_data[:, 3] if weighted else occurrences * WEIGHT_SCALE
        # Each row is one (contact, event name): it goes to the column of each criterion on that name, all rows
        # in one assignment per criterion a name has (usually one), not one pass over the rows per criterion.
        by_name = [[column[c.index] for c in plain if c.event == name] for name in plain_names(plain)]
        for nth in range(max(len(columns) for columns in by_name)):
            target = np.array([columns[nth] if nth < len(columns) else -1 for columns in by_name])[plain_data[:, 1]]
            keep = target >= 0
            facts.occurrences.T[target[keep], rows[keep]] = occurrences[keep]
            facts.weight.T[target[keep], rows[keep]] = weights[keep]
    if filtered and len(filtered_data):
        rows = position(filtered_data[:, 0])
        step = 2 if weighted else 1
        for j, criterion in enumerate(filtered):
            occurrences = filtered_data[:, 1 + j * step]
            facts.occurrences[rows, column[criterion.index]] = occurrences
            facts.weight[rows, column[criterion.index]] = (
                filtered_data[:, 2 + j * step] if weighted else occurrences * WEIGHT_SCALE
            )
    _apply_max_occurrences(model, facts, position, follow_ups)
    return facts


def _union(*parts: Ints) -> tuple[Ints, Callable[[Ints], Ints]]:
    """The sorted distinct ids of ``parts`` and a function from ids to their positions in it. Contact ids are
    dense, so a flag per id does in milliseconds what sorting three million ids did in half a second."""
    present = [p for p in parts if len(p)]
    if not present:
        empty = np.zeros(0, dtype=np.int64)
        return empty, lambda found: np.searchsorted(empty, found)
    low = min(int(p.min()) for p in present)
    high = max(int(p.max()) for p in present)
    if high - low > 20 * sum(len(p) for p in present) + 1_000_000:
        # Sparse ids (a sequence with long gaps): sort instead of a flag per possible id.
        sorted_ids = np.unique(np.concatenate(present)).astype(np.int64)
        return sorted_ids, lambda found: np.searchsorted(sorted_ids, found)
    flags = np.zeros(high - low + 1, dtype=np.bool_)
    for part in present:
        flags[part - low] = True
    ids = (np.flatnonzero(flags) + low).astype(np.int64)
    index = np.cumsum(flags, dtype=np.int64) - 1
    return ids, lambda found: index[found - low]


@dataclass
class _FollowUps:
    """The reads of the most recent occurrences of contacts over a half-life criterion's ``max_occurrences``:
    per criterion its column and those contacts' ids (ascending), and the reads' results to come."""

    pending: list[tuple[int, Criterion, Ints, int]]  # column, criterion, contact ids, statements
    results: Future[list[Ints]] | list[Ints]


def _start_max_occurrences(
    session: Session, model: CompiledModel, plain_read: tuple[list[Criterion], Ints],
    filtered_read: tuple[list[Criterion], Ints], ctx: CompileContext, note: Progress, parallel: bool | None,
) -> _FollowUps | None:  # fmt: skip
    """Start the follow-up reads for ``max_occurrences`` (half-life decay) from the bulk read's rows (plain and
    filtered: the criteria and the rows read for them). With
    parallel readers they run in the background while the facts are combined (0.5-0.8 s each at a million
    contacts, on other processes or the server)."""
    if model.decay.kind != "half_life":
        return None
    (plain, plain_data), (filtered, filtered_data) = plain_read, filtered_read
    step = 2  # filtered rows: contact, then count and weight sum per criterion
    pending: list[tuple[int, Criterion, Ints, int]] = []
    statements: list[Select[Any]] = []
    for col, criterion in enumerate(model.engagement):
        if criterion.max_occurrences is None:
            continue
        if criterion.where:
            counts = filtered_data[:, 1 + filtered.index(criterion) * step]
            over = np.sort(filtered_data[counts > criterion.max_occurrences, 0])
        else:
            rows = plain_data[:, 1] == plain_names(plain).index(str(criterion.event))
            over = np.sort(plain_data[rows & (plain_data[:, 2] > criterion.max_occurrences), 0])
        if not len(over):
            continue
        found = _top_recent_statements(model, criterion, over, ctx, parallel)
        pending.append((col, criterion, over, len(found)))
        statements += found
    if not statements:
        return None
    note("most recent occurrences of " + ", ".join(criterion.name for _col, criterion, _ids, _n in pending))
    if not parallel:
        return _FollowUps(pending, read_all(session, statements, parallel=False))
    # The reads use their own connections or processes (read_all), not the session's: safe beside this thread.
    pool = ThreadPoolExecutor(max_workers=1)
    results = pool.submit(read_all, session, statements, parallel=True)
    pool.shutdown(wait=False)
    return _FollowUps(pending, results)


def _apply_max_occurrences(
    model: CompiledModel, facts: Facts, position: Callable[[Ints], Ints], follow_ups: _FollowUps | None
) -> None:
    """Contacts with more occurrences than a criterion's ``max_occurrences`` count only the most recent ones
    (half-life decay: they weigh the most, read by the follow-ups)."""
    if model.decay.kind != "half_life":
        for col, criterion in enumerate(model.engagement):
            if criterion.max_occurrences is not None:
                # Every counted occurrence weighs the same: the most recent max_occurrences weigh that many.
                facts.weight[facts.occurrences[:, col] > criterion.max_occurrences, col] = (
                    criterion.max_occurrences * WEIGHT_SCALE
                )
        return
    if follow_ups is None:
        return
    arrays = follow_ups.results if isinstance(follow_ups.results, list) else follow_ups.results.result()
    at = 0
    for col, criterion, ids, count in follow_ups.pending:
        data = np.concatenate(arrays[at : at + count])
        at += count
        facts.weight[position(ids), col] = _top_recent_weights(model, criterion, ids, data)
