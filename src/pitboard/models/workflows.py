"""Tables for workflows (issue 8) and for outbound notifications (``pitboard.notify``).

A workflow's definition is a JSON document (validated by ``workflows.schemas``); the durable state of a run is
the enrolment row (which step a contact is at, and what it waits for) plus the job that will run its next step
(``workflows.step`` in the job queue). Every step that ran is a ``workflow_step_logs`` row: a contact's journey.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin

ENDPOINT_KINDS = ("slack", "webhook")
DELIVERY_STATUSES = ("queued", "delivered", "failed", "dead", "blocked")
ENROLMENT_STATUSES = ("active", "waiting", "approval", "completed", "exited", "dead", "holdout")
OPEN_ENROLMENT_STATUSES = ("active", "waiting", "approval", "dead")
APPROVAL_STATUSES = ("pending", "approved", "rejected")

_ID = BigInteger().with_variant(Integer(), "sqlite")


class NotifyEndpoint(IdMixin, TimestampMixin, Base):
    """A Slack incoming webhook or an outbound (Standard Webhooks) endpoint, named by ``key``.

    ``url`` and ``secret`` may be ``env:NAME``: read from the environment at delivery time, so a secret need
    not be stored in the database."""

    __tablename__ = "notify_endpoints"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class NotifyDelivery(IdMixin, Base):
    """One Slack or webhook notification in the outbox. ``body`` is the exact bytes sent on every attempt;
    ``webhook_id`` is the Standard Webhooks ``webhook-id`` (the same on retries, so receivers can dedupe)."""

    __tablename__ = "notify_deliveries"

    endpoint_key: Mapped[str] = mapped_column(String(100), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    webhook_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Workflow(IdMixin, TimestampMixin, Base):
    """A trigger → steps automation. ``activated_at`` bounds triggers: nothing before it enrols anyone."""

    __tablename__ = "workflows"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(20), default="api", doc="project, api or web")
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkflowEnrolment(IdMixin, Base):
    """One run of a workflow for one contact. ``seq`` counts the step jobs; a job whose seq is stale is a no-op."""

    __tablename__ = "workflow_enrolments"
    __table_args__ = (
        UniqueConstraint("workflow_id", "contact_id", "trigger_key", name="uq_workflow_enrolments_trigger"),
        Index("ix_workflow_enrolments_workflow_status", "workflow_id", "status"),
        Index("ix_workflow_enrolments_contact", "contact_id", "enrolled_at"),
    )

    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    trigger_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="active")
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    variant: Mapped[str | None] = mapped_column(String(50))
    step_id: Mapped[str | None] = mapped_column(String(100), doc="The step to run next (or waiting in)")
    seq: Mapped[int] = mapped_column(Integer, default=0)
    workflow_version: Mapped[int] = mapped_column(Integer, default=1)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, doc="Trigger data and wait state")
    last_error: Mapped[str | None] = mapped_column(Text)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkflowStepLog(IdMixin, Base):
    """A step that ran (or was skipped) for an enrolment: the contact's journey, in order."""

    __tablename__ = "workflow_step_logs"
    __table_args__ = (
        Index("ix_workflow_step_logs_enrolment", "enrolment_id", "id"),
        Index("ix_workflow_step_logs_workflow_step", "workflow_id", "step_id"),
        Index("ix_workflow_step_logs_contact", "contact_id", "at"),
    )

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("workflow_enrolments.id", ondelete="CASCADE"))
    workflow_id: Mapped[int] = mapped_column(_ID)
    contact_id: Mapped[int] = mapped_column(_ID)
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkflowApproval(IdMixin, Base):
    """A human approval step waiting for (or given) a decision."""

    __tablename__ = "workflow_approvals"
    __table_args__ = (UniqueConstraint("enrolment_id", "seq", name="uq_workflow_approvals_enrolment_seq"),)

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("workflow_enrolments.id", ondelete="CASCADE"))
    workflow_id: Mapped[int] = mapped_column(_ID, index=True)
    contact_id: Mapped[int] = mapped_column(_ID)
    step_id: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    approvers: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkflowTask(IdMixin, Base):
    """A to-do for a person, created by a ``create_task`` step."""

    __tablename__ = "workflow_tasks"

    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_enrolments.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    assignee: Mapped[str] = mapped_column(String(320), index=True)
    title: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default="open")
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WorkflowFieldValue(IdMixin, Base):
    """The last seen value of a field-change trigger's field for a contact (to notice a change)."""

    __tablename__ = "workflow_field_values"
    __table_args__ = (UniqueConstraint("workflow_id", "contact_id", name="uq_workflow_field_values_contact"),)

    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    value: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
