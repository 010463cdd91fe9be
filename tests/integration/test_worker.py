"""The durable job queue: enqueue with the transaction, claim safely, retry with backoff, dead-letter, replay."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import AuditEntry, Contact, Event, Job
from pitboard.worker import queue
from pitboard.worker.runner import run_worker

CALLS: Counter[str] = Counter()


@queue.task("test.write_audit")
def _write_audit(session: Session, payload: dict[str, Any]) -> None:
    CALLS[payload["tag"]] += 1
    session.add(
        AuditEntry(
            occurred_at=utcnow(),
            actor="t",
            interface="worker",
            action="ran",
            entity_type="job",
            entity_id=payload["tag"],
            changes={},
        )
    )


@queue.task("test.fail_until")
def _fail_until(session: Session, payload: dict[str, Any]) -> None:
    CALLS[payload["tag"]] += 1
    session.add(
        AuditEntry(
            occurred_at=utcnow(),
            actor="t",
            interface="worker",
            action="partial",
            entity_type="job",
            entity_id=payload["tag"],
            changes={},
        )
    )
    if CALLS[payload["tag"]] < payload["succeed_on"]:
        raise RuntimeError("transient failure")


MERGED: list[list[str]] = []


def _merge_tags(payloads: list[dict[str, Any]]) -> dict[str, Any] | None:
    return {"tags": sorted(t for p in payloads for t in p["tags"])}


@queue.task("test.mergeable", merge=_merge_tags)
def _mergeable(session: Session, payload: dict[str, Any]) -> None:
    """Writes one audit row per tag; a tag "bad" fails its job (and so any merged run that contains it)."""
    MERGED.append(payload["tags"])
    for tag in payload["tags"]:
        session.add(AuditEntry(occurred_at=utcnow(), actor="t", interface="worker", action="merged",
                               entity_type="job", entity_id=tag, changes={}))  # fmt: skip
    if "bad" in payload["tags"]:
        raise RuntimeError("bad tag")


def _make_due(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow() - timedelta(seconds=1)))


def test_job_rolled_back_with_its_transaction_is_never_run(engine: Engine) -> None:
    def change_that_fails() -> None:
        with session_scope(engine) as s:
            queue.enqueue(s, "test.write_audit", {"tag": "ghost"})
            raise RuntimeError("the causing change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert run_worker(engine, burst=True) == Counter()


def test_enqueue_with_idempotency_key_yields_one_job(engine: Engine) -> None:
    with session_scope(engine) as s:
        a = queue.enqueue(s, "test.write_audit", {"tag": "once"}, idempotency_key="k1")
        b = queue.enqueue(s, "test.write_audit", {"tag": "once"}, idempotency_key="k1")
        assert a is b
    with session_scope(engine) as s:
        queue.enqueue(s, "test.write_audit", {"tag": "once"}, idempotency_key="k1")
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_retries_roll_back_partial_effects_then_succeed(engine: Engine) -> None:
    tag = f"retry-{engine.dialect.name}"
    with session_scope(engine) as s:
        queue.enqueue(s, "test.fail_until", {"tag": tag, "succeed_on": 3})
    for _ in range(3):
        _make_due(engine)
        run_worker(engine, burst=True)
    with session_scope(engine) as s:
        job = s.scalars(select(Job)).one()
        assert (job.status, job.attempts) == ("done", 3)
        # Two failed attempts left nothing behind: exactly one effect row exists.
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity_id == tag)) == 1


def test_failed_job_is_scheduled_with_backoff_then_dead_then_replayed(engine: Engine) -> None:
    tag = f"dead-{engine.dialect.name}"
    with session_scope(engine) as s:
        queue.enqueue(s, "test.fail_until", {"tag": tag, "succeed_on": 99}, max_attempts=2)
    before = utcnow()
    assert run_worker(engine, burst=True) == Counter({"queued": 1})
    with session_scope(engine) as s:
        job = s.scalars(select(Job)).one()
        assert job.run_at > before  # not retried at once
        assert "transient failure" in (job.last_error or "")
    _make_due(engine)
    assert run_worker(engine, burst=True) == Counter({"dead": 1})
    with session_scope(engine) as s:
        job = s.scalars(select(Job)).one()
        queue.replay(s, job.id)
    with session_scope(engine) as s:
        assert s.scalars(select(Job.status)).one() == "queued"


def test_unknown_task_name_is_rejected_at_enqueue(engine: Engine) -> None:
    with session_scope(engine) as s, pytest.raises(Exception, match="unknown task"):
        queue.enqueue(s, "no.such.task")


def test_job_of_a_dead_worker_is_reclaimed_after_the_lock_times_out(engine: Engine) -> None:
    with session_scope(engine) as s:
        queue.enqueue(s, "test.write_audit", {"tag": f"orphan-{engine.dialect.name}"})
    assert len(queue.claim(engine, "crashed-worker")) == 1  # claimed, then the process "dies"
    assert queue.claim(engine, "other") == []
    with engine.begin() as conn:
        conn.execute(update(Job).values(locked_at=utcnow() - queue.LOCK_TIMEOUT - timedelta(seconds=1)))
    assert run_worker(engine, burst=True) == Counter({"done": 1})


def test_concurrent_workers_never_run_a_job_twice(engine: Engine) -> None:
    prefix = f"par-{engine.dialect.name}-"
    with session_scope(engine) as s:
        for i in range(60):
            queue.enqueue(s, "test.write_audit", {"tag": f"{prefix}{i}"})
    threads = [
        threading.Thread(target=run_worker, kwargs={"engine": engine, "burst": True, "batch": 3}) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with session_scope(engine) as s:
        ran = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity_id.like(f"{prefix}%"))).all()
        assert sorted(ran) == sorted(f"{prefix}{i}" for i in range(60))
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status != "done")) == 0


def test_refresh_last_activity_task(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        c = Contact(email="a@example.com", email_normalized="a@example.com", lifecycle_stage="lead", custom={})
        s.add(c)
        s.flush()
        for i, days in enumerate((3, 1, 7)):
            s.add(
                Event(
                    message_id=f"m{i}",
                    event_type="track",
                    name="x",
                    contact_id=c.id,
                    occurred_at=now - timedelta(days=days),
                    received_at=now,
                    properties={},
                    context={},
                )
            )
        queue.enqueue(s, "contacts.refresh_last_activity", {"contact_ids": [c.id]})
        contact_id = c.id
    run_worker(engine, burst=True)
    with session_scope(engine) as s:
        last = s.get(Contact, contact_id).last_activity_at  # type: ignore[union-attr]
        assert last is not None
        assert abs((last - (now - timedelta(days=1))).total_seconds()) < 1


def test_daily_jobs_are_scheduled_once_per_day_whatever_the_number_of_workers(engine: Engine) -> None:
    from pitboard.models import QualitySnapshot
    from pitboard.worker.runner import schedule_daily

    schedule_daily(engine)
    schedule_daily(engine)  # a second worker on the same day
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(Job.task))) == [
            "lifecycle.advance_all",
            "privacy.retention",
            "quality.snapshot",
            "scoring.rescore_all",
            "segments.refresh_all",
            "worker.prune_jobs",
        ]
    assert run_worker(engine, burst=True) == Counter({"done": 6})
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(QualitySnapshot)) == 0  # empty tables: nothing to score
        assert s.scalars(select(Job.status)).all() == ["done"] * 6


def test_periodic_tasks_get_one_job_per_slot_whatever_the_number_of_workers(engine: Engine) -> None:
    from pitboard.worker import queue
    from pitboard.worker.runner import schedule_periodic

    calls: list[int] = []
    name = "test.periodic_tick"
    queue.TASKS.pop(name, None)
    queue.periodic(name, every_seconds=3600)(lambda _s, payload: calls.append(int(payload["slot"])))
    try:
        first = schedule_periodic(engine)
        again = schedule_periodic(engine)  # a second worker in the same hour
        assert (first, again) >= (1, 0)
        assert again == 0
        seen: dict[str, int] = {}
        assert schedule_periodic(engine, seen) == 0  # nothing new, and now the worker remembers the slots
        assert name in seen
        with session_scope(engine) as s:
            s.execute(update(Job).where(Job.task == name).values(idempotency_key="moved"))
        assert schedule_periodic(engine, seen) == 0  # remembered: no look at the database until the slot turns
        assert schedule_periodic(engine) == 1  # a worker without that memory looks, and finds the slot free
        with session_scope(engine) as s:
            s.execute(delete(Job).where(Job.idempotency_key == "moved"))
        with session_scope(engine) as s:
            assert list(s.scalars(select(Job.task).where(Job.task == name))) == [name]
        run_worker(engine, burst=True)
        assert len(calls) == 1
    finally:
        queue.TASKS.pop(name, None)
        queue.PERIODIC.pop(name, None)


def test_done_jobs_older_than_two_weeks_are_pruned_and_dead_ones_kept(engine: Engine) -> None:
    from pitboard.worker.tasks import prune_jobs

    now = utcnow()
    with session_scope(engine) as s:
        for status, age_days in (("done", 15), ("done", 13), ("dead", 40), ("queued", 20)):
            at = now - timedelta(days=age_days)
            s.add(Job(task="contacts.refresh_last_activity", payload={}, status=status, attempts=1, max_attempts=5,
                      run_at=at, created_at=at, finished_at=at if status != "queued" else None))  # fmt: skip
    with session_scope(engine) as s:
        prune_jobs(s, {})
    with session_scope(engine) as s:
        left = sorted((j.status, round((now - j.created_at).total_seconds() / 86400)) for j in s.scalars(select(Job)))
    assert left == [("dead", 40), ("done", 13), ("queued", 20)]


def test_claimed_jobs_of_a_mergeable_task_run_as_one_and_a_failure_splits_them(engine: Engine) -> None:
    MERGED.clear()
    with session_scope(engine) as s:
        for tag in ("a", "b", "c"):
            queue.enqueue(s, "test.mergeable", {"tags": [tag]})
        queue.enqueue(s, "test.write_audit", {"tag": "between"})
    assert run_worker(engine, burst=True) == Counter(done=4)
    assert MERGED == [["a", "b", "c"]]  # one run for the three jobs
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) == 4
        tags = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "merged")).all()
        assert sorted(tags) == ["a", "b", "c"]

    # One bad job among good ones: the merged run rolls back, each job runs alone; only the bad one fails.
    MERGED.clear()
    with session_scope(engine) as s:
        s.execute(delete(Job))
        s.execute(delete(AuditEntry))
        for tag in ("d", "bad", "e"):
            queue.enqueue(s, "test.mergeable", {"tags": [tag]})
    assert run_worker(engine, burst=True) == Counter(done=2, queued=1)
    assert MERGED == [["bad", "d", "e"], ["d"], ["bad"], ["e"]]
    with session_scope(engine) as s:
        statuses = {j.payload["tags"][0]: (j.status, j.attempts) for j in s.scalars(select(Job))}
        assert statuses == {"d": ("done", 1), "e": ("done", 1), "bad": ("queued", 1)}
        tags = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "merged")).all()
        assert sorted(tags) == ["d", "e"]  # the merged attempt left nothing behind


def test_contacts_changed_payloads_merge_into_the_union_up_to_a_limit() -> None:
    from pitboard.contacts.changes import merge_payloads

    merged = merge_payloads([{"contact_ids": [3, 1], "reason": "events"}, {"contact_ids": [1, 2], "reason": "created"}])
    assert merged == {"contact_ids": [1, 2, 3], "reason": "created, events"}
    assert merge_payloads([{"contact_ids": list(range(1500)), "reason": "x"},
                           {"contact_ids": list(range(1500, 3000)), "reason": "x"}]) is None  # fmt: skip
