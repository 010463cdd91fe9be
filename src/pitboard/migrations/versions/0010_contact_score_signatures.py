"""contact score signatures, events name-first index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 19:00:00

A fingerprint of each score's explanation (``scoring.calc.signatures``), so a bulk rescore finds changed rows
by comparing integers. Existing rows get NULL: the next rescore of their model rewrites them once.
And ``events (name, contact_id, occurred_at)`` for the bulk engagement reads: building it takes about two
minutes per 20M events, during which event writes wait.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("contact_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", ID, nullable=True))
    op.create_index("ix_events_name_contact_occurred", "events", ["name", "contact_id", "occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_events_name_contact_occurred", table_name="events")
    with op.batch_alter_table("contact_scores", schema=None) as batch_op:
        batch_op.drop_column("signature")
