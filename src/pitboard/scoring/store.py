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
from pitboard.scoring.calc import Renderer, Scores
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


Row = tuple[int, float, float, float, str]


def explained_rows(scores: Scores) -> list[Row]:
    """(contact id, fit, engagement, total, explanation JSON) of every contact with something to explain."""
    renderer = Renderer(scores)
    present = np.flatnonzero(scores.present)
    ids = scores.contact_ids[present].tolist()
    fit = (scores.fit[present] / POINTS_SCALE).tolist()
    engagement = (scores.engagement[present] / POINTS_SCALE).tolist()
    total = (scores.total[present] / POINTS_SCALE).tolist()
    texts = renderer.texts(present)
    return list(zip(ids, fit, engagement, total, texts, strict=True))


def write_bulk(session: Session, scores: Scores, rows: list[Row], *, now: datetime) -> Written:
    """Make the model's rows equal to ``scores`` (``rows``: its :func:`explained_rows`), which cover every
    contact (absent ones score 0).

    When no row of the model is current (a new model, a new version), every row is replaced: delete and load
    in bulk (COPY on PostgreSQL). Otherwise only the differences are written: on SQLite found in Python
    against the stored text, on PostgreSQL by staging the scores and comparing in SQL (jsonb equality, as
    PostgreSQL's own text form of a jsonb differs from ours).
    """
    conn = session.connection()
    with _big_cache(conn):
        return _write_bulk(conn, scores, rows, now=now)


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


def _write_bulk(conn: Connection, scores: Scores, rows: list[Row], *, now: datetime) -> Written:
    model = scores.model
    clock = _Timer()
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
        out = _replace(conn, model.key, model.version, rows, now=now, stored=bool(stored),
                       thresholds=bool(model.thresholds))  # fmt: skip
    elif conn.dialect.name == "postgresql":
        out = _stage_and_merge(conn, scores, rows, now=now)
    else:
        out = _diff_in_python(conn, scores, rows, now=now)
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
    for contact_id, _fit, _engagement, total, _text in rows:
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
    columns = "contact_id, model_key, fit, engagement, total, explanation, model_version, computed_at"
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY contact_scores ({columns}) FROM STDIN") as copy:
            for contact_id, fit, engagement, total, explanation in rows:
                copy.write_row((contact_id, key, fit, engagement, total, explanation, version, now))
        cursor.close()
        return
    stamp = _sqlite_time(now)
    insert = f"INSERT INTO contact_scores ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        params = [(cid, key, fit, eng, total, explanation, version, stamp)
                  for cid, fit, eng, total, explanation in batch]  # fmt: skip
        conn.exec_driver_sql(insert, params)


def _diff_in_python(conn: Connection, scores: Scores, rows: list[Row], *, now: datetime) -> Written:
    """SQLite: read the stored rows, compare their texts with the new ones, write the differences."""
    model = scores.model
    clock = _Timer()
    result = conn.execute(
        text(f"SELECT contact_id, model_version, total, explanation FROM contact_scores WHERE {_of_model(conn)}"),
        {"key": model.key},
    )
    old = {int(cid): (int(version), total, explanation) for cid, version, total, explanation in
           result.cursor.fetchall()}  # fmt: skip
    clock.lap("read stored")
    stamp = _sqlite_time(now)
    inserts, updates, changed = [], [], []
    before_totals: dict[int, int] = {}
    for row in rows:
        contact_id, fit, engagement, total, explanation = row
        before = old.pop(contact_id, None)
        if before is None:
            inserts.append((contact_id, model.key, fit, engagement, total, explanation, model.version, stamp))
            changed.append(row)
        elif before[0] != model.version or before[2] != explanation:
            updates.append((fit, engagement, total, explanation, model.version, stamp, contact_id, model.key))
            before_totals[contact_id] = _units(before[1])
            changed.append(row)
    clock.lap("compare")
    out = Written(scored=len(rows), written=len(inserts) + len(updates), removed=len(old))
    if model.thresholds:
        # Only an inserted or updated row can have risen; the ones left in ``old`` score 0 now.
        out.crossings = _crossings(changed, before_totals, _MAX_UNITS)
    columns = "contact_id, model_key, fit, engagement, total, explanation, model_version, computed_at"
    if inserts:
        insert = f"INSERT INTO contact_scores ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(insert, inserts)
        except IntegrityError:
            # A contact was erased while the scores were computed: leave it out and insert again.
            kept = {row[0] for row in _existing_contacts(conn, [(r[0], 0.0, 0.0, 0.0, "") for r in inserts])}
            inserts = [r for r in inserts if r[0] in kept]
            out.scored -= out.written - len(inserts) - len(updates)
            out.written = len(inserts) + len(updates)
            if inserts:
                conn.exec_driver_sql(insert, inserts)
    if updates:
        conn.exec_driver_sql(
            "UPDATE contact_scores SET fit = ?, engagement = ?, total = ?, explanation = ?, model_version = ?, "
            "computed_at = ? WHERE contact_id = ? AND model_key = ?",
            updates,
        )
    if old:
        conn.exec_driver_sql("DELETE FROM contact_scores WHERE contact_id = ? AND model_key = ?",
                             [(cid, model.key) for cid in old])  # fmt: skip
    clock.lap("write")
    out.timings = clock.laps
    return out


