"""How fast do workflows react, and how many steps per second do the workers run?

    python -m bench.bench_workflows --database-url postgresql://postgres@127.0.0.1/postgres --fresh
    python -m bench.bench_workflows                       # a temporary SQLite database

Two measurements, each with real ``pitboard worker`` processes (``--poll``, default 0.05 s: an idle worker
asks for work 20 times a second; much more often and four idle workers load a small machine's database):

* **event → first action latency**: a producer writes events at ``--rate`` events/s for ``--seconds`` seconds
  (batches every 50 ms, each with its ``contacts.changed`` job, as tracking ingest does) for random contacts;
  an event-triggered workflow (re-entry ``always``) enrols each one and its first step creates a task. The
  latency is the first step's log time minus the event's ``received_at``: p50 / p99 / max over all events.
* **steps/s**: ``--enrolments`` contacts are enrolled by hand into a five-step workflow (task, branch, a 1 s
  wait, task, exit: the wait puts the second half in a separate job, as real workflows do) and the workers run
  them to the end; steps/s = step-log rows / (last step - start), with 1 and 4 workers (``--workers``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select

from bench.harness import Measurement, Report, add_database_arguments, bench_database, describe, emit, machine
from pitboard.contacts.changes import contacts_changed
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, Job
from pitboard.models.workflows import Workflow, WorkflowEnrolment, WorkflowStepLog, WorkflowTask
from pitboard.workflows import service

PITBOARD = str(Path(sys.executable).parent / "pitboard")
LATENCY_FLOW = {
    "key": "bench-latency", "name": "Bench latency", "reentry": "always",
    "trigger": {"type": "event", "event": "Bench Ping"},
    "steps": [
        {"id": "first", "action": "create_task", "assignee": "bench@example.org", "title": "Ping {{ contact.id }}"},
        {"id": "done", "action": "exit"},
    ],
}  # fmt: skip
STEPS_FLOW = {
    "key": "bench-steps", "name": "Bench steps", "reentry": "always", "trigger": {"type": "manual"},
    "steps": [
        {"id": "t1", "action": "create_task", "assignee": "bench@example.org", "title": "one"},
        {"id": "us", "action": "branch", "condition": {"field": "country", "op": "eq", "value": "US"}},
        {"id": "pause", "action": "wait", "duration": "1s"},
        {"id": "t2", "action": "create_task", "assignee": "bench@example.org", "title": "two"},
        {"id": "bye", "action": "exit"},
    ],
}  # fmt: skip


WORKER_LOG: list[str] = []  # --worker-log: where the workers' log lines go (default: nowhere)


@contextmanager
def workers(engine: Engine, n: int, poll: float = 0.05) -> Iterator[None]:
    env = {**os.environ, "PITBOARD_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "PITBOARD_LOG_LEVEL": "INFO" if WORKER_LOG else "WARNING"}  # fmt: skip
    log = open(WORKER_LOG[0], "a") if WORKER_LOG else None  # noqa: SIM115 (closed below)
    procs = [
        subprocess.Popen(
            [PITBOARD, "worker", "--poll", str(poll), "--no-schedule"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        if log is not None:
            log.close()


def _contacts(engine: Engine, n: int) -> list[int]:
    rng = random.Random(8)
    now = utcnow()
    rows = [{"email": f"wf{i}@example.org", "email_normalized": f"wf{i}@example.org", "first_name": "Bench",
             "country": rng.choice(["US", "DE", "FR", "GB"]), "lifecycle_stage": "lead", "custom": {},
             "original_values": {}, "field_sources": {}, "created_at": now, "updated_at": now}
            for i in range(n)]  # fmt: skip
    with session_scope(engine) as s:
        s.execute(insert(Contact), rows)
        return list(s.scalars(select(Contact.id).order_by(Contact.id)))


def _reset(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.execute(delete(WorkflowTask))
        s.execute(delete(WorkflowEnrolment))
        s.execute(delete(Workflow))
        s.execute(delete(Job))


def _idle(engine: Engine) -> bool:
    with session_scope(engine) as s:
        return not s.scalar(select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running"))))


def _wait_idle(engine: Engine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _idle(engine):
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not finish in time")
        time.sleep(0.2)


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def latency(
    engine: Engine, ids: list[int], *, rate: int, seconds: float, n_workers: int, poll: float, report: Report
) -> None:
    _reset(engine)
    with session_scope(engine) as s:
        service.save_workflow(s, service.parse(s, LATENCY_FLOW), actor=SYSTEM)
    rng = random.Random(1)
    per_batch = max(1, rate // 20)
    sent = 0
    with workers(engine, n_workers, poll):
        time.sleep(1.5)  # workers up
        started = time.perf_counter()
        next_at = started
        while time.perf_counter() - started < seconds:
            now = utcnow()
            batch = [rng.choice(ids) for _ in range(per_batch)]
            with session_scope(engine) as s:
                s.execute(insert(Event), [
                    {"message_id": uuid.uuid4().hex, "event_type": "track", "name": "Bench Ping", "contact_id": cid,
                     "occurred_at": now, "received_at": now, "properties": {}, "context": {}} for cid in batch
                ])  # fmt: skip
                contacts_changed(s, batch, reason="events")
            sent += len(batch)
            next_at += 0.05
            time.sleep(max(0.0, next_at - time.perf_counter()))
        produced = time.perf_counter() - started
        _wait_idle(engine, timeout=300)
    with session_scope(engine) as s:
        received = dict(s.execute(select(Event.id, Event.received_at).where(Event.name == "Bench Ping")).all())
        rows = s.execute(
            select(WorkflowEnrolment.trigger_key, WorkflowStepLog.at)
            .join(WorkflowStepLog, WorkflowStepLog.enrolment_id == WorkflowEnrolment.id)
            .where(WorkflowStepLog.step_id == "first")
        ).all()
        s.execute(delete(Event).where(Event.name == "Bench Ping"))
    lat = [(at - received[int(key.split(":")[1])]).total_seconds() for key, at in rows]
    report.facts[f"latency {n_workers} workers, poll {poll} s: events sent / first actions"] = f"{sent} / {len(lat)}"
    report.add(Measurement(
        f"event → first action, {n_workers} workers, {sent / produced:,.0f} events/s offered",
        produced, ops=len(lat), p50_ms=_pct(lat, 50) * 1000, p99_ms=_pct(lat, 99) * 1000,
        note=f"max {max(lat) * 1000:,.0f} ms",
    ))  # fmt: skip


def steps_per_second(
    engine: Engine, ids: list[int], *, enrolments: int, n_workers: int, poll: float, report: Report
) -> None:
    _reset(engine)
    chosen = ids[:enrolments]
    with session_scope(engine) as s:
        service.save_workflow(s, service.parse(s, STEPS_FLOW), actor=SYSTEM)
        service.enrol_contacts(s, "bench-steps", chosen, actor=SYSTEM)
    start = utcnow()
    with workers(engine, n_workers, poll):
        _wait_idle(engine, timeout=600)
    with session_scope(engine) as s:
        logged = s.scalar(select(func.count()).select_from(WorkflowStepLog)) or 0
        last = s.scalar(select(func.max(WorkflowStepLog.at)))
        done = s.scalar(select(func.count()).select_from(WorkflowEnrolment).where(
            WorkflowEnrolment.status == "exited"))  # fmt: skip
        s.execute(delete(WorkflowStepLog))
    assert last is not None
    elapsed = (last - start).total_seconds()
    report.facts[f"steps {n_workers} workers: enrolments finished"] = f"{done} / {len(chosen)}"
    report.add(Measurement(f"steps, {n_workers} worker{'s' if n_workers > 1 else ''}", elapsed, rows=logged,
                           note=f"{logged / elapsed:,.0f} steps/s incl. the 1 s wait"))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=1000, help="events per second offered")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--latency-workers", type=int, default=4)
    parser.add_argument("--enrolments", type=int, default=2000)
    parser.add_argument("--workers", default="1,4", help="worker counts for the steps/s runs")
    parser.add_argument("--latency-runs", default="", help="more worker counts for latency runs, e.g. 1,2")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds an idle worker waits between polls")
    parser.add_argument("--worker-log", help="append the workers' log (INFO and up) to this file")
    args = parser.parse_args()
    if args.worker_log:
        WORKER_LOG.append(args.worker_log)
    with bench_database(args.database_url, fresh=args.fresh, keep=args.keep) as engine:
        report = Report("workflows")
        report.facts.update({"database": describe(engine), "machine": machine(engine), "contacts": args.contacts})
        ids = _contacts(engine, args.contacts)
        for n in [args.latency_workers, *[int(x) for x in args.latency_runs.split(",") if x.strip()]]:
            latency(engine, ids, rate=args.rate, seconds=args.seconds, n_workers=n, poll=args.poll, report=report)
        for n in [int(x) for x in args.workers.split(",") if x.strip()]:
            steps_per_second(engine, ids, enrolments=args.enrolments, n_workers=n, poll=args.poll, report=report)
        emit(report, args.json)


if __name__ == "__main__":
    main()
