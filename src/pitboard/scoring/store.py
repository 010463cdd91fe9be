"""Write scores to ``contact_scores``: every contact's in bulk, or a few contacts' rows directly.

A contact has a row under a model when something explains its score (a fit criterion matched or an engagement
criterion had an occurrence); **no row means 0 points**. A row holds the numbers and the facts they were
computed from (``codec``); the explanation is rendered from the facts when it is read.

A bulk write (``write_bulk``) makes the model's rows equal to a full rescore's scores:

* **Few rows differ** (the usual full rescore): each contact's signature (``calc.signatures``) is compared
  with the stored one; only the differing rows are written and the rows of contacts that score nothing now
  are deleted.
* **Every row is new** (a new model or version), **or most rows differ** (a half-life model's daily decay
  moves most totals): the model's rows are replaced. On PostgreSQL they are loaded into a fresh table with
  no index or key (binary COPY, built by NumPy), which then gets its primary key and is swapped in as the
  model's partition of ``contact_scores``: writing a million rows into the live table cost 17-19 s, mostly
  its key, foreign key checks and index updates row by row. On SQLite every row is upserted in key order
  (the table's key is contact, then model) and the rows of contacts that score nothing now are deleted.

Which of the two a write does is decided by comparing signatures. From ``SAMPLE_FROM`` scored contacts it
first compares a sample (runs of consecutive contacts across the ids): when the sample says most rows differ, the
write replaces them all without reading every stored row (0.8-1 s at a million), and reads only the rows it
needs: those of contacts that score nothing now, and the old totals of contacts that now reach a threshold.
Otherwise it compares every row. The sample only picks the faster path: both write the same rows.

Either way the threshold crossings (old total below, new total above) are handed back for the lifecycle
engine.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.db import UTCDateTime
from pitboard.kit.time import ensure_utc
from pitboard.models import ContactScore
from pitboard.models.scoring import SCORE_PARTITION_PREFIX
from pitboard.scoring import codec
from pitboard.scoring.calc import Ints, Scores, signatures
from pitboard.scoring.model import CompiledModel
from pitboard.scoring.reading import PG_COPY_HEADER, PG_COPY_TRAILER, sql_ints
from pitboard.scoring.schemas import POINTS_SCALE

STAGE_TABLE = "scoring_stage"
_COPY_ROWS = 100_000  # rows per COPY message
# A bulk write that would change at least this many rows, and this share of the model's rows, replaces them
# all instead: at a million rows, updating 914,000 in place took 19 s on PostgreSQL and 6 s on SQLite.
REPLACE_SHARE = 0.5
REPLACE_MIN_ROWS = 10_000
# From this many scored contacts a bulk write first compares a sample of its stored rows to decide whether it
# replaces them all (``_sampled_plan``): SAMPLE_RUNS runs of SAMPLE_RUN consecutive scored contacts.
SAMPLE_FROM = 100_000
SAMPLE_RUNS = 16
SAMPLE_RUN = 1_000
_STREAM_ROWS = 100_000  # rows per chunk of SQLite's streamed upsert
COLUMNS = "contact_id, model_key, fit, engagement, total, facts, model_version, computed_at, signature"
UPDATED = ("fit", "engagement", "total", "facts", "model_version", "computed_at", "signature")  # by an upsert
_SET_EXCLUDED = ", ".join(f"{c} = excluded.{c}" for c in UPDATED)
Floats = npt.NDArray[np.float64]


@dataclass
class Written:
    scored: int = 0  # contacts with a row after the write
    written: int = 0  # rows inserted or changed
    removed: int = 0  # rows deleted (the contact scores nothing now)
    # Contacts whose total may have crossed a threshold upward: (contact id, old total, new total) in units.
    crossings: list[tuple[int, int, int]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for benchmarks and logs
    replaced: bool = False  # every row of the model was written anew


def _units(value: float | None) -> int:
    return 0 if value is None else round(value * POINTS_SCALE)


@dataclass
class Batch:
    """Rows to write, column by column, in ascending contact id order."""

    ids: Ints
    fit: Floats
    engagement: Floats
    total: Floats
    total_units: Ints
    facts: codec.Bytes  # (rows, length) packed facts
    sigs: Ints

    @classmethod
    def of(cls, scores: Scores, positions: Ints, sigs: Ints | None = None) -> Batch:
        return cls(
            ids=scores.contact_ids[positions],
            fit=scores.fit[positions] / POINTS_SCALE,
            engagement=scores.engagement[positions] / POINTS_SCALE,
            total=scores.total[positions] / POINTS_SCALE,
            total_units=scores.total[positions],
            facts=codec.encode(scores, positions),
            sigs=signatures(scores, positions) if sigs is None else sigs,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, keep: npt.NDArray[np.bool_] | Ints) -> Batch:
        """The rows at ``keep`` (a mask or positions)."""
        return Batch(self.ids[keep], self.fit[keep], self.engagement[keep], self.total[keep], self.total_units[keep],
                     self.facts[keep], self.sigs[keep])  # fmt: skip

    def params(self) -> Iterator[tuple[float, float, float, bytes, int, int]]:
        """(fit, engagement, total, facts, signature, contact id) per row: the parameters of the SQLite insert
        and update, which write the values every row shares into the statement instead."""
        return zip(self.fit.tolist(), self.engagement.tolist(), self.total.tolist(), codec.as_bytes(self.facts),
                   self.sigs.tolist(), self.ids.tolist(), strict=True)  # fmt: skip


def write_bulk(session: Session, scores: Scores, *, now: datetime) -> Written:
    """Make the model's rows equal to ``scores``, which cover every contact (absent ones score 0)."""
    conn = session.connection()
    with _big_cache(conn):
        return _write_bulk(conn, scores, now=now)


