"""How fast are segments kept fresh? Full refresh in SQL, steady-state refresh, preview, and the incremental
path per changed contact.

    python -m bench.bench_segments --database-url sqlite:////tmp/bench1m.db --reuse
    python -m bench.bench_segments --database-url postgresql://postgres@127.0.0.1/pitboard_bench_1m --reuse
    python -m bench.bench_segments --contacts 100000            # builds a temporary SQLite database first

On an existing database (``--reuse``) it only adds its own segments (keys starting ``bench-seg-``, no audit
entries, no jobs) and deletes them, with their memberships, when it ends. Measured, for a five-condition
segment with an event condition (country, lifecycle stage, a custom field, created in the last 365 days,
three page views in 30 days):

* full refresh from empty (the segment created anew each run: every member enters), p50 of --runs;
* refresh again with nothing changed (steady state: the daily refresh), p50 of --runs;
* count_matching (what ``pitboard plan`` reports) and the builder's preview (count + first 20);
* incremental: 20 segments defined (contact and account segments, one testing another), one contact at a
  time through the ``contacts.changed`` listener's code (load facts once, evaluate all 20), p50/p99 over
  --sample random contacts.

``now`` is the newest event's time (``--now`` to override), so relative dates select the same contacts
however long after generation the benchmark runs.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine, delete, event, func, select, text
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
    repeated,
)
from pitboard.conditions import load_field_registry
from pitboard.kit.db import make_engine, session_factory
from pitboard.kit.migrate import current_revision, head_revision
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, Event, Segment, SegmentMembership
from pitboard.segments.matching import count_matching, preview
from pitboard.segments.refresh import refresh_segments, update_contacts
from pitboard.segments.schemas import SegmentSpec, validate_spec

PREFIX = "bench-seg-"
MAIN = f"{PREFIX}engaged"
MAIN_CONDITION: dict[str, Any] = {
    "all": [
        {"field": "country", "op": "in", "value": ["US", "GB", "DE", "FR", "CA"]},
        {"field": "lifecycle_stage", "op": "in", "value": ["lead", "mql", "sal"]},
        {"field": "custom.newsletter_opt_in", "op": "eq", "value": True},
        {"field": "created_at", "op": "within_last", "value": "365d"},
        {"event": "page_viewed", "min_count": 3, "within_days": 30},
    ]
}
_COUNTRIES = (["US"], ["GB", "IE"], ["DE", "AT", "CH"], ["FR", "BE"], ["CA"], ["IN"], ["NL"], ["AU", "NZ"])
_STAGES = (["lead"], ["mql"], ["sal", "sql"], ["customer"], ["subscriber"])
_EVENTS = ("page_viewed", "form_submitted", "email_clicked", "webinar_attended", "content_downloaded")


def extra_segments() -> list[dict[str, Any]]:
    """19 more segments for the incremental measurement: a realistic mix of fields, events, account fields,
    one account segment and segments testing others."""
    out: list[dict[str, Any]] = []
    for i in range(14):
        condition: dict[str, Any] = {"all": [
            {"field": "country", "op": "in", "value": _COUNTRIES[i % len(_COUNTRIES)]},
            {"field": "lifecycle_stage", "op": "in", "value": _STAGES[i % len(_STAGES)]},
            {"event": _EVENTS[i % len(_EVENTS)], "min_count": 1 + i % 3, "within_days": (7, 30, 90)[i % 3]},
        ]}  # fmt: skip
        if i % 4 == 1:
            condition["all"].append({"field": "account.employee_count", "op": "gte", "value": 50 * (i + 1)})
        out.append({"key": f"{PREFIX}{i:02d}", "name": f"bench {i}", "condition": condition})
    out += [
        {"key": f"{PREFIX}inactive", "name": "bench inactive",
         "condition": {"not": {"field": "last_activity_at", "op": "within_last", "value": "60d"}}},
        {"key": f"{PREFIX}opted-in-us", "name": "bench opted in US",
         "condition": {"all": [{"in_segment": f"{PREFIX}00"}, {"field": "custom.newsletter_opt_in", "op": "eq",
                                                                "value": True}]}},
        {"key": f"{PREFIX}engaged-or-new", "name": "bench engaged or new",
         "condition": {"any": [{"in_segment": MAIN}, {"field": "created_at", "op": "within_last", "value": "14d"}]}},
        {"key": f"{PREFIX}never-webinar", "name": "bench never webinar",
         "condition": {"event": "webinar_attended", "min_count": 0, "max_count": 0, "within_days": 180}},
        {"key": f"{PREFIX}hot-accounts", "name": "bench hot accounts", "entity": "account", "min_contacts": 3,
         "condition": {"event": "page_viewed", "min_count": 5, "within_days": 30}},
    ]  # fmt: skip
    return out


def _patient(engine: Engine) -> None:
    """Other people's benchmarks may hold SQLite's write lock for minutes: wait for it rather than fail."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout = 3600000"))


@contextmanager
def _database(args: argparse.Namespace) -> Iterator[Engine]:
    """A shared, migrated database as it is (``--reuse``), or the harness's (migrated, loaded if empty)."""
    if args.database_url and args.reuse and not args.fresh:
        engine = make_engine(args.database_url)
        _patient(engine)
        if current_revision(engine) == head_revision():
            try:
                yield engine
            finally:
                engine.dispose()
            return
        engine.dispose()
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        _patient(engine)
        engine.dispose()  # connections opened from here on wait for the lock
        yield engine


def _quiet() -> None:
    # The refresh logs one line per segment; thousands of them would drown the report.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _now(engine: Engine, given: str | None) -> datetime:
    if given:
        return ensure_utc(datetime.fromisoformat(given))
    with session_factory(engine)() as session:
        newest = session.scalar(select(func.max(Event.occurred_at)))
        session.rollback()
    return ensure_utc(newest) if newest else datetime.now(UTC)


