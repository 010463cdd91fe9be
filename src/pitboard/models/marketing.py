"""Campaigns and the events (touchpoints) that reference them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String(300), unique=True)
    campaign_type: Mapped[str] = mapped_column(String(50), doc="webinar, paid_search, email, event, ...")
    channel: Mapped[str | None] = mapped_column(String(50), index=True)
    status: Mapped[str] = mapped_column(String(30), default="planned")
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    budget: Mapped[float | None] = mapped_column(Numeric(14, 2))
    actual_spend: Mapped[float | None] = mapped_column(Numeric(14, 2))
    utm_campaign: Mapped[str | None] = mapped_column(String(200), index=True)
    owner_email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)


class Event(IdMixin, Base):
    """A touchpoint or activity: a page view, a form fill, an email click, a call, a meeting.

    ``message_id`` is unique so a client that retries with the same id never creates a second row.
    ``occurred_at`` is when it happened (clock-skew corrected), ``received_at`` when we stored it.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_events_message_id"),
        Index("ix_events_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_events_occurred_at", "occurred_at"),
        Index("ix_events_name_occurred", "name", "occurred_at"),
        # Data-subject export and erasure find a person's events by the user id a client sent.
        Index("ix_events_user_id", "user_id"),
        # "Did X at least N times in D days" for every contact (segments, scoring): 3-11x faster with the name
        # in the key than ix_events_contact_occurred alone (bench/bench_conditions.py, 100k contacts).
        Index("ix_events_contact_name_occurred", "contact_id", "name", "occurred_at"),
        # Every contact's occurrences of a few event names (bulk scoring, grouped per name and contact): reads
        # only those names' entries in contact order, 3.7M of 19.5M at 1M contacts (0.92 s against 2.78 s for
        # half the contacts on SQLite).
        Index("ix_events_name_contact_occurred", "name", "contact_id", "occurred_at"),
    )

    message_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(20), doc="track, page, screen, identify, group, alias")
    name: Mapped[str | None] = mapped_column(String(200))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    anonymous_id: Mapped[str | None] = mapped_column(String(200), index=True)
    user_id: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    original_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime())
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(50))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    source: Mapped[str | None] = mapped_column(String(100), doc="The system or write key source it came from")
