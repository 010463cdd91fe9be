"""notify(): email through the outbox to a real SMTP server, Slack and Standard Webhooks to a real HTTP receiver
on 127.0.0.1, retries, permanent refusals, dead letters and replay, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Job, Message
from pitboard.models.workflows import NotifyDelivery
from pitboard.notify import endpoints, notify, signing
from pitboard.notify import tasks as notify_tasks
from pitboard.worker.runner import run_worker
from tests.integration.smtp_fixture import SmtpServer
from tests.integration.test_workflows_helpers import Receiver

SECRET = signing.new_secret()


def _endpoints(engine: Engine, receiver: Receiver) -> None:
    with session_scope(engine) as s:
        endpoints.set_endpoint(s, key="sales", kind="slack", url=receiver.url + "/slack", actor=SYSTEM)
        endpoints.set_endpoint(s, key="crm", kind="webhook", url=receiver.url + "/hook", secret=SECRET, actor=SYSTEM)


def _drain(engine: Engine, rounds: int = 30) -> None:
    """Run the worker until nothing is queued, making retries due at once instead of after their backoff."""
    for _ in range(rounds):
        with engine.begin() as conn:
            conn.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow() - timedelta(seconds=1)))
            queued = conn.scalar(select(func.count()).select_from(Job).where(Job.status == "queued"))
        if not queued:
            return
        run_worker(engine, burst=True, poll_seconds=0.01)
    raise AssertionError("the queue did not drain")


def _delivery(engine: Engine, key: str) -> NotifyDelivery:
    with session_scope(engine) as s:
        row = s.scalar(select(NotifyDelivery).where(NotifyDelivery.idempotency_key == key))
        assert row is not None
        return row


def test_slack_gets_blocks_and_a_fallback_once_despite_repeated_calls(engine: Engine, receiver: Receiver) -> None:
    _endpoints(engine, receiver)
    for _ in range(2):  # a retried caller: the key makes the second call a no-op
        with session_scope(engine) as s:
            notify(s, to="slack:sales", subject="Lead waiting", text="Ada waits 3 h", link="https://p.test/c/1",
                   facts={"Owner": "Ana"}, idempotency_key="sla:1")  # fmt: skip
    _drain(engine)
    [request] = receiver.received("/slack")
    body = request.json()
    assert body["text"] == "Lead waiting: Ada waits 3 h https://p.test/c/1"
    assert body["blocks"][0]["text"]["text"] == "Lead waiting"
    assert body["blocks"][2]["fields"] == [{"type": "mrkdwn", "text": "*Owner*\nAna"}]
    assert request.headers["content-type"] == "application/json"
    assert "webhook-signature" not in request.headers
    row = _delivery(engine, "sla:1")
    assert (row.status, row.last_status, row.attempts) == ("delivered", 200, 1)


def test_webhook_is_signed_per_standard_webhooks(engine: Engine, receiver: Receiver) -> None:
    _endpoints(engine, receiver)
    with session_scope(engine) as s:
        notify(s, to="webhook:crm", subject="Trial started", text="Ada started a trial",
               facts={"contact_id": "7"}, idempotency_key="trial:7")  # fmt: skip
    _drain(engine)
    [request] = receiver.received("/hook")
    assert signing.verify(SECRET, request.headers, request.body, now=int(time.time()))
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.json()["type"] == "pitboard.notification"
    assert request.json()["data"] == {
        "subject": "Trial started", "text": "Ada started a trial", "link": None, "facts": {"contact_id": "7"}
    }  # fmt: skip


def test_server_errors_and_429_are_retried_with_the_same_webhook_id(engine: Engine, receiver: Receiver) -> None:
    _endpoints(engine, receiver)
    receiver.script["/hook"] = [503, 429, 408]
    with session_scope(engine) as s:
        notify(s, to="webhook:crm", subject="s", text="t", idempotency_key="retry:1")
    _drain(engine)
    requests = receiver.received("/hook")
    assert len(requests) == 4
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    for r in requests:  # each attempt signs its own timestamp
        assert signing.verify(SECRET, r.headers, r.body, now=int(time.time()))
    row = _delivery(engine, "retry:1")
    assert (row.status, row.attempts) == ("delivered", 4)


def test_a_4xx_refusal_is_final_and_not_retried(engine: Engine, receiver: Receiver) -> None:
    _endpoints(engine, receiver)
    receiver.script["/slack"] = [404]
    with session_scope(engine) as s:
        notify(s, to="slack:sales", subject="s", text="t", idempotency_key="gone:1")
    _drain(engine)
    assert len(receiver.received("/slack")) == 1
    row = _delivery(engine, "gone:1")
    assert (row.status, row.last_status) == ("failed", 404)
    assert "404" in (row.last_error or "")


def test_a_dead_delivery_is_replayed(engine: Engine, receiver: Receiver) -> None:
    _endpoints(engine, receiver)
    receiver.script["/hook"] = [500] * notify_tasks.MAX_ATTEMPTS
    with session_scope(engine) as s:
        notify(s, to="webhook:crm", subject="s", text="t", idempotency_key="dead:1")
    _drain(engine, rounds=notify_tasks.MAX_ATTEMPTS + 5)
    row = _delivery(engine, "dead:1")
    assert (row.status, row.attempts) == ("dead", notify_tasks.MAX_ATTEMPTS)
    assert "HTTP 500" in (row.last_error or "")
    with session_scope(engine) as s:
        notify_tasks.replay(s, row.id)
    _drain(engine)
    assert _delivery(engine, "dead:1").status == "delivered"
    assert len(receiver.received("/hook")) == notify_tasks.MAX_ATTEMPTS + 1
    with session_scope(engine) as s, pytest.raises(ValidationFailed, match="only dead"):
        notify_tasks.replay(s, row.id)


def test_unreachable_endpoint_is_retried(engine: Engine, receiver: Receiver) -> None:
    with session_scope(engine) as s:
        # A port nobody listens on: connection refused is temporary.
        endpoints.set_endpoint(s, key="down", kind="slack", url="http://127.0.0.1:9/x", actor=SYSTEM)
        notify(s, to="slack:down", subject="s", text="t", idempotency_key="down:1")
    run_worker(engine, burst=True)
    with session_scope(engine) as s:
        job = s.scalar(select(Job).where(Job.task == notify_tasks.DELIVER_TASK))
        assert job is not None
        assert job.status == "queued"
        assert job.attempts == 1
        assert "could not reach" in (job.last_error or "")


def test_secrets_from_the_environment(engine: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(engine) as s:
        endpoints.set_endpoint(s, key="envhook", kind="webhook", url="env:PB_TEST_HOOK_URL",
                               secret="env:PB_TEST_HOOK_SECRET", actor=SYSTEM)  # fmt: skip
        notify(s, to="webhook:envhook", subject="s", text="t", idempotency_key="env:1")
    monkeypatch.delenv("PB_TEST_HOOK_URL", raising=False)
    run_worker(engine, burst=True)
    with session_scope(engine) as s:
        job = s.scalar(select(Job).where(Job.task == notify_tasks.DELIVER_TASK))
        assert job is not None
        assert "PB_TEST_HOOK_URL" in (job.last_error or "")
    monkeypatch.setenv("PB_TEST_HOOK_URL", receiver.url + "/env")
    monkeypatch.setenv("PB_TEST_HOOK_SECRET", SECRET)
    _drain(engine)
    [request] = receiver.received("/env")
    assert signing.verify(SECRET, request.headers, request.body, now=int(time.time()))


def test_email_goes_through_the_outbox_once(engine: Engine, smtp_server: SmtpServer) -> None:
    for _ in range(2):
        with session_scope(engine) as s:
            notify(s, to="email:ana@example.org", subject="New lead", text="Ada is yours.",
                   link="https://p.test/c/1", facts={"Score": "80"}, idempotency_key="lead:1:ana")  # fmt: skip
    _drain(engine)
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["ana@example.org"]
    assert mail.message["Subject"] == "New lead"
    body = mail.part("text/plain")
    assert "Ada is yours." in body
    assert "Score: 80" in body
    assert "https://p.test/c/1" in body
    with session_scope(engine) as s:
        message = s.scalar(select(Message))
        assert message is not None
        assert message.kind == "transactional"
        assert message.template == "notify"


def test_bad_calls_raise_clear_errors(session: Session, receiver: Receiver) -> None:
    endpoints.set_endpoint(session, key="sales", kind="slack", url=receiver.url, actor=SYSTEM)
    cases = [
        ({"to": "slack:nope"}, "no slack endpoint 'nope'"),
        ({"to": "webhook:sales"}, "is a slack endpoint"),
        ({"to": "pager:x"}, "must be"),
        ({"subject": "  "}, "subject"),
        ({"text": ""}, "text"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"to": "email:not-an-address"}, "not a valid email"),
    ]
    for override, message in cases:
        kwargs = {"to": "slack:sales", "subject": "s", "text": "t", "idempotency_key": "k", **override}
        with pytest.raises(ValidationFailed, match=message):
            notify(session, **kwargs)  # type: ignore[arg-type]


def test_disabled_endpoint_records_a_blocked_delivery(engine: Engine, receiver: Receiver) -> None:
    with session_scope(engine) as s:
        endpoints.set_endpoint(s, key="off", kind="slack", url=receiver.url, active=False, actor=SYSTEM)
        notify(s, to="slack:off", subject="s", text="t", idempotency_key="off:1")
    _drain(engine)
    assert receiver.received() == []
    row = _delivery(engine, "off:1")
    assert (row.status, row.last_error) == ("blocked", "the endpoint is disabled")


def test_endpoint_validation(session: Session) -> None:
    with pytest.raises(ValidationFailed, match="needs a secret"):
        endpoints.set_endpoint(session, key="w", kind="webhook", url="https://x.test", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="whsec_"):
        endpoints.set_endpoint(session, key="w", kind="webhook", url="https://x.test", secret="abc", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="not an http"):
        endpoints.set_endpoint(session, key="w", kind="slack", url="ftp://x.test", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="lowercase"):
        endpoints.set_endpoint(session, key="Bad Key", kind="slack", url="https://x.test", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="kind"):
        endpoints.set_endpoint(session, key="w", kind="teams", url="https://x.test", actor=SYSTEM)
