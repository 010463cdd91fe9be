"""How fast are leads routed? Form submitted → owner assigned, end to end, and a bulk re-route.

    python -m bench.bench_routing --contacts 20000                     # a temporary SQLite database
    python -m bench.bench_routing --database-url sqlite:////tmp/bench100k.db --reuse --contacts 100000
    python -m bench.bench_routing --database-url postgresql://postgres@127.0.0.1/pitboard_bench_100k --reuse

It applies a routing flow (``bench-routing`` project: account owners first, then territory pools of the demo
sales team (everyone of the territory) by country, caps per day, an SLA) as ``pitboard apply`` does, then measures:

* **form submitted → owner assigned**: one HTTP ``POST /v1/batch`` (identify with email, country and company
  + a ``form_submitted`` track) to the real app, then the worker runs the queued ``contacts.changed`` job
  (scores, lifecycle, routing, segments listeners) until the lead has an owner. p50/p99 over --sample leads,
  one at a time. What is not in it: the worker's poll interval (1 s by default; the worker is started here
  the moment the request returns) and the network.
* **bulk re-route**: every contact (or --reroute N) forced through the flow in batches of 1,000, one
  transaction per batch, as ``pitboard routing reroute`` does; leads/s.

On an existing database it changes routing state (owners of contacts, routing tables) and adds a project
version: use a benchmark copy of the demo data.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import structlog
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

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
from pitboard.api.app import create_app
from pitboard.events import sources
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import make_engine, session_scope
from pitboard.kit.migrate import current_revision, head_revision
from pitboard.models import Contact, SalesUser, Source
from pitboard.models.routing import RoutingLead
from pitboard.project.apply import apply
from pitboard.project.loader import load_project
from pitboard.routing.engine import BATCH, reroute_matching
from pitboard.settings import Settings
from pitboard.worker import tasks as worker_tasks  # noqa: F401  (registers every task and listener)
from pitboard.worker.runner import run_worker

NA = ["US", "CA", "MX", "BR", "AR", "CO", "CL"]
EMEA = ["GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "ES", "IT", "SE", "DK", "NO", "FI", "PL", "ZA", "AE"]
FLOW = f"""
routable: {{field: email, op: is_set}}
pools:
  - {{key: na-sdr, territory: NA, working_hours: false, caps: {{day: 400}}}}
  - {{key: emea-sdr, territory: EMEA, working_hours: false, caps: {{day: 400}}}}
  - {{key: apac-sdr, territory: APAC, working_hours: false, mode: fewest_open}}
rules:
  - {{name: existing-account, to: account_owner, sla: {{first_touch: 4h}}}}
  - name: north-america
    when: {{field: country, op: in, value: {NA}}}
    to: "pool:na-sdr"
    sla: {{first_touch: 1h}}
  - name: emea
    when: {{field: country, op: in, value: {EMEA}}}
    to: "pool:emea-sdr"
    sla: {{first_touch: 1h}}
  - name: rest
    when: {{field: country, op: is_set}}
    to: "pool:apac-sdr"
    sla: {{first_touch: 2h}}
