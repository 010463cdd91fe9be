"""Tables for lead routing (issue 7).

* ``routing_pools`` / ``routing_pool_members``: the fair counters. A pool row is the lock every assignment
  into that pool takes (``SELECT ... FOR UPDATE`` on PostgreSQL); each member keeps how many leads the pool
  gave it, so round robin and weights continue exactly where they were after a restart.
* ``routing_leads``: one row per routed contact (unique), its current owner or queue, SLA clock, first touch,
  escalation level and disposition. The unique contact id is what makes a double assignment impossible.
* ``routing_decisions``: every decision, append-only, with the rule that matched, the candidates considered
  and why each was skipped, and why the winner won.
* ``routing_out_of_office``: absences of sales users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin


class RoutingPool(IdMixin, TimestampMixin, Base):
    __tablename__ = "routing_pools"

    key: Mapped[str] = mapped_column(String(150), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(20), default="round_robin", doc="round_robin or fewest_open")
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    assigned_total: Mapped[int] = mapped_column(BigInteger, default=0)


class RoutingPoolMember(IdMixin, Base):
    __tablename__ = "routing_pool_members"
    __table_args__ = (UniqueConstraint("pool_id", "sales_user_id", name="uq_routing_pool_members_pool_user"),)

    pool_id: Mapped[int] = mapped_column(ForeignKey("routing_pools.id", ondelete="CASCADE"), index=True)
    sales_user_id: Mapped[int] = mapped_column(ForeignKey("sales_users.id", ondelete="CASCADE"), index=True)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)
    assigned_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoutingLead(IdMixin, TimestampMixin, Base):
    __tablename__ = "routing_leads"
    __table_args__ = (
        # Covers the open-leads count per rep (capacity, fewest_open) without reading the table.
        Index("ix_routing_leads_owner_status", "owner_id", "status", "disposition"),
        Index("ix_routing_leads_sla", "sla_status", "sla_due_at"),
    )

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True, doc="assigned, queued or unassigned")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("sales_users.id", ondelete="SET NULL"))
    queue: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(500))
    rule: Mapped[str | None] = mapped_column(String(100))
    pool_key: Mapped[str | None] = mapped_column(String(150))
    source: Mapped[str | None] = mapped_column(String(100), doc="The lead source when it was routed")
    routed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sla_minutes: Mapped[int | None] = mapped_column(Integer)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_status: Mapped[str | None] = mapped_column(String(20), doc="pending, met, breached")
    first_touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_touch_kind: Mapped[str | None] = mapped_column(String(200))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disposition: Mapped[str | None] = mapped_column(String(20), doc="accepted or rejected")
    disposition_reason: Mapped[str | None] = mapped_column(String(500))
    disposition_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disposition_by: Mapped[str | None] = mapped_column(String(320))
    reroutes: Mapped[int] = mapped_column(Integer, default=0)


class RoutingDecision(IdMixin, Base):
    __tablename__ = "routing_decisions"
    __table_args__ = (
        Index("ix_routing_decisions_contact_decided", "contact_id", "decided_at"),
        # Covers the cap counts per rep and window.
        Index("ix_routing_decisions_owner_decided", "owner_id", "outcome", "decided_at"),
    )

    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    trigger: Mapped[str] = mapped_column(String(30), doc="changed, manual, bulk, sla")
    outcome: Mapped[str] = mapped_column(String(20), doc="assigned, queued, unassigned")
    rule: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("sales_users.id", ondelete="SET NULL"))
    previous_owner_id: Mapped[int | None] = mapped_column(BigInteger)
    pool_key: Mapped[str | None] = mapped_column(String(150))
    queue: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    rules: Mapped[list[Any]] = mapped_column(JSONType, default=list, doc="[{rule, matched, note}] in order")
    candidates: Mapped[list[Any]] = mapped_column(JSONType, default=list, doc="[{user_id, name, chosen, why}]")
    flow_checksum: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(320))


class RoutingOutOfOffice(IdMixin, Base):
    __tablename__ = "routing_out_of_office"

    sales_user_id: Mapped[int] = mapped_column(ForeignKey("sales_users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
