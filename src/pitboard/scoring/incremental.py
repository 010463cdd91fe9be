"""Facts for a few contacts, gathered in memory: fit conditions through ``conditions.load_facts`` and
``evaluate``, engagement from the contacts' events read once for every model.

This is the interpreter the ``contacts.changed`` listener uses after an event; ``bulk`` is the one for every
contact. Both hand :class:`~pitboard.scoring.calc.Facts` to the same ``calc.compute``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.conditions import AnyCondition, Condition, ContactFacts, evaluate, load_facts
from pitboard.conditions.memory import _property_matches  # the where-filter semantics, shared with conditions
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, Event
from pitboard.scoring.calc import Facts
from pitboard.scoring.model import CompiledModel, age_days

_CHUNK = 500


@dataclass(frozen=True)
class _Event:
    contact_id: int
    name: str
    age: int
    properties: Mapping[str, Any]


def gather(
    session: Session, models: Sequence[CompiledModel], contact_ids: Sequence[int], *, now: datetime
) -> dict[str, Facts]:
    """Facts per model key for the contacts that exist among ``contact_ids``."""
    now = ensure_utc(now)
    ids = sorted(set(contact_ids))
    matched, loaded = _fit(session, models, ids, now)
    # The fit's load of each contact tells which exist; without fit criteria, ask.
    ids = loaded if loaded is not None else _existing(session, ids)
    events = _events(session, models, ids, now)
    out: dict[str, Facts] = {}
    for model in models:
        facts = Facts.empty(model, np.asarray(ids, dtype=np.int64))
        for row, contact_id in enumerate(ids):
            for col in range(len(model.fit)):
                facts.matched[row, col] = matched.get((contact_id, model.key, col), False)
            _engagement(model, events.get(contact_id, []), facts, row)
        out[model.key] = facts
    return out


def _existing(session: Session, ids: list[int]) -> list[int]:
    found: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found += [int(i) for i in session.scalars(select(Contact.id).where(Contact.id.in_(chunk)))]
    return sorted(found)


def _fit(
    session: Session, models: Sequence[CompiledModel], ids: list[int], now: datetime
) -> tuple[dict[tuple[int, str, int], bool], list[int] | None]:
    """Which fit criteria each contact matches, and the contacts of ``ids`` that exist (None: no model has fit
    criteria, so no contact was loaded)."""
    trees = [t for t in (m.fit_tree() for m in models) if t is not None]
    if not trees:
        return {}, None
    # One load serves every model: facts loaded for a tree serve any part of it.
    # construct, not validate: the children were validated against the field registry already, and
    # validating them again without it would reject their custom fields.
    tree: Condition = trees[0] if len(trees) == 1 else AnyCondition.model_construct(any_=trees)
    out: dict[tuple[int, str, int], bool] = {}
    loaded: list[int] = []
    for contact_id in ids:
        facts: ContactFacts | None = load_facts(session, contact_id, tree, now=now)
        if facts is None:
            continue
        loaded.append(contact_id)
        for model in models:
            for col, criterion in enumerate(model.fit):
                assert criterion.condition is not None
                out[(contact_id, model.key, col)] = evaluate(criterion.condition, facts, now=now)
    return out, loaded


def _events(
    session: Session, models: Sequence[CompiledModel], ids: list[int], now: datetime
) -> dict[int, list[_Event]]:
    names = sorted({name for m in models for name in m.event_names()})
    if not names or not ids:
        return {}
    sinces = [m.decay.since(now) for m in models if m.engagement]
    since = None if any(s is None for s in sinces) else min(s for s in sinces if s is not None)
    with_properties = any(c.where for m in models for c in m.engagement)
    columns: list[Any] = [Event.contact_id, Event.name, Event.occurred_at]
    if with_properties:
        columns.append(Event.properties)
    today = now.date()
    out: dict[int, list[_Event]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = select(*columns).where(Event.contact_id.in_(chunk), Event.name.in_(names), Event.occurred_at <= now)
        if since is not None:
            stmt = stmt.where(Event.occurred_at >= since)
        # Newest first: with max_occurrences the most recent occurrences are the ones that count.
        stmt = stmt.order_by(Event.contact_id, Event.occurred_at.desc())
        for row in session.execute(stmt):
            properties = row[3] if with_properties and isinstance(row[3], dict) else {}
            out.setdefault(int(row[0]), []).append(_Event(int(row[0]), str(row[1]), age_days(today, row[2]),
                                                          properties))  # fmt: skip
    return out


def _engagement(model: CompiledModel, events: list[_Event], facts: Facts, row: int) -> None:
    horizon = model.decay.horizon_days
    for col, criterion in enumerate(model.engagement):
        occurrences = 0
        weight = 0
        for event in events:  # newest first
            if event.name != criterion.event or (horizon is not None and event.age >= horizon):
                continue
            # The filters read properties as the condition language does; ``now`` only matters to time
            # operators, which property filters do not have.
            if not all(_property_matches(event.properties, item, _EPOCH) for item in criterion.where):
                continue
            occurrences += 1
            if criterion.max_occurrences is None or occurrences <= criterion.max_occurrences:
                weight += model.decay.weight(event.age)
        facts.occurrences[row, col] = occurrences
        facts.weight[row, col] = weight


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
