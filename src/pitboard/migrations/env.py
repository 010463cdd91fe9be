"""Alembic environment: the URL comes from the caller (``pitboard migrate``) or the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from pitboard.kit.db import make_engine
from pitboard.models import Base
from pitboard.models.scoring import not_a_score_partition
from pitboard.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=not_a_score_partition,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("pitboard migrations run online only: pass a database URL")
run_migrations_online()
