"""How fast does the condition language answer "which contacts match?", in bulk and for one contact?

    python -m bench.bench_conditions --contacts 100000
    python -m bench.bench_conditions --database-url sqlite:////tmp/bench100k.db --keep      # build once ...
    python -m bench.bench_conditions --database-url sqlite:////tmp/bench100k.db --reuse     # ... then reuse
    python -m bench.bench_conditions --database-url postgresql://postgres@127.0.0.1:5432/postgres --fresh

Loads the demo data (unless --reuse finds contacts already there), then measures, for a five-condition
tree with an event condition (country, stage, account size, a custom boolean, pricing-page views in 90
days): parsing + compiling it to SQL, running it as a count (p50 of --runs), and evaluating it in memory
for single contacts (facts load + evaluate, p50/p99 over --sample contacts). Prints the database's plan
for the event subquery, so a missing index shows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bench.bench_demo import NOW, load_demo
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
    repeated,
)
from pitboard.conditions import (
    CompileContext,
    Condition,
    compile_condition,
    evaluate,
    load_facts,
    load_field_registry,
    parse_condition,
)
from pitboard.kit.db import session_factory
from pitboard.models import Contact

TREE = """
all:
  - {field: country, op: in, value: [US, GB, DE, FR]}
  - {field: lifecycle_stage, op: in, value: [lead, mql, sal]}
  - {field: account.employee_count, op: gte, value: 50}
  - {field: custom.newsletter_opt_in, op: eq, value: true}
  - {event: page_viewed, where: [{property: path, op: starts_with, value: /pricing}], min_count: 1, within_days: 90}
"""


def compile_step(session: Session, data: Any, ctx: CompileContext) -> Measurement:
    """Validate against the registry and compile to SQL text: what a segment refresh pays before querying."""
    registry = load_field_registry(session)
    dialect = session.get_bind().dialect

    def once(_i: int) -> None:
        tree = parse_condition(data, registry)
        str(select(func.count()).where(compile_condition(tree, ctx)).compile(dialect=dialect))

    return repeated("parse + compile the tree to SQL", once, 200)


def count_step(session: Session, tree: Condition, ctx: CompileContext, runs: int) -> tuple[Measurement, int]:
    stmt = select(func.count()).select_from(Contact).where(compile_condition(tree, ctx))
    latencies: list[float] = []
    matches = 0
    for _ in range(runs):
        started = time.perf_counter()
        matches = int(session.execute(stmt).scalar_one())
        latencies.append(time.perf_counter() - started)
    p50 = statistics.median(latencies) * 1000
    note = f"{matches:,} matches; p50 of {runs} runs"
    return Measurement(
        "run the tree: count matching contacts", sum(latencies), ops=runs, p50_ms=p50, note=note
    ), matches


def memory_step(session: Session, tree: Condition, contact_ids: list[int]) -> tuple[Measurement, int]:
    matched = 0

    def one(i: int) -> None:
        nonlocal matched
        facts = load_facts(session, contact_ids[i], tree, now=NOW)
        assert facts is not None
        matched += evaluate(tree, facts, now=NOW)
        session.expunge_all()

    measurement = repeated("one contact in memory: load facts + evaluate", one, len(contact_ids))
    measurement.note = f"{len(contact_ids)} random contacts"
    return measurement, matched


def agreement(session: Session, tree: Condition, ctx: CompileContext, contact_ids: list[int], matched: int) -> str:
    """The sampled contacts SQL selects must be the ones memory said match: a cheap cross-check at scale."""
    in_sql = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.id.in_(contact_ids), compile_condition(tree, ctx))
    )
    return f"{matched} of {len(contact_ids)} sampled contacts match in memory, {in_sql} in SQL"


def event_plan(session: Session, tree: Condition, ctx: CompileContext) -> str:
    stmt = select(Contact.id).where(compile_condition(tree, ctx))
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"render_postcompile": True})
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # SQLite's plan does not depend on the bound values (no STAT4), so placeholders will do.
        sql = str(compiled)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (None,) * sql.count("?")).all()
        return " | ".join(str(row[-1]) for row in rows if "events" in str(row[-1]))
    lines = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    return " | ".join(str(line).strip() for line in lines if "events" in str(line))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="skip the load when the database already has contacts")
    parser.add_argument("--runs", type=int, default=5, help="runs of the bulk count (p50 is reported)")
    parser.add_argument("--sample", type=int, default=200, help="contacts evaluated one at a time in memory")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        report = Report(f"condition language at {args.contacts:,} contacts on {engine.dialect.name}")
        load_demo(engine, args.contacts, args.reuse, report)
        data = yaml.safe_load(TREE)
        with session_factory(engine)() as session:
            tree = parse_condition(data, load_field_registry(session))
            ctx = CompileContext.for_session(session, now=NOW)
            all_ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
            sample = random.Random(7).sample(all_ids, min(args.sample, len(all_ids)))
            report.add(compile_step(session, data, ctx))
            bulk, matches = count_step(session, tree, ctx, args.runs)
            report.add(bulk)
            one, matched = memory_step(session, tree, sample)
            report.add(one)
            report.facts["cross-check"] = agreement(session, tree, ctx, sample, matched)
            report.facts["event subquery plan"] = event_plan(session, tree, ctx)
            session.rollback()
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("contacts", "events")}
        report.facts.update({
            "database": describe(engine),
            "tree": " AND ".join(line.strip()[2:] for line in TREE.strip().splitlines()[1:]),
            "rows": f"{counts['contacts']:,} contacts, {counts['events']:,} events; {matches:,} match",
            "data size": human_bytes(data_size_bytes(engine)),
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
