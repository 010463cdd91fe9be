"""Bulk writers: the fastest way to put generated rows into each backend.

Rows are plain tuples of str / int / bool / None in the column order of :data:`TABLE_COLUMNS`:
timestamps are naive-UTC text in SQLAlchemy's SQLite storage format, JSON is already serialised,
Numeric values are decimal text. That one representation suits both backends:

* SQLite: ``executemany`` on the raw ``sqlite3`` connection (no ORM or Core overhead), committed
  once per chunk so the write-ahead log stays bounded; a larger page cache while loading keeps the
  index B-trees in memory.
* PostgreSQL: ``COPY … FROM STDIN`` through psycopg 3, all in one transaction (so a failure leaves
  nothing behind), with the session time zone set to UTC so the timestamp text means UTC.
  Explicit ids bypass the id sequences, so :meth:`finish` moves them past the loaded rows.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from pitboard.demo.common import Row
from pitboard.demo.events import COLUMNS as EVENT_COLUMNS

# Parents before children: the order tables are written in, and the reverse is the order to clean up.
# Columns not listed keep their defaults: NULL, or '{}' for original_values / field_sources (the demo
# rows were never normalised, so there is nothing to keep), and NULL account_match (the lead-to-account
# matcher has not run: pitboard.quality.account_match can be demonstrated on the data).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sales_users": ("id", "name", "email", "team", "territory", "manager_id", "capacity", "timezone",
                    "working_hours", "active", "created_at", "updated_at"),
    "accounts": ("id", "name", "domain", "industry", "employee_count", "annual_revenue", "country", "region",
                 "owner_id", "custom", "created_at", "updated_at", "registered_domain"),
    "campaigns": ("id", "name", "campaign_type", "channel", "status", "start_date", "end_date", "budget",
                  "actual_spend", "utm_campaign", "owner_email", "description", "created_at", "updated_at"),
    "custom_field_definitions": ("id", "entity", "name", "label", "field_type", "options", "required",
                                 "description", "created_at", "updated_at"),
    "contacts": ("id", "email", "email_normalized", "first_name", "last_name", "title", "phone", "company_name",
                 "country", "city", "account_id", "owner_id", "lifecycle_stage", "lead_source", "custom",
                 "created_at", "updated_at", "region", "seniority", "job_function", "email_domain", "is_free_mail",
                 "last_activity_at"),
    "identities": ("id", "contact_id", "kind", "value", "created_at"),
    "lifecycle_stage_changes": ("id", "contact_id", "from_stage", "to_stage", "changed_at", "reason", "source"),
    "opportunities": ("id", "name", "account_id", "contact_id", "owner_id", "amount", "currency", "stage",
                      "opened_at", "closed_at", "is_closed", "is_won", "source_campaign_id", "external_id",
                      "created_at", "updated_at"),
    "events": EVENT_COLUMNS,
}  # fmt: skip
TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)


# Tables whose size grows with the number of contacts: their secondary indexes (and, on PostgreSQL,
# foreign keys and unique constraints) are dropped for the load and rebuilt after it. Building an
# index from sorted data is several times faster than maintaining it through millions of random
# inserts (anonymous ids, timestamps), which at 20M events would each touch a page outside the cache.
BULK_TABLES: tuple[str, ...] = ("contacts", "identities", "lifecycle_stage_changes", "opportunities", "events")
# ...except indexes the load appends to almost in order: keys that grow with the ids the generator
# hands out (contact_id), or have a few distinct values (stage, campaign, country), touch a handful
# of cached pages per chunk. Keeping them saves rebuilding each with a full scan of its table.
KEPT_DURING_LOAD: frozenset[str] = frozenset({
    "ix_events_contact_occurred", "ix_events_campaign_id", "ix_identities_contact_id",
    "ix_lifecycle_stage_changes_contact_changed", "ix_lifecycle_stage_changes_to_stage", "ix_contacts_country",
    "ix_contacts_lifecycle_stage", "ix_opportunities_contact_id", "ix_opportunities_account_id",
    "ix_opportunities_stage", "ix_opportunities_opened_at",
})  # fmt: skip


class BulkWriter(ABC):
    """Writes rows table by table and keeps count of rows and seconds spent per table."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.seconds: dict[str, float] = dict.fromkeys(TABLES, 0.0)

    def write(self, table: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        self._write(table, TABLE_COLUMNS[table], rows)
        self.seconds[table] += time.perf_counter() - started
        self.counts[table] += len(rows)

    @abstractmethod
    def _write(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None: ...

    @abstractmethod
    def prepare(self) -> None:
        """Drop what slows bulk inserts down (remembering how to rebuild it)."""

    @abstractmethod
    def checkpoint(self) -> None:
        """A chunk is complete (SQLite commits here; PostgreSQL keeps one transaction)."""

    @abstractmethod
    def finish(self) -> None:
        """Rebuild indexes, commit, make the database ready for normal use (sequences, statistics)."""

    @abstractmethod
    def abort(self, id_bases: dict[str, int]) -> None:
        """Undo what was written: rows with ids above ``id_bases`` are the generator's."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteWriter(BulkWriter):
    # 256 MiB of page cache (negative means KiB) while loading, instead of SQLite's default 2 MiB.
    LOAD_CACHE_KIB = 262_144

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._raw = engine.raw_connection()
        self._conn: Any = self._raw.driver_connection
        assert self._conn is not None
        self._saved = {p: self._conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("cache_size", "synchronous")}
        self._conn.execute(f"PRAGMA cache_size=-{self.LOAD_CACHE_KIB}")
        # No fsync per chunk: an interrupted load has to be thrown away anyway (see abort), and
        # finish() ends with a synced checkpoint at the original setting.
        self._conn.execute("PRAGMA synchronous=OFF")
        # The generator's rows reference each other correctly by construction (the tests check it with
        # PRAGMA foreign_key_check); checking every event's contact and campaign costs ~15% of the load.
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._indexes: list[str] = []

    def _begin(self) -> None:
        # SQLAlchemy runs pysqlite in autocommit mode and issues BEGIN itself; without one here every
        # row would be its own transaction (six times slower).
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def prepare(self) -> None:
        self._begin()
        for table in BULK_TABLES:
            # Explicit indexes only: those of UNIQUE constraints (sql IS NULL) cannot be dropped.
            found = self._conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
            for name, sql in found:
                if name not in KEPT_DURING_LOAD:
                    self._conn.execute(f'DROP INDEX "{name}"')
                    self._indexes.append(sql)
        self._conn.commit()

    def _write(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        self._begin()
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self._conn.executemany(sql, rows)

    def checkpoint(self) -> None:
        self._conn.commit()

    def _rebuild_indexes(self) -> None:
        self._begin()
        for sql in self._indexes:
            # IF NOT EXISTS: after an early failure the DROP may have been rolled back already.
            self._conn.execute(re.sub(r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX IF NOT EXISTS ", sql))
        self._conn.commit()
        self._indexes = []

    def finish(self) -> None:
        self._conn.commit()
        self._rebuild_indexes()
        # Sampled statistics: a full ANALYZE of 20M events would take longer than it is worth.
        self._conn.execute("PRAGMA analysis_limit=1000")
        self._conn.execute("ANALYZE")
        self._conn.execute(f"PRAGMA synchronous={self._saved['synchronous']}")
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def abort(self, id_bases: dict[str, int]) -> None:
        self._conn.rollback()
        # Earlier chunks are committed already: delete them, children first.
        self._begin()
        for table in reversed(TABLES):
            self._conn.execute(f"DELETE FROM {table} WHERE id > ?", (id_bases.get(table, 0),))
        self._conn.commit()
        self._rebuild_indexes()

    def close(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.rollback()
            for pragma, value in self._saved.items():
                self._conn.execute(f"PRAGMA {pragma}={value}")
            # Every pitboard connection runs with foreign keys on (kit.db), so this one goes back to the pool so.
            self._conn.execute("PRAGMA foreign_keys=ON")
        finally:
            self._raw.close()


class PostgresWriter(BulkWriter):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._raw = engine.raw_connection()
        self._conn: Any = self._raw.driver_connection
        assert self._conn is not None
        # SET LOCAL lasts for this transaction only: the pooled connection keeps its own settings after.
        self._conn.execute("SET LOCAL TIME ZONE 'UTC'")
        # Index builds sort in memory up to this much (the default 64MB spills 20M keys to disk).
        self._conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        self._rebuild: list[str] = []

    def prepare(self) -> None:
        # DDL is transactional in PostgreSQL: if the load fails, the rollback brings all of this back.
        for table in BULK_TABLES:
            constraints = self._conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
                (table,),
            ).fetchall()
            indexes = self._conn.execute(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " WHERE x.indrelid = %s::regclass AND NOT x.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1",
                (table,),
            ).fetchall()
            for name, definition in constraints:
                self._conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                self._rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            for name, definition in indexes:
                if name not in KEPT_DURING_LOAD:
                    self._conn.execute(f'DROP INDEX "{name}"')
                    self._rebuild.append(definition)
        # Foreign keys last: adding one checks it with a join, which wants the rebuilt indexes in place.
        self._rebuild.sort(key=lambda sql: "FOREIGN KEY" in sql)

    def _write(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def checkpoint(self) -> None:
        return None

    def finish(self) -> None:
        for sql in self._rebuild:
            self._conn.execute(sql)
        for table in TABLES:
            # Explicit ids do not advance the sequence; later ORM inserts would collide without this.
            self._conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                " HAVING max(id) IS NOT NULL"
            )
        self._conn.commit()
        self._conn.execute(f"ANALYZE {', '.join(TABLES)}")
        self._conn.commit()

    def abort(self, id_bases: dict[str, int]) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._raw.close()


@contextmanager
def open_writer(engine: Engine) -> Iterator[BulkWriter]:
    backend = engine.dialect.name
    writer: BulkWriter
    if backend == "sqlite":
        writer = SQLiteWriter(engine)
    elif backend == "postgresql":
        writer = PostgresWriter(engine)
    else:
        raise NotImplementedError(f"the demo generator supports SQLite and PostgreSQL, not {backend}")
    try:
        yield writer
    finally:
        writer.close()
