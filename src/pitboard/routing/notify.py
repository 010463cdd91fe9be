"""Notifications from routing (new lead, SLA reminders and escalations) through ``pitboard.notify`` (email,
Slack, webhooks), each with an idempotency key so a retried job never sends twice."""

from __future__ import annotations

from sqlalchemy.orm import Session

from pitboard.kit.errors import PitboardError
from pitboard.logging import get_logger
from pitboard.notify import notify
from pitboard.settings import get_settings

log = get_logger(__name__)


def send(session: Session, *, to_email: str | None = None, to: str | None = None, subject: str, text: str,
         link: str | None = None, key: str) -> None:  # fmt: skip
    """``to_email`` (an address) or ``to`` (``email:…``, ``slack:<key>``, ``webhook:<key>``)."""
    destination = to or (f"email:{to_email}" if to_email else None)
    if destination is None:
        raise ValueError("send needs to_email or to")
    url = f"{get_settings().base_url.rstrip('/')}{link}" if link and link.startswith("/") else link
    notify(session, to=destination, subject=subject[:300], text=text, link=url, idempotency_key=key[:150])


def try_send(session: Session, **kwargs: str | None) -> str | None:
    """:func:`send`, but a bad address or a missing endpoint must not undo the routing it reports on: the
    problem is logged and returned (the caller records it) instead of raised."""
    try:
        with session.begin_nested():
            send(session, **kwargs)  # type: ignore[arg-type]
    except PitboardError as exc:
        log.warning("routing notification not sent", to=kwargs.get("to") or kwargs.get("to_email"), error=exc.message)
        return exc.message
    return None
