"""Database engine, sessions and the column types that behave the same on SQLite and PostgreSQL.

Entry points (an API request, a CLI command, a job) own the transaction: they open a session
with :func:`session_scope` or the API dependency and commit once; services only flush.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    cast,
    create_engine,
    event,
    func,
    insert,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from pitboard.kit.time import ensure_utc

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on PostgreSQL gives us containment queries and GIN / expression indexes.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, whatever the database keeps.

    SQLite has no time zone support: we store naive UTC there and put the zone back on read,
    so comparisons and arithmetic never mix naive and aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = ensure_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return ensure_utc(value)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite opens transactions lazily and on its own terms, which breaks SAVEPOINT (a released
    # savepoint would commit everything). We turn that off and begin transactions ourselves.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL lets the web server read while a worker or an import writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to busy_timeout). A deferred transaction
    # that reads and then writes fails at once with "database is locked" when another writer got
    # in between; SQLite has one writer anyway, so we queue writers at the start instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    # orjson writes and reads JSON columns several times faster than the standard library; events carry
    # two JSON columns each, so this shows in ingest throughput.
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # psycopg 3 is our PostgreSQL driver; accept the plain scheme people paste.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # psycopg prepares a statement on the server after a few runs, and PostgreSQL may then reuse one generic
    # plan for it. For our IN-lists of keys that was far slower: ~90 ms per identity look-up against < 1 ms
    # planned with its values; a 20k-row re-import went from 1,519 to 12,384 rows/s without preparing.
    # JIT off: it compiled each analytic statement (segment refreshes, bulk scoring, dashboards) for 0.3-1.1 s and
    # gained nothing measurable, as their time goes into reading rows, not evaluating expressions.
    connect_args = {"prepare_threshold": None, "options": "-c jit=off", **kwargs.pop("connect_args", {})}
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_returning_ids(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in bulk and return their new ids in the order of ``rows``.

    PostgreSQL keeps the order cheaply (``sort_by_parameter_order``). On SQLite that option falls back
    to one statement per row, so we insert in batches and sort the returned ids instead: we hold the
    write lock (BEGIN IMMEDIATE) and rowids of a table without AUTOINCREMENT are handed out as
    max + 1 in row order, so ascending ids are the rows' order.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        ids = sorted(session.scalars(insert(model).returning(model.id), rows))
    else:
        ids = list(session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))
    if len(ids) != len(rows):
        raise RuntimeError(f"inserted {len(rows)} rows but got {len(ids)} ids back")
    return ids


@contextmanager
def time_limit(session: Session, seconds: float) -> Iterator[None]:
    """Stop the statements run inside after ``seconds`` (the database raises; see :func:`is_time_limit_error`).

    PostgreSQL: ``statement_timeout`` for this transaction only (``set_config(..., true)``), restored after.
    SQLite: a progress handler that interrupts the running statement once the deadline has passed; it runs
    every few thousand virtual-machine steps, so the cost is negligible.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        before = conn.exec_driver_sql("SHOW statement_timeout").scalar()
        conn.exec_driver_sql(f"SELECT set_config('statement_timeout', '{max(1, int(seconds * 1000))}', true)")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT set_config('statement_timeout', '{before}', true)")
        return
    raw = conn.connection.dbapi_connection
    deadline = time.monotonic() + seconds

    def past_deadline() -> int:
        return 1 if time.monotonic() > deadline else 0

    raw.set_progress_handler(past_deadline, 10_000)  # type: ignore[union-attr]
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)  # type: ignore[union-attr]


def is_time_limit_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement stopped by :func:`time_limit`."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "statement timeout" in text or "canceling statement" in text or "interrupted" in text


def utc_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on either database; read the values with :func:`as_date`.
    Grouping by day in SQL and folding days into weeks or months in Python keeps one code path for both."""
    if dialect == "postgresql":
        # A cast to date is about twice as fast as to_char() over millions of rows.
        return cast(func.timezone("UTC", column), Date)
    # SQLite keeps naive UTC text ('2024-05-01 13:45:00.000000'); date() takes its day as text.
    return func.date(column, type_=String)


def as_date(value: date | str) -> date:
    """A :func:`utc_day` value as a date (PostgreSQL returns dates, SQLite ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
