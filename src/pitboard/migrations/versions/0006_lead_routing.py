"""lead routing

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "routing_pools",
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("assigned_total", sa.BigInteger(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_pools")),
        sa.UniqueConstraint("key", name=op.f("uq_routing_pools_key")),
    )
    op.create_table(
        "routing_pool_members",
        sa.Column("pool_id", ID, nullable=False),
        sa.Column("sales_user_id", ID, nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("assigned_count", sa.BigInteger(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["routing_pools.id"],
            name=op.f("fk_routing_pool_members_pool_id_routing_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sales_user_id"],
            ["sales_users.id"],
            name=op.f("fk_routing_pool_members_sales_user_id_sales_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_pool_members")),
        sa.UniqueConstraint("pool_id", "sales_user_id", name="uq_routing_pool_members_pool_user"),
    )
    op.create_index(op.f("ix_routing_pool_members_pool_id"), "routing_pool_members", ["pool_id"], unique=False)
    op.create_index(
        op.f("ix_routing_pool_members_sales_user_id"), "routing_pool_members", ["sales_user_id"], unique=False
    )

    op.create_table(
        "routing_leads",
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("pool_key", sa.String(length=150), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_minutes", sa.Integer(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_status", sa.String(length=20), nullable=True),
        sa.Column("first_touch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_touch_kind", sa.String(length=200), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.String(length=20), nullable=True),
        sa.Column("disposition_reason", sa.String(length=500), nullable=True),
        sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition_by", sa.String(length=320), nullable=True),
        sa.Column("reroutes", sa.Integer(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_routing_leads_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["sales_users.id"], name=op.f("fk_routing_leads_owner_id_sales_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_leads")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_routing_leads_contact_id")),
    )
    op.create_index(
        "ix_routing_leads_owner_status", "routing_leads", ["owner_id", "status", "disposition"], unique=False
    )
    op.create_index("ix_routing_leads_sla", "routing_leads", ["sla_status", "sla_due_at"], unique=False)
    op.create_index(op.f("ix_routing_leads_status"), "routing_leads", ["status"], unique=False)
    op.create_index(op.f("ix_routing_leads_routed_at"), "routing_leads", ["routed_at"], unique=False)

    op.create_table(
        "routing_decisions",
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=200), nullable=True),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("previous_owner_id", sa.BigInteger(), nullable=True),
        sa.Column("pool_key", sa.String(length=150), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("candidates", JSON, nullable=False),
        sa.Column("flow_checksum", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_routing_decisions_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["sales_users.id"],
            name=op.f("fk_routing_decisions_owner_id_sales_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decisions")),
    )
    op.create_index(
        "ix_routing_decisions_contact_decided", "routing_decisions", ["contact_id", "decided_at"], unique=False
    )
    op.create_index(
        "ix_routing_decisions_owner_decided", "routing_decisions", ["owner_id", "outcome", "decided_at"], unique=False
    )
    op.create_index(op.f("ix_routing_decisions_decided_at"), "routing_decisions", ["decided_at"], unique=False)

    op.create_table(
        "routing_out_of_office",
        sa.Column("sales_user_id", ID, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["sales_user_id"],
            ["sales_users.id"],
            name=op.f("fk_routing_out_of_office_sales_user_id_sales_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_out_of_office")),
    )
    op.create_index(
        op.f("ix_routing_out_of_office_sales_user_id"), "routing_out_of_office", ["sales_user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("routing_out_of_office")
    op.drop_table("routing_decisions")
    op.drop_table("routing_leads")
    op.drop_table("routing_pool_members")
    op.drop_table("routing_pools")