def _stage_and_merge(conn: Connection, scores: Scores, rows: list[Row], *, now: datetime) -> Written:
    """PostgreSQL: COPY the scores into a temporary table, then find the crossings, upsert the rows whose
    explanation or version changed (jsonb equality) and delete the rows of contacts that score nothing now."""
    model = scores.model
    clock = _Timer()
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (contact_id bigint PRIMARY KEY, fit float8 NOT NULL, "
        "engagement float8 NOT NULL, total float8 NOT NULL, explanation jsonb NOT NULL)"
    )
    conn.exec_driver_sql(f"TRUNCATE {STAGE_TABLE}")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {STAGE_TABLE} (contact_id, fit, engagement, total, explanation) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.close()
    conn.exec_driver_sql(f"ANALYZE {STAGE_TABLE}")  # a fresh temp table has no statistics: plan the joins
    clock.lap("stage")
    out = Written(scored=len(rows))
    if model.thresholds:
        found = conn.execute(
            text(
                f"SELECT s.contact_id, c.total, s.total FROM {STAGE_TABLE} s LEFT JOIN contact_scores c "
                "ON c.contact_id = s.contact_id AND c.model_key = :key "
                "WHERE s.total > coalesce(c.total, 0) AND coalesce(c.total, 0) < :highest"
            ),
            {"key": model.key, "highest": model.thresholds[-1].score / POINTS_SCALE},
        )
        out.crossings = [(int(cid), _units(old), _units(new)) for cid, old, new in found]
        clock.lap("crossings")
    upsert = text(
        "INSERT INTO contact_scores (contact_id, model_key, fit, engagement, total, explanation, model_version, "
        f"computed_at) SELECT s.contact_id, :key, s.fit, s.engagement, s.total, s.explanation, :version, :now "
        f"FROM {STAGE_TABLE} s "
        # A contact erased while the scores were computed has no row to point at any more.
        "WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.id = s.contact_id) "
        "ON CONFLICT (contact_id, model_key) DO UPDATE SET fit = excluded.fit, engagement = excluded.engagement, "
        "total = excluded.total, explanation = excluded.explanation, model_version = excluded.model_version, "
        "computed_at = excluded.computed_at "
        "WHERE contact_scores.model_version <> excluded.model_version "
        "OR contact_scores.explanation <> excluded.explanation"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    out.written = _rowcount(conn.execute(upsert, {"key": model.key, "version": model.version, "now": now}))
    clock.lap("upsert")
    removed = text(
        "DELETE FROM contact_scores WHERE model_key = :key AND NOT EXISTS "
        f"(SELECT 1 FROM {STAGE_TABLE} s WHERE s.contact_id = contact_scores.contact_id)"
    )
    out.removed = _rowcount(conn.execute(removed, {"key": model.key}))
    conn.exec_driver_sql(f"DROP TABLE {STAGE_TABLE}")
    clock.lap("delete")
    out.timings = clock.laps
    return out


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
                for c in ("fit", "engagement", "total", "explanation", "model_version", "computed_at")
            },
        )
        session.execute(stmt)
    out.scored, out.written, out.removed = len(values), len(values), len(gone)
    return out


def _rowcount(result: Any) -> int:
    count = getattr(result, "rowcount", -1)
    return int(count) if count is not None and count >= 0 else 0
