"""Journeys from the database: the touchpoints before each opportunity, ready for ``attribution.py``.

- **Goal** ``pipeline``: opportunities opened in the period, amount = the opportunity amount, the journey ends
  when the opportunity opened. ``bookings``: opportunities won in the period, the journey ends at the close.
- **Touches** are events with a channel (tracked with UTM or a referrer, or imported activity) of the
  opportunity's contact and, with ``accounts=True`` (the B2B default), of every contact at its account, within
  ``lookback_days`` before the end of the journey.
- **Milestones**: the lead-creation touch is the last touch at or before the contact first entered the lead
  stage (or was created, without stage history); the opportunity-creation touch the last at or before the
  opportunity opened; the closing touch the last at or before a won deal closed.
- **Non-converting journeys** (for Markov and Shapley) are the other contacts with touches in the period.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import ensure_utc
from pitboard.measurement.attribution import Journeys
from pitboard.measurement.registry import Period
from pitboard.models import Campaign, Contact, Event, LifecycleStageChange, Opportunity

Goal = Literal["pipeline", "bookings"]
Level = Literal["channel", "campaign"]
NO_CHANNEL = "(no channel)"
NO_CAMPAIGN = "(no campaign)"
CHUNK = 2000


@dataclass(frozen=True)
class _Touch:
    at: float
    label: str


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _ts(value: datetime) -> float:
    return ensure_utc(value).timestamp()


def load_journeys(
    session: Session,
    period: Period,
    *,
    goal: Goal = "pipeline",
    level: Level = "channel",
    lookback_days: int = 90,
    accounts: bool = True,
    non_converting: bool = False,
    touch_cache: dict[Any, Any] | None = None,
    rates: dict[str, float] | None = None,
) -> Journeys:
    if goal not in ("pipeline", "bookings"):
        raise ValidationFailed("goal must be pipeline or bookings")
    if level not in ("channel", "campaign"):
        raise ValidationFailed("level must be channel or campaign")
    if not 1 <= lookback_days <= 730:
        raise ValidationFailed("lookback_days must be between 1 and 730")
    o = Opportunity
    stmt = select(o.id, o.contact_id, o.account_id, o.amount, o.currency, o.opened_at, o.closed_at, o.is_won)
    if goal == "pipeline":
        stmt = stmt.where(o.opened_at >= period.since, o.opened_at < period.until)
    else:
        stmt = stmt.where(o.is_won.is_(True), o.closed_at >= period.since, o.closed_at < period.until)
    opps = session.execute(stmt.order_by(o.id)).all()

    account_ids = sorted({r.account_id for r in opps if accounts and r.account_id is not None})
    members: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(account_ids):
        for cid, aid in session.execute(select(Contact.id, Contact.account_id).where(Contact.account_id.in_(chunk))):
            if aid is not None:
                members[aid].append(cid)
    contact_sets: list[set[int]] = []
    for r in opps:
        people = set(members.get(r.account_id, [])) if accounts and r.account_id is not None else set()
        if r.contact_id is not None:
            people.add(r.contact_id)
        contact_sets.append(people)
    wanted = sorted(set().union(*contact_sets)) if contact_sets else []
    lookback = timedelta(days=lookback_days)
    earliest = period.since - lookback
    touches = _cached_touches(session, wanted, earliest, period.until, level, touch_cache)
    lead_at = _lead_times(session, sorted({r.contact_id for r in opps if r.contact_id is not None}))

    paths: list[list[_Touch]] = []
    ends: list[float] = []
    amounts: list[int] = []
    leads: list[int] = []
    opp_pos: list[int] = []
    closes: list[int] = []
    for r, people in zip(opps, contact_sets, strict=True):
        end = _ts(r.opened_at if goal == "pipeline" else r.closed_at)
        start = end - lookback.total_seconds()
        path = sorted((t for c in people for t in touches.get(c, ()) if start <= t.at <= end), key=lambda t: t.at)
        times = [t.at for t in path]
        lead_time = lead_at.get(r.contact_id) if r.contact_id is not None else None
        paths.append(path)
        ends.append(end)
        # In the reporting currency, as the money metrics; a currency without a rate credits no amount (the
        # conversion still counts), so credits add up to the pipeline and bookings metrics either way.
        rate = (rates or {"USD": 1.0}).get(str(r.currency or "USD").upper())
        amounts.append(round(float(r.amount or 0) * rate * 100) if rate is not None else 0)
        leads.append(bisect_right(times, lead_time) - 1 if lead_time is not None else -1)
        opp_pos.append(bisect_right(times, _ts(r.opened_at)) - 1)
        closes.append(bisect_right(times, _ts(r.closed_at)) - 1 if goal == "bookings" and r.closed_at else -1)
    converted = [True] * len(opps)
    keys: list[object] = [r.id for r in opps]

    if non_converting:
        buying = set(wanted)
        others = _touches_in_window(session, earliest, period.until, level, exclude=buying)
        until = period.until.timestamp()
        for contact_id, path in sorted(others.items()):
            paths.append(sorted(path, key=lambda t: t.at))
            ends.append(until)
            amounts.append(0)
            leads.append(-1)
            opp_pos.append(-1)
            closes.append(-1)
            converted.append(False)
            keys.append(f"contact:{contact_id}")
    return _build(paths, ends, amounts, converted, leads, opp_pos, closes, keys)


def _build(paths: list[list[_Touch]], ends: list[float], amounts: list[int], converted: list[bool],
           leads: list[int], opps: list[int], closes: list[int], keys: list[object]) -> Journeys:  # fmt: skip
    labels: list[str] = []
    index: dict[str, int] = {}
    flat: list[int] = []
    at: list[float] = []
    offsets = [0]
    for path in paths:
        for t in path:
            code = index.get(t.label)
            if code is None:
                code = index[t.label] = len(labels)
                labels.append(t.label)
            flat.append(code)
            at.append(t.at)
        offsets.append(len(flat))
    return Journeys(
        labels=labels, offsets=np.asarray(offsets, dtype=np.int64), label=np.asarray(flat, dtype=np.int64),
        at=np.asarray(at, dtype=np.float64), end=np.asarray(ends, dtype=np.float64),
        amount_cents=np.asarray(amounts, dtype=np.int64), converted=np.asarray(converted, dtype=np.bool_),
        lead=np.asarray(leads, dtype=np.int64), opportunity=np.asarray(opps, dtype=np.int64),
        close=np.asarray(closes, dtype=np.int64), keys=keys,
    )  # fmt: skip


def _campaign_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Campaign.id, Campaign.name)).all())


def _label(level: Level, channel: str | None, campaign_id: int | None, names: dict[int, str]) -> str:
    if level == "channel":
        return channel or NO_CHANNEL
    return names.get(campaign_id, NO_CAMPAIGN) if campaign_id is not None else NO_CAMPAIGN


def epoch_seconds(session: Session, column: Any) -> Any:
    """A timestamp column as seconds since 1970 computed by the database (no per-row datetime objects)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _cached_touches(session: Session, contact_ids: Sequence[int], since: datetime, until: datetime, level: Level,
                    cache: dict[Any, Any] | None) -> dict[int, list[_Touch]]:  # fmt: skip
    """Touches per contact, reusing those a previous load of the same window read (pipeline and bookings of one
    dashboard share most buyers)."""
    if cache is None:
        return _touches(session, contact_ids, since, until, level)
    loaded, known = cache.setdefault((level, since, until), (set(), defaultdict(list)))
    missing = [c for c in contact_ids if c not in loaded]
    for cid, found in _touches(session, missing, since, until, level).items():
        known[cid] = found
    loaded.update(missing)
    return {c: known[c] for c in contact_ids if c in known}


