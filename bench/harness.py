"""A tiny benchmark harness: time things, report throughput and latency percentiles, peak memory and
the size of the data, as a plain-text table (and optionally JSON for tracking over time).

Deliberately small and dependency-free so benchmarks stay easy to read and to run anywhere the
project runs: ``python -m bench.bench_demo`` / ``python -m bench.bench_model`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pitboard.kit.db import make_engine
from pitboard.kit.migrate import upgrade


@dataclass
class Measurement:
    """One line of a report: what was done, how many times or rows, and how fast."""

    name: str
    seconds: float
    rows: int | None = None  # rows written or read, for rows/s
    ops: int | None = None  # repeated operations (queries), for ops/s and percentiles
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows is not None and self.seconds > 0 else None

    @property
    def ops_per_second(self) -> float | None:
        return self.ops / self.seconds if self.ops is not None and self.seconds > 0 else None


@dataclass
class Report:
    title: str
    measurements: list[Measurement] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # data size, counts, parameters, machine

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        return measurement

    def to_json(self) -> str:
        items = [
            {**asdict(m), "rows_per_second": m.rows_per_second, "ops_per_second": m.ops_per_second}
            for m in self.measurements
        ]
        return json.dumps({"title": self.title, "facts": self.facts, "measurements": items}, indent=2, default=str)


def timed(name: str, fn: Callable[[], Any], *, rows: int | None = None, note: str = "") -> tuple[Measurement, Any]:
    """Run ``fn`` once; returns the measurement and whatever ``fn`` returned."""
    started = time.perf_counter()
    result = fn()
    return Measurement(name, time.perf_counter() - started, rows=rows, note=note), result


def repeated(name: str, fn: Callable[[int], Any], times: int, *, note: str = "") -> Measurement:
    """Call ``fn(i)`` ``times`` times; reports ops/s and latency percentiles."""
    latencies: list[float] = []
    rows = 0
    started = time.perf_counter()
    for i in range(times):
        t0 = time.perf_counter()
        result = fn(i)
        latencies.append(time.perf_counter() - t0)
        if isinstance(result, int):
            rows += result
    total = time.perf_counter() - started
    return Measurement(name, total, rows=rows or None, ops=times, p50_ms=_percentile(latencies, 50) * 1000,
                       p99_ms=_percentile(latencies, 99) * 1000, note=note)  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def data_size_bytes(engine: Engine) -> int:
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if value < 100 else f"{value:,.0f}"


def render(report: Report) -> str:
    header = ("operation", "rows", "ops", "seconds", "rows/s", "ops/s", "p50 ms", "p99 ms", "note")
    lines = [
        (
            m.name,
            "" if m.rows is None else f"{m.rows:,}",
            "" if m.ops is None else f"{m.ops:,}",
            f"{m.seconds:,.2f}",
            _fmt(m.rows_per_second),
            _fmt(m.ops_per_second),
            _fmt(m.p50_ms, 2),
            _fmt(m.p99_ms, 2),
            m.note,
        )
        for m in report.measurements
    ]
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    out = [report.title, "=" * len(report.title)]
    for key, value in report.facts.items():
        out.append(f"{key}: {value}")
    out.append("")
    numeric = {1, 2, 3, 4, 5, 6, 7}
    for row in [header, *lines]:
        out.append("  ".join(str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in
                             enumerate(zip(row, widths, strict=True))).rstrip())  # fmt: skip
        if row is header:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def emit(report: Report, json_path: str | None) -> None:
    """Print the table; with ``--json PATH`` also write the report as JSON (``-`` for stdout)."""
    print(render(report))
    if json_path == "-":
        print(report.to_json())
    elif json_path:
        Path(json_path).write_text(report.to_json() + "\n")


def machine(engine: Engine) -> str:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    if engine.dialect.name == "sqlite":
        server = f"SQLite {sqlite3.sqlite_version}"
    else:
        with engine.connect() as conn:
            server = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
            server = f"PostgreSQL {server}"
    return f"{python}, {os.cpu_count()} CPUs, {platform.machine()}, {server}"


# --- databases -----------------------------------------------------------------------------------


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: a temporary SQLite file)")
    fresh = "PostgreSQL: create a uniquely named database on the server of --database-url (dropped unless --keep)"
    parser.add_argument("--fresh", action="store_true", help=fresh)
    parser.add_argument("--keep", action="store_true", help="keep the temporary / fresh database afterwards")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON (- for stdout)")


@contextmanager
def bench_database(url: str | None, *, fresh: bool, keep: bool) -> Iterator[Engine]:
    """A migrated database for a benchmark: a temporary SQLite file by default, or the one given."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="pitboard-bench-"))
        engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            if keep:
                print(f"kept {folder / 'bench.db'}")
            else:
                for path in folder.iterdir():
                    path.unlink()
                folder.rmdir()
        return
    if not fresh:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
        return
    with _fresh_postgres(url, keep=keep) as engine:
        yield engine


@contextmanager
def _fresh_postgres(url: str, *, keep: bool) -> Iterator[Engine]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("--fresh works with PostgreSQL URLs")
    name = f"pitboard_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(parsed.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(parsed.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
