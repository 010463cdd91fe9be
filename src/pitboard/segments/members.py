"""Reading memberships: current members (keyset paged), members at a point in time, entries and exits per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from pitboard.kit.db import as_date, utc_day
from pitboard.kit.pagination import Page, decode_cursor, encode_cursor
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Account, Contact, Segment
from pitboard.segments.matching import MEMBERSHIPS

M = MEMBERSHIPS.c


def members_at(segment_id: int, at: datetime) -> Select[Any]:
    """Ids of the members at instant ``at``: stays entered at or before it and not yet exited."""
    at = ensure_utc(at)
    return select(M.member_id).where(
        M.segment_id == segment_id, M.entered_at <= at, or_(M.exited_at.is_(None), M.exited_at > at)
    )


def member_count_at(session: Session, segment_id: int, at: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(members_at(segment_id, at).subquery())) or 0)


@dataclass(frozen=True)
class MemberRow:
    """A member as lists show it: a contact or an account, with when (and how) its current stay began."""

    id: int
    label: str
    entered_at: datetime
    entered_by: str
    email: str | None = None
    company: str | None = None
    country: str | None = None
    lifecycle_stage: str | None = None
    domain: str | None = None
    exists: bool = True


def list_members(
    session: Session, segment: Segment, *, cursor: str | None = None, limit: int = 50, at: datetime | None = None
) -> Page[MemberRow]:
    """Members by id, ``limit`` per page (keyset: as fast on the last page as on the first); ``at`` lists the
    members at that instant instead of now."""
    after = decode_cursor(cursor)
    stmt = select(M.member_id, M.entered_at, M.entered_by).where(M.segment_id == segment.id)
    if at is None:
        stmt = stmt.where(M.exited_at.is_(None))
    else:
        at = ensure_utc(at)
        stmt = stmt.where(M.entered_at <= at, or_(M.exited_at.is_(None), M.exited_at > at))
    if after is not None:
        stmt = stmt.where(M.member_id > after)
    found = session.execute(stmt.order_by(M.member_id).limit(limit + 1)).all()
    more, found = len(found) > limit, found[:limit]
    stays = {int(r.member_id): (ensure_utc(r.entered_at), str(r.entered_by)) for r in found}
    rows = _contacts(session, stays) if segment.entity == "contact" else _accounts(session, stays)
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)


def _contacts(session: Session, stays: dict[int, tuple[datetime, str]]) -> list[MemberRow]:
    stmt = select(
        Contact.id, Contact.first_name, Contact.last_name, Contact.email, Contact.company_name, Contact.country,
        Contact.lifecycle_stage,
    ).where(Contact.id.in_(list(stays)))  # fmt: skip
    known = {r.id: r for r in session.execute(stmt)}
    rows = []
    for member_id, (entered_at, entered_by) in stays.items():
        c = known.get(member_id)
        if c is None:  # deleted since; the next refresh closes the stay
            rows.append(MemberRow(member_id, f"contact {member_id} (deleted)", entered_at, entered_by, exists=False))
            continue
        label = " ".join(p for p in (c.first_name, c.last_name) if p) or c.email or f"contact {c.id}"
        rows.append(MemberRow(member_id, label, entered_at, entered_by, email=c.email, company=c.company_name,
                              country=c.country, lifecycle_stage=c.lifecycle_stage))  # fmt: skip
    return rows


def _accounts(session: Session, stays: dict[int, tuple[datetime, str]]) -> list[MemberRow]:
    stmt = select(Account.id, Account.name, Account.domain, Account.country).where(Account.id.in_(list(stays)))
    known = {r.id: r for r in session.execute(stmt)}
    rows = []
    for member_id, (entered_at, entered_by) in stays.items():
        a = known.get(member_id)
        if a is None:
            rows.append(MemberRow(member_id, f"account {member_id} (deleted)", entered_at, entered_by, exists=False))
            continue
        rows.append(MemberRow(member_id, a.name, entered_at, entered_by, domain=a.domain, country=a.country))
    return rows


# --- history -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryDay:
    """One UTC day: stays opened, stays closed, and the members at the end of it."""

    day: date
    entered: int
    exited: int
    members: int


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def daily_history(session: Session, segment_id: int, *, days: int = 30, today: date | None = None) -> list[HistoryDay]:
    """The last ``days`` days up to ``today``: three aggregate queries, whatever the number of members."""
    last = today or utcnow().date()
    first = last - timedelta(days=days - 1)
    start, end = _midnight(first), _midnight(last + timedelta(days=1))
    dialect = session.get_bind().dialect.name
    base = member_count_at(session, segment_id, start - timedelta(microseconds=1))

    def per_day(column: Any) -> dict[date, int]:
        day = utc_day(column, dialect)
        stmt = select(day, func.count()).where(M.segment_id == segment_id, column >= start, column < end).group_by(day)
        return {as_date(d): int(n) for d, n in session.execute(stmt)}

    entered, exited = per_day(M.entered_at), per_day(M.exited_at)
    out, members = [], base
    for offset in range(days):
        day = first + timedelta(days=offset)
        members += entered.get(day, 0) - exited.get(day, 0)
        out.append(HistoryDay(day, entered.get(day, 0), exited.get(day, 0), members))
    return out
