"""Delivery of Slack and webhook notifications: the ``notify.deliver`` job.

Like email delivery (messaging/tasks.py) the handler runs in the job's transaction and locks the delivery row.
A ``delivered``, ``failed`` or ``blocked`` delivery is never sent again. 2xx is delivered; 4xx other than 408
and 429 is a permanent refusal (``failed``, no retry); anything else (5xx, 408, 429, timeouts, connection
errors) raises so the queue retries with exponential backoff, and after ``MAX_ATTEMPTS`` the delivery is
``dead`` (``replay`` sends it again).

At least once: an HTTP request cannot be committed together with our database row, so a worker that dies
after the receiver answered and before our commit sends the request again. Every attempt carries the same
``webhook-id`` (Standard Webhooks), which is how a receiver recognises the repeat. On SQLite the job holds the
database's write lock for the request (bounded by ``HTTP_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.time import utcnow
from pitboard.logging import get_logger
from pitboard.models import Job
from pitboard.models.workflows import NotifyDelivery, NotifyEndpoint
from pitboard.notify import endpoints, signing
from pitboard.worker.queue import task

log = get_logger(__name__)

DELIVER_TASK = "notify.deliver"
# 2 s doubling to the queue's one-hour cap: 14 attempts keep trying for about 4 to 8 hours.
MAX_ATTEMPTS = 14
HTTP_TIMEOUT_SECONDS = 10.0
DELIVERABLE = ("queued", "dead")
USER_AGENT = "pitboard-notify/1"


class TemporaryFailure(Exception):
    """The endpoint did not take the request this time; the queue retries."""


def job_key(delivery: NotifyDelivery) -> str:
    return f"notify:{delivery.id}:{delivery.webhook_id}"


def _delivery(session: Session, payload: dict[str, Any]) -> NotifyDelivery | None:
    row = session.scalar(
        select(NotifyDelivery).where(NotifyDelivery.id == int(payload["delivery_id"])).with_for_update()
    )
    if row is None or row.webhook_id != payload.get("webhook_id"):
        return None
    return row


def mark_dead(session: Session, payload: dict[str, Any], error: str) -> None:
    row = _delivery(session, payload)
    if row is not None and row.status == "queued":
        row.status, row.last_error, row.attempts = "dead", error, _attempt_number(session, row)


def _attempt_number(session: Session, row: NotifyDelivery) -> int:
    """This attempt's number: the job's claim count (an attempt that raised rolled back our own counter)."""
    job_attempts = session.scalar(select(Job.attempts).where(Job.idempotency_key == job_key(row)))
    return max(row.attempts + 1, job_attempts or 0)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = HTTP_TIMEOUT_SECONDS) -> int:
    """POST and return the status code; a connection error or timeout raises TemporaryFailure."""
    if not url.startswith(("http://", "https://")):
        raise TemporaryFailure(f"the endpoint URL {url[:40]!r}... is not http(s)")
    request = urllib.request.Request(  # noqa: S310 (http(s) checked above)
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) checked at setup)
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TemporaryFailure(f"could not reach the endpoint: {reason}") from exc


def is_permanent(status: int) -> bool:
    return 400 <= status < 500 and status not in (408, 429)


@task(DELIVER_TASK, on_dead=mark_dead)
def deliver(session: Session, payload: dict[str, Any]) -> None:
    row = _delivery(session, payload)
    if row is None:
        log.warning("notification to deliver no longer exists", delivery_id=payload.get("delivery_id"))
        return
    if row.status not in DELIVERABLE:
        log.info("notification already final", delivery_id=row.id, status=row.status)
        return
    row.attempts = _attempt_number(session, row)
    endpoint = session.scalar(select(NotifyEndpoint).where(NotifyEndpoint.key == row.endpoint_key))
    if endpoint is None or not endpoint.active:
        row.status = "blocked"
        row.last_error = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
        log.info("notification blocked", delivery_id=row.id, reason=row.last_error)
        return
    try:
        target = endpoints.resolve(endpoint)
    except endpoints.EndpointUnusable as exc:
        raise TemporaryFailure(str(exc)) from exc  # configuration can be fixed; retry until then
    body = row.body.encode()
    headers = {"Content-Type": "application/json"}
    if endpoint.kind == "webhook":
        assert target.secret is not None  # resolve() checked
        stamp = int(time.time())
        headers.update(
            {
                "webhook-id": row.webhook_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": signing.sign(target.secret, row.webhook_id, stamp, body),
            }
        )
    status = post(target.url, body, headers)
    row.last_status = status
    if 200 <= status < 300:
        row.status, row.delivered_at, row.last_error = "delivered", utcnow(), None
        log.info("notification delivered", delivery_id=row.id, endpoint=row.endpoint_key, status=status)
        return
    if is_permanent(status):
        row.status, row.last_error = "failed", f"the endpoint refused with HTTP {status}"
        log.warning("notification refused", delivery_id=row.id, endpoint=row.endpoint_key, status=status)
        return
    raise TemporaryFailure(f"the endpoint answered HTTP {status}")


def replay(session: Session, delivery_id: int) -> NotifyDelivery:
    """Send a dead delivery again (after the endpoint is fixed), with a fresh attempt budget."""
    from pitboard.kit.errors import NotFound, ValidationFailed
    from pitboard.worker import queue

    row = session.get(NotifyDelivery, delivery_id)
    if row is None:
        raise NotFound(f"notification delivery {delivery_id} does not exist")
    if row.status != "dead":
        raise ValidationFailed(f"delivery {delivery_id} is {row.status}; only dead deliveries are replayed")
    job = session.scalar(select(Job).where(Job.idempotency_key == job_key(row)))
    if job is None:
        raise NotFound(f"the job of delivery {delivery_id} is gone")
    queue.replay(session, job.id)
    row.status, row.attempts = "queued", 0
    return row
