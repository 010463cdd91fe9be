"""Segments (dynamic and static, of contacts or accounts) and their membership history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin

SEGMENT_KINDS = ("dynamic", "static")
SEGMENT_ENTITIES = ("contact", "account")


class Segment(IdMixin, TimestampMixin, Base):
    """A named set of contacts or accounts: ``dynamic`` ones follow a condition, ``static`` ones are lists.

    ``origin`` says who owns the definition: segments from the project folder change only by ``pitboard
    apply``; the others through the API and web UI.
    """

    __tablename__ = "segments"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(String(10), default="contact")
    kind: Mapped[str] = mapped_column(String(10), default="dynamic")
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSONType, doc="The condition tree, for dynamic ones")
    # Account segments: an account is in when at least this many of its contacts match the condition.
    min_contacts: Mapped[int] = mapped_column(Integer, default=1)
    origin: Mapped[str] = mapped_column(String(20), default="api", doc="project, api or web")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    checksum: Mapped[str | None] = mapped_column(String(64))
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_ms: Mapped[float | None] = mapped_column(Float)


class SegmentMembership(IdMixin, Base):
    """One stay of a member in a segment: entered, and (once it left) exited. Rows are never deleted, so the
    history of who was in when stays queryable; the open row (``exited_at`` NULL) is the current membership."""

    __tablename__ = "segment_memberships"
    __table_args__ = (
        Index(
            "uq_segment_memberships_open",
            "segment_id",
            "member_id",
            unique=True,
            sqlite_where=text("exited_at IS NULL"),
            postgresql_where=text("exited_at IS NULL"),
        ),
        Index("ix_segment_memberships_member", "member_id", "segment_id"),
        Index("ix_segment_memberships_segment_exited", "segment_id", "exited_at"),
    )

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    entered_by: Mapped[str] = mapped_column(String(20), doc="rule, manual, import, api")
    exit_reason: Mapped[str | None] = mapped_column(String(50))
