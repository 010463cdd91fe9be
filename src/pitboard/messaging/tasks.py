"""Delivery of outbox messages: the ``messaging.deliver`` job.

The handler runs in the job's transaction (worker/queue.py). It locks the message row, asks the consent gate
again (consent may have been withdrawn, or the address suppressed, since the message was queued) and marks
the message ``blocked`` instead of sending when the answer is no. Otherwise it sends and marks it ``sent``.

Guarantees:

- A message that is ``sent``, ``blocked`` or ``failed`` is never sent again: a duplicated or retried job
  finds it so and does nothing. On PostgreSQL the row lock makes a second job for the same message wait for
  the first and then see its outcome.
- A permanent refusal (5xx for the recipient or the content) marks the message ``failed`` with the error and
  the job completes: retrying cannot help. A temporary failure (4xx, connection or TLS errors, a login or
  sender refusal) raises, so the queue retries with backoff; the job's ``last_error`` says why.
- **At least once, not exactly once.** SMTP has no two-phase commit: the server accepts the message (its 250
  reply to DATA) before our transaction commits ``sent``. If the worker dies, or the commit fails, in that
  window, the job's lock expires and another worker sends the message again. The window is kept short: every
  database read and the consent check happen before the SMTP conversation, and after the 250 only QUIT, two
  row updates and the commit remain. A resend carries the same Message-ID header (stored with the row), so
  receiving systems and people can recognise it as a duplicate.
- On SQLite the job's transaction holds the database's write lock for the whole SMTP conversation (bounded
  by ``smtp_timeout_seconds``); point ``PITBOARD_SMTP_HOST`` at a nearby relay that accepts quickly.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.consent import gate
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.messaging import smtp
from pitboard.messaging.recipients import belongs_to
from pitboard.models import Contact, Job, Message
from pitboard.settings import get_settings
from pitboard.worker.queue import task

log = get_logger(__name__)

DELIVER_TASK = "messaging.deliver"
# ``dead`` is deliverable again: a dead job that is replayed (queue.replay) should try once more.
DELIVERABLE_STATUSES = ("queued", "dead")


def delivery_job_key(message: Message) -> str:
    """``message:<id>:<random part of the Message-ID>``. The id alone can repeat: SQLite gives the id of a deleted
    newest row to the next insert (erasure deletes messages), and the old job's key would swallow the new job."""
    return f"message:{message.id}:{message.message_id_header.strip('<>').partition('@')[0]}"


def delivery_payload(message: Message) -> dict[str, Any]:
    return {"message_id": message.id, "message_id_header": message.message_id_header}


def _message_for(session: Session, payload: dict[str, Any]) -> Message | None:
    """The payload's message, locked; None when it is gone (or its id now belongs to a newer message)."""
    # FOR UPDATE (PostgreSQL): a second job for the same message waits here and then sees the outcome.
    message = session.scalar(select(Message).where(Message.id == int(payload["message_id"])).with_for_update())
    expected = payload.get("message_id_header")
    if message is None or (expected is not None and message.message_id_header != expected):
        return None
    return message


def mark_dead(session: Session, payload: dict[str, Any], error: str) -> None:
    """The delivery job ran out of attempts: the message is ``dead`` with the last error (replaying the job
    tries again). Meant to run in the transaction that marks the job dead."""
    message = _message_for(session, payload)
    if message is not None and message.status == "queued":
        message.status, message.last_error = "dead", error


@task(DELIVER_TASK, on_dead=mark_dead)
def deliver(session: Session, payload: dict[str, Any]) -> None:
    message_id = int(payload["message_id"])
    message = _message_for(session, payload)
    if message is None:
        log.warning("message to deliver no longer exists", message_id=message_id)
        return
    if message.status not in DELIVERABLE_STATUSES:
        log.info("message already final; not sent again", message_id=message_id, status=message.status)
        return
    refusal = _refusal(session, message)
    if refusal is not None:
        message.status, message.blocked_reason = "blocked", refusal[:200]
        log.info("email blocked at delivery", message_id=message_id, contact_id=message.contact_id, reason=refusal)
        return
    attempt = _attempt_number(session, message)
    try:
        smtp.send(get_settings(), message)
    except smtp.DeliveryError as exc:
        if not exc.permanent:
            raise  # the queue retries with backoff; this transaction (and the message row) stays unchanged
        message.status, message.last_error, message.attempts = "failed", str(exc), attempt
        log.warning("email refused permanently", message_id=message_id, code=exc.code, error=str(exc))
        return
    # From here until the job's commit, a crash means a resend (see the module docstring): nothing slow follows.
    message.status, message.sent_at, message.attempts, message.last_error = "sent", utcnow(), attempt, None
    log.info("email sent", message_id=message_id, attempts=attempt)


def _refusal(session: Session, message: Message) -> str | None:
    """Why the message must not be sent now, or None. Fails closed: a gate that cannot decide refuses."""
    if message.contact_id is None:
        # Marketing always names a contact at enqueue; losing it means the contact was deleted or erased.
        if message.kind != "transactional":
            return "no_contact"
        bare = gate.check_address(session, address=message.to_address, channel=message.channel, kind=message.kind)
        return None if bare.allowed else bare.reason
    try:
        verdict = gate.check(
            session, contact_id=message.contact_id, channel=message.channel, purpose=message.purpose, kind=message.kind
        )
    except ValidationFailed as exc:
        return f"gate_error: {exc.message}"
    if not verdict.allowed:
        return verdict.reason
    contact = session.get(Contact, message.contact_id)
    # The gate checked the contact's current addresses; an address they no longer have escaped that check.
    if contact is None or belongs_to(session, contact, message.to_address) is None:
        return "address_changed"
    return None


def _attempt_number(session: Session, message: Message) -> int:
    """This attempt's number: the delivery job's (the queue counts claims), never below the message's own."""
    job_attempts = session.scalar(select(Job.attempts).where(Job.idempotency_key == delivery_job_key(message)))
    return max(message.attempts + 1, job_attempts or 0)
