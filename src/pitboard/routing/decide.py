"""Pure routing logic: who in a pool is available, and who gets the next lead. No I/O, no clock.

The fair counter of a pool member is ``assigned_count``: how many leads this pool has given it. Round robin
picks the available member with the fewest leads per unit of weight (ties: list position, then id), so with
weights 1 it is plain rotation in order and a member of weight 2 gets twice the share. The counters live in
the database and are only changed under the pool's row lock, which is why the rotation continues exactly
after a restart and never hands one slot to two concurrent routers. ``fewest_open`` picks the member with the
fewest open leads per weight instead (ties: the round-robin order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pitboard.routing.schemas import HolidaySpec, PoolSpec

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Rep:
    """A sales user as routing sees it, with its counters (changed in memory as a batch is routed)."""

    id: int
    name: str
    email: str
    active: bool = True
    team: str | None = None
    territory: str | None = None
    manager_id: int | None = None
    capacity: int | None = None
    timezone: str = "UTC"
    working_hours: dict[str, list[list[str]]] = field(default_factory=dict)
    open_leads: int = 0
    out_of_office: list[tuple[datetime, datetime]] = field(default_factory=list)
    # Leads assigned to this rep (any pool) in the last hour / day / week, for caps.
    recent: dict[str, int] = field(default_factory=dict)


@dataclass
class Member:
    rep: Rep
    weight: int = 1
    position: int = 0
    assigned_count: int = 0
    member_id: int | None = None  # the routing_pool_members row; None for one not stored yet

    @property
    def load(self) -> float:
        return self.assigned_count / max(self.weight, 1)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(rep: Rep, now: datetime) -> datetime:
    return now.astimezone(_zone(rep.timezone))


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def in_working_hours(rep: Rep, now: datetime) -> bool:
    """Within one of today's intervals, in the rep's own time zone. No hours set means always available."""
    if not rep.working_hours:
        return True
    local = local_time(rep, now)
    intervals = rep.working_hours.get(DAYS[local.weekday()]) or []
    minute = local.hour * 60 + local.minute
    for interval in intervals:
        try:
            start, end = _minutes(str(interval[0])), _minutes(str(interval[1]))
        except (ValueError, IndexError, TypeError):
            continue
        if start <= minute < end:
            return True
    return False


def holiday_of(rep: Rep, day: date, holidays: list[HolidaySpec]) -> HolidaySpec | None:
    for holiday in holidays:
        if holiday.date == day and (holiday.territories is None or rep.territory in holiday.territories):
            return holiday
    return None


def unavailable(rep: Rep, now: datetime, pool: PoolSpec, holidays: list[HolidaySpec]) -> str | None:
    """Why ``rep`` cannot take a lead from ``pool`` now, or None."""
    if not rep.active:
        return "inactive"
    for start, end in rep.out_of_office:
        if start <= now < end:
            return f"out of office until {end:%Y-%m-%d %H:%M} UTC"
    local = local_time(rep, now)
    holiday = holiday_of(rep, local.date(), holidays)
    if holiday is not None:
        return f"holiday: {holiday.name} ({local:%Y-%m-%d} in {rep.timezone})"
    if pool.working_hours and not in_working_hours(rep, now):
        return f"away: outside working hours ({DAYS[local.weekday()]} {local:%H:%M} {rep.timezone})"
    if pool.respect_capacity and rep.capacity is not None and rep.open_leads >= rep.capacity:
        return f"at capacity: {rep.open_leads} open leads (capacity {rep.capacity})"
    for name, cap, _length in pool.caps.windows():
        count = rep.recent.get(name, 0)
        if count >= cap:
            return f"capped: {count} leads in the last {name} (cap {cap})"
    return None


def order(members: list[Member], mode: str) -> list[Member]:
    rr = sorted(members, key=lambda m: (m.load, m.position, m.rep.id))
    if mode == "fewest_open":
        return sorted(rr, key=lambda m: m.rep.open_leads / max(m.weight, 1))
    return rr


def choose(
    pool: PoolSpec,
    pool_key: str,
    members: list[Member],
    now: datetime,
    holidays: list[HolidaySpec],
    *,
    exclude: frozenset[int] = frozenset(),
) -> tuple[Member | None, list[dict[str, object]], str]:
    """The member who gets the next lead, every member considered with why it was or was not chosen, and
    the reason for the winner (or for nobody)."""
    considered: list[dict[str, object]] = []
    winner: Member | None = None
    for member in order(members, pool.mode):
        rep = member.rep
        entry: dict[str, object] = {"user_id": rep.id, "name": rep.name, "weight": member.weight,
                                    "assigned": member.assigned_count, "open": rep.open_leads}  # fmt: skip
        if rep.id in exclude:
            entry["why"] = "excluded: the current owner (re-route)"
        elif winner is not None:
            entry["why"] = "later in the rotation" if pool.mode == "round_robin" else "more open leads per weight"
        else:
            why = unavailable(rep, now, pool, holidays)
            if why is None:
                winner = member
                entry["chosen"] = True
                entry["why"] = _why_winner(member, pool)
            else:
                entry["why"] = why
        considered.append(entry)
    if winner is not None:
        return winner, considered, f"pool {pool_key}: {rep_label(winner.rep)} — {_why_winner(winner, pool)}"
    if not members:
        return None, considered, f"pool {pool_key} has no members"
    return None, considered, f"pool {pool_key}: every member is unavailable (capped, away, out of office or inactive)"


def _why_winner(member: Member, pool: PoolSpec) -> str:
    share = f"{member.assigned_count} leads from this pool / weight {member.weight}"
    if pool.mode == "fewest_open":
        return f"fewest open leads per weight ({member.rep.open_leads} / {member.weight}); {share}"
    return f"next in the round robin: fewest leads per weight ({share})"


def rep_label(rep: Rep) -> str:
    return f"{rep.name} <{rep.email}>"


def record_assignment(member: Member | None, rep: Rep) -> None:
    """Update the in-memory counters after ``rep`` got a lead (through ``member`` of a pool, or directly)."""
    if member is not None:
        member.assigned_count += 1
    rep.open_leads += 1
    for name in WINDOWS:
        rep.recent[name] = rep.recent.get(name, 0) + 1