@contextmanager
def _big_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 256 MB page cache while a million rows go in (with the default 2 MB, each insert fetched
    index pages again: 6.1 s against 4.3 s per million rows)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size=-262144")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")


class _Timer:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._last, 2)
        self._last = now


def _write_bulk(conn: Connection, scores: Scores, *, now: datetime) -> Written:
    model = scores.model
    clock = _Timer()
    present = np.flatnonzero(scores.present)
    sigs = signatures(scores, present)
    clock.lap("signatures")
    ids = scores.contact_ids[present]
    # PostgreSQL: a model without a partition of its own (made outside apply_models) has its rows in the
    # default partition: its first full rescore moves them into one.
    found_partitions = partitions(conn) if conn.dialect.name == "postgresql" else {}
    move = conn.dialect.name == "postgresql" and model.key not in found_partitions
    plan = _sampled_plan(conn, model, ids, sigs, scores.total[present], move=move)
    if plan is None:
        plan = _full_plan(conn, model, ids, sigs, move=move)
    clock.lap("read stored")
    replace = plan.replace
    positions = present if replace else present[plan.changed]
    row_sigs = sigs if replace else sigs[plan.changed]
    before = plan.old_total if replace else plan.old_total[plan.changed]
    out = Written(scored=len(present), removed=len(plan.gone), replaced=replace)
    if model.thresholds:
        # Only a row that is new or changed can have risen over a threshold; the deleted ones score 0 now.
        new = scores.total[positions]
        crossed = np.zeros(len(positions), dtype=np.bool_)
        for threshold in model.thresholds:
            crossed |= (before < threshold.score) & (new >= threshold.score)
        rose = np.flatnonzero(crossed)
        out.crossings = list(zip(scores.contact_ids[positions[rose]].tolist(), before[rose].tolist(),
                                 new[rose].tolist(), strict=True))  # fmt: skip
    if conn.dialect.name == "sqlite" and len(plan.gone):
        # The rows of contacts that score nothing now (on PostgreSQL the swap or the upsert path drops them).
        conn.exec_driver_sql("DELETE FROM contact_scores WHERE contact_id = ? AND model_key = ?",
                             [(cid, model.key) for cid in plan.gone.tolist()])  # fmt: skip
    if replace and conn.dialect.name == "sqlite":
        # SQLite: every row upserted in key order, its facts made a chunk ahead of the insert (no Batch of them
        # all first).
        out.written = _upsert_sqlite_streamed(conn, model.key, model.version, scores, positions, row_sigs, now)
    else:
        batch = Batch.of(scores, positions, row_sigs)
        clock.lap("facts")
        if replace:
            out.written = _swap_partition(conn, model.key, model.version, batch, now, found_partitions, clock)
        elif conn.dialect.name == "postgresql":
            out.written = _upsert_postgresql(conn, model.key, model.version, batch, now)
            if len(plan.gone):
                conn.execute(
                    text("DELETE FROM contact_scores WHERE model_key = :key AND contact_id = ANY(:ids)"),
                    {"key": model.key, "ids": plan.gone.tolist()},
                )
        else:
            out.written = _write_sqlite(conn, model.key, model.version, batch, plan.found[plan.changed], now)
    out.scored -= len(positions) - out.written  # contacts erased meanwhile were left out
    clock.lap("write")
    out.timings = clock.laps
    return out


