"""Compile a condition tree into one SQLAlchemy boolean over ``contacts``, for bulk work::

    ctx = CompileContext.for_session(session, now=utcnow(), segment_members=segments.members_query)
    ids = session.scalars(select(Contact.id).where(compile_condition(tree, ctx)))

Account fields become correlated EXISTS over ``accounts``, event conditions correlated aggregates over
``events`` that the ``(contact_id, occurred_at)`` index serves, segments an EXISTS over the resolver's
query. Every leaf is two-valued (true or false, never NULL), so ``not`` is plain negation, as in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    FromClause,
    Select,
    SelectBase,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy import not_ as sql_not
from sqlalchemy.orm import Session

from pitboard.conditions.fields import FieldKind, FieldRef
from pitboard.conditions.model import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    FieldCondition,
    NotCondition,
    PropertyFilter,
    SegmentCondition,
)
from pitboard.conditions.operators import property_kind
from pitboard.conditions.semantics import ascii_lower, event_window, time_range
from pitboard.conditions.sql_dialects import DialectOps, Doc, dialect_ops
from pitboard.conditions.stored import to_decimal
from pitboard.kit.db import UTCDateTime
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Account, Contact, Event

Expr = ColumnElement[Any]
# Core tables, not ORM entities: an aliased entity adapts every column it hands out, and that was half the
# time it took to build an expression.
_CONTACTS: FromClause = Contact.__table__
_ACCOUNTS: FromClause = Account.__table__
_EVENTS: FromClause = Event.__table__
SegmentResolver = Callable[[str], SelectBase]
"""``segment_members(key)``: a SELECT (or UNION, or textual SELECT) of one column: the ids of the contacts in
segment ``key``."""


class ConditionCompileError(ValueError):
    pass


@dataclass(frozen=True)
class CompileContext:
    """What a compiled condition depends on besides the tree: the database, the clock and the segments."""

    dialect: str
    now: datetime
    segment_members: SegmentResolver | None = None
    # The contact's account, LEFT JOINed by the caller's FROM clause (``accounts.id = contacts.account_id``):
    # account fields then test its columns instead of a correlated EXISTS per condition. A full rescore's fit
    # scan evaluates several account criteria per contact; one join serves them all.
    joined_account: FromClause | None = None

    @classmethod
    def for_session(
        cls, session: Session, *, now: datetime | None = None, segment_members: SegmentResolver | None = None
    ) -> CompileContext:
        return cls(session.get_bind().dialect.name, ensure_utc(now or utcnow()), segment_members)


def compile_condition(condition: Condition, ctx: CompileContext) -> ColumnElement[bool]:
    """A boolean SQL expression over :class:`Contact` that is true exactly for the matching contacts."""
    return _Compiler(ctx).node(condition)


def matching_contacts(condition: Condition, ctx: CompileContext) -> Select[Any]:
    """``SELECT contacts.id WHERE <condition>`` (ordered by id)."""
    return select(Contact.id).where(compile_condition(condition, ctx)).order_by(Contact.id)


def _like_pattern(op: str, text: str) -> str:
    # The user's %, _ and \ are literal characters: escape them for LIKE ... ESCAPE '\'.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"contains": f"%{escaped}%", "starts_with": f"{escaped}%", "ends_with": f"%{escaped}"}[op]


def _two_valued(predicate: Expr) -> Expr:
    """NULL (a missing value) becomes false, so that NOT of the result means "does not match"."""
    return func.coalesce(predicate, false())


class _Compiler:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.now = ensure_utc(ctx.now)
        self.ops: DialectOps = dialect_ops(ctx.dialect)

    def node(self, node: Condition) -> Expr:
        if isinstance(node, AllCondition):
            return and_(*[self.node(child) for child in node.all_])
        if isinstance(node, AnyCondition):
            return or_(*[self.node(child) for child in node.any_])
        if isinstance(node, NotCondition):
            return sql_not(self.node(node.not_))
        if isinstance(node, FieldCondition):
            return self.field(node)
        if isinstance(node, EventCondition):
            return self.event(node)
        return self.segment(node)

    # --- fields ------------------------------------------------------------------------------------

    def field(self, node: FieldCondition) -> Expr:
        ref = node.ref
        # "not set" is the one operator a missing value satisfies; it is the negation of "set", so an
        # account field is not set on a contact without an account, too.
        op, negate = ("is_set", True) if node.op == "is_not_set" else (node.op, False)
        if ref.entity == "account" and self.ctx.joined_account is not None:
            joined = self.ctx.joined_account
            # The join found the account (ids are unique, so at most one row): EXISTS, without the subquery.
            # Never NULL, as EXISTS is never NULL: a NULL would turn a NOT around it into no match.
            found_row = and_(joined.c.id.is_not(None), self.field_predicate(ref, op, node.value, joined))
            result: Expr = func.coalesce(found_row, false())
        elif ref.entity == "account":
            account = _ACCOUNTS.alias()
            predicate = self.field_predicate(ref, op, node.value, account)
            found: Select[Any] = (
                select(literal_column("1")).select_from(account).where(account.c.id == _CONTACTS.c.account_id)
            )
            result = exists(found.where(predicate).correlate(_CONTACTS))
        else:
            result = self.field_predicate(ref, op, node.value, _CONTACTS)
        return sql_not(result) if negate else result

    def field_predicate(self, ref: FieldRef, op: str, value: Any, table: FromClause) -> Expr:
        if ref.kind == "multi_enum":
            return self.list_predicate(ref, op, value, table)
        operand = self.operand(ref, table)
        if op == "is_set":
            return operand.is_not(None)
        return self.compare(ref.kind, operand, op, value)

    def operand(self, ref: FieldRef, table: FromClause) -> Expr:
        """The field's typed value, NULL when missing (see stored.py for what counts as missing)."""
        if ref.column is not None:
            column = table.c[ref.column]
            return func.nullif(column, "") if ref.kind == "text" else column
        doc, key = table.c.custom, ref.custom_key or ""
        reader = {
            "text": self.ops.json_text,
            "enum": self.ops.json_text,
            "number": self.ops.json_number,
            "boolean": self.ops.json_boolean,
            "date": self.ops.json_date,
            "datetime": self.ops.json_datetime,
        }[ref.kind]
        return reader(doc, key)

    def list_predicate(self, ref: FieldRef, op: str, value: Any, table: FromClause) -> Expr:
        doc, key = table.c.custom, ref.custom_key or ""
        if op == "is_set":
            return _two_valued(self.ops.json_list_set(doc, key))
        values = [value] if op == "contains" else list(value)
        return _two_valued(self.ops.json_list_has(doc, key, values, every=op == "all_of"))

    def compare(self, kind: FieldKind, operand: Expr, op: str, value: Any) -> Expr:
        """``operand op value`` for a set operand; false when the operand is NULL (missing)."""
        if kind in ("text", "enum"):
            predicate = self._text(kind, operand, op, value)
        elif kind == "number":
            predicate = self._number(operand, op, value)
        elif kind == "boolean":
            flag = literal(value, Boolean)
            predicate = operand == flag if op == "eq" else operand != flag
        else:
            predicate = self._time(kind, operand, op, value)
        return _two_valued(predicate)

    def _text(self, kind: FieldKind, operand: Expr, op: str, value: Any) -> Expr:
        # Text compares with A-Z folded (see semantics.ascii_lower); enum options compare exactly.
        fold: Callable[[str], str] = ascii_lower if kind == "text" else str
        if kind == "text":
            operand = self.ops.ascii_lower(operand)
        if op in ("in", "not_in"):
            values = sorted({fold(v) for v in value})
            return operand.in_(values) if op == "in" else operand.not_in(values)
        if op in ("eq", "neq"):
            target = literal(fold(value), String)
            return operand == target if op == "eq" else operand != target
        return operand.like(literal(_like_pattern(op, fold(value)), String), escape="\\")

    def _number(self, operand: Expr, op: str, value: Any) -> Expr:
        bind = self.ops.number_literal
        if op in ("in", "not_in"):
            items = [bind(to_decimal(v)) for v in value]
            return operand.in_(items) if op == "in" else operand.not_in(items)
        if op == "between":
            return operand.between(bind(to_decimal(value[0])), bind(to_decimal(value[1])))
        target = bind(to_decimal(value))
        comparisons: dict[str, Callable[[], Expr]] = {
            "eq": lambda: operand == target,
            "neq": lambda: operand != target,
            "gt": lambda: operand > target,
            "gte": lambda: operand >= target,
            "lt": lambda: operand < target,
            "lte": lambda: operand <= target,
        }
        return comparisons[op]()

    def _time(self, kind: FieldKind, operand: Expr, op: str, value: Any) -> Expr:
        span = time_range(kind, op, value, self.now)

        def bind(point: date | datetime) -> Expr:
            # Bind with the type the operand compares as: UTCDateTime stores naive UTC text on SQLite,
            # the same form json_datetime produces there.
            return literal(point, UTCDateTime()) if kind == "datetime" else literal(point, Date)

        parts: list[Expr] = []
        if span.lo is not None:
            parts.append(operand >= bind(span.lo) if span.lo_inclusive else operand > bind(span.lo))
        if span.hi is not None:
            parts.append(operand <= bind(span.hi) if span.hi_inclusive else operand < bind(span.hi))
        inside = and_(*parts)
        return sql_not(inside) if span.outside else inside

    # --- events ------------------------------------------------------------------------------------

    def event(self, node: EventCondition) -> Expr:
        events = _EVENTS.alias()
        window = event_window(node.within_days, self.now)
        # contact_id =, name = and a range on occurred_at: one range scan of ix_events_contact_name_occurred
        # or ix_events_name_contact_occurred (SQLite picks either: both are covering with the same key use).
        where: list[Expr] = [
            events.c.contact_id == _CONTACTS.c.id,
            events.c.occurred_at <= literal(window.until, UTCDateTime()),
        ]
        if window.since is not None:
            where.append(events.c.occurred_at >= literal(window.since, UTCDateTime()))
        where.append(events.c.name == literal(node.event, String))
        where += [self.property_predicate(events.c.properties, item) for item in node.where]
        found: Select[Any] = select(literal_column("1")).select_from(events).where(*where).correlate(_CONTACTS)
        if node.max_count is None and node.min_count == 1:
            return exists(found)
        if node.max_count == 0:
            return sql_not(exists(found))
        count = select(func.count()).select_from(events).where(*where).correlate(_CONTACTS).scalar_subquery()
        bounds: list[Expr] = []
        if node.min_count > 0:
            bounds.append(count >= node.min_count)
        if node.max_count is not None:
            bounds.append(count <= node.max_count)
        return and_(*bounds)

    def property_predicate(self, doc: Doc, item: PropertyFilter) -> Expr:
        if item.op in ("is_set", "is_not_set"):
            present = _two_valued(self.ops.json_present(doc, item.property))
            return present if item.op == "is_set" else sql_not(present)
        kind = property_kind(item.op, item.value)
        reader = {"text": self.ops.json_text, "number": self.ops.json_number, "boolean": self.ops.json_boolean}
        assert kind is not None
        return self.compare(kind, reader[kind](doc, item.property), item.op, item.value)

    # --- segments ----------------------------------------------------------------------------------

    def segment(self, node: SegmentCondition) -> Expr:
        if self.ctx.segment_members is None:
            raise ConditionCompileError(f"in_segment {node.in_segment}: no segment resolver in the compile context")
        members = self.ctx.segment_members(node.in_segment).subquery()
        member_id = next(iter(members.c))
        # EXISTS rather than IN: a NULL id in the resolver's result would make NOT IN unknown for everyone.
        found: Select[Any] = select(literal_column("1")).select_from(members).where(member_id == _CONTACTS.c.id)
        return exists(found.correlate(_CONTACTS))
