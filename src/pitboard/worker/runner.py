"""The worker process loop behind ``pitboard worker``."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import Counter

from sqlalchemy import Engine

from pitboard.logging import get_logger
from pitboard.worker import tasks  # noqa: F401  (registers the built-in tasks)
from pitboard.worker.queue import claim, run_claimed

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
) -> Counter[str]:
    """Claim and run due jobs until stopped; with ``burst`` return once the queue has nothing due."""
    worker_id = worker_id or default_worker_id()
    stop = stop or threading.Event()
    outcomes: Counter[str] = Counter()
    log.info("worker started", worker_id=worker_id, database=engine.dialect.name)
    while not stop.is_set():
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
