"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test process gets its own databases, built by the real migrations (as production is),
and every test starts from empty tables. PostgreSQL is used when PITBOARD_TEST_POSTGRES_URL
is set or a local server answers; PITBOARD_REQUIRE_POSTGRES=1 (CI) makes its absence an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pitboard.api.app import create_app
from pitboard.auth import service as auth
from pitboard.kit import migrate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import make_engine, session_factory, session_scope
from pitboard.models import Base
from pitboard.scoring.store import partitions
from pitboard.settings import Settings

PG_ADMIN_URL = os.environ.get("PITBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_available() -> bool:
    try:
        with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


POSTGRES = _postgres_available()
if os.environ.get("PITBOARD_REQUIRE_POSTGRES") == "1" and not POSTGRES:
    raise RuntimeError(f"PostgreSQL is required (PITBOARD_REQUIRE_POSTGRES=1) but {PG_ADMIN_URL} does not answer")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES else ["sqlite"]


def create_postgres_database(prefix: str = "pitboard_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _migrated_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    sqlite_path: Path = tmp_path_factory.mktemp("db") / "pitboard.db"
    engines["sqlite"] = make_engine(f"sqlite:///{sqlite_path}")
    pg_url = None
    if POSTGRES:
        pg_url = create_postgres_database()
        engines["postgresql"] = make_engine(pg_url)
    for engine in engines.values():
        migrate.upgrade(engine)
    yield engines
    for engine in engines.values():
        engine.dispose()
    if pg_url:
        drop_postgres_database(pg_url)


def truncate_all(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            # Full rescores make a partition of contact_scores per model (scoring/store.py): start without.
            for key, partition in partitions(conn).items():
                if key is not None:
                    conn.execute(text(f"DROP TABLE {partition}"))
        else:
            # Without AUTOINCREMENT, SQLite restarts rowids at 1 once a table is empty.
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("DELETE FROM sqlite_sequence"))  # AUTOINCREMENT tables restart at 1 too


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, _migrated_engines: dict[str, Engine]) -> Engine:
    eng = _migrated_engines[request.param]
    truncate_all(eng)
    return eng


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session for arranging and checking data. On SQLite every transaction holds the write lock
    (see kit/db.py), so commit or roll back before calling the app again."""
    s = session_factory(engine)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        project_dir=tmp_path,
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def issue_key(engine: Engine, role: str) -> str:
    with session_scope(engine) as s:
        return auth.create_api_key(s, name=f"test-{role}", role=role, actor=SYSTEM).secret


@pytest.fixture
def admin_headers(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key(engine, 'admin')}"}


@pytest.fixture
def viewer_headers(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_key(engine, 'viewer')}"}


ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct-horse-battery"


@pytest.fixture
def web_user(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as s:
        auth.create_user(s, email=ADMIN_EMAIL, name="Ada Admin", password=ADMIN_PASSWORD, role="admin", actor=SYSTEM)
    return ADMIN_EMAIL, ADMIN_PASSWORD
