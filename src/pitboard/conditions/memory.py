"""Evaluate a condition tree for one contact in memory, from a :class:`ContactFacts` snapshot.

This is the interpreter for per-contact work (score one contact when an event arrives, route one lead);
``sql.py`` is the one for bulk work. Both apply the rules in ``semantics.py`` and ``stored.py`` and must
give the same answer; ``tests/integration/test_conditions_agree.py`` checks that they do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pitboard.conditions.fields import FieldKind, FieldRef
from pitboard.conditions.model import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    FieldCondition,
    NotCondition,
    PropertyFilter,
)
from pitboard.conditions.operators import property_kind
from pitboard.conditions.semantics import ascii_lower, event_window, time_range
from pitboard.conditions.stored import (
    read_boolean,
    read_date,
    read_datetime,
    read_list,
    read_number,
    read_property_present,
    read_text,
    to_decimal,
)
from pitboard.kit.time import ensure_utc


@dataclass(frozen=True)
class EventFact:
    name: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactFacts:
    """What a condition can ask about one contact.

    ``contact`` and ``account`` map standard field names to values and ``custom`` to the custom JSON
    (``account`` is None without an account); ``events`` needs to hold at least the events the tree asks
    about (see facts.py), ``segments`` the keys of the segments the contact is in.
    """

    contact: Mapping[str, Any]
    account: Mapping[str, Any] | None = None
    events: Sequence[EventFact] = ()
    segments: frozenset[str] = frozenset()


_READERS: dict[FieldKind, Callable[[Any], Any]] = {
    "text": read_text,
    "enum": read_text,
    "number": read_number,
    "boolean": read_boolean,
    "date": read_date,
    "datetime": read_datetime,
    "multi_enum": read_list,
}


def evaluate(condition: Condition, facts: ContactFacts, *, now: datetime) -> bool:
    """Does the contact described by ``facts`` match ``condition`` at time ``now``?"""
    return _Evaluator(facts, ensure_utc(now)).node(condition)


class _Evaluator:
    def __init__(self, facts: ContactFacts, now: datetime) -> None:
        self.facts = facts
        self.now = now

    def node(self, node: Condition) -> bool:
        if isinstance(node, AllCondition):
            return all(self.node(child) for child in node.all_)
        if isinstance(node, AnyCondition):
            return any(self.node(child) for child in node.any_)
        if isinstance(node, NotCondition):
            return not self.node(node.not_)
        if isinstance(node, FieldCondition):
            return self.field(node)
        if isinstance(node, EventCondition):
            return self.event(node)
        return node.in_segment in self.facts.segments

    def field(self, node: FieldCondition) -> bool:
        value = _READERS[node.ref.kind](self.raw(node.ref))
        if node.op == "is_set":
            return value is not None
        if node.op == "is_not_set":
            return value is None
        if value is None:
            return False  # every other operator needs a value (see docs/conditions.md, "Missing values")
        if node.ref.kind == "multi_enum":
            return _list_matches(value, node.op, node.value)
        return compare(node.ref.kind, value, node.op, node.value, self.now)

    def raw(self, ref: FieldRef) -> Any:
        record = self.facts.account if ref.entity == "account" else self.facts.contact
        if record is None:
            return None
        if ref.column is not None:
            return record.get(ref.column)
        custom = record.get("custom")
        return custom.get(ref.custom_key) if isinstance(custom, Mapping) else None

    def event(self, node: EventCondition) -> bool:
        window = event_window(node.within_days, self.now)
        count = 0
        for event in self.facts.events:
            if event.name != node.event:
                continue
            at = ensure_utc(event.occurred_at)
            if at > window.until or (window.since is not None and at < window.since):
                continue
            if all(_property_matches(event.properties, item, self.now) for item in node.where):
                count += 1
        return count >= node.min_count and (node.max_count is None or count <= node.max_count)


def compare(kind: FieldKind, value: Any, op: str, target: Any, now: datetime) -> bool:
    """``value op target`` for a present, typed ``value`` (what the readers in stored.py return)."""
    if kind in ("text", "enum"):
        fold: Callable[[str], str] = ascii_lower if kind == "text" else str
        return _text_matches(fold(value), op, target, fold)
    if kind == "number":
        return _number_matches(value, op, target)
    if kind == "boolean":
        return bool(value == target) if op == "eq" else bool(value != target)
    return time_range(kind, op, target, now).contains(value)


def _text_matches(value: str, op: str, target: Any, fold: Callable[[str], str]) -> bool:
    if op in ("in", "not_in"):
        found = value in {fold(t) for t in target}
        return found if op == "in" else not found
    wanted = fold(target)
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: value == wanted,
        "neq": lambda: value != wanted,
        "contains": lambda: wanted in value,
        "starts_with": lambda: value.startswith(wanted),
        "ends_with": lambda: value.endswith(wanted),
    }
    return checks[op]()


def _number_matches(value: Any, op: str, target: Any) -> bool:
    if op in ("in", "not_in"):
        found = value in {to_decimal(t) for t in target}
        return found if op == "in" else not found
    if op == "between":
        return bool(to_decimal(target[0]) <= value <= to_decimal(target[1]))
    wanted = to_decimal(target)
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: value == wanted,
        "neq": lambda: value != wanted,
        "gt": lambda: value > wanted,
        "gte": lambda: value >= wanted,
        "lt": lambda: value < wanted,
        "lte": lambda: value <= wanted,
    }
    return checks[op]()


def _list_matches(items: list[Any], op: str, target: Any) -> bool:
    # Only string elements count, as in SQL (a stray 1 in the array never equals the option "1").
    present = {item for item in items if isinstance(item, str)}
    if op == "contains":
        return target in present
    if op == "any_of":
        return any(t in present for t in target)
    return all(t in present for t in target)


def _property_matches(properties: Mapping[str, Any], item: PropertyFilter, now: datetime) -> bool:
    raw = properties.get(item.property) if isinstance(properties, Mapping) else None
    if item.op in ("is_set", "is_not_set"):
        return read_property_present(raw) == (item.op == "is_set")
    kind = property_kind(item.op, item.value)
    assert kind is not None
    value = _READERS[kind](raw)
    return value is not None and compare(kind, value, item.op, item.value, now)
