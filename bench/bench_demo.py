"""How fast does the demo generator fill a database?

    python -m bench.bench_demo --contacts 100000
    python -m bench.bench_demo --contacts 1000000 --database-url postgresql://postgres@127.0.0.1:5432/postgres --fresh

Prints rows and rows/s per table (time inside the database driver), the generation time in
Python/numpy, the index rebuild, the end-to-end throughput, peak memory and the data size.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sqlalchemy import Engine, text

from bench.harness import (
    Measurement,
    Report,
    add_database_arguments,
    bench_database,
    data_size_bytes,
    describe,
    emit,
    human_bytes,
    machine,
    peak_rss_mb,
    timed,
)
from pitboard.demo import DemoSummary, Progress, generate_demo

# A fixed "now" so runs are comparable (same rows every time).
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def progress_printer(quiet: bool = False) -> Progress:
    last: dict[str, int] = {}

    def report(phase: str, done: int, total: int) -> None:
        # One line per ~10% so a long run shows it is alive without flooding the terminal.
        step = max(total // 10, 1)
        if quiet or done // step == last.get(phase, -1):
            return
        last[phase] = done // step
        print(f"  {phase}: {done:,}/{total:,}", file=sys.stderr, flush=True)

    return report


def load_demo(engine: Engine, contacts: int, reuse: bool, report: Report, *, now: datetime = NOW) -> None:
    """Fill the database with demo data for a benchmark, or with ``reuse`` keep what is there."""
    with engine.connect() as conn:
        existing = conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()
    if existing and reuse:
        report.facts["load"] = f"reused {existing:,} contacts already in the database"
        return
    measurement, summary = timed(
        "load demo data (generate_demo)",
        lambda: generate_demo(engine, contacts=contacts, now=now, progress=progress_printer()),
    )
    measurement.rows = summary.total_rows
    measurement.note = f"{summary.counts['events']:,} events"
    report.add(measurement)


def summary_report(summary: DemoSummary, title: str) -> Report:
    report = Report(title)
    for table, rows in summary.counts.items():
        seconds = summary.write_seconds.get(table, 0.0)
        if rows:
            report.add(Measurement(f"write {table}", seconds, rows=rows, note="inside the DB driver"))
    for phase, seconds in summary.generate_seconds.items():
        note = {"finish": "rebuild indexes, constraints, sequences, ANALYZE", "prepare": "drop indexes"}.get(phase, "")
        report.add(Measurement(phase, seconds, note=note))
    report.add(Measurement("total (end to end)", summary.elapsed_seconds, rows=summary.total_rows, note="all tables"))
    report.add(Measurement("events (end to end)", summary.elapsed_seconds, rows=summary.counts["events"]))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events-per-contact", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        summary = generate_demo(
            engine,
            contacts=args.contacts,
            seed=args.seed,
            events_per_contact=args.events_per_contact,
            now=NOW,
            progress=progress_printer(args.quiet),
        )
        report = summary_report(summary, f"demo generator: {args.contacts:,} contacts on {engine.dialect.name}")
        size = data_size_bytes(engine)
        report.facts.update({
            "database": describe(engine),
            "rows": f"{summary.total_rows:,} ({summary.counts['events']:,} events)",
            "data size": f"{human_bytes(size)} ({size / max(summary.total_rows, 1):.0f} bytes/row)",
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "dirty records": f"{summary.dirty_records:,}",
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
