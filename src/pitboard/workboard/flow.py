"""Flow metrics computed from the recorded transitions only (never from an item's current fields).

Definitions (Kanban Guide / Vacanti):

- **lead time**: created → first entry into a ``done`` column, for items finished in the period;
- **cycle time**: first entry into a column that is not a ``queue`` (the commitment point) → done;
- **throughput**: items that entered a done column, per ISO week;
- **work item age**: for unfinished started items, now minus start (queued ones are aged from creation, apart);
- **blocked time**: the sum of blocked intervals of finished items (and, so far, of unfinished ones);
- **flow efficiency**: time in ``active`` columns while not blocked ÷ cycle time, over the finished items;
- **time to market**: a campaign's brief (intake) to live.

``compute`` is pure (histories in, numbers out) so it is unit-tested without a database; ``load`` reads the
histories with one ordered query over ``work_item_transitions``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models.workboard import CampaignOps, WorkItem, WorkItemTransition
from pitboard.workboard.board import current_spec

DAY = 86400.0


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str  # created, moved, blocked, unblocked
    to_column: str | None


@dataclass
class History:
    item_id: int
    item_type: str
    title: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class ItemFlow:
    item_id: int
    item_type: str
    title: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    column: str | None
    blocked_seconds: float
    active_seconds: float  # in active columns, not blocked, between start and finish (or now)
    blocked_now: bool

    def lead_days(self) -> float | None:
        return (self.finished_at - self.created_at).total_seconds() / DAY if self.finished_at else None

    def cycle_days(self) -> float | None:
        if self.finished_at is None or self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() / DAY


def replay(history: History, kinds: Mapping[str, str], now: datetime) -> ItemFlow:
    """Walk one item's transitions in time order."""
    steps = sorted(history.steps, key=lambda s: s.at)
    created = steps[0].at if steps else now
    column: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    blocked_since: datetime | None = None
    blocked_total = 0.0
    active_total = 0.0
    last = created
    blocked = False

    def account(until: datetime) -> None:
        nonlocal active_total
        in_active = column is not None and kinds.get(column) == "active"
        if started is not None and finished is None and in_active and not blocked:
            active_total += max((until - last).total_seconds(), 0.0)

    for step in steps:
        account(step.at)
        if step.kind in ("created", "moved") and step.to_column is not None:
            column = step.to_column
            kind = kinds.get(column, "active")
            if kind != "queue" and started is None:
                started = step.at
            if kind == "done":
                if finished is None:
                    finished = step.at
            else:
                finished = None  # reopened: the item's lead time counts from the last finish
        elif step.kind == "blocked" and not blocked:
            blocked, blocked_since = True, step.at
        elif step.kind == "unblocked" and blocked:
            assert blocked_since is not None
            blocked_total += (step.at - blocked_since).total_seconds()
            blocked, blocked_since = False, None
        last = step.at
    account(now)
    if blocked and blocked_since is not None and finished is None:
        blocked_total += (now - blocked_since).total_seconds()
    return ItemFlow(history.item_id, history.item_type, history.title, created, started, finished, column,
                    blocked_total, active_total, blocked)  # fmt: skip


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (what people read off a scatterplot: 85 % finished within X days)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(p * len(ordered) * 100) // 10000))  # ceil(p/100 * n) without floats drifting
    return ordered[min(rank, len(ordered)) - 1]


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "mean": round(sum(values) / len(values), 2) if values else None,
        "p50": _r(percentile(values, 50)),
        "p85": _r(percentile(values, 85)),
        "p95": _r(percentile(values, 95)),
    }


def _r(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def week_of(moment: datetime) -> date:
    d = ensure_utc(moment).date()
    return d - timedelta(days=d.weekday())


@dataclass
class FlowReport:
    since: datetime
    now: datetime
    lead_time: dict[str, Any]
    cycle_time: dict[str, Any]
    throughput_per_week: list[tuple[date, int]]
    throughput_by_type: dict[str, int]
    age: list[dict[str, Any]]  # unfinished started items, oldest first
    age_by_column: dict[str, dict[str, Any]]
    blocked: dict[str, Any]
    flow_efficiency: float | None
    time_to_market: dict[str, Any]
    time_to_market_rows: list[dict[str, Any]]
    cycle_times: list[float]
    items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "now": self.now.isoformat(), "items": self.items,
            "lead_time_days": self.lead_time, "cycle_time_days": self.cycle_time,
            "throughput_per_week": [{"week": w.isoformat(), "finished": n} for w, n in self.throughput_per_week],
            "throughput_by_type": self.throughput_by_type, "work_item_age": self.age[:50],
            "age_by_column": self.age_by_column, "blocked": self.blocked, "flow_efficiency": self.flow_efficiency,
            "time_to_market_days": self.time_to_market, "campaigns": self.time_to_market_rows[:50],
        }  # fmt: skip