@dataclass
class _Plan:
    """What a bulk write does, from the stored rows it compared. Per scored contact: ``found`` (it has a row),
    ``old_total`` (that row's total in units, 0 if none) and ``changed`` (its row is missing or differs);
    ``gone``: contacts with a row that score nothing now."""

    replace: bool
    found: npt.NDArray[np.bool_]
    old_total: Ints
    changed: npt.NDArray[np.bool_]
    gone: Ints


def _compare(ids: Ints, sigs: Ints, stored: Ints) -> tuple[npt.NDArray[np.bool_], Ints, Ints]:
    """For each of ``ids`` (ascending): whether ``stored`` (sorted (contact id, signature, total) rows) has
    its row, that row's signature and its total (0 if none)."""
    found = np.zeros(len(ids), dtype=np.bool_)
    old_sig = old_total = np.zeros(len(ids), dtype=np.int64)
    if len(stored) and len(ids):
        at = np.minimum(np.searchsorted(stored[:, 0], ids), len(stored) - 1)
        found = stored[at, 0] == ids
        old_sig, old_total = np.where(found, stored[at, 1], 0), np.where(found, stored[at, 2], 0)
    return found, old_sig, old_total


def _replaces(n_changed: float, n_scored: int, current: bool) -> bool:
    """Whether a write that changes ``n_changed`` of ``n_scored`` rows replaces them all: when most change,
    or when no row of the model's current version exists (a new model or version)."""
    return n_changed >= max(REPLACE_MIN_ROWS, REPLACE_SHARE * n_scored) or not current


def _full_plan(conn: Connection, model: CompiledModel, ids: Ints, sigs: Ints, *, move: bool) -> _Plan:
    """Compare every stored row: the plan of a write that may change only a few."""
    stored = _stored_signatures(conn, model.key, model.version)
    found, old_sig, old_total = _compare(ids, sigs, stored)
    changed = ~(found & (old_sig == sigs))
    gone = stored[~np.isin(stored[:, 0], ids, assume_unique=True), 0]
    n_changed = int(changed.sum())
    replace = move or ((n_changed > 0 or len(gone) > 0)
                       and _replaces(n_changed, len(ids), bool((found & (old_sig != 0)).any())))  # fmt: skip
    return _Plan(replace, found, old_total, changed, gone)


def _sampled_plan(
    conn: Connection, model: CompiledModel, ids: Ints, sigs: Ints, totals: Ints, *, move: bool
) -> _Plan | None:
    """At scale, decide from a sample whether the write replaces every row; if so, read only the stored rows
    the replacement needs: those of contacts that score nothing now (to delete) and, for a model with
    thresholds, the old totals of contacts that now reach one. None: compare every row (``_full_plan``).

    Reading every stored signature costs 0.8-1 s at a million rows, and a write that replaces them all (a new
    version, a half-life model's daily decay) needs none of them.
    """
    if len(ids) < max(SAMPLE_FROM, 1):
        return None
    if not move:
        # The sample: runs of consecutive scored contacts spread over the ids, each read by its key range.
        starts = np.linspace(0, max(len(ids) - SAMPLE_RUN, 0), SAMPLE_RUNS).astype(np.int64)
        in_sample = np.unique(np.minimum(starts[:, None] + np.arange(SAMPLE_RUN), len(ids) - 1))
        runs = " OR ".join(f"contact_id BETWEEN {ids[a]} AND {ids[min(a + SAMPLE_RUN, len(ids)) - 1]}" for a in starts)
        sample = _stored_signatures(conn, model.key, model.version, f"({runs})")
        found, old_sig, _total = _compare(ids[in_sample], sigs[in_sample], sample)
        changed_share = float((~(found & (old_sig == sigs[in_sample]))).mean())
        if not _replaces(changed_share * len(ids), len(ids), bool((found & (old_sig != 0)).any())):
            return None
    # Contacts without a score now: below, above or in the gaps of the scored ids. Sparse ids: compare all.
    low, high = int(ids[0]), int(ids[-1])
    flags = np.ones(high - low + 1, dtype=np.bool_)
    flags[ids - low] = False
    unscored = np.flatnonzero(flags) + low
    if len(unscored) > SAMPLE_FROM:
        return None
    where = f"(contact_id < {low} OR contact_id > {high}" + (
        f" OR {_one_of(conn, unscored)})" if len(unscored) else ")"
    )
    gone = _stored_signatures(conn, model.key, model.version, where)[:, 0]
    old_total = np.zeros(len(ids), dtype=np.int64)
    if model.thresholds:
        # A contact below every threshold now cannot have crossed one: only the others' old totals matter.
        reaching = np.flatnonzero(totals >= min(t.score for t in model.thresholds))
        if len(reaching):
            old = _stored_signatures(conn, model.key, model.version, _one_of(conn, ids[reaching]))
            old_total[reaching] = _compare(ids[reaching], sigs[reaching], old)[2]
    everything = np.ones(len(ids), dtype=np.bool_)
    return _Plan(True, everything, old_total, everything, gone)


