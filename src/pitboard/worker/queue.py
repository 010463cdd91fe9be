"""The job queue.

A job row is written in the same transaction as the change that causes it, so it exists exactly
when that change does. Workers claim due jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (many
workers on many machines never take the same job); SQLite has a single writer, so a plain UPDATE
inside its write lock is enough there. A job's handler runs in the same transaction that marks
the job done, so its database effects happen exactly once even if the worker dies mid-way: the
lock then expires and another worker retries from a clean slate.
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.db import session_scope
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.models import Job

log = get_logger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]
DeadHandler = Callable[[Session, dict[str, Any], str], None]
TASKS: dict[str, Handler] = {}
DEAD_HANDLERS: dict[str, DeadHandler] = {}
# Tasks every worker with scheduling on makes sure run once per period (name -> period in seconds).
PERIODIC: dict[str, int] = {}
LOCK_TIMEOUT = timedelta(minutes=5)
MAX_BACKOFF_SECONDS = 3600


def task(name: str, *, on_dead: DeadHandler | None = None) -> Callable[[Handler], Handler]:
    """Register a handler; the name is what is stored in the job row, so keep it stable. ``on_dead`` runs
    in the transaction that marks a job of this task dead, with its payload and last error."""

    def register(fn: Handler) -> Handler:
        if name in TASKS and TASKS[name] is not fn:
            raise ValueError(f"task {name!r} is registered twice")
        TASKS[name] = fn
        if on_dead is not None:
            DEAD_HANDLERS[name] = on_dead
        return fn

    return register


def periodic(name: str, *, every_seconds: int) -> Callable[[Handler], Handler]:
    """Register a task that the scheduling worker enqueues once per ``every_seconds`` slot (see
    ``runner.schedule_periodic``: the slot is in the idempotency key, so any number of workers make one job)."""
    if every_seconds < 1:
        raise ValueError("every_seconds must be at least 1")

    def register(fn: Handler) -> Handler:
        task(name)(fn)
        PERIODIC[name] = every_seconds
        return fn

    return register


def enqueue(
    session: Session,
    task_name: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    idempotency_key: str | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job to the caller's transaction. With an idempotency key, enqueueing twice yields one job."""
    if task_name not in TASKS:
        raise ValidationFailed(f"unknown task {task_name!r}")
    if idempotency_key is not None:
        existing = session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    now = utcnow()
    job = Job(
        task=task_name, payload=payload or {}, status="queued", attempts=0, max_attempts=max_attempts,
        run_at=run_at or now, created_at=now, idempotency_key=idempotency_key,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # Another transaction enqueued the same key first: that job is the one.
        existing = session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    return job


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: retries of many failed jobs do not stampede together."""
    ceiling = min(MAX_BACKOFF_SECONDS, 2 ** max(attempts, 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def claim(engine: Engine, worker_id: str, *, limit: int = 10) -> list[ClaimedJob]:
    now = utcnow()
    due = or_(
        and_(Job.status == "queued", Job.run_at <= now),
        and_(Job.status == "running", Job.locked_at < now - LOCK_TIMEOUT),  # its worker died
    )
    pick = select(Job.id).where(due).order_by(Job.run_at, Job.id).limit(limit)
    if engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Job)
        .where(Job.id.in_(pick.scalar_subquery()))
        .values(status="running", locked_by=worker_id, locked_at=now, attempts=Job.attempts + 1)
        .returning(Job.id, Job.task, Job.payload, Job.attempts, Job.max_attempts)
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return [ClaimedJob(r.id, r.task, r.payload, r.attempts, r.max_attempts) for r in rows]


def run_claimed(engine: Engine, job: ClaimedJob, worker_id: str) -> str:
    """Run one claimed job; returns its new status (done, queued for retry, or dead)."""
    handler = TASKS.get(job.task)
    try:
        if handler is None:
            raise LookupError(f"no handler registered for task {job.task!r}")
        with session_scope(engine) as session:
            handler(session, job.payload)
            finished = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.locked_by == worker_id, Job.status == "running")
                .values(status="done", finished_at=utcnow(), locked_by=None, locked_at=None, last_error=None)
            )
            if finished.rowcount != 1:  # type: ignore[attr-defined]
                # Our lock expired and another worker took the job: undo our effects, theirs count.
                raise _LostLock(job.id)
        log.info("job done", job_id=job.id, task=job.task, attempts=job.attempts)
        return "done"
    except _LostLock:
        log.warning("job lock lost; effects rolled back", job_id=job.id)
        return "lost"
    except Exception as exc:
        return _fail(engine, job, worker_id, exc)


class _LostLock(Exception):
    pass


def _fail(engine: Engine, job: ClaimedJob, worker_id: str, exc: Exception) -> str:
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    dead = job.attempts >= job.max_attempts
    values: dict[str, Any] = {"last_error": error[:4000], "locked_by": None, "locked_at": None}
    if dead:
        values.update(status="dead", finished_at=utcnow())
    else:
        values.update(status="queued", run_at=utcnow() + timedelta(seconds=backoff_seconds(job.attempts)))
    with session_scope(engine) as session:
        marked = session.execute(update(Job).where(Job.id == job.id, Job.locked_by == worker_id).values(**values))
        on_dead = DEAD_HANDLERS.get(job.task)
        if dead and on_dead is not None and marked.rowcount == 1:  # type: ignore[attr-defined]
            try:
                with session.begin_nested():
                    on_dead(session, job.payload, error[:4000])
            except Exception:
                # The job is dead either way; a failing hook must not leave it running to be retried forever.
                log.exception("on_dead hook failed", job_id=job.id, task=job.task)
    log.warning("job failed", job_id=job.id, task=job.task, attempts=job.attempts, dead=dead, error=error)
    return "dead" if dead else "queued"


def replay(session: Session, job_id: int) -> Job:
    """Put a dead job back in the queue (after the cause is fixed), with a fresh attempt budget."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    if job.status != "dead":
        raise ValidationFailed(f"job {job_id} is {job.status}; only dead jobs are replayed")
    job.status, job.attempts, job.run_at, job.finished_at = "queued", 0, utcnow(), None
    return job
