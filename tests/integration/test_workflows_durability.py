"""Durable execution with real processes: ``pitboard worker`` is killed with SIGKILL again and again while it
runs workflows (email to a real SMTP server, signed webhooks to a real HTTP receiver, a timed wait, database
actions), then restarted. Afterwards every contact has each effect exactly once: one score change, one step
log row per step, one email and one webhook (a request repeated because the worker died between the receiver's
answer and our commit carries the same Message-ID / webhook-id, which is how receivers drop repeats)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from pitboard.contacts.changes import contacts_changed
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, Job
from pitboard.models.workflows import WorkflowEnrolment, WorkflowStepLog
from pitboard.notify import endpoints, signing
from pitboard.settings import get_settings
from pitboard.workflows import service
from tests.integration.smtp_fixture import TEST_ENV, SmtpServer
from tests.integration.test_workflows_helpers import Receiver

CONTACTS = 60
KILLS = 6
SECRET = signing.new_secret()
PITBOARD = str(Path(sys.executable).parent / "pitboard")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
    get_settings.cache_clear()


def _start(engine: Engine, smtp: SmtpServer, tmp: Path, n: int) -> subprocess.Popen[bytes]:
    """A worker process; its output goes to ``worker<n>.log`` (shown when it dies unexpectedly)."""
    env = {
        **os.environ, **TEST_ENV, "PITBOARD_SMTP_HOST": smtp.host, "PITBOARD_SMTP_PORT": str(smtp.port),
        "PITBOARD_DATABASE_URL": engine.url.render_as_string(hide_password=False), "PITBOARD_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    with (tmp / f"worker{n}.log").open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            [PITBOARD, "worker", "--poll", "0.05", "--no-schedule"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _expire_locks(engine: Engine) -> None:
    """What LOCK_TIMEOUT does after five minutes: the dead worker's jobs become claimable again."""
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.status == "running").values(locked_at=utcnow() - timedelta(minutes=10)))


def _finished(engine: Engine) -> bool:
    with session_scope(engine) as s:
        open_jobs = s.scalar(select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running"))))
        done = s.scalar(select(func.count()).select_from(WorkflowEnrolment).where(
            WorkflowEnrolment.status == "completed"))  # fmt: skip
    return open_jobs == 0 and done == CONTACTS


def test_kill_9_loses_nothing_and_duplicates_nothing(engine: Engine, smtp_server: SmtpServer, tmp_path: Path) -> None:
    with Receiver() as receiver:
        receiver.delay = 0.05  # the worker spends time inside webhook calls, where kills land
        with session_scope(engine) as s:
            endpoints.set_endpoint(s, key="product", kind="webhook", url=receiver.url + "/hook", secret=SECRET,
                                   actor=SYSTEM)  # fmt: skip
            spec = service.parse(s, {
                "key": "trial", "name": "Trial", "trigger": {"type": "event", "event": "Trial Started"},
                "steps": [
                    {"id": "score", "action": "change_score", "by": 10},
                    {"id": "mail", "action": "send_email", "kind": "transactional",
                     "subject": "Welcome {{ contact.email }}", "text": "Your trial has started."},
                    {"id": "api", "action": "webhook", "endpoint": "product", "event": "trial.started"},
                    {"id": "pause", "action": "wait", "duration": "1s"},
                    {"id": "mark", "action": "set_field", "field": "custom.onboarded", "value": "yes"},
                ],
            })  # fmt: skip
            service.save_workflow(s, spec, actor=SYSTEM)
            ids = []
            for i in range(CONTACTS):
                c = Contact(email=f"trial{i}@example.org", email_normalized=f"trial{i}@example.org")
                s.add(c)
                s.flush()
                ids.append(c.id)
                now = utcnow()
                s.add(Event(message_id=uuid.uuid4().hex, event_type="track", name="Trial Started", contact_id=c.id,
                            occurred_at=now, received_at=now, properties={}, context={}))  # fmt: skip
            s.flush()
            contacts_changed(s, ids, reason="events")

        rng = random.Random(8)
        kills = 0
        mid_run = 0
        for n in range(KILLS):
            worker = _start(engine, smtp_server, tmp_path, n)
            time.sleep(rng.uniform(0.5, 1.5))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            kills += 1
            mid_run += not _finished(engine)
            _expire_locks(engine)
        final = _start(engine, smtp_server, tmp_path, KILLS)
        try:
            deadline = time.monotonic() + 90
            while not _finished(engine):
                assert final.poll() is None, (tmp_path / f"worker{KILLS}.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the workflows did not finish after the restarts"
                time.sleep(0.2)
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(timeout=20)

        with session_scope(engine) as s:
            scores = {c.id: (c.custom or {}) for c in s.scalars(select(Contact))}
            logs = Counter((r.enrolment_id, r.step_id, r.outcome) for r in s.scalars(select(WorkflowStepLog)))
            dead = s.scalar(select(func.count()).select_from(Job).where(Job.status == "dead"))
        assert kills == KILLS
        assert mid_run >= KILLS // 2  # the kills really interrupted work in progress
        assert dead == 0
        assert all(v == {"workflow_score": 10, "onboarded": "yes"} for v in scores.values()), scores
        assert set(logs.values()) == {1}  # no step logged twice
        assert len(logs) == CONTACTS * 7  # 5 steps + the wait's start + the end

        mails = smtp_server.received
        by_message_id = Counter(m.message["Message-ID"] for m in mails)
        recipients = Counter(m.rcpt_tos[0] for m in {m.message["Message-ID"]: m for m in mails}.values())
        assert len(by_message_id) == CONTACTS
        assert set(recipients.values()) == {1}

        hooks = receiver.received("/hook")
        by_webhook_id = Counter(r.headers["webhook-id"] for r in hooks)
        per_contact = Counter(
            r.json()["data"]["facts"]["contact_id"] for r in {r.headers["webhook-id"]: r for r in hooks}.values()
        )
        assert len(by_webhook_id) == CONTACTS
        assert set(per_contact.values()) == {1}
        for r in hooks:
            assert signing.verify(SECRET, r.headers, r.body, now=int(time.time()))
        # Repeats (same id) can only come from a kill inside the request/commit window: at most one per kill.
        assert len(hooks) - CONTACTS <= KILLS
        assert len(mails) - CONTACTS <= KILLS
        print(
            f"kills={kills} (mid-run {mid_run}) webhook requests={len(hooks)} emails={len(mails)} "
            f"for {CONTACTS} contacts"
        )