"""


def _quiet() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def apply_flow(engine: Engine) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    (root / "pitboard.yml").write_text("name: bench-routing\n", encoding="utf-8")
    (root / "routing.yml").write_text(FLOW, encoding="utf-8")
    project = load_project(root)
    if not project.ok:
        raise SystemExit("\n".join(str(p) for p in project.problems))
    with session_scope(engine) as s:
        apply(s, project, actor=SYSTEM, message="bench_routing")


def _write_key(engine: Engine) -> str:
    with session_scope(engine) as s:
        existing = s.scalar(select(Source).where(Source.name == "bench-routing"))
        if existing is not None:
            s.delete(existing)
            s.flush()
        return sources.create_source(s, name="bench-routing", kind="website", actor=SYSTEM).write_key


def end_to_end(engine: Engine, sample: int) -> tuple[Measurement, Counter[str]]:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False),
                        secret_key="bench-secret-key-that-is-long-enough-0123456789",  # noqa: S106
                        project_dir=Path(tempfile.mkdtemp()))  # fmt: skip
    key = _write_key(engine)
    run_worker(engine, burst=True, poll_seconds=0.01)  # drain what loading left behind
    countries = ["US", "DE", "GB", "FR", "CA", "AU", "IN", "JP", "BR", "NL"]
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    with TestClient(create_app(settings, engine=engine)) as client:
        started = time.perf_counter()
        for i in range(sample):
            user = f"bench-{uuid.uuid4().hex[:12]}"
            email = f"{user}@bench-lead-{i % 50}.com"
            batch = {"batch": [
                {"type": "identify", "userId": user, "messageId": f"{user}-i",
                 "traits": {"email": email, "country": countries[i % len(countries)], "company": f"Bench {i % 50}"}},
                {"type": "track", "userId": user, "event": "form_submitted", "messageId": f"{user}-t",
                 "properties": {"form": "demo"}},
            ]}  # fmt: skip
            t0 = time.perf_counter()
            r = client.post("/v1/batch", json=batch, headers={"X-Write-Key": key})
            if r.status_code != 200:
                raise SystemExit(f"tracking failed: {r.status_code} {r.text}")
            run_worker(engine, burst=True, poll_seconds=0.01)
            latencies.append(time.perf_counter() - t0)
            with session_scope(engine) as s:
                q = select(RoutingLead.status).join(Contact, Contact.id == RoutingLead.contact_id)
                lead = s.execute(q.where(Contact.email_normalized == email)).first()
            outcomes["not routed" if lead is None else str(lead[0])] += 1
        total = time.perf_counter() - started
    latencies.sort()

    def p(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    m = Measurement("form submitted → owner assigned (HTTP + worker, one lead at a time)", total, ops=sample,
                    p50_ms=p(0.50), p99_ms=p(0.99), note=f"max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    return m, outcomes


def bulk_reroute(engine: Engine, limit: int | None) -> tuple[Measurement, Counter[str]]:
    counts: Counter[str] = Counter()
    after: int | None = 0
    started = time.perf_counter()
    while after is not None:
        with session_scope(engine) as s:
            outcomes, after = reroute_matching(s, condition=None, after_id=after, limit=BATCH, actor=SYSTEM)
        counts.update(o.outcome for o in outcomes)
        if limit is not None and sum(counts.values()) >= limit:
            break
    seconds = time.perf_counter() - started
    n = sum(counts.values())
    return Measurement(
        "bulk re-route (forced, 1,000 per transaction)", seconds, rows=n, note=dict(counts).__repr__()
    ), counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=20_000, help="demo data to load into an empty database")
    parser.add_argument("--reuse", action="store_true", help="skip the load when the database already has contacts")
    parser.add_argument("--sample", type=int, default=200, help="leads submitted one at a time (end to end)")
    parser.add_argument("--reroute", type=int, default=None, help="re-route at most this many (default: all)")
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    _quiet()
    if args.database_url and args.reuse and not args.fresh:
        engine = make_engine(args.database_url)
        if current_revision(engine) == head_revision():
            _run(engine, args)
            engine.dispose()
            return
        engine.dispose()  # migrated (and loaded when empty) below
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        _run(engine, args)


def _run(engine: Engine, args: argparse.Namespace) -> None:
    report = Report(f"lead routing on {engine.dialect.name}")
    load_demo(engine, args.contacts, args.reuse, report)
    apply_flow(engine)
    m, outcomes = end_to_end(engine, args.sample)
    report.add(m)
    bulk, counts = bulk_reroute(engine, args.reroute)
    report.add(bulk)
    with engine.connect() as conn:
        rows = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("contacts", "events", "accounts", "routing_decisions")}  # fmt: skip
        reps = conn.execute(select(func.count()).select_from(SalesUser.__table__)).scalar_one()
    report.facts.update({
        "database": describe(engine),
        "rows": ", ".join(f"{n:,} {t}" for t, n in rows.items()) + f", {reps} sales users",
        "end-to-end outcomes": dict(outcomes),
        "re-route outcomes": dict(counts),
        "data size": human_bytes(data_size_bytes(engine)),
        "peak RSS": f"{peak_rss_mb():,.0f} MB",
        "measured at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(engine),
    })  # fmt: skip
    emit(report, args.json)


if __name__ == "__main__":
    main()