def _one_of(conn: Connection, ids: Ints) -> str:
    """SQL: ``contact_id`` is one of ``ids``. SQLite: IN one JSON text (no limit on bound parameters to meet);
    PostgreSQL: = ANY of an array constant. Both look each id up in the key."""
    listed = ",".join(map(str, ids.tolist()))
    if conn.dialect.name == "sqlite":
        return f"contact_id IN (SELECT value FROM json_each('[{listed}]'))"
    return f"contact_id = ANY('{{{listed}}}'::bigint[])"


def _stored_signatures(conn: Connection, key: str, version: int, where: str = "TRUE") -> Ints:
    """(contact id, signature, total in units) of the model's rows (those matching the SQL condition
    ``where``), sorted by contact id. A row of another version, or one without facts (written before they
    were stored), reads as signature 0: it differs from any computed one."""
    sql = (
        f"SELECT contact_id AS c0, CASE WHEN model_version = {int(version)} AND facts IS NOT NULL "
        "THEN coalesce(signature, 0) ELSE 0 END AS c1, "
        f"CAST(round(total * {POINTS_SCALE}) AS BIGINT) AS c2 FROM contact_scores "
        f"WHERE model_key = {_literal(key)} AND {where}"
    )
    stored = sql_ints(conn, sql, 3)
    return stored[np.argsort(stored[:, 0], kind="stable")]


def _existing(conn: Connection, ids: Ints) -> npt.NDArray[np.bool_]:
    """Which of ``ids`` are still contacts (one may be erased while scores are computed). Called only when a
    write failed on the foreign key, which is rare enough not to look up a million ids every time."""
    if not len(ids):
        return np.zeros(0, dtype=np.bool_)
    result = conn.execute(text("SELECT id FROM contacts WHERE id BETWEEN :low AND :high"),
                          {"low": int(ids.min()), "high": int(ids.max())})  # fmt: skip
    existing = np.asarray([r[0] for r in result.cursor.fetchall()], dtype=np.int64)
    return np.isin(ids, existing)


def _sqlite_time(at: datetime) -> str:
    """How UTCDateTime stores an instant on SQLite (naive UTC, always six digits of microseconds): rows written
    here by executemany must read back like rows written through the ORM."""
    return ensure_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_insert(key: str, version: int, now: datetime, *, upsert: bool) -> str:
    """The insert (or upsert) of :meth:`Batch.params` rows. The values every row shares are written into the
    statement: fewer parameters to bind per row (0.2 s a million rows). The key is quoted; the version is an
    int and the stamp our own format."""
    insert = (
        "INSERT INTO contact_scores (fit, engagement, total, facts, signature, contact_id, model_key, "
        f"model_version, computed_at) VALUES (?, ?, ?, ?, ?, ?, {_literal(key)}, {int(version)}, "
        f"{_literal(_sqlite_time(now))})"
    )
    if upsert:
        insert += f" ON CONFLICT (contact_id, model_key) DO UPDATE SET {_SET_EXCLUDED}"
    return insert


