"""data quality

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:34:15.843899
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Existing rows get an empty object; new rows get one from the model.
EMPTY_OBJECT = sa.text("'{}'")


def upgrade() -> None:
    op.create_table(
        "account_merges",
        sa.Column("survivor_id", ID, nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("merged_snapshot", JSON, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["survivor_id"], ["accounts.id"], name=op.f("fk_account_merges_survivor_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_merges")),
    )
    with op.batch_alter_table("account_merges", schema=None) as batch_op:
        batch_op.create_index("ix_account_merges_survivor", ["survivor_id"], unique=False)
    op.create_table(
        "dedupe_candidates",
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("left_id", sa.Integer(), nullable=False),
        sa.Column("right_id", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_candidates")),
        sa.UniqueConstraint("entity", "left_id", "right_id", name="uq_dedupe_candidates_pair"),
    )
    with op.batch_alter_table("dedupe_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_dedupe_candidates_status", ["entity", "status"], unique=False)

    op.create_table(
        "quality_snapshots",
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_snapshots")),
        sa.UniqueConstraint("taken_on", "entity", "field", "metric", name="uq_quality_snapshots_day_measure"),
    )
    with op.batch_alter_table("quality_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quality_snapshots_taken_on"), ["taken_on"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("original_values", JSON, server_default=EMPTY_OBJECT, nullable=False))
        batch_op.add_column(sa.Column("field_sources", JSON, server_default=EMPTY_OBJECT, nullable=False))
        batch_op.create_index(batch_op.f("ix_accounts_registered_domain"), ["registered_domain"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("seniority", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("job_function", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("email_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("is_free_mail", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("account_match", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("account_match_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("original_values", JSON, server_default=EMPTY_OBJECT, nullable=False))
        batch_op.add_column(sa.Column("field_sources", JSON, server_default=EMPTY_OBJECT, nullable=False))
        batch_op.create_index(batch_op.f("ix_contacts_email_domain"), ["email_domain"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_account_merges_survivor")
    op.drop_table("account_merges")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_email_domain"))
        batch_op.drop_column("field_sources")
        batch_op.drop_column("original_values")
        batch_op.drop_column("account_match_reason")
        batch_op.drop_column("account_match")
        batch_op.drop_column("is_free_mail")
        batch_op.drop_column("email_domain")
        batch_op.drop_column("job_function")
        batch_op.drop_column("seniority")
        batch_op.drop_column("region")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_registered_domain"))
        batch_op.drop_column("field_sources")
        batch_op.drop_column("original_values")
        batch_op.drop_column("registered_domain")

    with op.batch_alter_table("quality_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_snapshots_taken_on"))

    op.drop_table("quality_snapshots")
    with op.batch_alter_table("dedupe_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_dedupe_candidates_status")

    op.drop_table("dedupe_candidates")
