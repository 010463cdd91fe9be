"""How fast is lead scoring: a full rescore of every contact, one contact after an event, and the what-if
simulation of a scoring change?

    python -m bench.bench_scoring --contacts 20000                                         # temporary SQLite
    python -m bench.bench_scoring --database-url sqlite:////tmp/bench1m.db --reuse         # an existing database
    python -m bench.bench_scoring --database-url postgresql://postgres@127.0.0.1/pitboard_bench_1m --reuse

Measures, for a realistic model (7 fit criteria incl. two account fields, 8 engagement criteria with a 30-day
half-life, max_occurrences, group caps, fit / engagement / total caps):

* **full rescore, first write**: every contact scored and its row written, and committed (the figure includes
  the commit);
* **full rescore, nothing changed**: the same again: the set-based write skips unchanged rows;
* **full rescore a day later**: what the daily job meets: decayed engagement changed for every active contact;
* **full rescore of a new model version** (one criterion's points changed): every row rewritten;
* **full rescore with thresholds** of a model new to the database, with its stage moves (rolled back, so the
  shared database keeps its stages);
* **incremental rescore of one contact** after an event is inserted (p50 / p99; each rolled back);
* **simulation** of a proposed change over the last months (read-only).

The bench adds its own scoring models (keys ``bench-scoring*``) and their scores, and removes them at the end
(also leftovers of an interrupted run at the start). Other models in the database are left as they are. On
SQLite the table of scores is then rewritten with full pages (``_repack_sqlite_scores``), so each run's new
model meets it as a database whose scores were written once does.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, date, datetime, timedelta

import yaml
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session

from bench.bench_demo import load_demo
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
from pitboard.conditions import load_field_registry
from pitboard.demo.scoring import demo_model_data
from pitboard.kit.db import session_factory, session_scope
from pitboard.kit.time import utcnow
from pitboard.lifecycle.definitions import current_spec
from pitboard.models import Contact, ContactScore, Event, ScoringModel, ScoringModelVersion
from pitboard.scoring import engine as scoring
from pitboard.scoring import store
from pitboard.scoring.schemas import ScoringModelSpec, validate_scoring
from pitboard.scoring.simulate import simulate

KEY = "bench-scoring"
THRESHOLD_KEY = "bench-scoring-thresholds"


def model_specs(session: Session) -> dict[str, ScoringModelSpec]:
    """The model as stored (no thresholds: its committed runs must not move stages in a shared database), the
    same with an mql threshold, and a proposed change for the simulation."""
    registry = load_field_registry(session)
    # The demo's lead score (pitboard/demo/scoring.py) under the bench's own key.
    base = {**demo_model_data(), "key": KEY, "name": "Benchmark model", "description": None}
    with_threshold = {**base, "key": THRESHOLD_KEY, "thresholds": [{"score": 60}]}
    proposed = yaml.safe_load(yaml.safe_dump(with_threshold))
    proposed["thresholds"] = [{"score": 50}]
    proposed["engagement"]["criteria"][3]["points"] = 12  # forms count a little more
    specs = validate_scoring({"models": [base, with_threshold]}, registry).models
    # The proposal replaces the model with the threshold: same key, so it is validated on its own.
    changed = validate_scoring({"models": [proposed]}, registry).models[0]
    # A new version of the stored model: demos count a little more.
    revised = yaml.safe_load(yaml.safe_dump(base))
    revised["engagement"]["criteria"][0]["points"] = 35
    version_2 = validate_scoring({"models": [revised]}, registry).models[0]
    return {"base": specs[0], "thresholds": specs[1], "proposed": changed, "version 2": version_2}


def _add_model(session: Session, spec: ScoringModelSpec, *, active: bool = True) -> None:
    row = ScoringModel(key=spec.key, name=spec.name, description="bench/bench_scoring.py",
                       definition=spec.definition(), checksum=spec.checksum, version=1, active=active)  # fmt: skip
    session.add(row)
    session.flush()


def cleanup(engine: Engine) -> int:
    with session_scope(engine) as session:
        keys = list(session.scalars(select(ScoringModel.key).where(ScoringModel.key.like(f"{KEY}%"))))
        removed = 0
        if engine.dialect.name == "postgresql":
            # Each model's rows are a partition of their own (scoring/store.py): drop it whole.
            for key, partition in store.partitions(session.connection()).items():
                if key in keys:
                    removed += int(session.execute(text(f"SELECT count(*) FROM {partition}")).scalar() or 0)
                    session.execute(text(f"DROP TABLE {partition}"))
        removed += session.execute(delete(ContactScore).where(ContactScore.model_key.in_(keys))).rowcount  # type: ignore[attr-defined]
        session.execute(delete(ScoringModelVersion).where(ScoringModelVersion.model_key.in_(keys)))
        session.execute(delete(ScoringModel).where(ScoringModel.key.in_(keys)))
    if removed and engine.dialect.name == "sqlite":
        _repack_sqlite_scores(engine)
    return int(removed or 0)


def _repack_sqlite_scores(engine: Engine) -> None:
    """SQLite: the bench's deleted rows leave ``contact_scores``' pages half empty (the key is contact, then
    model), and the next run's new model would fill them without splitting a page: faster than in a database
    whose scores were written once. Rewrite the table in key order, so its pages are full again."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE bench_kept_scores AS SELECT * FROM contact_scores")
        conn.exec_driver_sql("DELETE FROM contact_scores")
        conn.exec_driver_sql(
            "INSERT INTO contact_scores SELECT * FROM bench_kept_scores ORDER BY contact_id, model_key"
        )
        conn.exec_driver_sql("DROP TABLE bench_kept_scores")