def _upsert_sqlite_streamed(
    conn: Connection, key: str, version: int, scores: Scores, positions: Ints, sigs: Ints, now: datetime
) -> int:
    """Upsert the rows of ``positions`` (their ``sigs``) in chunks whose facts a thread encodes one chunk ahead
    of the insert: executemany lets go of the GIL while SQLite works, and NumPy while it encodes, so the two
    overlap (measured: a million-row upsert took 1.95 s beside 0.8 s of NumPy, 1.91 s alone). The parameter
    tuples are made as the insert takes them: made in the thread too, they held the GIL against it (slower).
    Returns how many rows were written; a contact erased meanwhile is left out (then the rows of the contacts
    that still exist are written again)."""
    insert = _sqlite_insert(key, version, now, upsert=True)

    def chunk(start: int) -> Batch:
        end = start + _STREAM_ROWS
        return Batch.of(scores, positions[start:end], sigs[start:end])

    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        chunks = [pool.submit(chunk, start) for start in range(0, len(positions), _STREAM_ROWS)]
        with conn.begin_nested():
            cursor.executemany(insert, (row for made in chunks for row in made.result().params()))
    except (IntegrityError, sqlite3.IntegrityError):
        # Leave the erased contacts out before writing again: the same rows would fail the same way.
        batch = Batch.of(scores, positions, sigs)
        return _insert_sqlite(conn, key, version, batch.take(_existing(conn, batch.ids)), now, upsert=True)
    finally:
        pool.shutdown(cancel_futures=True)
        cursor.close()
    return len(positions)


def _insert_sqlite(
    conn: Connection, key: str, version: int, batch: Batch, now: datetime, *, upsert: bool = False
) -> int:
    insert = _sqlite_insert(key, version, now, upsert=upsert)
    # Straight to the driver, one executemany over an iterator: no list of a million parameter tuples.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with conn.begin_nested():
            cursor.executemany(insert, batch.params())
    except (IntegrityError, sqlite3.IntegrityError):
        # A contact was erased while the scores were computed: leave it out and insert again.
        batch = batch.take(_existing(conn, batch.ids))
        cursor.executemany(insert, batch.params())
    finally:
        cursor.close()
    return len(batch)


def _write_sqlite(
    conn: Connection, key: str, version: int, batch: Batch, is_update: npt.NDArray[np.bool_], now: datetime
) -> int:
    written = _insert_sqlite(conn, key, version, batch.take(~is_update), now)
    updates = batch.take(is_update)
    if len(updates):
        conn.exec_driver_sql(
            "UPDATE contact_scores SET fit = ?, engagement = ?, total = ?, facts = ?, signature = ?, "
            f"model_version = {int(version)}, computed_at = {_literal(_sqlite_time(now))} "
            f"WHERE contact_id = ? AND model_key = {_literal(key)}",
            list(updates.params()),
        )
    return written + len(updates)


# --- PostgreSQL ----------------------------------------------------------------------------------

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _PG_EPOCH


