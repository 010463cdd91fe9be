"""Read queries the record pages need beyond the domain services: batched look-ups for one page of
rows (one GROUP BY or IN query per column, never one query per row) and the contact timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pitboard.contacts import service as contacts
from pitboard.kit.time import ensure_utc
from pitboard.models import Account, Contact, Event, Opportunity, SalesUser
from pitboard.web.render import summarize

TIMELINE_PAGE = 50


@dataclass(frozen=True)
class TimelineCursor:
    """Position in a newest-first timeline. The id breaks ties between events with the same timestamp,
    which a bare ``before`` timestamp would skip at a page boundary."""

    occurred_at: datetime
    event_id: int

    @classmethod
    def parse(cls, before: str | None, before_id: str | None) -> TimelineCursor | None:
        if not before:
            return None
        try:
            at = ensure_utc(datetime.fromisoformat(before))
        except ValueError:
            return None
        event_id = int(before_id) if before_id and before_id.isdigit() else 2**62
        return cls(at, event_id)


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    next_cursor: TimelineCursor | None


def timeline(
    session: Session, contact_id: int, cursor: TimelineCursor | None, limit: int = TIMELINE_PAGE
) -> TimelinePage:
    """Newest first, served by the (contact_id, occurred_at) index."""
    stmt = select(Event).where(Event.contact_id == contact_id)
    if cursor is not None:
        stmt = stmt.where(
            or_(
                Event.occurred_at < cursor.occurred_at,
                and_(Event.occurred_at == cursor.occurred_at, Event.id < cursor.event_id),
            )
        )
    rows = list(session.scalars(stmt.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit + 1)))
    events = rows[:limit]
    more = len(rows) > limit and events
    next_cursor = TimelineCursor(events[-1].occurred_at, events[-1].id) if more else None
    return TimelinePage(events, next_cursor)


def count_events(session: Session, contact_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Event).where(Event.contact_id == contact_id)) or 0


def property_summary(properties: dict[str, Any] | None, max_items: int = 4) -> tuple[list[tuple[str, str]], int]:
    """The first few non-empty event properties as short (key, value) pairs, and how many more there are."""
    filled = [(str(k), v) for k, v in (properties or {}).items() if v not in (None, "", [], {})]
    return [(k, summarize(v, 60)) for k, v in filled[:max_items]], max(0, len(filled) - max_items)


def custom_field_rows(session: Session, entity: str, values: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) for every custom field that is defined or set, defined ones first in their order."""
    values = values or {}
    definitions = contacts.list_custom_fields(session, entity)
    rows = [(d.label or d.name, summarize(values.get(d.name))) for d in definitions]
    defined = {d.name for d in definitions}
    rows += [(name, summarize(v)) for name, v in sorted(values.items()) if name not in defined]
    return rows


def _ids(values: Iterable[int | None]) -> set[int]:
    return {v for v in values if v is not None}


def account_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = _ids(ids)
    if not wanted:
        return {}
    stmt = select(Account.id, Account.name).where(Account.id.in_(wanted))
    return dict(session.execute(stmt).all())


def sales_user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = _ids(ids)
    if not wanted:
        return {}
    stmt = select(SalesUser.id, SalesUser.name).where(SalesUser.id.in_(wanted))
    return dict(session.execute(stmt).all())


def contact_counts(session: Session, account_ids: Iterable[int]) -> dict[int, int]:
    wanted = _ids(account_ids)
    if not wanted:
        return {}
    stmt = select(Contact.account_id, func.count()).where(Contact.account_id.in_(wanted)).group_by(Contact.account_id)
    return {k: n for k, n in session.execute(stmt) if k is not None}


def sourced_pipeline(session: Session, campaign_ids: Iterable[int]) -> dict[int, tuple[int, dict[str, Decimal]]]:
    """Opportunities each campaign sourced: how many, and their amount per currency."""
    wanted = _ids(campaign_ids)
    if not wanted:
        return {}
    stmt = (
        select(Opportunity.source_campaign_id, Opportunity.currency, func.count(), func.sum(Opportunity.amount))
        .where(Opportunity.source_campaign_id.in_(wanted))
        .group_by(Opportunity.source_campaign_id, Opportunity.currency)
    )
    result: dict[int, tuple[int, dict[str, Decimal]]] = {}
    for campaign_id, currency, n, total in session.execute(stmt):
        if campaign_id is None:
            continue
        count, amounts = result.get(campaign_id, (0, {}))
        amounts[currency] = Decimal(str(total or 0))
        result[campaign_id] = (count + n, amounts)
    return {k: (n, _largest_first(amounts)) for k, (n, amounts) in result.items()}


def _largest_first(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    return dict(sorted(amounts.items(), key=lambda kv: -kv[1]))


def contact_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = _ids(ids)
    if not wanted:
        return {}
    stmt = select(Contact.id, Contact.first_name, Contact.last_name, Contact.email).where(Contact.id.in_(wanted))
    return {
        cid: " ".join(p for p in (first, last) if p) or email or f"Contact #{cid}"
        for cid, first, last, email in session.execute(stmt)
    }


def account_contacts(session: Session, account_id: int, limit: int = 25) -> list[Contact]:
    stmt = select(Contact).where(Contact.account_id == account_id).order_by(Contact.id).limit(limit)
    return list(session.scalars(stmt))


def opportunities_for(session: Session, *where: Any, limit: int = 100) -> list[Opportunity]:
    stmt = select(Opportunity).where(*where).order_by(Opportunity.opened_at.desc(), Opportunity.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def opportunity_totals(session: Session, stmt: Any) -> tuple[int, dict[str, Decimal]]:
    """Count and amount per currency of an opportunity query (the list page's filter)."""
    sub = stmt.subquery()
    rows = session.execute(select(sub.c.currency, func.count(), func.sum(sub.c.amount)).group_by(sub.c.currency))
    count = 0
    amounts: dict[str, Decimal] = {}
    for currency, n, total in rows:
        count += n
        amounts[currency] = Decimal(str(total or 0))
    return count, _largest_first(amounts)
