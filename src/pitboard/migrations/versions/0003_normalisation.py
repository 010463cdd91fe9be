"""normalisation facts and original values

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 12:26:55.342038
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
# Existing rows get an empty object; new rows get one from the model.
EMPTY_OBJECT = sa.text("'{}'")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("original_values", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.add_column(sa.Column("field_sources", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.create_index(batch_op.f("ix_accounts_registered_domain"), ["registered_domain"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("seniority", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("job_function", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("email_domain", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("is_free_mail", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("original_values", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.add_column(sa.Column("field_sources", JSON, nullable=False, server_default=EMPTY_OBJECT))
        batch_op.create_index(batch_op.f("ix_contacts_email_domain"), ["email_domain"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_email_domain"))
        batch_op.drop_column("field_sources")
        batch_op.drop_column("original_values")
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