def _copy_binary(conn: Connection, table: str, columns: Sequence[tuple[str, str, Any]], n: int) -> None:
    """COPY ``n`` rows into ``table`` in PostgreSQL's binary format, built by NumPy for all rows at once
    (psycopg's ``write_row`` formats row by row: 1.5 s per million). ``columns``: (name, kind, values) with
    kind ``int8``, ``int4``, ``float8``, ``timestamptz`` (one instant for every row), ``text`` (one value for
    every row) or ``bytes`` (an (n, length) uint8 matrix)."""
    fields: list[tuple[Any, ...]] = [("count", ">i2")]
    values: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    for i, (_name, kind, value) in enumerate(columns):
        name = f"v{i}"
        if kind in ("int8", "int4", "float8"):
            dtype = {"int8": ">i8", "int4": ">i4", "float8": ">f8"}[kind]
            fields += [(f"n{i}", ">i4"), (name, dtype)]
            lengths[name], values[name] = np.dtype(dtype).itemsize, value
        elif kind == "timestamptz":
            micros = (ensure_utc(value) - _PG_EPOCH) // _MICROSECOND
            fields += [(f"n{i}", ">i4"), (name, ">i8")]
            lengths[name], values[name] = 8, micros
        elif kind == "text":
            data = str(value).encode()
            fields += [(f"n{i}", ">i4"), (name, f"S{len(data)}")]
            lengths[name], values[name] = len(data), data
        else:
            width = int(value.shape[1])
            fields += [(f"n{i}", ">i4"), (name, np.uint8, (width,))]
            lengths[name], values[name] = width, value
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i in range(len(columns)):
        rows[f"n{i}"] = lengths[f"v{i}"]
        rows[f"v{i}"] = values[f"v{i}"]
    names = ", ".join(name for name, _kind, _value in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(PG_COPY_HEADER)
        for start in range(0, n, _COPY_ROWS):
            copy.write(rows[start : start + _COPY_ROWS].tobytes())
        copy.write(PG_COPY_TRAILER)
    cursor.close()


def _score_columns(key: str | None, version: int, batch: Batch, now: datetime) -> list[tuple[str, str, Any]]:
    columns: list[tuple[str, str, Any]] = [("contact_id", "int8", batch.ids)]
    if key is not None:
        columns.append(("model_key", "text", key))
    columns += [("fit", "float8", batch.fit), ("engagement", "float8", batch.engagement),
                ("total", "float8", batch.total), ("facts", "bytes", batch.facts)]  # fmt: skip
    if key is not None:
        columns += [("model_version", "int4", version), ("computed_at", "timestamptz", now)]
    columns.append(("signature", "int8", batch.sigs))
    return columns


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def partitions(conn: Connection) -> dict[str | None, str]:
    """The partitions of ``contact_scores`` by model key (None: the default partition)."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'contact_scores'::regclass"
    ).all()
    out: dict[str | None, str] = {}
    for name, bound in rows:
        if bound == "DEFAULT":
            out[None] = name
            continue
        # FOR VALUES IN ('key'): keys are lower-case letters, digits, - and _ (schemas.py), one per partition.
        out[bound.split("('", 1)[1].rsplit("')", 1)[0].replace("''", "'")] = name
    return out


def partition_name(model_id: int, taken: set[str]) -> str:
    """``contact_scores_m<model id>_<n>``, the first one not ``taken`` (a swap needs a second name)."""
    return next(name for i in range(len(taken) + 1)
                if (name := f"{SCORE_PARTITION_PREFIX}m{model_id}_{i}") not in taken)  # fmt: skip


def create_partition(conn: Connection, key: str, model_id: int) -> None:
    """PostgreSQL: give a new model its partition of ``contact_scores`` (``apply_models`` does), so its rows
    never pass through the default one."""
    if conn.dialect.name != "postgresql":
        return
    found = partitions(conn)
    if key not in found:
        name = partition_name(model_id, set(found.values()))
        conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF contact_scores FOR VALUES IN ({_literal(key)})")


def _swap_partition(
    conn: Connection, key: str, version: int, batch: Batch, now: datetime, found: dict[str | None, str],
    clock: _Timer,
) -> int:  # fmt: skip
    """Load the model's rows into a fresh table, give it its key and swap it in as the model's partition.

    The table is loaded before it has any index, key or foreign key, then gets its primary key in one sort.
    Locks, in this order: ``contact_scores`` exclusively (readers wait for the swap, about a second at a
    million rows), then ``contacts`` against writes while the foreign key is checked (rows of contacts erased
    meanwhile are dropped). The old partition (or the model's rows in the default one) goes in the same
    transaction.
    """
    model_id = conn.execute(text("SELECT id FROM scoring_models WHERE key = :key"), {"key": key}).scalar_one()
    old = found.get(key)
    new = partition_name(int(model_id), set(found.values()))
    conn.exec_driver_sql(
        f"CREATE TABLE {new} (LIKE contact_scores INCLUDING DEFAULTS, CHECK (model_key = {_literal(key)}))"
    )
    _copy_binary(conn, new, _score_columns(key, version, batch, now), len(batch))
    clock.lap("copy")
    conn.exec_driver_sql(f"ALTER TABLE {new} ADD PRIMARY KEY (contact_id, model_key)")
    clock.lap("key")
    conn.exec_driver_sql("LOCK TABLE contact_scores IN ACCESS EXCLUSIVE MODE")
    conn.exec_driver_sql("LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE")
    # The foreign key, checked in one join; ATTACH takes it over as the partition's copy of the parent's. A
    # contact erased since the scores were read fails the check: then drop such rows and check again.
    add_key = (
        f"ALTER TABLE {new} ADD CONSTRAINT {new}_contact_fkey FOREIGN KEY (contact_id) REFERENCES contacts (id) "
        "ON DELETE CASCADE"
    )
    erased = 0
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(add_key)
    except IntegrityError:
        erased = conn.exec_driver_sql(
            f"DELETE FROM {new} s WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = s.contact_id)"
        ).rowcount
        conn.exec_driver_sql(add_key)
    clock.lap("foreign key")
    if None in found:
        conn.execute(text(f"DELETE FROM {found[None]} WHERE model_key = :key"), {"key": key})
    if old is not None:
        conn.exec_driver_sql(f"ALTER TABLE contact_scores DETACH PARTITION {old}")
        conn.exec_driver_sql(f"DROP TABLE {old}")
    conn.exec_driver_sql(f"ALTER TABLE contact_scores ATTACH PARTITION {new} FOR VALUES IN ({_literal(key)})")
    return len(batch) - max(int(erased or 0), 0)


def _upsert_postgresql(conn: Connection, key: str, version: int, batch: Batch, now: datetime) -> int:
    """COPY the changed rows into a temporary table and upsert them from there (skipping contacts erased
    while the scores were computed)."""
    if not len(batch):
        return 0
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (contact_id bigint PRIMARY KEY, fit float8 NOT NULL, "
        "engagement float8 NOT NULL, total float8 NOT NULL, facts bytea NOT NULL, signature bigint NOT NULL)"
    )
    conn.exec_driver_sql(f"TRUNCATE {STAGE_TABLE}")
    _copy_binary(conn, STAGE_TABLE, _score_columns(None, version, batch, now), len(batch))
    conn.exec_driver_sql(f"ANALYZE {STAGE_TABLE}")  # a fresh temp table has no statistics: plan the join
    upsert = text(
        f"INSERT INTO contact_scores ({COLUMNS}) SELECT s.contact_id, :key, s.fit, s.engagement, s.total, "
        f"s.facts, :version, :now, s.signature FROM {STAGE_TABLE} s "
        "WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.id = s.contact_id) "
        f"ON CONFLICT (contact_id, model_key) DO UPDATE SET {_SET_EXCLUDED}"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    written = _rowcount(conn.execute(upsert, {"key": key, "version": version, "now": now}))
    conn.exec_driver_sql(f"DROP TABLE {STAGE_TABLE}")
    return written


# --- a few contacts ------------------------------------------------------------------------------


def write_few(session: Session, scores: Scores, *, now: datetime) -> Written:
    """Write the scores of a few contacts (every one of them is stamped ``computed_at = now``)."""
    model = scores.model
    ids = scores.contact_ids.tolist()
    out = Written()
    if not ids:
        return out
    old = dict(
        session.execute(
            select(ContactScore.contact_id, ContactScore.total).where(
                ContactScore.model_key == model.key, ContactScore.contact_id.in_(ids)
            )
        ).all()
    )
    present = scores.present
    facts = codec.as_bytes(codec.encode(scores))
    sigs = signatures(scores).tolist()
    values: list[dict[str, Any]] = []
    gone: list[int] = []
    for i, contact_id in enumerate(ids):
        if not present[i]:
            if contact_id in old:
                gone.append(contact_id)
            continue
        new_total = int(scores.total[i])
        if model.thresholds and _units(old.get(contact_id)) < model.thresholds[-1].score:
            out.crossings.append((contact_id, _units(old.get(contact_id)), new_total))
        values.append(
            {
                "contact_id": contact_id,
                "model_key": model.key,
                "fit": int(scores.fit[i]) / POINTS_SCALE,
                "engagement": int(scores.engagement[i]) / POINTS_SCALE,
                "total": new_total / POINTS_SCALE,
                "facts": facts[i],
                "model_version": model.version,
                "computed_at": now,
                "signature": sigs[i],
            }
        )
    if gone:
        session.execute(
            delete(ContactScore).where(ContactScore.model_key == model.key, ContactScore.contact_id.in_(gone))
        )
    if values:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(ContactScore).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["contact_id", "model_key"],
            set_={c: stmt.excluded[c] for c in UPDATED},
        )
        session.execute(stmt)
    out.scored, out.written, out.removed = len(values), len(values), len(gone)
    return out


def _rowcount(result: Any) -> int:
    count = getattr(result, "rowcount", -1)
    return int(count) if count is not None and count >= 0 else 0