def _touches(session: Session, contact_ids: Sequence[int], since: datetime, until: datetime,
             level: Level) -> dict[int, list[_Touch]]:  # fmt: skip
    names = _campaign_names(session) if level == "campaign" else {}
    out: dict[int, list[_Touch]] = defaultdict(list)
    e = Event
    seconds = epoch_seconds(session, e.occurred_at)
    for chunk in _chunks(contact_ids):
        stmt = select(e.contact_id, seconds, e.channel, e.campaign_id).where(
            e.contact_id.in_(chunk), e.channel.is_not(None), e.occurred_at >= since, e.occurred_at < until
        )
        for cid, at, channel, campaign_id in session.execute(stmt):
            if cid is not None:
                out[cid].append(_Touch(float(at), _label(level, channel, campaign_id, names)))
    return out


def _touches_in_window(session: Session, since: datetime, until: datetime, level: Level,
                       *, exclude: set[int]) -> dict[int, list[_Touch]]:  # fmt: skip
    names = _campaign_names(session) if level == "campaign" else {}
    out: dict[int, list[_Touch]] = defaultdict(list)
    e = Event
    stmt = select(e.contact_id, epoch_seconds(session, e.occurred_at), e.channel, e.campaign_id).where(
        e.contact_id.is_not(None), e.channel.is_not(None), e.occurred_at >= since, e.occurred_at < until
    )
    for cid, at, channel, campaign_id in session.execute(stmt.execution_options(yield_per=20_000)):
        if cid is not None and cid not in exclude:
            out[cid].append(_Touch(float(at), _label(level, channel, campaign_id, names)))
    return out


def _lead_times(session: Session, contact_ids: Sequence[int]) -> dict[int, float]:
    """When each contact first entered the lead stage, or was created when it has no stage history."""
    out: dict[int, float] = {}
    c = LifecycleStageChange
    for chunk in _chunks(contact_ids):
        for cid, created in session.execute(select(Contact.id, Contact.created_at).where(Contact.id.in_(chunk))):
            out[cid] = _ts(created)
        stmt = (
            select(c.contact_id, func.min(c.changed_at))
            .where(c.contact_id.in_(chunk), c.to_stage == "lead")
            .group_by(c.contact_id)
        )
        for cid, at in session.execute(stmt):
            out[cid] = _ts(at)
    return out
