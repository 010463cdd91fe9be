"""contact scores keep their facts, not their explanation; partitioned by model on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 23:00:00

``contact_scores`` stores each score's facts (``scoring.codec``, about 30 bytes) instead of its rendered JSON
explanation (about 480), drops its surrogate ``id`` for the (contact_id, model_key) key and the unused
(model_key, total) index. On PostgreSQL it becomes a table partitioned by ``model_key``, a partition per model
and a default one, so a full rescore can swap a model's rows in as one fresh table. ``scoring_model_versions`` keeps
every applied definition, filled here with the current ones.

Existing rows keep their numbers and get ``facts`` NULL and no signature: each model's next full rescore
(``pitboard scoring rescore``, or the daily ``scoring.rescore_all``) writes them again with their facts; until
then they are shown without an explanation. Downgrading keeps the numbers and leaves explanations empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NUMBERS = "contact_id, model_key, fit, engagement, total, model_version, computed_at"


def _new_columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("contact_id", ID, autoincrement=False, nullable=False),
        sa.Column("model_key", sa.String(length=100), nullable=False),
        sa.Column("fit", sa.Float(), nullable=False),
        sa.Column("engagement", sa.Float(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("facts", sa.LargeBinary(), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_scores_contact_id_contacts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("contact_id", "model_key", name="pk_contact_scores"),
    ]


def _old_columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("model_key", sa.String(length=100), nullable=False),
        sa.Column("fit", sa.Float(), nullable=False),
        sa.Column("engagement", sa.Float(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("explanation", JSON, nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("signature", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_scores_contact_id_contacts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contact_scores"),
        sa.UniqueConstraint("contact_id", "model_key", name="uq_contact_scores_contact_model"),
    ]


def _set_aside(table: str) -> None:
    """Rename ``contact_scores`` and its named constraints out of the way of the new table's."""
    op.rename_table("contact_scores", table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT pk_contact_scores TO pk_{table}")
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT fk_contact_scores_contact_id_contacts TO fk_{table}")


def upgrade() -> None:
    op.create_table(
        "scoring_model_versions",
        sa.Column("model_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "version", name="pk_scoring_model_versions"),
    )
    op.execute(
        "INSERT INTO scoring_model_versions (model_key, version, definition, checksum, created_at) "
        "SELECT key, version, definition, checksum, updated_at FROM scoring_models"
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("contact_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_scores_model_total")
    _set_aside("contact_scores_0010")
    if postgres:
        op.create_table("contact_scores", *_new_columns(), postgresql_partition_by="LIST (model_key)")
        op.execute("CREATE TABLE contact_scores_default PARTITION OF contact_scores DEFAULT")
        # A partition per existing model (named as scoring/store.py names them), so their rows skip the default.
        for model_id, key in op.get_bind().execute(sa.text("SELECT id, key FROM scoring_models ORDER BY id")):
            literal = "'" + str(key).replace("'", "''") + "'"
            op.execute(
                f"CREATE TABLE contact_scores_m{int(model_id)}_0 PARTITION OF contact_scores FOR VALUES IN ({literal})"
            )
    else:
        op.create_table("contact_scores", *_new_columns(), sqlite_with_rowid=False)
    op.execute(f"INSERT INTO contact_scores ({NUMBERS}) SELECT {NUMBERS} FROM contact_scores_0010")
    op.drop_table("contact_scores_0010")


def downgrade() -> None:
    _set_aside("contact_scores_0011")
    op.create_table("contact_scores", *_old_columns())
    op.execute(f"INSERT INTO contact_scores ({NUMBERS}, explanation) SELECT {NUMBERS}, '[]' FROM contact_scores_0011")
    op.drop_table("contact_scores_0011")  # on PostgreSQL with its partitions
    with op.batch_alter_table("contact_scores", schema=None) as batch_op:
        batch_op.create_index("ix_contact_scores_model_total", ["model_key", "total"], unique=False)
    op.drop_table("scoring_model_versions")
