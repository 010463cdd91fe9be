"""Notifications to people and systems: one call, three kinds of destination, all through a durable outbox.

    from pitboard.notify import notify
    notify(session, to="slack:sales-alerts", subject="SLA missed", text="Lead 42 waits for 3 h",
           link="https://pitboard.example/contacts/42", facts={"Owner": "Ana"}, idempotency_key="sla:42:1")

``to`` is one of:

- ``email:<address>``: a transactional email through the email outbox (``messaging.outbox.enqueue_email``);
  the facts and the link are appended to the text.
- ``slack:<key>``: a Slack incoming webhook configured under ``key`` (blocks plus a text fallback).
- ``webhook:<key>``: an outbound endpoint configured under ``key``, signed per Standard Webhooks
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``).

Endpoints live in the ``notify_endpoints`` table (API ``/api/v1/notify/endpoints``, CLI ``pitboard workflows
endpoint-set``); a URL or secret may be ``env:NAME`` to keep it in the worker's environment.

The call only writes rows and a job in the caller's transaction: a rolled-back change notifies nobody, and a
committed one is delivered by the worker with retries, backoff and a dead state (``notify.tasks``). The
``idempotency_key`` makes a repeated call (a retried job, a second worker) a no-op: the first call's
notification is the one. Bad input (unknown destination, missing endpoint, empty subject) raises
``ValidationFailed`` with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import json
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.models.workflows import NotifyDelivery, NotifyEndpoint
from pitboard.notify import signing, tasks
from pitboard.worker import queue

__all__ = ["KEY_MAX_CHARS", "SUBJECT_MAX_CHARS", "notify", "parse_destination"]

log = get_logger(__name__)

KEY_MAX_CHARS = 150
SUBJECT_MAX_CHARS = 300
TEXT_MAX_CHARS = 20000
EMAIL_TEMPLATE = "notify"


def parse_destination(to: str) -> tuple[str, str]:
    """``"slack:alerts"`` -> ``("slack", "alerts")``; raises ValidationFailed for anything else."""
    kind, sep, target = to.partition(":")
    if not sep or kind not in ("email", "slack", "webhook") or not target.strip():
        raise ValidationFailed(
            f"notification target {to!r} must be 'email:<address>', 'slack:<key>' or 'webhook:<key>'"
        )
    return kind, target.strip()


def _email_text(text: str, link: str | None, facts: dict[str, str] | None) -> str:
    parts = [text.rstrip()]
    if facts:
        parts.append("\n".join(f"{k}: {v}" for k, v in facts.items()))
    if link:
        parts.append(link)
    return "\n\n".join(parts) + "\n"


def _webhook_body(subject: str, text: str, link: str | None, facts: dict[str, str] | None) -> dict[str, object]:
    # The Standard Webhooks payload shape: type, timestamp, data.
    return {
        "type": "pitboard.notification",
        "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
        "data": {"subject": subject, "text": text, "link": link, "facts": dict(facts or {})},
    }


def notify(
    session: Session,
    *,
    to: str,
    subject: str,
    text: str,
    link: str | None = None,
    facts: dict[str, str] | None = None,
    idempotency_key: str,
) -> None:
    """Queue one notification in the caller's transaction (see the module docstring)."""
    kind, target = parse_destination(to)
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationFailed("a notification needs a subject")
    if len(subject) > SUBJECT_MAX_CHARS:
        raise ValidationFailed(f"the subject is longer than {SUBJECT_MAX_CHARS} characters")
    if not text.strip():
        raise ValidationFailed("a notification needs a text")
    if len(text) > TEXT_MAX_CHARS:
        raise ValidationFailed(f"the text is longer than {TEXT_MAX_CHARS} characters")
    if not idempotency_key or len(idempotency_key) > KEY_MAX_CHARS:
        raise ValidationFailed(f"idempotency_key must be 1 to {KEY_MAX_CHARS} characters")
    if facts is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in facts.items()):
        raise ValidationFailed("facts must map strings to strings")

    if kind == "email":
        # Imported here: the outbox imports the consent package, which is heavier than this module needs.
        from pitboard.messaging.outbox import enqueue_email

        enqueue_email(
            session, contact_id=None, to_address=target, kind="transactional", purpose=None,
            template=EMAIL_TEMPLATE, subject=subject, text=_email_text(text, link, facts),
            idempotency_key=f"notify:{idempotency_key}",
        )  # fmt: skip
        return

    existing = session.scalar(select(NotifyDelivery.id).where(NotifyDelivery.idempotency_key == idempotency_key))
    if existing is not None:
        return
    endpoint = session.scalar(select(NotifyEndpoint).where(NotifyEndpoint.key == target))
    if endpoint is None:
        raise ValidationFailed(f"there is no {kind} endpoint {target!r}; add it with `pitboard workflows endpoint-set`")
    if endpoint.kind != kind:
        raise ValidationFailed(f"endpoint {target!r} is a {endpoint.kind} endpoint, not {kind}")
    if kind == "slack":
        payload = signing.slack_payload(subject, text, link, facts)
    else:
        payload = _webhook_body(subject, text, link, facts)
    delivery = NotifyDelivery(
        endpoint_key=target, channel=kind, idempotency_key=idempotency_key,
        webhook_id=f"msg_{secrets.token_hex(12)}", subject=subject,
        body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status="queued" if endpoint.active else "blocked",
        last_error=None if endpoint.active else "the endpoint is disabled",
        attempts=0, created_at=utcnow(),
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        # A concurrent call with the same key committed first: its notification is the one.
        if session.scalar(select(NotifyDelivery.id).where(NotifyDelivery.idempotency_key == idempotency_key)):
            return
        raise
    if delivery.status == "queued":
        queue.enqueue(
            session, tasks.DELIVER_TASK, {"delivery_id": delivery.id, "webhook_id": delivery.webhook_id},
            idempotency_key=tasks.job_key(delivery), max_attempts=tasks.MAX_ATTEMPTS,
        )  # fmt: skip
    log.info("notification queued", delivery_id=delivery.id, to=to, status=delivery.status)
