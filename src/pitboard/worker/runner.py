"""The worker process loop behind ``pitboard worker``."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter
from datetime import date

from sqlalchemy import Engine

from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.worker import tasks  # noqa: F401  (registers the built-in tasks)
from pitboard.worker.queue import claim, enqueue, run_claimed

# Jobs every worker makes sure exist once a day. The idempotency key carries the date, so however many
# workers run, each day gets exactly one job of each.
DAILY_TASKS = ("quality.snapshot", "privacy.retention", "segments.refresh_all")

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
    while not stop.is_set():
        if schedule and scheduled_on != utcnow().date():
            scheduled_on = schedule_daily(engine)
        jobs = claim(engine, worker_id, limit=batch)
        for job in jobs:
            outcomes[run_claimed(engine, job, worker_id)] += 1
        if not jobs:
            if burst:
                break
            stop.wait(poll_seconds)
        else:
            time.sleep(0)  # let signal handlers run between batches
    log.info("worker stopped", worker_id=worker_id, **outcomes)
    return outcomes


def schedule_daily(engine: Engine) -> date:
    """Enqueue today's daily jobs (a no-op when another worker already did)."""
    today = utcnow().date()
    with session_scope(engine) as session:
        for name in DAILY_TASKS:
            enqueue(session, name, {"today": today.isoformat()}, idempotency_key=f"{name}:{today.isoformat()}")
    return today
