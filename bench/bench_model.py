"""Throughput and latency of the data model at scale, through the ORM as the application uses it.

    python -m bench.bench_model --contacts 1000000
    python -m bench.bench_model --contacts 1000000 --database-url postgresql://postgres@127.0.0.1:5432/postgres --fresh
    python -m bench.bench_model --database-url sqlite:////tmp/loaded.db --reuse   # skip the load

Loads the demo data (unless --reuse finds contacts already there), then measures:
ORM inserts of contacts in batches, a point lookup by e-mail, a contact's timeline (its events by
occurred_at), a filtered list page (country + lifecycle stage, keyset by id), and a count of all
events by channel.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from datetime import UTC, datetime

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
    repeated,
)
from pitboard.kit.db import session_factory
from pitboard.models import Contact, Event

PAGE = 50
TIMELINE = 100


def _sample(engine: Engine, sql: str, size: int, seed: int) -> list[object]:
    """Random existing values to query for: the same ones on every backend for the same data."""
    with engine.connect() as conn:
        values = [row[0] for row in conn.execute(text(sql))]
    rng = random.Random(seed)
    return rng.sample(values, min(size, len(values)))


def orm_inserts(sessions: Callable[[], Session], batches: int, batch_size: int) -> Measurement:
    """Contacts through the ORM, one commit per batch (what an import or the API does), then removed."""
    created: list[int] = []

    def insert_batch(i: int) -> int:
        with sessions() as s:
            rows = [
                Contact(
                    email=f"bench.{i}.{j}@bench-orm.example",
                    email_normalized=f"bench.{i}.{j}@bench-orm.example",
                    first_name="Bench",
                    last_name=f"Person {j}",
                    country="DE",
                    lifecycle_stage="lead",
                    lead_source="Benchmark",
                    custom={"product_interest": "Attribution"},
                )
                for j in range(batch_size)
            ]
            s.add_all(rows)
            s.commit()
            created.extend(r.id for r in rows)
        return batch_size

    measurement = repeated(f"ORM insert contacts ({batch_size}/commit)", insert_batch, batches)
    with sessions() as s:
        s.execute(delete(Contact).where(Contact.id.in_(created)))
        s.commit()
    return measurement


def point_lookups(sessions: Callable[[], Session], emails: list[object]) -> Measurement:
    with sessions() as s:

        def lookup(i: int) -> int:
            found = s.scalars(select(Contact).where(Contact.email_normalized == emails[i]).limit(1)).first()
            assert found is not None
            s.expunge_all()
            return 1

        return repeated("point lookup by email", lookup, len(emails))


def timelines(sessions: Callable[[], Session], contact_ids: list[object]) -> Measurement:
    with sessions() as s:

        def timeline(i: int) -> int:
            stmt = (
                select(Event)
                .where(Event.contact_id == contact_ids[i])
                .order_by(Event.occurred_at.desc(), Event.id.desc())
                .limit(TIMELINE)
            )
            events = s.scalars(stmt).all()
            s.expunge_all()
            return len(events)

        return repeated(f"contact timeline (latest {TIMELINE} events)", timeline, len(contact_ids))


def list_pages(sessions: Callable[[], Session], filters: list[tuple[str, str]], pages: int) -> Measurement:
    """Page through contacts of one country and stage, keyset by id, ``PAGE`` rows a page."""
    rng = random.Random(1)
    cursor: dict[tuple[str, str], int] = {}
    with sessions() as s:

        def page(_i: int) -> int:
            country, stage = filters[rng.randrange(len(filters))]
            after = cursor.get((country, stage), 0)
            stmt = (
                select(Contact)
                .where(Contact.country == country, Contact.lifecycle_stage == stage, Contact.id > after)
                .order_by(Contact.id)
                .limit(PAGE)
            )
            rows = s.scalars(stmt).all()
            # Next call continues where this page ended (or starts over when the list is exhausted).
            cursor[country, stage] = rows[-1].id if len(rows) == PAGE else 0
            s.expunge_all()
            return len(rows)

        return repeated(f"list page: country + stage, keyset ({PAGE})", page, pages)


def count_by_channel(sessions: Callable[[], Session], times: int) -> Measurement:
    with sessions() as s:

        def count(_i: int) -> int:
            rows = s.execute(select(Event.channel, func.count()).group_by(Event.channel)).all()
            return sum(int(n) for _, n in rows)

        return repeated("count(*) events by channel", count, times, note="rows = events scanned")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="skip the load when the database already has contacts")
    parser.add_argument("--queries", type=int, default=2_000, help="repetitions of each point query")
    parser.add_argument("--insert-batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--aggregates", type=int, default=3, help="repetitions of the full-scan aggregate")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        report = Report(f"data model at {args.contacts:,} contacts on {engine.dialect.name}")
        load_demo(engine, args.contacts, args.reuse, report)
        sessions = session_factory(engine)
        emails = _sample(engine, "SELECT email_normalized FROM contacts WHERE email_normalized IS NOT NULL ORDER BY id",
                         args.queries, seed=1)  # fmt: skip
        contact_ids = _sample(engine, "SELECT id FROM contacts ORDER BY id", args.queries, seed=2)
        filters = [(str(c), str(s)) for c in ("US", "GB", "DE", "FR", "IN", "JP") for s in ("lead", "mql", "customer")]
        report.add(orm_inserts(sessions, args.insert_batches, args.batch_size))
        report.add(point_lookups(sessions, emails))
        report.add(timelines(sessions, contact_ids))
        report.add(list_pages(sessions, filters, args.queries))
        report.add(count_by_channel(sessions, args.aggregates))
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("contacts", "events")}
        size = data_size_bytes(engine)
        report.facts.update({
            "database": describe(engine),
            "rows": f"{counts['contacts']:,} contacts, {counts['events']:,} events",
            "data size": human_bytes(size),
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
