"""What would a scoring change do? Replay the history under the applied and the proposed models.

For the end of every month from ``since`` to ``until``, each contact's total is computed from its events up
to that moment (vectorised: the events are read once per criterion as counts per contact and UTC day, and
every month end reuses them). A contact **becomes an MQL** in the first month its total rises from below a
threshold that sets the MQL stage (the lifecycle's ``score_threshold_stage``) to it or above, while its real
stage at the start of that month allowed the move (forward only, from the history of stage changes). The report counts
those per month under the applied models and under the proposed ones, lists the contacts only one of them
makes MQLs (count and a sample), and how sales treated each group in reality: the share that went on to a
later ladder stage (sal, sql, opportunity, customer) or got an opportunity since ``since``.

Assumptions, stated in the report's notes: fit criteria read the contact and account fields as they are
today (pitboard keeps no history of field values; event conditions and relative dates in fit criteria are
evaluated as of each month end); contacts count from the day they were created.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from pitboard.conditions import CompileContext, EventCondition, FieldCondition, condition_to_data, load_field_registry
from pitboard.conditions.facts import walk
from pitboard.conditions.operators import Duration
from pitboard.conditions.sql import _Compiler
from pitboard.kit.db import UTCDateTime
from pitboard.kit.time import utcnow
from pitboard.lifecycle.schemas import LifecycleSpec
from pitboard.models import Contact, Event, LifecycleStageChange, Opportunity
from pitboard.scoring.bulk import _NoIndex, _ranges, fit_facts
from pitboard.scoring.calc import Facts, Ints, compute
from pitboard.scoring.model import CompiledModel, Criterion, compile_model, load_active
from pitboard.scoring.reading import partitions, read_all, should_parallelise
from pitboard.scoring.schemas import ScoringModelSpec

_EPOCH = date(1970, 1, 1)
SAMPLE = 20


@dataclass(frozen=True)
class Acceptance:
    leads: int
    accepted: int  # went on to a later ladder stage or got an opportunity

    @property
    def rate(self) -> float | None:
        return self.accepted / self.leads if self.leads else None

    def to_dict(self) -> dict[str, Any]:
        return {"leads": self.leads, "accepted": self.accepted, "rate": self.rate}


@dataclass
class SimulationReport:
    stage: str
    months: list[str]
    current: list[int]  # new MQLs per month under the applied models
    proposed: list[int]  # ... under the proposed ones
    gained: int = 0  # contacts only the proposed models make MQLs in the period
    lost: int = 0  # ... only the applied ones
    gained_sample: list[dict[str, Any]] = field(default_factory=list)
    lost_sample: list[dict[str, Any]] = field(default_factory=list)
    acceptance: dict[str, Acceptance] = field(default_factory=dict)  # current, proposed, gained, lost
    contacts: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "months": self.months, "current": self.current, "proposed": self.proposed,
            "gained": self.gained, "lost": self.lost, "gained_sample": self.gained_sample,
            "lost_sample": self.lost_sample, "acceptance": {k: v.to_dict() for k, v in self.acceptance.items()},
            "contacts": self.contacts, "seconds": round(self.seconds, 2), "notes": self.notes,
        }  # fmt: skip


def month_ends(since: date, until: date) -> list[tuple[str, date]]:
    """(label, last day counted) for every month from ``since``'s to ``until``'s; the last is ``until``."""
    out = []
    month = date(since.year, since.month, 1)
    while month <= until:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        out.append((month.strftime("%Y-%m"), min(following - timedelta(days=1), until)))
        month = following
    return out


def _instant(day: date, now: datetime) -> datetime:
    """The end of ``day`` (UTC), or ``now`` when that is earlier."""
    end = datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=UTC)
    return min(end, now)


def _day_number(dialect: str, column: Any) -> ColumnElement[Any]:
    """Days since 1970-01-01 of a UTCDateTime column's UTC day."""
    if dialect == "sqlite":
        return cast(func.julianday(func.substr(column, 1, 10)) - 2440587.5, Integer)
    return cast(func.timezone("UTC", column), Date) - literal(_EPOCH, Date)


