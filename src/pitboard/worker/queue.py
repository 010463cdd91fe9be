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
# Combines the payloads of several claimed jobs of one task into one payload, or None when they do not combine.
Merger = Callable[[list[dict[str, Any]]], dict[str, Any] | None]
TASKS: dict[str, Handler] = {}
DEAD_HANDLERS: dict[str, DeadHandler] = {}
MERGERS: dict[str, Merger] = {}
# Tasks every worker with scheduling on makes sure run once per period (name -> period in seconds).
PERIODIC: dict[str, int] = {}
LOCK_TIMEOUT = timedelta(minutes=5)
MAX_BACKOFF_SECONDS = 3600


def task(name: str, *, on_dead: DeadHandler | None = None, merge: Merger | None = None) -> Callable[[Handler], Handler]:
    """Register a handler; the name is what is stored in the job row, so keep it stable. ``on_dead`` runs
    in the transaction that marks a job of this task dead, with its payload and last error. ``merge`` lets a
    worker run several claimed jobs of this task as one (see :func:`run_claimed_together`)."""

    def register(fn: Handler) -> Handler:
        if name in TASKS and TASKS[name] is not fn:
            raise ValueError(f"task {name!r} is registered twice")
        TASKS[name] = fn
        if on_dead is not None:
            DEAD_HANDLERS[name] = on_dead
        if merge is not None:
            MERGERS[name] = merge
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
        .returning(Job.id, Job.task, Job.payload, Job.attempts, Job.max_attempts, Job.run_at)
    )
    with engine.begin() as conn:
        # RETURNING has no order: run them in the order they became due.
        rows = sorted(conn.execute(stmt).all(), key=lambda r: (r.run_at, r.id))
    return [ClaimedJob(r.id, r.task, r.payload, r.attempts, r.max_attempts) for r in rows]


def run_claimed(engine: Engine, job: ClaimedJob, worker_id: str) -> str:
    """Run one claimed job; returns its new status (done, queued for retry, or dead)."""
    handler = TASKS.get(job.task)
    try:
        if handler is None:
            raise LookupError(f"no handler registered for task {job.task!r}")
        with session_scope(engine) as session:
            handler(session, job.payload)
            _mark_done(session, [job.id], worker_id)
        log.info("job done", job_id=job.id, task=job.task, attempts=job.attempts)
        return "done"
    except _LostLock:
        log.warning("job lock lost; effects rolled back", job_id=job.id)
        return "lost"
    except Exception as exc:
        return _fail(engine, job, worker_id, exc)


def run_claimed_together(engine: Engine, jobs: list[ClaimedJob], worker_id: str) -> list[str]:
    """Run claimed jobs of one mergeable task as one job: one transaction, one handler call with the merged
    payload, all marked done together. Returns each job's new status.

    Why: a ``contacts.changed`` job costs a fixed part (a transaction, every listener loading its definitions)
    plus a part per contact. At 1,000 events/s the fixed part of 20 small jobs a second was most of a worker's
    time; run together, ten claimed jobs pay it once. Should the merged run fail in any way, each job runs alone
    instead, so a failing job is retried and dies on its own, as it would have without merging."""
    merge = MERGERS.get(jobs[0].task) if jobs else None
    merged = merge([j.payload for j in jobs]) if merge is not None and len(jobs) > 1 else None
    if merged is None or any(j.task != jobs[0].task for j in jobs):
        return [run_claimed(engine, job, worker_id) for job in jobs]
    ids = [j.id for j in jobs]
    try:
        with session_scope(engine) as session:
            TASKS[jobs[0].task](session, merged)
            _mark_done(session, ids, worker_id)
    except Exception as exc:
        log.info("merged jobs failed; running them one by one", task=jobs[0].task, jobs=len(ids), error=str(exc)[:300])
        return [run_claimed(engine, job, worker_id) for job in jobs]
    log.info("jobs done", job_ids=ids, task=jobs[0].task, merged=len(ids))
    return ["done"] * len(jobs)


def _mark_done(session: Session, ids: list[int], worker_id: str) -> None:
    """Mark the jobs done in the transaction of their effects, if this worker still holds every one of them."""
    finished = session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.locked_by == worker_id, Job.status == "running")
        .values(status="done", finished_at=utcnow(), locked_by=None, locked_at=None, last_error=None)
    )
    if finished.rowcount != len(ids):  # type: ignore[attr-defined]
        # A lock expired and another worker took the job: undo our effects, theirs count.
        raise _LostLock(ids[0])


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
