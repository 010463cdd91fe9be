"""Run the bulk paths' read-only SELECTs, in parallel where that pays, and hand back integer arrays.

Every bulk statement selects integers only (ids, bit masks, counts, weights), so results travel as int64
NumPy arrays, one row per result row.

* **Small databases, or** ``parallel=False``: one statement after another on the session's connection.
* **PostgreSQL**: a thread per statement, each on its own connection of the session's engine: the server
  works on them in parallel, the threads only wait. Each result comes back as a binary COPY of the query,
  parsed by NumPy in one call (``copy_ints``), sequential or not.
* **SQLite**: a process per statement (at most one per CPU at a time). Threads do not help there: SQLite serialises
  its memory allocator across the connections of one process, and two threads took longer than one
  (measured: 2.0 s on two threads against 1.15 s on one and 0.5 s on two processes for a scan of a million
  contacts). Each statement is rendered to SQL with its values inline, wrapped in ``group_concat`` so one
  string comes back instead of a million tuples, and read on a read-only connection in WAL mode.

The parallel paths read **committed** data: they run on other connections than the session's, so bulk
callers read before they write (and tests commit before calling).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Session

Ints = npt.NDArray[np.int64]
AnySelect = Select[*tuple[Any, ...]]
PARALLEL_FROM_CONTACTS = 50_000  # below this, starting processes costs more than it saves
# The reader process: a bare interpreter (-I: no site packages, no environment) that runs statements on a
# read-only connection, one after another as they come in on stdin, and writes each one's single text value to
# stdout; both length-prefixed.
_READER = """
import sqlite3, struct, sys
conn = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=30)
conn.execute("PRAGMA cache_size=-65536")
source, sink = sys.stdin.buffer, sys.stdout.buffer
while len(head := source.read(8)) == 8:
    row = conn.execute(source.read(struct.unpack("<q", head)[0]).decode()).fetchone()
    out = (row[0] if row and row[0] is not None else "").encode()
    sink.write(struct.pack("<q", len(out)) + out)
    sink.flush()
"""


def parallelism() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def partitions(session: Session, parallel: bool) -> int:
    """Into how many contact-id ranges to split a scan. SQLite: one per CPU, each range read by its own
    process. PostgreSQL: one, as the server splits a scan across its own parallel workers; ranges of a
    contact id that does not order the heap made each worker read the whole events table (18 s against 5 s)."""
    if not parallel or session.get_bind().dialect.name != "sqlite":
        return 1
    return parallelism()


def _empty(stmt: AnySelect) -> Ints:
    return np.zeros((0, len(stmt.selected_columns)), dtype=np.int64)


def _array(rows: list[Any], stmt: AnySelect) -> Ints:
    if not rows:
        return _empty(stmt)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(stmt.selected_columns))


def fetch_rows(result: Any) -> list[Any]:
    """Rows straight from the driver: integers need no type processing, and a million Row objects cost a
    second on their own."""
    rows: list[Any] = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    return rows


def should_parallelise(session: Session) -> bool:
    from pitboard.models import Contact

    engine = session.get_bind()
    if engine.dialect.name == "sqlite" and sqlite_path(engine) is None:
        return False
    contacts = session.scalar(select(func.max(Contact.id)).select_from(Contact)) or 0
    return int(contacts) >= PARALLEL_FROM_CONTACTS


def sqlite_path(engine: Any) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return os.path.abspath(str(database))


def read_all(session: Session, statements: Sequence[AnySelect], *, parallel: bool | None = None) -> list[Ints]:
    """Every statement's rows as an (rows, columns) int64 array, in the order given."""
    if not statements:
        return []
    if parallel is None:
        parallel = len(statements) > 1 and should_parallelise(session)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    if not parallel:
        conn = session.connection()
        with _bulk_settings(conn):
            return [_run(conn, stmt) for stmt in statements]
    if engine.dialect.name == "sqlite":
        return _sqlite_processes(engine, statements)
    return _threads(engine, statements)


# PostgreSQL settings for the bulk reads, for their transaction only (JIT is off for every connection anyway,
# see kit/db.py). With the default 4 MB work_mem the aggregate over 3.7M (contact, event) pairs spilled 160
# batches to disk (20.0 s against 13.8 s at 1M contacts, EXPLAIN ANALYZE on a loaded machine).
_PG_BULK_SETTINGS = {"jit": "off", "work_mem": "256MB"}


