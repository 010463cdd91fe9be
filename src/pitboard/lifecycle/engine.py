"""Move contacts between lifecycle stages by the rules, record every entry, and measure the funnel.

One decision per contact and call (:func:`decide`):

1. a recycle rule whose ``from`` holds the contact's stage and whose condition matches moves it to ``to``
   (the explicit way back, and the only automatic way out of a stage like ``disqualified``);
2. otherwise, unless the contact sits in an off-ladder stage without ``resume``, an off-ladder stage's entry
   rule that matches moves it there (disqualification leaves the ladder; it is not a step back);
3. otherwise the highest ladder stage whose entry rule matches is the target, and with ``forward_only`` (the
   default) only if it is above the contact's stage; a resumable off-ladder stage (recycled) or an unknown one
   counts as before the ladder.

Each move is one ``lifecycle_stage_changes`` row with its time, source and reason. **Skipped stages get no
rows**: a lead that jumps to sql records lead → sql, nothing pretends it spent time in mql and sal. The funnel
counts a contact as having *reached* every ladder stage up to the furthest one it entered, and measures the
time between stages only from stages actually entered.

Rules are evaluated in SQL (the condition compiler) for many contacts and in memory (facts + evaluate) for a
few; both interpreters give the same answer (docs/conditions.md).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from pitboard.conditions import AnyCondition, CompileContext, Condition, compile_condition, evaluate, load_facts
from pitboard.kit.actor import Actor
from pitboard.kit.time import ensure_utc
from pitboard.lifecycle.schemas import LifecycleSpec
from pitboard.models import Contact, LifecycleStageChange

WORKER = Actor(name="lifecycle", interface="worker", role="admin")
IN_MEMORY_MAX = 50  # up to this many contacts, rules are evaluated in memory; more, in SQL
_CHUNK = 1000
_REASON_LENGTH = 300

RuleKey = tuple[str, str]  # ("entry", stage) or ("recycle", rule name)


@dataclass(frozen=True)
class Move:
    contact_id: int
    from_stage: str
    to_stage: str
    rule: str  # why: "entry rule of mql", "recycle rule stale", "score default reached 60"


@dataclass
class AdvanceResult:
    checked: int = 0
    moves: list[Move] = field(default_factory=list)

    @property
    def moved(self) -> int:
        return len(self.moves)


def chunks(ids: Sequence[int], size: int = _CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- deciding ------------------------------------------------------------------------------------


def decide(spec: LifecycleSpec, current: str, hits: set[RuleKey]) -> tuple[str, str] | None:
    """The stage a contact in ``current`` moves to when the rules in ``hits`` match, with the rule's name."""
    for rule in spec.recycle:
        if current in rule.from_ and ("recycle", rule.name) in hits:
            return rule.to, f"recycle rule {rule.name}"
    if not spec.may_move_on(current):
        return None
    for stage in spec.off_ladder:
        if stage.entry is not None and ("entry", stage.name) in hits and spec.may_enter(current, stage.name):
            return stage.name, f"entry rule of {stage.name}"
    for stage in reversed(spec.stages):
        if stage.entry is None or ("entry", stage.name) not in hits:
            continue
        # The highest matching stage decides: the contact moves there if that is allowed, and no lower
        # match can move it either (forward-only), nor should it when it already is in that stage.
        if spec.may_enter(current, stage.name):
            return stage.name, f"entry rule of {stage.name}"
        return None
    return None


def _rules(spec: LifecycleSpec) -> list[tuple[RuleKey, Condition, list[str] | None]]:
    """Each rule with its condition and the stages it can move contacts out of (None: any stage, including
    stages the definition does not know)."""
    out: list[tuple[RuleKey, Condition, list[str] | None]] = []
    for rule in spec.recycle:
        out.append((("recycle", rule.name), rule.when, list(rule.from_)))
    for stage in (*spec.off_ladder, *spec.stages):
        if stage.entry is not None:
            out.append((("entry", stage.name), stage.entry, None))
    return out


def _could_apply(spec: LifecycleSpec, key: RuleKey, sources: list[str] | None, current: str) -> bool:
    if sources is not None:
        return current in sources
    if not spec.forward_only:
        # Without forward-only the highest matching stage decides even when it is the current one (no move),
        # so every entry rule counts for every contact that may move at all.
        return spec.may_move_on(current)
    return spec.may_enter(current, key[1])


# --- advancing -----------------------------------------------------------------------------------


def advance(
    session: Session,
    contact_ids: Iterable[int] | None,
    *,
    spec: LifecycleSpec,
    now: datetime,
    actor: Actor,
    reason: str,
    source: str = "lifecycle",
) -> AdvanceResult:
    """Apply the entry and recycle rules to these contacts (None: every contact) and record each move."""
    actor.require("editor")
    now = ensure_utc(now)
    rules = _rules(spec)
    if not rules:
        return AdvanceResult()
    ids = None if contact_ids is None else sorted(set(contact_ids))
    if ids is not None and len(ids) <= IN_MEMORY_MAX:
        found = _hits_in_memory(session, ids, spec, rules, now)
    else:
        found = _hits_in_sql(session, ids, spec, rules, now)
    moves = []
    for contact_id, (current, hits) in sorted(found.items()):
        decision = decide(spec, current, hits)
        if decision is not None:
            moves.append(Move(contact_id, current, decision[0], decision[1]))
    applied = apply_moves(session, moves, now=now, source=source, reason=reason)
    checked = len(ids) if ids is not None else len(found)
    return AdvanceResult(checked=checked, moves=applied)