def _seconds(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    return cast(extract("epoch", column), BigInteger)


def _time_dependent(model: CompiledModel) -> bool:
    """Whether the fit criteria read events or relative dates: then they are evaluated as of every month end."""
    for criterion in model.fit:
        assert criterion.condition is not None
        for node in walk(criterion.condition):
            if isinstance(node, EventCondition):
                return True
            if isinstance(node, FieldCondition) and isinstance(node.value, Duration):
                return True
    return False


class _History:
    """Everything read once and shared by every model and month end."""

    def __init__(self, session: Session, spec: LifecycleSpec, parallel: bool) -> None:
        dialect = session.get_bind().dialect.name
        self.session, self.dialect, self.parallel = session, dialect, parallel
        names = list(spec.names)
        code = case({n: i for i, n in enumerate(names)}, value=LifecycleStageChange.to_stage, else_=-1)
        created, changes = read_all(
            session,
            [
                select(Contact.id, _day_number(dialect, Contact.created_at)),
                select(LifecycleStageChange.contact_id, _seconds(dialect, LifecycleStageChange.changed_at), code),
            ],
            parallel=parallel,
        )
        order = np.argsort(created[:, 0])
        self.ids: Ints = created[order, 0]
        self.created_day: Ints = created[order, 1]
        changes = changes[np.isin(changes[:, 0], self.ids)]
        changes = changes[np.lexsort((changes[:, 1], changes[:, 0]))]
        self.change_key: Ints = np.searchsorted(self.ids, changes[:, 0]) * (1 << 40) + changes[:, 1]
        self.change_stage: Ints = changes[:, 2]
        self.change_owner: Ints = np.searchsorted(self.ids, changes[:, 0])
        self.change_at: Ints = changes[:, 1]
        self.rows: dict[str, Ints] = {}
        self.fit: dict[tuple[Any, ...], Any] = {}

    def stage_codes_at(self, instant: datetime) -> Ints:
        """Each contact's stage (index into the definition's names) at ``instant``; -2 without history."""
        if not len(self.change_key):
            return np.full(len(self.ids), -2, dtype=np.int64)
        seconds = int(instant.timestamp())
        wanted = np.arange(len(self.ids), dtype=np.int64) * (1 << 40) + seconds
        position = np.searchsorted(self.change_key, wanted, side="right") - 1
        found = (position >= 0) & (self.change_key[np.maximum(position, 0)] >> 40 == np.arange(len(self.ids)))
        return np.where(found, self.change_stage[np.maximum(position, 0)], -2)


def _plain_rows(history: _History, names: list[str], first: date, last_instant: datetime) -> None:
    """Every event of these names in the period, read in one pass over the covering index and kept per name
    as (contact position, day number, occurrences) rows: criteria without property filters of every model
    compared share them."""
    wanted = [n for n in names if _signature(n, (), first) not in history.rows]
    if not wanted:
        return
    session, dialect = history.session, history.dialect
    events = Event.__table__
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    code = case({name: i for i, name in enumerate(wanted)}, value=events.c.name)
    ranges = _ranges(session, partitions(session, history.parallel))
    statements = [
        select(events.c.contact_id, code, _day_number(dialect, events.c.occurred_at)).where(
            events.c.contact_id.between(low, high),
            _NoIndex(events.c.name).in_(wanted),
            _NoIndex(events.c.occurred_at) <= literal(last_instant, UTCDateTime()),
            _NoIndex(events.c.occurred_at) >= literal(start, UTCDateTime()),
        )
        for low, high in ranges
    ]
    parts = read_all(session, statements, parallel=history.parallel)
    data = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    data = data[np.isin(data[:, 0], history.ids)]
    for i, name in enumerate(wanted):
        own = data[data[:, 1] == i]
        history.rows[_signature(name, (), first)] = _per_day(history, own[:, 0], own[:, 2], np.ones(len(own), np.int64))


def _signature(event: str | None, where: tuple[Any, ...], first: date) -> str:
    return orjson.dumps([event, [w.model_dump(mode="json") for w in where], first.isoformat()]).decode()


def _per_day(history: _History, contact_ids: Ints, days: Ints, counts: Ints) -> Ints:
    """(contact position, day, occurrences) per contact and day, by contact, newest day first."""
    positions = np.searchsorted(history.ids, contact_ids)
    offset = int(days.min()) if len(days) else 0
    span = (int(days.max()) - offset + 1) if len(days) else 1
    keys, inverse = np.unique(positions * span + (days - offset), return_inverse=True)
    totals = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(keys)).astype(np.int64)
    rows = np.stack([keys // span, keys % span + offset, totals], axis=1).astype(np.int64)
    return rows[np.lexsort((-rows[:, 1], rows[:, 0]))]


def _criterion_rows(
    history: _History, model: CompiledModel, criterion: Criterion, first: date, last_instant: datetime
) -> Ints:
    """(contact position, day number, occurrences) per contact and day, sorted by contact, newest day first."""
    signature = _signature(criterion.event, criterion.where, first)
    cached = history.rows.get(signature)
    if cached is not None:
        return cached
    session, dialect = history.session, history.dialect
    events = Event.__table__
    compiler = _Compiler(CompileContext(dialect, last_instant))
    day = _day_number(dialect, events.c.occurred_at)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    where = [
        events.c.name == literal(criterion.event, String),
        events.c.occurred_at <= literal(last_instant, UTCDateTime()),
        events.c.occurred_at >= literal(start, UTCDateTime()),
        events.c.contact_id.is_not(None),
        *[compiler.property_predicate(events.c.properties, item) for item in criterion.where],
    ]
    ranges = _ranges(session, partitions(session, history.parallel))
    statements = [
        select(events.c.contact_id, day, func.count())
        .where(events.c.contact_id.between(low, high), *where)
        .group_by(events.c.contact_id, day)
        for low, high in ranges
    ]
    parts = read_all(session, statements, parallel=history.parallel)
    # No contacts at all means no id ranges and so no parts: an empty history, not an error.
    data = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    data = data[np.isin(data[:, 0], history.ids)]
    rows = _per_day(history, data[:, 0], data[:, 1], data[:, 2])
    history.rows[signature] = rows
    return rows


def _engagement_at(model: CompiledModel, rows: list[Ints], today: date, n: int) -> tuple[Ints, Ints]:
    """(weight, occurrences), each (contacts, engagement criteria), as of the end of ``today``."""
    weight = np.zeros((n, len(model.engagement)), dtype=np.int64, order="F")
    occurrences = np.zeros((n, len(model.engagement)), dtype=np.int64, order="F")
    today_number = (today - _EPOCH).days
    horizon = model.decay.horizon_days
    for k, (criterion, data) in enumerate(zip(model.engagement, rows, strict=True)):
        if not len(data):
            continue
        age = today_number - data[:, 1]
        inside = (age >= 0) if horizon is None else (age >= 0) & (age < horizon)
        counts = np.where(inside, data[:, 2], 0)
        owner = data[:, 0]
        occurrences[:, k] = np.bincount(owner, weights=counts, minlength=n).astype(np.int64)
        counted = counts
        if criterion.max_occurrences is not None:
            # Rows run newest first within a contact: count until max_occurrences is reached.
            running = np.cumsum(counts)
            starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
            base = np.repeat(running[starts] - counts[starts], np.diff(np.r_[starts, len(owner)]))
            before = running - counts - base
            counted = np.clip(criterion.max_occurrences - before, 0, counts)
        contribution = counted * model.decay.weights(age)
        # float64 sums of whole numbers stay exact below 2^53 (9e15 millionths of an occurrence).
        weight[:, k] = np.rint(np.bincount(owner, weights=contribution, minlength=n)).astype(np.int64)
    return weight, occurrences


def _totals(history: _History, model: CompiledModel, points: list[tuple[date, datetime]], first: date) -> Ints:
    """(contacts, len(points)) totals in units; contacts not yet created at a point score nothing there."""
    session = history.session
    n = len(history.ids)
    _plain_rows(history, sorted({str(c.event) for c in model.engagement if not c.where}), first, points[-1][1])
    rows = [_criterion_rows(history, model, c, first, points[-1][1]) for c in model.engagement]
    ranges = _ranges(session, partitions(session, history.parallel))
    fit_once: np.ndarray[Any, Any] | None = None
    if model.fit and not _time_dependent(model):
        fit_once = _fit_at(history, model, points[-1][1], ranges)
    out = np.zeros((n, len(points)), dtype=np.int64)
    for m, (today, instant) in enumerate(points):
        matched = np.zeros((n, len(model.fit)), dtype=np.bool_)
        if model.fit:
            matched = fit_once if fit_once is not None else _fit_at(history, model, instant, ranges)
        weight, occurrences = _engagement_at(model, rows, today, n)
        scores = compute(model, Facts(history.ids, matched, weight, occurrences))
        exists = history.created_day <= (today - _EPOCH).days
        out[:, m] = np.where(exists, scores.total, 0)
    return out


def _fit_at(history: _History, model: CompiledModel, instant: datetime, ranges: list[tuple[int, int]]) -> Any:
    conditions = tuple(orjson.dumps(condition_to_data(c.condition)).decode() for c in model.fit if c.condition)
    key = (conditions, instant if _time_dependent(model) else None)
    if key in history.fit:
        return history.fit[key]  # the applied and the proposed model often share their fit criteria
    ctx = CompileContext(history.dialect, instant)
    ids, matched = fit_facts(history.session, model, ctx, ranges, parallel=history.parallel)
    out = np.zeros((len(history.ids), len(model.fit)), dtype=np.bool_)
    out[np.searchsorted(history.ids, ids)] = matched
    history.fit[key] = out
    return out


def _first_crossings(
    history: _History, models: Sequence[CompiledModel], spec: LifecycleSpec, stage: str,
    points: list[tuple[date, datetime]], first: date,
) -> Ints:  # fmt: skip
    """Per contact, the index of the first month (1-based into ``points``) it becomes an MQL; 0: never."""
    n = len(history.ids)
    first_month = np.zeros(n, dtype=np.int64)
    allowed = np.array([spec.may_enter(s, stage) for s in spec.names] + [True, True], dtype=np.bool_)
    eligible = [allowed[history.stage_codes_at(instant)] for _day, instant in points]
    for model in models:
        thresholds = [t for t in model.thresholds if (t.stage or spec.threshold_stage()) == stage]
        if not thresholds:
            continue
        totals = _totals(history, model, points, first)
        for m in range(1, len(points)):
            old, new = totals[:, m - 1], totals[:, m]
            crossed = np.zeros(n, dtype=np.bool_)
            for threshold in thresholds:
                crossed |= (old < threshold.score) & (new >= threshold.score)
            # The stage at the start of the month: the crossing happened some time during it, and a contact that
            # became an MQL then and moved on before the month ended was eligible when it crossed.
            fresh = crossed & eligible[m - 1] & ((first_month == 0) | (first_month > m))
            first_month[fresh] = m
    return first_month


def simulate(
    session: Session,
    *,
    models: Sequence[ScoringModelSpec],
    lifecycle_spec: LifecycleSpec,
    since: date,
    until: date | None = None,
    current: Sequence[ScoringModelSpec] | None = None,
    parallel: bool | None = None,
) -> SimulationReport:
    """Replay ``since`` .. ``until`` (default today) under the applied active models (or ``current``) and under
    ``models`` (the proposed scoring.yml; inactive ones are left out) and compare the MQLs they make."""
    started = time.perf_counter()
    now = utcnow()
    until = min(until or now.date(), now.date())
    stage = lifecycle_spec.threshold_stage() or "mql"
    report = SimulationReport(stage=stage, months=[], current=[], proposed=[])
    if since > until:
        report.notes.append("since is after until: nothing to replay")
        return report
    if parallel is None:
        parallel = should_parallelise(session)
    registry = load_field_registry(session)
    applied = load_active(session, registry) if current is None else [compile_model(s) for s in current if s.active]
    proposed = [compile_model(spec) for spec in models if spec.active]
    ends = month_ends(since, until)
    baseline = since - timedelta(days=1)
    points = [(baseline, _instant(baseline, now))] + [(day, _instant(day, now)) for _label, day in ends]
    horizons = [m.decay.horizon_days for m in (*applied, *proposed) if m.engagement]
    known = [h for h in horizons if h is not None]
    # Events older than the longest horizon weigh nothing at the first month end; without decay all count.
    first = _EPOCH if len(known) < len(horizons) else baseline - timedelta(days=max(known, default=1))
    history = _History(session, lifecycle_spec, parallel)
    plain = {str(c.event) for m in (*applied, *proposed) for c in m.engagement if not c.where}
    _plain_rows(history, sorted(plain), first, points[-1][1])
    report.contacts = len(history.ids)
    report.months = [label for label, _day in ends]
    if not len(history.ids):
        report.current = report.proposed = [0] * len(ends)
        report.notes.append("no contacts yet: nothing to replay")
        report.seconds = time.perf_counter() - started
        return report
    crossings = {
        "current": _first_crossings(history, applied, lifecycle_spec, stage, points, first),
        "proposed": _first_crossings(history, proposed, lifecycle_spec, stage, points, first),
    }
    for name, first_month in crossings.items():
        counts = np.bincount(first_month, minlength=len(points))[1:]
        getattr(report, name).extend(int(c) for c in counts)
    is_current, is_proposed = crossings["current"] > 0, crossings["proposed"] > 0
    gained, lost = is_proposed & ~is_current, is_current & ~is_proposed
    report.gained, report.lost = int(gained.sum()), int(lost.sum())
    accepted = _accepted(session, history, lifecycle_spec, stage, since)
    for name, members in (("current", is_current), ("proposed", is_proposed), ("gained", gained), ("lost", lost)):
        report.acceptance[name] = Acceptance(int(members.sum()), int((members & accepted).sum()))
    report.gained_sample = _sample(session, history, gained, crossings["proposed"], report.months, accepted)
    report.lost_sample = _sample(session, history, lost, crossings["current"], report.months, accepted)
    report.notes = [
        "fit criteria read contact and account fields as they are today (no field history is kept); "
        "event conditions and relative dates in them are evaluated as of each month end",
        f"a contact becomes {stage} in the first month its total rises over a threshold that sets {stage}, "
        "if its real stage at the start of that month allowed the move",
        "accepted: went on to a later ladder stage or got an opportunity since " + since.isoformat(),
    ]
    report.seconds = time.perf_counter() - started
    return report


def _accepted(session: Session, history: _History, spec: LifecycleSpec, stage: str, since: date) -> Any:
    rank = spec.rank(stage)
    later = [i for i, name in enumerate(spec.names) if rank is not None and (spec.rank(name) or -1) > rank]
    start = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp())
    accepted = np.zeros(len(history.ids), dtype=np.bool_)
    hit = np.isin(history.change_stage, later) & (history.change_at >= start)
    accepted[history.change_owner[hit]] = True
    start_at = datetime(since.year, since.month, since.day, tzinfo=UTC)
    stmt = select(Opportunity.contact_id).where(
        and_(Opportunity.contact_id.is_not(None), Opportunity.opened_at >= start_at)
    )
    with_opportunity = np.asarray([int(i) for i in session.scalars(stmt.distinct()) if i is not None], dtype=np.int64)
    known = with_opportunity[np.isin(with_opportunity, history.ids)]
    accepted[np.searchsorted(history.ids, known)] = True
    return accepted


def _sample(
    session: Session, history: _History, members: Any, first_month: Ints, months: list[str], accepted: Any
) -> list[dict[str, Any]]:
    positions = np.flatnonzero(members)[:SAMPLE]
    if not len(positions):
        return []
    ids = history.ids[positions].tolist()
    rows = {r.id: r for r in session.execute(select(Contact.id, Contact.email, Contact.lifecycle_stage)
                                             .where(Contact.id.in_(ids)))}  # fmt: skip
    out = []
    for position, contact_id in zip(positions.tolist(), ids, strict=True):
        row = rows.get(contact_id)
        out.append({
            "contact_id": contact_id, "email": row.email if row else None,
            "stage_now": row.lifecycle_stage if row else None,
            "month": months[int(first_month[position]) - 1], "accepted": bool(accepted[position]),
        })  # fmt: skip
    return out
