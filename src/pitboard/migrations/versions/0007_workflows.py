"""workflows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notify_endpoints",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=300), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_endpoints")),
        sa.UniqueConstraint("key", name=op.f("uq_notify_endpoints_key")),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("endpoint_key", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("webhook_id", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notify_deliveries_idempotency_key")),
    )
    op.create_index(op.f("ix_notify_deliveries_endpoint_key"), "notify_deliveries", ["endpoint_key"], unique=False)
    op.create_index(op.f("ix_notify_deliveries_status"), "notify_deliveries", ["status"], unique=False)
    op.create_table(
        "workflows",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("key", name=op.f("uq_workflows_key")),
    )
    op.create_table(
        "workflow_enrolments",
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("trigger_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("variant", sa.String(length=50), nullable=True),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", JSON, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_workflow_enrolments_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_enrolments_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_enrolments")),
        sa.UniqueConstraint("workflow_id", "contact_id", "trigger_key", name="uq_workflow_enrolments_trigger"),
    )
    op.create_index(
        "ix_workflow_enrolments_contact", "workflow_enrolments", ["contact_id", "enrolled_at"], unique=False
    )
    op.create_index(
        "ix_workflow_enrolments_workflow_status", "workflow_enrolments", ["workflow_id", "status"], unique=False
    )
    op.create_table(
        "workflow_step_logs",
        sa.Column("enrolment_id", ID, nullable=False),
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["workflow_enrolments.id"],
            name=op.f("fk_workflow_step_logs_enrolment_id_workflow_enrolments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_step_logs")),
    )
    op.create_index("ix_workflow_step_logs_contact", "workflow_step_logs", ["contact_id", "at"], unique=False)
    op.create_index("ix_workflow_step_logs_enrolment", "workflow_step_logs", ["enrolment_id", "id"], unique=False)
    op.create_index(
        "ix_workflow_step_logs_workflow_step", "workflow_step_logs", ["workflow_id", "step_id"], unique=False
    )
    op.create_table(
        "workflow_approvals",
        sa.Column("enrolment_id", ID, nullable=False),
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("approvers", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["workflow_enrolments.id"],
            name=op.f("fk_workflow_approvals_enrolment_id_workflow_enrolments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_approvals")),
        sa.UniqueConstraint("enrolment_id", "seq", name="uq_workflow_approvals_enrolment_seq"),
    )
    op.create_index(op.f("ix_workflow_approvals_status"), "workflow_approvals", ["status"], unique=False)
    op.create_index(op.f("ix_workflow_approvals_workflow_id"), "workflow_approvals", ["workflow_id"], unique=False)
    op.create_table(
        "workflow_tasks",
        sa.Column("enrolment_id", ID, nullable=True),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("assignee", sa.String(length=320), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_workflow_tasks_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["workflow_enrolments.id"],
            name=op.f("fk_workflow_tasks_enrolment_id_workflow_enrolments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_tasks")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_workflow_tasks_idempotency_key")),
    )
    op.create_index(op.f("ix_workflow_tasks_assignee"), "workflow_tasks", ["assignee"], unique=False)
    op.create_index(op.f("ix_workflow_tasks_contact_id"), "workflow_tasks", ["contact_id"], unique=False)
    op.create_table(
        "workflow_field_values",
        sa.Column("workflow_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_workflow_field_values_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_field_values_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_field_values")),
        sa.UniqueConstraint("workflow_id", "contact_id", name="uq_workflow_field_values_contact"),
    )


def downgrade() -> None:
    op.drop_table("workflow_field_values")
    op.drop_table("workflow_tasks")
    op.drop_table("workflow_approvals")
    op.drop_table("workflow_step_logs")
    op.drop_table("workflow_enrolments")
    op.drop_table("workflows")
    op.drop_table("notify_deliveries")
    op.drop_table("notify_endpoints")
