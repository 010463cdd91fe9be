"""Write scores to ``contact_scores``: every contact's in bulk, or a few contacts' rows directly.

A contact has a row under a model when something explains its score (a fit criterion matched or an engagement
criterion had an occurrence); **no row means 0 points**. A bulk write touches only what changed: rows whose
explanation or model version differ are written, rows of contacts that score nothing now are deleted, and
the threshold crossings (old total below, new total above) are handed back for the lifecycle engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import psycopg
from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.db import UTCDateTime
from pitboard.kit.time import ensure_utc
from pitboard.models import ContactScore
from pitboard.scoring.calc import Ints, Renderer, Scores, signatures
from pitboard.scoring.schemas import POINTS_SCALE

STAGE_TABLE = "scoring_stage"
_BATCH = 20_000
_MAX_UNITS = 2**62  # "no threshold above": every rise counts as a possible crossing


@dataclass
class Written:
    scored: int = 0  # contacts with a row after the write
    written: int = 0  # rows inserted or changed
    removed: int = 0  # rows deleted (the contact scores nothing now)
    # Contacts whose total may have crossed a threshold upward: (contact id, old total, new total) in units.
    crossings: list[tuple[int, int, int]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, for benchmarks and logs


def _units(value: float | None) -> int:
    return 0 if value is None else round(value * POINTS_SCALE)


Row = tuple[int, float, float, float, str, int]  # contact id, fit, engagement, total, explanation, signature
COLUMNS = "contact_id, model_key, fit, engagement, total, explanation, model_version, computed_at, signature"


def explained_rows(scores: Scores, positions: Ints | None = None, sigs: Ints | None = None) -> list[Row]:
    """(contact id, fit, engagement, total, explanation JSON, signature) of the contacts at ``positions``
    (default: every contact with something to explain)."""
    present = np.flatnonzero(scores.present) if positions is None else positions
    sigs = signatures(scores, present) if sigs is None else sigs
    ids = scores.contact_ids[present].tolist()
    fit = (scores.fit[present] / POINTS_SCALE).tolist()
    engagement = (scores.engagement[present] / POINTS_SCALE).tolist()
    total = (scores.total[present] / POINTS_SCALE).tolist()
    texts = Renderer(scores).texts(present)
    return list(zip(ids, fit, engagement, total, texts, sigs.tolist(), strict=True))


def write_bulk(session: Session, scores: Scores, *, now: datetime) -> Written:
    """Make the model's rows equal to ``scores``, which cover every contact (absent ones score 0).

    When no row of the model is current (a new model, a new version), every row is replaced: delete and load
    in bulk (COPY on PostgreSQL). Otherwise only the differences are written, found by comparing each
    contact's signature (``calc.signatures``: a fingerprint of everything its explanation is made of) with the
    stored one, so explanations are built only for the rows that changed.
    """
    conn = session.connection()
    with _big_cache(conn):
        return _write_bulk(conn, scores, now=now)


@contextmanager
def _big_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 256 MB page cache while a million rows go in. Their two indexes take inserts all over, and
    with the default 2 MB cache each insert fetched index pages again (6.1 s against 4.3 s per million)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql("PRAGMA cache_size=-262144")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")


def _write_bulk(conn: Connection, scores: Scores, *, now: datetime) -> Written:
    model = scores.model
    clock = _Timer()
    present = np.flatnonzero(scores.present)
    sigs = signatures(scores, present)
    clock.lap("signatures")
    # Whether any row is there at all, and whether any is of the current version (the first found will do).
    params = {"key": model.key, "version": model.version}
    stored = conn.execute(text("SELECT 1 FROM contact_scores WHERE model_key = :key LIMIT 1"), params).first()
    current = (
        stored
        and conn.execute(
            text("SELECT 1 FROM contact_scores WHERE model_key = :key AND model_version = :version LIMIT 1"), params
        ).first()
    )
    if not current:
        rows = explained_rows(scores, present, sigs)
        clock.lap("explain")
        out = _replace(conn, model.key, model.version, rows, now=now, stored=bool(stored),
                       thresholds=bool(model.thresholds))  # fmt: skip
    else:
        out = _write_changes(conn, scores, present, sigs, now=now)
    out.timings = {**clock.laps, **out.timings}
    return out


class _Timer:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def _existing_contacts(conn: Connection, rows: list[Row]) -> list[Row]:
    """Leave out contacts erased while the scores were computed: their rows would point nowhere. Called only
    when a load failed on a foreign key, which is rare enough not to look up a million ids every time."""
    if not rows:
        return rows
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    result = conn.execute(text("SELECT id FROM contacts WHERE id BETWEEN :low AND :high"),
                          {"low": int(ids.min()), "high": int(ids.max())})  # fmt: skip
    existing = np.asarray([r[0] for r in result.cursor.fetchall()], dtype=np.int64)
    keep = np.isin(ids, existing)
    return rows if keep.all() else [row for row, kept in zip(rows, keep.tolist(), strict=True) if kept]


def _sqlite_time(at: datetime) -> str:
    """How UTCDateTime stores an instant on SQLite (naive UTC, always six digits of microseconds): rows written
    here by executemany must read back like rows written through the ORM."""
    return ensure_utc(at).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _of_model(conn: Connection) -> str:
    """The WHERE clause selecting a model's rows. On SQLite ``+model_key`` keeps the (model_key, total) index
    out of it: reading most of the table in that index's order jumped around the file (3.1 s for a million
    rows), a scan in row order reads it front to back."""
    return "+model_key = :key" if conn.dialect.name == "sqlite" else "model_key = :key"


def _old_totals(conn: Connection, key: str) -> dict[int, int]:
    result = conn.execute(text(f"SELECT contact_id, total FROM contact_scores WHERE {_of_model(conn)}"), {"key": key})
    return {int(cid): _units(total) for cid, total in result.cursor.fetchall()}


def _crossings(rows: list[Row], old: dict[int, int], highest: int) -> list[tuple[int, int, int]]:
    out = []
    for row in rows:
        contact_id, total = row[0], row[3]
        before = old.get(contact_id, 0)
        new = _units(total)
        if before < highest and new > before:
            out.append((contact_id, before, new))
    return out


def _replace(
    conn: Connection, key: str, version: int, rows: list[Row], *, now: datetime, stored: bool, thresholds: bool
) -> Written:
    """Every row anew: the stored ones (none, or all of an older version) are deleted and ``rows`` loaded."""
    clock = _Timer()
    out = Written(scored=len(rows), written=len(rows))
    old = _old_totals(conn, key) if stored else {}
    if thresholds:
        out.crossings = _crossings(rows, old, _MAX_UNITS)
    out.removed = len(old.keys() - {row[0] for row in rows})
    clock.lap("old totals")
    if stored:
        conn.execute(text("DELETE FROM contact_scores WHERE model_key = :key"), {"key": key})
        clock.lap("delete")
    try:
        with conn.begin_nested():
            _load(conn, key, version, rows, now)
    except (IntegrityError, psycopg.errors.IntegrityError):  # COPY reports through the driver
        # A contact was erased while the scores were computed: leave it out and load again.
        rows = _existing_contacts(conn, rows)
        out.scored = out.written = len(rows)
        with conn.begin_nested():
            _load(conn, key, version, rows, now)
    clock.lap("load")
    out.timings = clock.laps
    return out


def _load(conn: Connection, key: str, version: int, rows: list[Row], now: datetime) -> None:
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY contact_scores ({COLUMNS}) FROM STDIN") as copy:
            for contact_id, fit, engagement, total, explanation, sig in rows:
                copy.write_row((contact_id, key, fit, engagement, total, explanation, version, now, sig))
        cursor.close()
        return
    stamp = _sqlite_time(now)
    insert = f"INSERT INTO contact_scores ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        params = [(cid, key, fit, eng, total, explanation, version, stamp, sig)
                  for cid, fit, eng, total, explanation, sig in batch]  # fmt: skip
        conn.exec_driver_sql(insert, params)


def _stored_signatures(conn: Connection, key: str, version: int) -> Ints:
    """(contact id, signature, total in units) of the model's rows, sorted by contact id. A row of another
    version, or written before signatures existed, reads as signature 0: it differs from any computed one."""
    result = conn.execute(
        text(
            "SELECT contact_id, CASE WHEN model_version = :version THEN coalesce(signature, 0) ELSE 0 END, "
            f"CAST(round(total * {POINTS_SCALE}) AS BIGINT) FROM contact_scores WHERE {_of_model(conn)}"
        ),
        {"key": key, "version": version},
    )
    raw = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    if not raw:
        return np.zeros((0, 3), dtype=np.int64)
    stored = np.asarray(raw, dtype=np.int64).reshape(len(raw), 3)
    return stored[np.argsort(stored[:, 0], kind="stable")]


def _write_changes(conn: Connection, scores: Scores, present: Ints, sigs: Ints, *, now: datetime) -> Written:
    """Compare signatures with the stored ones; explain and write only the rows that differ, delete the rows
    of contacts that score nothing now."""
    model = scores.model
    clock = _Timer()
    stored = _stored_signatures(conn, model.key, model.version)
    clock.lap("read stored")
    ids = scores.contact_ids[present]
    stored_ids = stored[:, 0]
    # For each present contact: whether it has a stored row, and that row's signature and total (0 if none).
    found = np.zeros(len(ids), dtype=np.bool_)
    old_sig = old_total = np.zeros(len(ids), dtype=np.int64)
    if len(stored_ids):
        at = np.minimum(np.searchsorted(stored_ids, ids), len(stored_ids) - 1)
        found = stored_ids[at] == ids
        old_sig, old_total = np.where(found, stored[at, 1], 0), np.where(found, stored[at, 2], 0)
    changed = ~(found & (old_sig == sigs))
    gone = stored_ids[~np.isin(stored_ids, ids, assume_unique=True)].tolist()
    rows = explained_rows(scores, present[changed], sigs[changed])
    is_update = found[changed].tolist()
    before = old_total[changed].tolist()
    clock.lap("compare and explain")
    out = Written(scored=len(present), removed=len(gone))
    if model.thresholds:
        # Only an inserted or updated row can have risen; the deleted ones score 0 now.
        out.crossings = [(row[0], old, _units(row[3])) for row, old in zip(rows, before, strict=True)
                         if _units(row[3]) > old]  # fmt: skip
    if conn.dialect.name == "postgresql":
        out.written = _upsert_postgresql(conn, model.key, model.version, rows, now)
        if gone:
            conn.execute(
                text("DELETE FROM contact_scores WHERE model_key = :key AND contact_id = ANY(:ids)"),
                {"key": model.key, "ids": gone},
            )
    else:
        updates = [row for row, update in zip(rows, is_update, strict=True) if update]
        inserts = [row for row, update in zip(rows, is_update, strict=True) if not update]
        out.written = _write_sqlite(conn, model.key, model.version, inserts, updates, gone, now)
        out.scored -= len(rows) - out.written  # contacts erased meanwhile were left out
    clock.lap("write")
    out.timings = clock.laps
    return out


def _write_sqlite(
    conn: Connection, key: str, version: int, inserts: list[Row], updates: list[Row], gone: list[int], now: datetime
) -> int:
    stamp = _sqlite_time(now)
    insert = f"INSERT INTO contact_scores ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    params = [(cid, key, fit, eng, total, explanation, version, stamp, sig)
              for cid, fit, eng, total, explanation, sig in inserts]  # fmt: skip
    if params:
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(insert, params)
        except IntegrityError:
            # A contact was erased while the scores were computed: leave it out and insert again.
            kept = {row[0] for row in _existing_contacts(conn, inserts)}
            params = [p for p in params if p[0] in kept]
            if params:
                conn.exec_driver_sql(insert, params)
    if updates:
        conn.exec_driver_sql(
            "UPDATE contact_scores SET fit = ?, engagement = ?, total = ?, explanation = ?, model_version = ?, "
            "computed_at = ?, signature = ? WHERE contact_id = ? AND model_key = ?",
            [(fit, eng, total, explanation, version, stamp, sig, cid, key)
             for cid, fit, eng, total, explanation, sig in updates],
        )  # fmt: skip
    if gone:
        conn.exec_driver_sql("DELETE FROM contact_scores WHERE contact_id = ? AND model_key = ?",
                             [(cid, key) for cid in gone])  # fmt: skip
    return len(params) + len(updates)


def _upsert_postgresql(conn: Connection, key: str, version: int, rows: list[Row], now: datetime) -> int:
    """COPY the changed rows into a temporary table and upsert them from there (skipping contacts erased
    while the scores were computed)."""
    if not rows:
        return 0
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (contact_id bigint PRIMARY KEY, fit float8 NOT NULL, "
        "engagement float8 NOT NULL, total float8 NOT NULL, explanation jsonb NOT NULL, signature bigint NOT NULL)"
    )
    conn.exec_driver_sql(f"TRUNCATE {STAGE_TABLE}")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        f"COPY {STAGE_TABLE} (contact_id, fit, engagement, total, explanation, signature) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    cursor.close()
    conn.exec_driver_sql(f"ANALYZE {STAGE_TABLE}")  # a fresh temp table has no statistics: plan the join
    upsert = text(
        f"INSERT INTO contact_scores ({COLUMNS}) SELECT s.contact_id, :key, s.fit, s.engagement, s.total, "
        f"s.explanation, :version, :now, s.signature FROM {STAGE_TABLE} s "
        "WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.id = s.contact_id) "
        "ON CONFLICT (contact_id, model_key) DO UPDATE SET fit = excluded.fit, engagement = excluded.engagement, "
        "total = excluded.total, explanation = excluded.explanation, model_version = excluded.model_version, "
        "computed_at = excluded.computed_at, signature = excluded.signature"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    written = _rowcount(conn.execute(upsert, {"key": key, "version": version, "now": now}))
    conn.exec_driver_sql(f"DROP TABLE {STAGE_TABLE}")
    return written


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
    texts = Renderer(scores).texts()
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
                "explanation": orjson.loads(texts[i]),
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
            set_={
                c: stmt.excluded[c]
                for c in ("fit", "engagement", "total", "explanation", "model_version", "computed_at", "signature")
            },
        )
        session.execute(stmt)
    out.scored, out.written, out.removed = len(values), len(values), len(gone)
    return out


def _rowcount(result: Any) -> int:
    count = getattr(result, "rowcount", -1)
    return int(count) if count is not None and count >= 0 else 0