def compute(
    histories: list[History],
    kinds: Mapping[str, str],
    *,
    now: datetime,
    since: datetime,
    launches: Sequence[tuple[int, str, datetime, datetime | None]] = (),
) -> FlowReport:
    """``kinds``: column key → queue/active/wait/done; ``launches``: (campaign id, name, briefed, live)."""
    flows = [replay(h, kinds, now) for h in histories]
    finished = [f for f in flows if f.finished_at is not None and f.finished_at >= since]
    lead = [d for f in finished if (d := f.lead_days()) is not None]
    cycle = [d for f in finished if (d := f.cycle_days()) is not None]
    weeks: Counter[date] = Counter(week_of(f.finished_at) for f in finished if f.finished_at)
    start_week, end_week = week_of(since), week_of(now)
    per_week: list[tuple[date, int]] = []
    w = start_week
    while w <= end_week:
        per_week.append((w, weeks.get(w, 0)))
        w += timedelta(days=7)
    by_type = Counter(f.item_type for f in finished)
    open_started = [f for f in flows if f.finished_at is None and f.started_at is not None]
    ages: list[dict[str, Any]] = sorted(
        ({"item_id": f.item_id, "title": f.title, "column": f.column, "blocked": f.blocked_now,
          "age_days": round((now - f.started_at).total_seconds() / DAY, 2)} for f in open_started if f.started_at),
        key=lambda a: -a["age_days"],
    )  # fmt: skip
    by_column: dict[str, list[float]] = defaultdict(list)
    for a in ages:
        by_column[str(a["column"])].append(float(a["age_days"]))
    cycle_seconds = sum((f.finished_at - f.started_at).total_seconds() for f in finished
                        if f.started_at and f.finished_at)  # fmt: skip
    active_seconds = sum(f.active_seconds for f in finished if f.started_at)
    blocked_finished = [f.blocked_seconds / DAY for f in finished]
    ttm_rows = [
        {"campaign_id": cid, "name": name, "briefed_at": b.isoformat(),
         "live_at": live.isoformat() if live else None,
         "days": round((live - b).total_seconds() / DAY, 2) if live else None}
        for cid, name, b, live in launches
    ]  # fmt: skip
    ttm = [float(r["days"]) for r in ttm_rows if r["days"] is not None]
    return FlowReport(
        since=since, now=now, lead_time=_summary(lead), cycle_time=_summary(cycle), throughput_per_week=per_week,
        throughput_by_type=dict(by_type), age=ages,
        age_by_column={k: _summary(v) for k, v in by_column.items()},
        blocked={
            "finished_items_blocked": sum(1 for f in finished if f.blocked_seconds > 0),
            "finished_blocked_days": _summary([d for d in blocked_finished if d > 0]),
            "blocked_now": sum(1 for f in flows if f.blocked_now and f.finished_at is None),
            "share_of_cycle_time": round(sum(f.blocked_seconds for f in finished) / cycle_seconds, 3)
            if cycle_seconds else None,
        },
        flow_efficiency=round(active_seconds / cycle_seconds, 3) if cycle_seconds else None,
        time_to_market=_summary(ttm), time_to_market_rows=ttm_rows, cycle_times=cycle, items=len(flows),
    )  # fmt: skip


def load(
    session: Session, *, since: datetime, item_type: str | None = None
) -> tuple[list[History], list[tuple[int, str, datetime, datetime | None]]]:
    """Histories of the items that matter for the period: unfinished ones and those finished since ``since``."""
    items_stmt = select(WorkItem.id, WorkItem.item_type, WorkItem.title).where(
        or_(WorkItem.finished_at.is_(None), WorkItem.finished_at >= since)
    )
    if item_type:
        items_stmt = items_stmt.where(WorkItem.item_type == item_type)
    histories = {iid: History(iid, t, title) for iid, t, title in session.execute(items_stmt)}
    stmt = (
        select(WorkItemTransition.item_id, WorkItemTransition.at, WorkItemTransition.kind, WorkItemTransition.to_column)
        .join(WorkItem, WorkItem.id == WorkItemTransition.item_id)
        .where(or_(WorkItem.finished_at.is_(None), WorkItem.finished_at >= since))
        .order_by(WorkItemTransition.item_id, WorkItemTransition.at, WorkItemTransition.id)
    )
    if item_type:
        stmt = stmt.where(WorkItem.item_type == item_type)
    for iid, at, kind, to_column in session.execute(stmt):
        h = histories.get(iid)
        if h is not None:
            h.steps.append(Step(at, kind, to_column))  # UTCDateTime already gives aware UTC
    from pitboard.models import Campaign

    launches = [
        (cid, name, ensure_utc(b), ensure_utc(live) if live else None)
        for cid, name, b, live in session.execute(
            select(Campaign.id, Campaign.name, CampaignOps.briefed_at, CampaignOps.live_at)
            .join(CampaignOps, CampaignOps.campaign_id == Campaign.id)
            .where(or_(CampaignOps.live_at.is_(None), CampaignOps.live_at >= since))
            .order_by(CampaignOps.briefed_at)
        )
    ]
    return list(histories.values()), launches


def flow_report(
    session: Session, *, days: int = 90, item_type: str | None = None, now: datetime | None = None
) -> FlowReport:
    now = ensure_utc(now) if now else utcnow()
    since = now - timedelta(days=days)
    kinds = {c.key: c.kind for c in current_spec(session).board.columns}
    histories, launches = load(session, since=since, item_type=item_type)
    return compute(histories, kinds, now=now, since=since, launches=launches)
