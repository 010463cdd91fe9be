"""The worker process loop behind ``pitboard worker``."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from datetime import date

from sqlalchemy import Engine, select

from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.models import Job
from pitboard.worker import tasks  # noqa: F401  (registers the built-in tasks)
from pitboard.worker.queue import MERGERS, PERIODIC, ClaimedJob, claim, enqueue, run_claimed_together

# Jobs every worker makes sure exist once a day. The idempotency key carries the date, so however many
# workers run, each day gets exactly one job of each. Order matters only for reading the log: scores decay
# first, then time-based lifecycle rules (recycle after N days), then segments see both.
DAILY_TASKS = (
    "quality.snapshot",
    "privacy.retention",
    "scoring.rescore_all",
    "lifecycle.advance_all",
    "segments.refresh_all",
    "worker.prune_jobs",
)

log = get_logger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(
    engine: Engine,
    *,
    worker_id: str | None = None,
    poll_seconds: float = 1.0,
    batch: int = 10,
    stop: threading.Event | None = None,
    burst: bool = False,
    schedule: bool = False,
) -> Counter[str]:
    """Claim and run due jobs until stopped; with ``burst`` return once the queue has nothing due."""
    worker_id = worker_id or default_worker_id()
    stop = stop or threading.Event()
    outcomes: Counter[str] = Counter()
    log.info("worker started", worker_id=worker_id, database=engine.dialect.name)
    scheduled_on = None
    slots_done: dict[str, int] = {}
    while not stop.is_set():
        if schedule and scheduled_on != utcnow().date():
            scheduled_on = schedule_daily(engine)
        if schedule and PERIODIC:
            schedule_periodic(engine, slots_done)
        jobs = claim(engine, worker_id, limit=batch)
        for group in merge_groups(jobs):
            for outcome in run_claimed_together(engine, group, worker_id):
                outcomes[outcome] += 1
        if not jobs:
            if burst:
                break
            stop.wait(poll_seconds)
        else:
            time.sleep(0)  # let signal handlers run between batches
    log.info("worker stopped", worker_id=worker_id, **outcomes)
    return outcomes


def merge_groups(jobs: list[ClaimedJob]) -> list[list[ClaimedJob]]:
    """Claimed jobs in claim order, with the jobs of each mergeable task gathered into one group (run as one,
    at the place of its first job; jobs of other tasks stay alone)."""
    groups: list[list[ClaimedJob]] = []
    by_task: dict[str, list[ClaimedJob]] = {}
    for job in jobs:
        if job.task in MERGERS:
            if job.task not in by_task:
                by_task[job.task] = []
                groups.append(by_task[job.task])
            by_task[job.task].append(job)
        else:
            groups.append([job])
    return groups


def schedule_daily(engine: Engine) -> date:
    """Enqueue today's daily jobs (a no-op when another worker already did)."""
    today = utcnow().date()
    with session_scope(engine) as session:
        for name in DAILY_TASKS:
            enqueue(session, name, {"today": today.isoformat()}, idempotency_key=f"{name}:{today.isoformat()}")
    return today


def schedule_periodic(engine: Engine, slots_done: dict[str, int] | None = None) -> int:
    """Enqueue each periodic task whose current slot has no job yet; returns how many were new.

    The slot number (seconds since the epoch // period) is in the idempotency key, so workers racing each
    other make one job per slot, and a worker that was down does not make up missed slots one by one.
    ``slots_done`` (the worker's memory of the slots it has seen to) skips the database until a slot turns:
    on SQLite every check would otherwise take the write lock on every pass of the loop.
    """
    now = utcnow()
    epoch = int(now.timestamp())
    current = {name: epoch // every for name, every in PERIODIC.items()}
    if slots_done is not None and all(slots_done.get(name) == slot for name, slot in current.items()):
        return 0
    created = 0
    keys = {f"{name}:{slot}": (name, slot) for name, slot in current.items()}
    with session_scope(engine) as session:
        existing = set(session.scalars(select(Job.idempotency_key).where(Job.idempotency_key.in_(keys))))
        for key, (name, slot) in sorted(keys.items()):
            if key not in existing:
                enqueue(session, name, {"slot": slot, "at": now.isoformat()}, idempotency_key=key)
                created += 1
    if slots_done is not None:
        slots_done.update(current)
    return created
