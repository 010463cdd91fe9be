"""How fast and how accurate is contact deduplication on the demo data?

    python -m bench.bench_dedupe --contacts 100000
    python -m bench.bench_dedupe --contacts 1000000
    python -m bench.bench_dedupe --database-url sqlite:////path/demo.db --ground-truth /path/gt.jsonl  # reuse

Generates a demo database (temporary SQLite file, no events) with ground-truth labels, loads the
contacts, deduplicates them and prints the data size, the time of each step, the number of pairs
compared, and pairwise precision / recall / F1 for the auto-merge band and for auto-merge + review.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

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
)
from pitboard.demo import generate_demo
from pitboard.quality.dedupe import DedupeConfig, dedupe_contacts, evaluate, load_contacts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # fixed, so runs are comparable


def _generate(engine: Engine, contacts: int, seed: int, events: float, truth: Path, report: Report) -> None:
    started = time.perf_counter()
    summary = generate_demo(engine, contacts=contacts, seed=seed, events_per_contact=events,
                            ground_truth_path=truth, now=NOW)  # fmt: skip
    report.add(Measurement("generate demo (not part of dedupe)", time.perf_counter() - started, rows=contacts))
    report.facts["dirty labels"] = summary.dirty_records


def _dedupe(engine: Engine, truth: Path, report: Report, config: DedupeConfig) -> None:
    started = time.perf_counter()
    with Session(engine) as session:
        records = load_contacts(session, keep_display=False)
    load_seconds = time.perf_counter() - started
    report.add(Measurement("load + normalise contacts", load_seconds, rows=len(records)))
    result = dedupe_contacts(records, config)
    for step, seconds in result.timings.items():
        note = f"{result.candidate_pairs:,} candidate pairs" if step == "comparing" else ""
        report.add(Measurement(step, seconds, rows=result.candidate_pairs if step == "comparing" else None, note=note))
    total = load_seconds + sum(result.timings.values())
    report.add(Measurement("total dedupe (load → clusters)", total, rows=len(records)))
    universe = set(records.ids.tolist())
    auto = evaluate(result.auto_clusters, truth, universe=universe)
    both = evaluate(result.review_clusters, truth, universe=universe)
    report.facts.update({
        "contacts": f"{len(records):,}",
        "candidate pairs": f"{result.candidate_pairs:,}",
        "pairs per blocking rule": ", ".join(f"{k}: {v:,}" for k, v in result.pairs_per_rule.items()),
        "pairs returned (≥ review)": f"{len(result.pairs):,}",
        "auto-merge band": str(auto),
        "auto-merge + review bands": str(both),
        "prior λ": f"{result.model.prior:.4f}",
        "merges refused by the size cap": str(result.refused_merges),
        "peak RSS": f"{peak_rss_mb():,.0f} MB",
    })  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--events-per-contact", type=float, default=0.0)
    parser.add_argument("--ground-truth", type=Path, help="labels of an existing demo database: skip generating")
    parser.add_argument("--auto-merge", type=float, default=DedupeConfig.auto_merge)
    parser.add_argument("--review", type=float, default=DedupeConfig.review)
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    config = DedupeConfig(auto_merge=args.auto_merge, review=args.review, explain=False)
    report = Report(f"Contact dedupe, {args.contacts:,} contacts")
    with tempfile.TemporaryDirectory(prefix="pitboard-dedupe-") as folder:
        truth = args.ground_truth or Path(folder) / "ground_truth.jsonl"
        with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
            report.facts["database"] = describe(engine)
            report.facts["machine"] = machine(engine)
            if args.ground_truth is None:
                _generate(engine, args.contacts, args.seed, args.events_per_contact, truth, report)
            report.facts["data size"] = human_bytes(data_size_bytes(engine))
            _dedupe(engine, truth, report, config)
    emit(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
