"""campaign operations and work board

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "campaign_ops_settings",
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_ops_settings")),
        sa.UniqueConstraint("key", name=op.f("uq_campaign_ops_settings_key")),
    )
    op.create_table(
        "work_items",
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("item_type", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("column_key", sa.String(length=50), nullable=False),
        sa.Column("rank", sa.Float(), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("service_tier", sa.String(length=20), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("blocked_reason", sa.String(length=500), nullable=True),
        sa.Column("owner_email", sa.String(length=320), nullable=True),
        sa.Column("requested_by", sa.String(length=320), nullable=True),
        sa.Column("campaign_id", ID, nullable=True),
        sa.Column("column_entered_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("work_items", "campaign_id", "campaigns", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index("ix_work_items_column_rank", ["column_key", "rank"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_items_campaign_id"), ["campaign_id"], unique=False)

    op.create_table(
        "work_item_transitions",
        sa.Column("item_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("from_column", sa.String(length=50), nullable=True),
        sa.Column("to_column", sa.String(length=50), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("wip_override", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk("work_item_transitions", "item_id", "work_items", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_transitions")),
    )
    with op.batch_alter_table("work_item_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_work_item_transitions_item_at", ["item_id", "at"], unique=False)
        batch_op.create_index("ix_work_item_transitions_at", ["at"], unique=False)

    op.create_table(
        "campaign_ops",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("work_item_id", ID, nullable=True),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("audience_segment", sa.String(length=100), nullable=False),
        sa.Column("consent_purpose", sa.String(length=100), nullable=True),
        sa.Column("success_metrics", JSON, nullable=False),
        sa.Column("owner_email", sa.String(length=320), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("briefed_at", TS, nullable=False),
        sa.Column("live_at", TS, nullable=True),
        sa.Column("live_override", sa.String(length=500), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("campaign_ops", "campaign_id", "campaigns", "CASCADE"),
        _fk("campaign_ops", "work_item_id", "work_items", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_ops")),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_campaign_ops_campaign_id")),
    )
    op.create_table(
        "campaign_checklist_items",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("key", sa.String(length=50), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("check", sa.String(length=20), nullable=False),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("checked_by", sa.String(length=320), nullable=True),
        sa.Column("checked_at", TS, nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("evidence", JSON, nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk("campaign_checklist_items", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_checklist_items")),
        sa.UniqueConstraint("campaign_id", "key", name="uq_campaign_checklist_items_campaign_key"),
    )
    op.create_table(
        "campaign_approval_steps",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("approvers", JSON, nullable=False),
        sa.Column("reviewers", JSON, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("last_reminded_at", TS, nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk("campaign_approval_steps", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_approval_steps")),
        sa.UniqueConstraint("campaign_id", "position", name="uq_campaign_approval_steps_campaign_position"),
    )
    with op.batch_alter_table("campaign_approval_steps", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_approval_steps_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "campaign_approval_decisions",
        sa.Column("step_id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk("campaign_approval_decisions", "step_id", "campaign_approval_steps", "CASCADE"),
        _fk("campaign_approval_decisions", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_approval_decisions")),
    )
    with op.batch_alter_table("campaign_approval_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_approval_decisions_campaign_at", ["campaign_id", "at"], unique=False)

    op.create_table(
        "campaign_budget_lines",
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("planned", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("committed", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        _fk("campaign_budget_lines", "campaign_id", "campaigns", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_budget_lines")),
        sa.UniqueConstraint("campaign_id", "channel", name="uq_campaign_budget_lines_campaign_channel"),
    )


def downgrade() -> None:
    op.drop_table("campaign_budget_lines")
    with op.batch_alter_table("campaign_approval_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_approval_decisions_campaign_at")
    op.drop_table("campaign_approval_decisions")
    with op.batch_alter_table("campaign_approval_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_approval_steps_status_due")
    op.drop_table("campaign_approval_steps")
    op.drop_table("campaign_checklist_items")
    op.drop_table("campaign_ops")
    with op.batch_alter_table("work_item_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_work_item_transitions_at")
        batch_op.drop_index("ix_work_item_transitions_item_at")
    op.drop_table("work_item_transitions")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_items_campaign_id"))
        batch_op.drop_index("ix_work_items_column_rank")
    op.drop_table("work_items")
    op.drop_table("campaign_ops_settings")