def _breakdown(result: scoring.RescoreResult) -> str:
    phases = ", ".join(f"{name.split()[0]} {seconds:.1f}" for name, seconds in result.phases.items())
    steps = ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.write_steps.items())
    how = "all rows replaced" if result.replaced else "changed rows written"
    return (f"{result.scored:,} scored, {result.written:,} written ({how}), {result.moved:,} moved; {phases} s "
            f"({steps})")  # fmt: skip


def full_rescores(engine: Engine, specs: dict[str, ScoringModelSpec], report: Report) -> None:
    with session_scope(engine) as session:
        _add_model(session, specs["base"])
    now = utcnow()
    # The daily job's case is the third: a day on, every decayed engagement score has changed.
    for label, at in (
        ("full rescore, first write (committed)", now),
        ("full rescore, nothing changed (committed)", now),
        ("full rescore a day later: decay changed (committed)", now + timedelta(days=1)),
        ("full rescore of a new model version (committed)", now + timedelta(days=1)),
    ):
        if "version" in label:
            with session_scope(engine) as session:
                row = session.scalar(select(ScoringModel).where(ScoringModel.key == KEY))
                assert row is not None
                row.definition, row.checksum = specs["version 2"].definition(), specs["version 2"].checksum
                row.version += 1
        with session_scope(engine) as session:
            result = scoring.rescore_model(session, KEY, now=at)
            committing = time.perf_counter()
        # The rescore is done when it is committed: on SQLite the commit writes every changed page to the WAL.
        commit = time.perf_counter() - committing
        report.add(Measurement(label, result.seconds + commit, rows=result.scored,
                               note=f"{_breakdown(result)}; commit {commit:.1f} s"))  # fmt: skip
    with session_scope(engine) as session:
        size = session.scalar(
            text("SELECT avg(length(facts)) FROM contact_scores WHERE model_key = :key"), {"key": KEY}
        )
    report.facts["stored facts"] = f"{float(size or 0):.1f} bytes per row on average"
    # A model new to the database with an mql threshold: every contact over it moves; rolled back.
    with session_scope(engine) as session:
        _add_model(session, specs["thresholds"], active=False)
    session = session_factory(engine)()
    try:
        row = session.scalar(select(ScoringModel).where(ScoringModel.key == THRESHOLD_KEY))
        assert row is not None
        row.active = True
        session.flush()
        result = scoring.rescore_model(session, THRESHOLD_KEY)
        report.add(Measurement("full rescore of a new model with a threshold (rolled back)", result.seconds,
                               rows=result.scored, note=_breakdown(result)))  # fmt: skip
    finally:
        session.rollback()
        session.close()


