"""What did each part of the old ``contact_scores`` table cost a bulk load on PostgreSQL?

The measurement behind migration 0011 (docs/scoring.md, Performance): the table as it was before, with JSON
explanations, a surrogate key, a unique key and a (model_key, total) index. Kept to show why a full rescore
now loads a fresh partition with compact facts instead.

    python -m bench.bench_score_write --database-url postgresql://postgres@127.0.0.1/pitboard_bench_1m

A full rescore that rewrites every row (a new model, or the daily decay of a half-life model) spends most of
its time writing. This loads one row per contact of the database (realistic rows: eight explanation entries,
about 480 bytes of JSON) by COPY into scratch tables shaped like ``contact_scores`` with one feature taken
away at a time: the foreign key to ``contacts``, ``jsonb`` (against ``json``, stored as text), the
``(model_key, total)`` index, the ``(contact_id, model_key)`` unique key; and rows without their explanation
(what storing numbers only and rendering explanations on read would write). The scratch table is dropped after
each load; ``contact_scores`` itself is not touched. PostgreSQL only: the question is its write path.
"""

from __future__ import annotations

import argparse
import random
import time

import orjson
import psycopg
from sqlalchemy.engine import make_url

from bench.harness import Measurement, Report, emit

COLUMNS = "contact_id, model_key, fit, engagement, total, explanation, model_version, computed_at, signature"
TABLE = "bench_score_write"
SHAPE = (
    "CREATE TABLE {table} (id bigserial PRIMARY KEY, contact_id bigint {fk}, model_key varchar(100), fit float8, "
    "engagement float8, total float8, explanation {json}, model_version int, computed_at timestamptz, "
    "signature bigint{unique}); {index}"
)
AS_TODAY = {
    "fk": "REFERENCES contacts (id) ON DELETE CASCADE",
    "json": "jsonb",
    "unique": ", UNIQUE (contact_id, model_key)",
    "index": "CREATE INDEX ON {table} (model_key, total)",
}
VARIANTS = {
    "as contact_scores is": {},
    "without the foreign key": {"fk": ""},
    "json instead of jsonb": {"json": "json"},
    "without the (model_key, total) index": {"index": ""},
    "without all three": {"fk": "", "json": "json", "index": ""},
    "bare: only the id key": {"fk": "", "json": "json", "index": "", "unique": ""},
    "no explanation (numbers only), as the table is otherwise": {"drop_explanation": "yes"},
}
CRITERIA = ["Job title: VP or C-level", "Company size 200+", "Industry: software", "Country: target", "Has phone",
            "Account: enterprise", "Account: ARR", "Visited pricing", "Webinar attended", "Demo requested",
            "Email click"]  # fmt: skip


def explanations(n: int, rng: random.Random) -> list[str]:
    """Explanation texts shaped like the renderer's: [criterion, group, kind, points, raw, capped by, count]."""
    out = []
    for _ in range(n):
        entries = [[name, f"Group {name[:4]}", rng.choice(["fit", "engagement"]), 10.5, 10.5, None, rng.randint(1, 9)]
                   for name in rng.sample(CRITERIA, 8)]  # fmt: skip
        out.append(orjson.dumps(entries).decode())
    return out


def load(conn: psycopg.Connection, shape: dict[str, str], rows: list[tuple[object, ...]]) -> float:
    if shape.get("drop_explanation"):  # what a row costs without its rendered explanation (NULL instead)
        rows = [(*row[:5], None, *row[6:]) for row in rows]
        shape = {k: v for k, v in shape.items() if k != "drop_explanation"}
    with conn.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        ddl = SHAPE.format(table=TABLE, **{**AS_TODAY, **shape})
        cursor.execute(ddl.replace("{table}", TABLE))
        conn.commit()
        started = time.perf_counter()
        with cursor.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
        cursor.execute(f"DROP TABLE {TABLE}")
        conn.commit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database with contacts (a demo)")
    parser.add_argument("--json", help="also write the report as JSON (- for stdout)")
    args = parser.parse_args()
    url = make_url(args.database_url).set(drivername="postgresql")
    report = Report("contact_scores bulk load by table feature (PostgreSQL)")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM contacts ORDER BY id").fetchall()]
        texts = explanations(2000, random.Random(1))
        rows = [(cid, "bench-write", 10.0, 20.0, 30.0, texts[i % len(texts)], 1, "2026-11-24 00:00:00+00", i)
                for i, cid in enumerate(ids)]  # fmt: skip
        report.facts["rows"] = f"{len(rows):,} (one per contact)"
        report.facts["explanation"] = f"{sum(map(len, texts)) / len(texts):.0f} bytes on average"
        report.facts["server"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        for name, shape in VARIANTS.items():
            seconds = load(conn, shape, rows)
            report.add(Measurement(f"COPY, {name}", seconds, rows=len(rows)))
    emit(report, args.json)


if __name__ == "__main__":
    main()