def remove_bench_segments(engine: Engine) -> int:
    """Delete this benchmark's segments and their memberships (and nothing else)."""
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Segment.id).where(Segment.key.like(f"{PREFIX}%"))))
        if ids:
            session.execute(delete(SegmentMembership).where(SegmentMembership.segment_id.in_(ids)))
            session.execute(delete(Segment).where(Segment.id.in_(ids)))
        session.commit()
        return len(ids)


def add_segment(session: Session, spec: SegmentSpec) -> Segment:
    """A segment row as the service writes it, without its audit entry or refresh job (shared databases)."""
    definition = spec.definition()
    row = Segment(key=spec.key, name=spec.name, description="pitboard benchmark", entity=spec.entity, kind=spec.kind,
                  condition=definition["condition"], min_contacts=spec.min_contacts, origin="api", active=True,
                  checksum=spec.checksum, member_count=0)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def full_refresh_runs(engine: Engine, spec: SegmentSpec, now: datetime, runs: int) -> tuple[Measurement, Measurement]:
    """p50 of refreshes from empty (segment recreated each run) and of steady-state refreshes after each."""
    cold: list[float] = []
    steady: list[float] = []
    members = 0
    for _ in range(runs):
        remove_bench_segments(engine)
        with session_factory(engine)() as session:
            add_segment(session, spec)
            session.commit()
        for timings in (cold, steady):
            with session_factory(engine)() as session:
                # Begin first: on a shared SQLite file, waiting for another writer's lock is not refresh time.
                session.connection()
                started = time.perf_counter()
                [result] = refresh_segments(session, [spec.key], now=now)
                session.commit()
                timings.append(time.perf_counter() - started)
                members = result.member_count
    note = f"{members:,} members; p50 of {runs} runs, commit included"
    return (
        Measurement("full refresh from empty (all enter)", sum(cold), ops=runs,
                    p50_ms=statistics.median(cold) * 1000, p99_ms=max(cold) * 1000, note=note),
        Measurement("full refresh again, nothing changed", sum(steady), ops=runs,
                    p50_ms=statistics.median(steady) * 1000, p99_ms=max(steady) * 1000, note=note),
    )  # fmt: skip


def count_and_preview(session: Session, spec: SegmentSpec, now: datetime, runs: int) -> list[Measurement]:
    assert spec.condition is not None
    condition = spec.condition
    counted = repeated("count_matching (pitboard plan)", lambda _i: count_matching(session, spec, now=now), runs)
    shown = repeated("preview: count + first 20", lambda _i: preview(session, condition, now=now).count, runs)
    counted.rows = shown.rows = None
    return [counted, shown]


def incremental(engine: Engine, specs: list[SegmentSpec], now: datetime, sample: int) -> Measurement:
    with session_factory(engine)() as session:
        for spec in specs:
            if spec.key != MAIN:
                add_segment(session, spec)
        session.commit()
    with session_factory(engine)() as session:
        refresh_segments(session, [s.key for s in specs], now=now)  # steady state, as after the daily refresh
        session.commit()
    with session_factory(engine)() as session:
        top = int(session.scalar(select(func.max(Contact.id))) or 0)
        rng = random.Random(7)
        ids: list[int] = []
        while len(ids) < sample:
            picked = rng.randint(1, top)
            if session.get(Contact, picked) is not None:
                ids.append(picked)
        session.expunge_all()
        changed = 0

        def one(i: int) -> None:
            nonlocal changed
            result = update_contacts(session, [ids[i]], now=now)
            changed += sum(result.entered.values()) + sum(result.exited.values())

        measured = repeated(f"incremental: one contact, {len(specs)} segments", one, len(ids))
        session.rollback()
    measured.note = f"{sample} random contacts; {changed} membership changes (steady state)"
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000, help="demo data to load into an empty database")
    parser.add_argument("--reuse", action="store_true", help="skip the load when the database already has contacts")
    parser.add_argument("--runs", type=int, default=5, help="runs of each full refresh (p50 is reported)")
    parser.add_argument("--sample", type=int, default=300, help="contacts updated one at a time (incremental)")
    parser.add_argument("--now", help="evaluate relative dates at this instant (default: the newest event)")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    _quiet()
    with _database(args) as engine:
        report = Report(f"segments on {engine.dialect.name}")
        load_demo(engine, args.contacts, args.reuse, report)
        now = _now(engine, args.now)
        removed = remove_bench_segments(engine)  # leftovers of an interrupted run
        try:
            with session_factory(engine)() as session:
                registry = load_field_registry(session)
                session.rollback()
            main_spec = validate_spec({"key": MAIN, "name": "bench engaged", "condition": MAIN_CONDITION}, registry)
            specs = [main_spec, *(validate_spec(data, registry) for data in extra_segments())]
            for m in full_refresh_runs(engine, main_spec, now, args.runs):
                report.add(m)
            with session_factory(engine)() as session:
                for m in count_and_preview(session, main_spec, now, args.runs):
                    report.add(m)
                session.rollback()
            report.add(incremental(engine, specs, now, args.sample))
        finally:
            remove_bench_segments(engine)
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("contacts", "events")}
        report.facts.update({
            "database": describe(engine),
            "segment": " AND ".join(str(part) for part in MAIN_CONDITION["all"]),
            "rows": f"{counts['contacts']:,} contacts, {counts['events']:,} events",
            "now": now.isoformat(timespec="seconds"),
            "left over from an earlier run and removed": removed,
            "data size": human_bytes(data_size_bytes(engine)),
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