def incremental(engine: Engine, sample: int, report: Report) -> None:
    with session_scope(engine) as session:
        high = int(session.scalar(select(func.max(Contact.id))) or 0)
    rng = random.Random(11)
    latencies: list[float] = []
    changed = 0
    for i in range(sample):
        session = session_factory(engine)()
        try:
            contact_id = None
            while contact_id is None:
                contact_id = session.scalar(select(Contact.id).where(Contact.id >= rng.randint(1, high)).limit(1))
            now = utcnow()
            session.add(Event(message_id=f"bench-scoring-{i}-{time.time_ns()}", event_type="track",
                              name="demo_requested", contact_id=contact_id, occurred_at=now, received_at=now,
                              properties={}, context={}))  # fmt: skip
            session.flush()
            started = time.perf_counter()
            written = scoring.rescore_contacts(session, [contact_id], now=now, keys=[KEY])
            latencies.append(time.perf_counter() - started)
            changed += written[KEY].written
        finally:
            session.rollback()
            session.close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    report.add(Measurement("incremental rescore of one contact after an event", sum(latencies), ops=sample,
                           p50_ms=p50, p99_ms=p99,
                           note=f"{sample} random contacts; facts + score + write (each rolled back)"))  # fmt: skip


def simulation(engine: Engine, specs: dict[str, ScoringModelSpec], months: int, report: Report) -> None:
    today = utcnow().date()
    year, month = today.year, today.month - (months - 1)
    while month < 1:
        year, month = year - 1, month + 12
    since = date(year, month, 1)
    with session_factory(engine)() as session:
        result = simulate(session, models=[specs["proposed"]], current=[specs["thresholds"]],
                          lifecycle_spec=current_spec(session), since=since)  # fmt: skip
        session.rollback()
    note = (f"{len(result.months)} months from {since}; MQLs {sum(result.current):,} applied vs "
            f"{sum(result.proposed):,} proposed; +{result.gained:,} / -{result.lost:,}")  # fmt: skip
    report.add(Measurement("simulate a scoring change (months x 2 models)", result.seconds, rows=result.contacts,
                           note=note))  # fmt: skip
    accepted = {k: f"{v.accepted:,}/{v.leads:,}" for k, v in result.acceptance.items()}
    report.facts["simulation acceptance (accepted/leads)"] = accepted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20_000, help="demo contacts to load into a new database")
    parser.add_argument("--reuse", action="store_true", help="skip the load when the database already has contacts")
    parser.add_argument("--sample", type=int, default=300, help="contacts rescored one at a time")
    parser.add_argument("--months", type=int, default=6, help="months the simulation replays")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        report = Report(f"lead scoring on {engine.dialect.name}")
        report.facts["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        # Decay needs recent events: generate them up to today, not up to the fixed benchmark date.
        load_demo(engine, args.contacts, args.reuse, report, now=datetime.now(UTC))
        left = cleanup(engine)
        if left:
            report.facts["leftovers removed"] = f"{left:,} scores of an interrupted run"
        with session_factory(engine)() as session:
            specs = model_specs(session)
            session.rollback()
        try:
            full_rescores(engine, specs, report)
            incremental(engine, args.sample, report)
            simulation(engine, specs, args.months, report)
        finally:
            removed = cleanup(engine)
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("contacts", "events")}
        report.facts.update({
            "database": describe(engine),
            "rows": f"{counts['contacts']:,} contacts, {counts['events']:,} events",
            "model": "7 fit criteria (2 on the account), 8 engagement criteria, half-life 30 days, caps",
            "cleaned up": f"{removed:,} bench scores removed",
            "data size": human_bytes(data_size_bytes(engine)),
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "load average at end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