def _hits_in_memory(
    session: Session, ids: list[int], spec: LifecycleSpec, rules: list[tuple[RuleKey, Condition, list[str] | None]],
    now: datetime,
) -> dict[int, tuple[str, set[RuleKey]]]:  # fmt: skip
    # construct, not validate: the children were validated against the field registry already, and
    # validating them again without it would reject their custom fields.
    tree: Condition = AnyCondition.model_construct(any_=[condition for _, condition, _ in rules])
    out: dict[int, tuple[str, set[RuleKey]]] = {}
    for contact_id in ids:
        facts = load_facts(session, contact_id, tree, now=now)
        if facts is None:
            continue
        current = str(facts.contact["lifecycle_stage"])
        hits = {
            key
            for key, condition, sources in rules
            if _could_apply(spec, key, sources, current) and evaluate(condition, facts, now=now)
        }
        out[contact_id] = (current, hits)
    return out


def _hits_in_sql(
    session: Session, ids: list[int] | None, spec: LifecycleSpec,
    rules: list[tuple[RuleKey, Condition, list[str] | None]], now: datetime,
) -> dict[int, tuple[str, set[RuleKey]]]:  # fmt: skip
    ctx = CompileContext.for_session(session, now=now)
    known = list(spec.names)
    out: dict[int, tuple[str, set[RuleKey]]] = {}
    for key, condition, sources in rules:
        if sources is not None:
            stage_filter: ColumnElement[bool] = Contact.lifecycle_stage.in_(sources)
        else:
            allowed = [s for s in known if _could_apply(spec, key, None, s)]
            # Stages the definition does not know count as before the ladder (see LifecycleSpec.may_enter).
            stage_filter = or_(Contact.lifecycle_stage.in_(allowed), Contact.lifecycle_stage.not_in(known))
        base = select(Contact.id, Contact.lifecycle_stage).where(stage_filter, compile_condition(condition, ctx))
        for chunk in [None] if ids is None else chunks(ids):
            stmt = base if chunk is None else base.where(Contact.id.in_(chunk))
            for contact_id, stage in session.execute(stmt):
                out.setdefault(int(contact_id), (str(stage), set()))[1].add(key)
    return out


def apply_moves(session: Session, moves: Sequence[Move], *, now: datetime, source: str, reason: str) -> list[Move]:
    """Set the stages and record one history row per move. A move whose contact is no longer in
    ``from_stage`` (changed meanwhile) is skipped; the moves made are returned."""
    grouped: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for move in moves:
        grouped[(move.from_stage, move.to_stage, move.rule)].append(move.contact_id)
    applied: list[Move] = []
    for (from_stage, to_stage, rule), ids in sorted(grouped.items()):
        for chunk in chunks(sorted(ids)):
            stmt = (
                update(Contact)
                .where(Contact.id.in_(chunk), Contact.lifecycle_stage == from_stage)
                .values(lifecycle_stage=to_stage, updated_at=now)
                .returning(Contact.id)
                .execution_options(synchronize_session="fetch")
            )
            moved = sorted(int(i) for i in session.scalars(stmt))
            if not moved:
                continue
            text = f"{rule} ({reason})" if reason else rule
            rows = [
                {
                    "contact_id": cid,
                    "from_stage": from_stage,
                    "to_stage": to_stage,
                    "changed_at": now,
                    "reason": text[:_REASON_LENGTH],
                    "source": source,
                }
                for cid in moved
            ]
            session.execute(insert(LifecycleStageChange), rows)
            applied += [Move(cid, from_stage, to_stage, rule) for cid in moved]
    return applied


def enter_stage(
    session: Session,
    contact_ids: Iterable[int],
    stage: str,
    *,
    spec: LifecycleSpec,
    now: datetime,
    source: str,
    reason: str,
) -> list[Move]:
    """Move these contacts into ``stage`` where the definition allows it (forward only unless it says
    otherwise; never out of an off-ladder stage without ``resume``). Scoring thresholds use this."""
    if spec.stage(stage) is None:
        return []
    allowed = spec.stages_that_may_enter(stage)
    known = list(spec.names)
    moves: list[Move] = []
    for chunk in chunks(sorted(set(contact_ids))):
        stmt = select(Contact.id, Contact.lifecycle_stage).where(
            Contact.id.in_(chunk), or_(Contact.lifecycle_stage.in_(allowed), Contact.lifecycle_stage.not_in(known))
        )
        moves += [Move(int(cid), str(current), stage, reason) for cid, current in session.execute(stmt)]
    return apply_moves(session, moves, now=ensure_utc(now), source=source, reason="")


