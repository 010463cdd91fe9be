"""workflows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op  # noqa: F401  (used once this migration has tables)
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
