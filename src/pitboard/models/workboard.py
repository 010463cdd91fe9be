"""Tables for campaign operations and the work board (issue 10).

- ``campaign_ops_settings``: the applied ``campaign_ops.yml`` (naming, checklists, approvals, board), one row.
- ``work_items`` and ``work_item_transitions``: the Kanban board. Every change of column or blocked flag is a
  transition row, so flow metrics are computed from history and never from mutable state.
- ``campaign_ops``: a campaign's brief (intake) and its operational stage (brief → review → approved → live).
- ``campaign_checklist_items``, ``campaign_approval_steps``, ``campaign_approval_decisions``,
  ``campaign_budget_lines``: launch checklist, approval chain with every decision, planned and committed budget.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin

ITEM_TYPES = ("campaign", "report", "data_fix", "tooling", "other")
SERVICE_TIERS = ("self_service", "standard", "project")
PRIORITIES = ("urgent", "high", "normal", "low")
OPS_STAGES = ("brief", "in_review", "approved", "live", "completed", "cancelled")


class CampaignOpsSetting(IdMixin, Base):
    """The applied campaign operations definition (``campaign_ops.yml`` or the built-in default)."""

    __tablename__ = "campaign_ops_settings"

    key: Mapped[str] = mapped_column(String(50), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20), default="project")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkItem(IdMixin, TimestampMixin, Base):
    """A request on the board: a campaign, a report, a data fix, tooling, anything."""

    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_column_rank", "column_key", "rank"),)

    title: Mapped[str] = mapped_column(String(300))
    item_type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    column_key: Mapped[str] = mapped_column(String(50))
    rank: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    service_tier: Mapped[str] = mapped_column(String(20), default="standard")
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_reason: Mapped[str | None] = mapped_column(String(500))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    requested_by: Mapped[str | None] = mapped_column(String(320))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    column_entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="First entry into a started column")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="Entry into a done column")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="From the service tier's SLA")


class WorkItemTransition(IdMixin, Base):
    """One recorded change of a work item: created, moved (with any WIP override), blocked or unblocked."""

    __tablename__ = "work_item_transitions"
    __table_args__ = (
        Index("ix_work_item_transitions_item_at", "item_id", "at"),
        Index("ix_work_item_transitions_at", "at"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(20), doc="created, moved, blocked, unblocked")
    from_column: Mapped[str | None] = mapped_column(String(50))
    to_column: Mapped[str | None] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(320))
    wip_override: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))


class CampaignOps(IdMixin, TimestampMixin, Base):
    """A campaign's brief from intake and where it stands operationally."""

    __tablename__ = "campaign_ops"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True)
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id", ondelete="SET NULL"))
    objective: Mapped[str] = mapped_column(Text)
    audience_segment: Mapped[str] = mapped_column(String(100))
    consent_purpose: Mapped[str | None] = mapped_column(String(100), doc="The purpose audience QA checks consent for")
    success_metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    owner_email: Mapped[str] = mapped_column(String(320))
    stage: Mapped[str] = mapped_column(String(20), default="brief")
    briefed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    live_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    live_override: Mapped[str | None] = mapped_column(String(500), doc="Why it went live with open items")


class CampaignChecklistItem(IdMixin, Base):
    __tablename__ = "campaign_checklist_items"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_campaign_checklist_items_campaign_key"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(200))
    check: Mapped[str] = mapped_column(String(20), default="manual", doc="manual, utm, audience")
    blocking: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open", doc="open, done, failed, waived")
    checked_by: Mapped[str | None] = mapped_column(String(320))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(1000))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class CampaignApprovalStep(IdMixin, Base):
    __tablename__ = "campaign_approval_steps"
    __table_args__ = (
        UniqueConstraint("campaign_id", "position", name="uq_campaign_approval_steps_campaign_position"),
        Index("ix_campaign_approval_steps_status_due", "status", "due_at"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(100))
    approvers: Mapped[list[str]] = mapped_column(JSONType)
    reviewers: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(10), default="waiting", doc="waiting, pending, approved, rejected")
    sla_hours: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(320))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CampaignApprovalDecision(IdMixin, Base):
    """Every decision and comment, never changed: the record of who decided what, when and why."""

    __tablename__ = "campaign_approval_decisions"
    __table_args__ = (Index("ix_campaign_approval_decisions_campaign_at", "campaign_id", "at"),)

    step_id: Mapped[int] = mapped_column(ForeignKey("campaign_approval_steps.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(10), doc="approver or reviewer")
    decision: Mapped[str] = mapped_column(String(10), doc="approve, reject or comment")
    comment: Mapped[str | None] = mapped_column(Text)


class CampaignBudgetLine(IdMixin, Base):
    """Planned and committed money per campaign and channel (actuals come from ``campaign_spend``)."""

    __tablename__ = "campaign_budget_lines"
    __table_args__ = (UniqueConstraint("campaign_id", "channel", name="uq_campaign_budget_lines_campaign_channel"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(50))
    planned: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    committed: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