@contextmanager
def _bulk_settings(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "postgresql":
        yield
        return
    before = {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in _PG_BULK_SETTINGS}
    for name, value in _PG_BULK_SETTINGS.items():
        conn.exec_driver_sql(f"SELECT set_config('{name}', '{value}', true)")
    # Not in a finally: after a failed statement the transaction takes no more commands (the error would hide
    # the statement's own), and its rollback undoes these transaction-local settings anyway.
    yield
    for name, old in before.items():
        conn.exec_driver_sql(f"SELECT set_config('{name}', '{old}', true)")


def _run(conn: Connection, stmt: AnySelect) -> Ints:
    if conn.dialect.name == "postgresql":
        try:
            sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        except (CompileError, NotImplementedError):  # a value without a literal form: bind it as usual
            sql = None
        if sql is not None:
            return copy_ints(conn, sql, len(stmt.selected_columns))
    return _array(fetch_rows(conn.execute(stmt)), stmt)


PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # binary COPY: signature, flags, no header extension
PG_COPY_TRAILER = b"\xff\xff"  # a field count of -1


def sql_ints(conn: Connection, sql: str, width: int) -> Ints:
    """The rows of ``sql`` (``width`` integer columns ``c0``, ``c1``, …) as an int64 array, read on ``conn`` in
    bulk: a binary COPY on PostgreSQL, one concatenated text on SQLite (0.6 s a million rows of three, against
    1.0 s as tuples)."""
    if conn.dialect.name == "postgresql":
        return copy_ints(conn, sql, width)
    return _parse_concatenated(conn.exec_driver_sql(_concatenate(sql, width)).scalar(), width)


def copy_ints(conn: Connection, sql: str, width: int) -> Ints:
    """PostgreSQL: the rows of ``sql`` (``width`` integer columns) as an int64 array, by a binary COPY of the
    query parsed in one NumPy call. Fetching rows as Python tuples took longer than the server's aggregate
    (3.7 million result rows at a million contacts)."""
    columns = ", ".join(f"CAST(coalesce(c{i}, 0) AS BIGINT)" for i in range(width))
    labels = ", ".join(f"c{i}" for i in range(width))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY (SELECT {columns} FROM ({sql}) AS q ({labels})) TO STDOUT (FORMAT BINARY)") as copy:
        data = b"".join(bytes(block) for block in copy)
    cursor.close()
    body = memoryview(data)[len(PG_COPY_HEADER) : -len(PG_COPY_TRAILER)]
    row = np.dtype([("n", ">i2")] + [item for i in range(width) for item in ((f"l{i}", ">i4"), (f"v{i}", ">i8"))])
    if not len(body):
        return np.zeros((0, width), dtype=np.int64)
    rows = np.frombuffer(body, dtype=row)
    out = np.empty((len(rows), width), dtype=np.int64)
    for i in range(width):
        out[:, i] = rows[f"v{i}"]
    return out


def _threads(engine: Engine, statements: Sequence[AnySelect]) -> list[Ints]:
    def run(stmt: AnySelect) -> Ints:
        with engine.connect() as conn, _bulk_settings(conn):
            array = _run(conn, stmt)
            conn.rollback()
        return array

    with ThreadPoolExecutor(max_workers=min(parallelism(), len(statements))) as pool:
        return list(pool.map(run, statements))


def _sqlite_processes(engine: Engine, statements: Sequence[AnySelect]) -> list[Ints]:
    """One reader process per CPU, each taking the next statement as it finishes one (in the order given):
    starting a process per statement cost 0.2 s more for the five of a full rescore's first read."""
    path = sqlite_path(engine)
    assert path is not None
    texts = [_concatenated(engine, stmt) for stmt in statements]
    results: list[str] = [""] * len(texts)
    waiting: SimpleQueue[int] = SimpleQueue()
    for i in range(len(texts)):
        waiting.put(i)

    def work() -> None:
        reader = subprocess.Popen(  # noqa: S603 - our own interpreter and script; the SQL goes in on stdin
            [sys.executable, "-I", "-c", _READER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert reader.stdin is not None
        assert reader.stdout is not None
        assert reader.stderr is not None
        try:
            while True:
                try:
                    i = waiting.get_nowait()
                except Empty:
                    break
                sql = texts[i].encode()
                reader.stdin.write(struct.pack("<q", len(sql)) + sql)
                reader.stdin.flush()
                head = reader.stdout.read(8)
                if len(head) < 8:
                    reader.stdin.close()
                    problem = reader.stderr.read().decode(errors="replace").strip()
                    raise RuntimeError(f"the SQLite reader process failed: {problem[-2000:]}")
                results[i] = reader.stdout.read(struct.unpack("<q", head)[0]).decode()
        finally:
            if not reader.stdin.closed:
                reader.stdin.close()
            reader.wait()
            reader.stdout.close()
            reader.stderr.close()

    # Threads only wait for the processes here, so the GIL is no bottleneck.
    with ThreadPoolExecutor(max_workers=min(parallelism(), len(texts))) as pool:
        for done in [pool.submit(work) for _ in range(min(parallelism(), len(texts)))]:
            done.result()
    return [_parse_concatenated(text, len(stmt.selected_columns)) for stmt, text in zip(statements, results,
                                                                                         strict=True)]  # fmt: skip


def _parse_concatenated(text: str | None, width: int) -> Ints:
    # fromstring's text mode parses in C: six times faster than splitting into Python strings.
    return np.fromstring(text or "", dtype=np.int64, sep=",").reshape(-1, width)


def _concatenated(engine: Engine, stmt: AnySelect) -> str:
    """``SELECT group_concat(c0 || ',' || c1 ..., ',') FROM (stmt)`` with every value inline."""
    width = len(stmt.selected_columns)
    labelled = stmt.with_only_columns(*[c.label(f"c{i}") for i, c in enumerate(stmt.selected_columns)])
    return _concatenate(str(labelled.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})), width)


def _concatenate(sql: str, width: int) -> str:
    """``SELECT group_concat(c0 || ',' || c1 ..., ',') FROM (sql)``: one text of every value."""
    # coalesce: group_concat skips NULLs, which would shift every value after one.
    row = " || ',' || ".join(f"coalesce(c{i}, 0)" for i in range(width))
    return f"SELECT group_concat({row}, ',') FROM ({sql}) AS q"
