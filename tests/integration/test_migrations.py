"""Migrations upgrade and downgrade cleanly on both databases, and the result matches the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from pitboard.kit import migrate
from pitboard.kit.db import make_engine
from pitboard.models import Base
from pitboard.models.scoring import not_a_score_partition
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database


@pytest.fixture(params=BACKENDS)
def fresh_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('mig') / 'm.db'}")
        yield engine
        engine.dispose()
    else:
        url = create_postgres_database("pitboard_mig")
        engine = make_engine(url)
        yield engine
        engine.dispose()
        drop_postgres_database(url)


def test_upgrade_downgrade_upgrade_round_trip(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == migrate.head_revision()
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables

    migrate.downgrade(fresh_engine, "base")
    assert migrate.current_revision(fresh_engine) is None
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}

    migrate.upgrade(fresh_engine)
    assert migrate.current_revision(fresh_engine) == migrate.head_revision()


def test_migrated_schema_matches_the_models(fresh_engine: Engine) -> None:
    """A model change without a migration fails here, before it can reach anyone's database."""
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": not_a_score_partition})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrading_a_populated_database_keeps_every_reference(fresh_engine: Engine) -> None:
    """SQLite batch migrations copy and drop tables; with foreign keys enforced that drop would null or
    delete every referencing row. This loads rows at revision 0002 and upgrades them to head."""
    from sqlalchemy import text

    migrate.upgrade(fresh_engine, "0002")
    rows = [
        "INSERT INTO accounts (id, name, custom, created_at, updated_at) VALUES (1, 'Acme', '{}', :t, :t)",
        "INSERT INTO contacts (id, email, account_id, lifecycle_stage, custom, created_at, updated_at) "
        "VALUES (7, 'a@acme.io', 1, 'lead', '{}', :t, :t)",
        "INSERT INTO identities (id, contact_id, kind, value, created_at) VALUES (1, 7, 'email', 'a@acme.io', :t)",
        "INSERT INTO events (id, message_id, event_type, contact_id, occurred_at, received_at, properties, context) "
        "VALUES (1, 'm1', 'track', 7, :t, :t, '{}', '{}')",
    ]
    with fresh_engine.begin() as conn:
        for statement in rows:
            conn.execute(text(statement), {"t": "2026-01-01 00:00:00"})
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": not_a_score_partition})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_scores_keep_their_numbers_through_the_facts_migration(fresh_engine: Engine) -> None:
    """0011 replaces stored explanations by facts: existing rows keep their numbers, get no facts (the next
    full rescore writes them) and every model's current definition becomes its first kept version."""
    from sqlalchemy import text

    migrate.upgrade(fresh_engine, "0010")
    definition = '{"key": "default", "name": "Default"}'
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO contacts (id, email, lifecycle_stage, custom, created_at, updated_at) "
                "VALUES (7, 'a@acme.io', 'lead', '{}', :t, :t)"
            ),
            {"t": "2026-01-01 00:00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO scoring_models (id, key, name, definition, checksum, version, active, created_at, "
                "updated_at) VALUES (1, 'default', 'Default', :d, 'abc', 2, :yes, :t, :t)"
            ),
            {"d": definition, "t": "2026-01-01 00:00:00", "yes": True},
        )
        conn.execute(
            text(
                "INSERT INTO contact_scores (id, contact_id, model_key, fit, engagement, total, explanation, "
                "model_version, computed_at, signature) VALUES (1, 7, 'default', 10, 5.5, 15.5, :e, 2, :t, 42)"
            ),
            {"e": '[["Senior", "Senior", "fit", 10, 10, null, null]]', "t": "2026-01-01 00:00:00"},
        )
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT contact_id, model_key, total, facts, model_version, signature FROM contact_scores")
        ).all()
        assert [tuple(r) for r in rows] == [(7, "default", 15.5, None, 2, None)]
        kept = conn.execute(text("SELECT model_key, version, checksum FROM scoring_model_versions")).all()
        assert [tuple(r) for r in kept] == [("default", 2, "abc")]
    migrate.downgrade(fresh_engine, "0010")
    with fresh_engine.connect() as conn:
        back = conn.execute(text("SELECT contact_id, total, model_version FROM contact_scores")).all()
        assert [tuple(r) for r in back] == [(7, 15.5, 2)]
