"""How long do a data-subject export and an erasure take for one busy person in a realistic database?

    python -m bench.bench_privacy                      # 20,000 demo contacts on a temporary SQLite file
    python -m bench.bench_privacy --contacts 100000 --database-url postgresql://postgres@127.0.0.1:5432/postgres --fresh

Generates the demo data set, gives one contact ``--events`` more events (personal data in properties and
context), consent records, messages and quarantined input, then times: the export (``export_person``), the
export file (canonical JSON + SHA-256), the erasure (``erase_person``) and its commit, and a retention plan
over the whole database. Every step runs in its own session, as the API and the worker run them.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from bench.bench_demo import NOW, progress_printer
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
from pitboard.consent import ledger
from pitboard.consent.ledger import ConsentEntry
from pitboard.demo import generate_demo
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models import Contact, Event, Identity, Message, QuarantinedRecord
from pitboard.privacy.erasure import erase_person
from pitboard.privacy.export import document_bytes, document_sha256, export_person
from pitboard.privacy.retention import plan_retention, set_policy


def _person(engine: Engine) -> int:
    """A demo contact with an email and the most identities (anonymous and user ids make erasure search events)."""
    with Session(engine) as session:
        most = (
            select(Identity.contact_id)
            .join(Contact, Contact.id == Identity.contact_id)
            .where(Contact.email_normalized.is_not(None))
            .group_by(Identity.contact_id)
            .order_by(func.count().desc(), Identity.contact_id)
            .limit(1)
        )
        contact_id = session.scalar(most)
        assert contact_id is not None, "the demo data set has no contact with an email"
        return contact_id


def _enrich(engine: Engine, contact_id: int, events: int) -> None:
    with session_scope(engine) as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        email = contact.email_normalized or ""
        anonymous = session.scalar(
            select(Identity.value).where(Identity.contact_id == contact_id, Identity.kind == "anonymous_id")
        )
        start = NOW - timedelta(days=365)
        rows = [
            {"message_id": f"bench-privacy-{i}", "event_type": "track" if i % 3 else "page",
             "name": "Page Viewed" if i % 3 == 0 else "Feature Used", "contact_id": contact_id,
             "anonymous_id": anonymous, "occurred_at": start + timedelta(minutes=97 * i),
             "received_at": start + timedelta(minutes=97 * i),
             "properties": {"email": email, "plan": "pro", "step": i, "path": f"/app/page/{i % 40}"},
             "context": {"ip": f"198.51.100.{i % 250}", "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                         "traits": {"email": email, "firstName": contact.first_name}},
             "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "bench", "channel": "Email",
             "source": "website"}
            for i in range(events)
        ]  # fmt: skip
        for start_at in range(0, len(rows), 1000):
            session.execute(insert(Event), rows[start_at : start_at + 1000])
        for i in range(10):
            status = "granted" if i % 2 == 0 else "withdrawn"
            ledger.record(session, contact_id=contact_id, actor=SYSTEM, entry=ConsentEntry(
                channel="email", purpose="product_updates", status=status, source="form", ip_address="198.51.100.7",
                user_agent="Firefox", consent_text="Send me product updates.",
                occurred_at=datetime.now(UTC) - timedelta(days=30 - i)))  # fmt: skip
        session.execute(insert(Message), [
            {"contact_id": contact_id, "channel": "email", "kind": "marketing", "purpose": "product_updates",
             "to_address": email, "from_address": "news@example.org", "subject": f"Issue {i}",
             "body_text": "Hello " * 200, "body_html": "<p>Hello</p>" * 200, "headers": {}, "status": "sent",
             "message_id_header": f"<bench-privacy-{i}@pitboard>", "attempts": 1, "created_at": NOW}
            for i in range(50)
        ])  # fmt: skip
        session.add(QuarantinedRecord(channel="import", entity="contacts", payload={"record": {"email": email}},
                                      reasons=["bench"], status="open", received_at=NOW))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=5_000, help="extra events of the person exported and erased")
    parser.add_argument("--events-per-contact", type=float, default=20.0, help="demo events per contact")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        report = Report(
            f"privacy: export and erase one person among {args.contacts:,} contacts on {engine.dialect.name}"
        )
        started = time.perf_counter()
        generate_demo(engine, contacts=args.contacts, seed=args.seed, events_per_contact=args.events_per_contact,
                      now=NOW, progress=progress_printer(args.quiet))  # fmt: skip
        report.add(Measurement("generate demo (setup)", time.perf_counter() - started, rows=args.contacts))
        contact_id = _person(engine)
        started = time.perf_counter()
        _enrich(engine, contact_id, args.events)
        report.add(Measurement("give the person events, consent, mail (setup)", time.perf_counter() - started))

        with Session(engine) as session:
            started = time.perf_counter()
            document = export_person(session, contact_id)
            exported = time.perf_counter() - started
            events = len(document["events"])
            report.add(Measurement("export_person", exported, rows=events, note="rows = events in the export"))
            started = time.perf_counter()
            data = document_bytes(document)
            digest = document_sha256(document)
            report.add(Measurement("export file: JSON + SHA-256", time.perf_counter() - started, rows=events,
                                   note=f"{human_bytes(len(data))}, sha256 {digest[:12]}…"))  # fmt: skip

        with Session(engine) as session:
            started = time.perf_counter()
            result = erase_person(session, contact_id=contact_id, reason="request", actor=SYSTEM)
            erased = time.perf_counter() - started
            report.add(Measurement("erase_person", erased, rows=result.counts["events_anonymised"],
                                   note="rows = events anonymised"))  # fmt: skip
            started = time.perf_counter()
            session.commit()
            report.add(Measurement("commit the erasure", time.perf_counter() - started))

        with session_scope(engine) as session:
            set_policy(session, {"inactive_contact_days": 180}, SYSTEM)
            started = time.perf_counter()
            plan = plan_retention(session, NOW)
            report.add(Measurement("plan_retention (whole database)", time.perf_counter() - started,
                                   note=", ".join(f"{k}: {v:,}" for k, v in plan.counts.items())))  # fmt: skip
            session.rollback()  # a plan only; keep the demo data as it was

        with Session(engine) as session:
            totals = {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in (Contact, Event)}
        size = data_size_bytes(engine)
        sections = {k: len(v) for k, v in document.items() if isinstance(v, list) and v}
        report.facts.update({
            "database": describe(engine),
            "rows": f"{totals['contacts']:,} contacts, {totals['events']:,} events",
            "data size": human_bytes(size),
            "person": f"contact {contact_id}: " + ", ".join(f"{k} {v:,}" for k, v in sections.items()),
            "export size": f"{human_bytes(len(data))} ({len(data) / max(events, 1):,.0f} bytes/event)",
            "erasure counts": ", ".join(f"{k} {v:,}" for k, v in result.counts.items() if v),
            "peak RSS": f"{peak_rss_mb():,.0f} MB",
            "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(engine),
        })  # fmt: skip
        emit(report, args.json)


if __name__ == "__main__":
    main()