# --- reading the history -------------------------------------------------------------------------


def stage_entry_times(session: Session, contact_id: int) -> dict[str, list[datetime]]:
    """When the contact entered each stage, oldest first (a recycled contact may enter a stage twice)."""
    stmt = (
        select(LifecycleStageChange.to_stage, LifecycleStageChange.changed_at)
        .where(LifecycleStageChange.contact_id == contact_id)
        .order_by(LifecycleStageChange.changed_at, LifecycleStageChange.id)
    )
    out: dict[str, list[datetime]] = {}
    for stage, at in session.execute(stmt):
        out.setdefault(str(stage), []).append(ensure_utc(at))
    return out


@dataclass(frozen=True)
class FunnelStage:
    name: str
    label: str
    on_ladder: bool
    entered: int  # distinct contacts that entered this stage in the period
    reached: int | None  # ladder only: entered this stage or a later one (a skip passes the stages between)
    conversion_to_next: float | None  # reached(next) / reached(this)
    median_days_to_next: float | None  # time spent here before a move straight to the next stage
    timed_to_next: int  # how many such moves the median is over


@dataclass(frozen=True)
class Funnel:
    since: datetime
    until: datetime
    stages: list[FunnelStage]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "stages": [s.__dict__ for s in self.stages],
        }


def funnel(session: Session, since: datetime, until: datetime, *, spec: LifecycleSpec | None = None) -> Funnel:
    """Stage entries between ``since`` (included) and ``until`` (excluded): how many contacts entered and
    reached each stage, the conversion to the next ladder stage and the median days it took."""
    from pitboard.lifecycle.definitions import current_spec

    spec = spec or current_spec(session)
    since, until = ensure_utc(since), ensure_utc(until)
    period = and_(LifecycleStageChange.changed_at >= since, LifecycleStageChange.changed_at < until)
    entered = dict(
        session.execute(
            select(LifecycleStageChange.to_stage, func.count(func.distinct(LifecycleStageChange.contact_id)))
            .where(period)
            .group_by(LifecycleStageChange.to_stage)
        ).all()
    )
    reached = _reached(session, spec, period)
    stages: list[FunnelStage] = []
    ladder = spec.ladder
    for i, name in enumerate(ladder):
        nxt = ladder[i + 1] if i + 1 < len(ladder) else None
        days = _days_between(session, name, nxt, since, until) if nxt else []
        here = reached.get(name, 0)
        conversion = reached.get(nxt, 0) / here if nxt and here else None
        stages.append(
            FunnelStage(
                name,
                spec.label(name),
                True,
                int(entered.get(name, 0)),
                here,
                conversion,
                statistics.median(days) if days else None,
                len(days),
            )
        )
    for name in spec.off_ladder_names:
        stages.append(FunnelStage(name, spec.label(name), False, int(entered.get(name, 0)), None, None, None, 0))
    return Funnel(since, until, stages)


def _reached(session: Session, spec: LifecycleSpec, period: ColumnElement[bool]) -> dict[str, int]:
    ladder = spec.ladder
    rank = case({name: i for i, name in enumerate(ladder)}, value=LifecycleStageChange.to_stage, else_=-1)
    furthest = (
        select(func.max(rank).label("furthest"))
        .where(period, LifecycleStageChange.to_stage.in_(ladder))
        .group_by(LifecycleStageChange.contact_id)
        .subquery()
    )
    counts: dict[int, int] = {
        int(rank): int(n)
        for rank, n in session.execute(select(furthest.c.furthest, func.count()).group_by(furthest.c.furthest))
    }
    out: dict[str, int] = {}
    running = 0
    for i in range(len(ladder) - 1, -1, -1):
        running += int(counts.get(i, 0))
        out[ladder[i]] = running
    return out


def _days_between(session: Session, stage: str, nxt: str, since: datetime, until: datetime) -> list[float]:
    """For each move from ``stage`` to ``nxt`` in the period, the days since the contact entered ``stage``:
    time spent in a stage before the next step. Jumps past ``nxt`` and returns through recycled are no such
    step and are left out."""
    later = LifecycleStageChange.__table__.alias("later")
    earlier = LifecycleStageChange.__table__.alias("earlier")
    previous = (
        select(func.max(earlier.c.changed_at))
        .where(
            earlier.c.contact_id == later.c.contact_id,
            earlier.c.to_stage == stage,
            earlier.c.changed_at <= later.c.changed_at,
        )
        .correlate(later)
        .scalar_subquery()
    )
    stmt = select(later.c.changed_at, previous).where(
        later.c.to_stage == nxt, later.c.from_stage == stage, later.c.changed_at >= since, later.c.changed_at < until
    )
    out = []
    for at, before in session.execute(stmt):
        if before is not None:
            out.append((ensure_utc(at) - ensure_utc(before)).total_seconds() / 86400)
    return out


def counts_by_stage(session: Session) -> Mapping[str, int]:
    rows = session.execute(select(Contact.lifecycle_stage, func.count()).group_by(Contact.lifecycle_stage))
    return {str(stage): int(n) for stage, n in rows}
