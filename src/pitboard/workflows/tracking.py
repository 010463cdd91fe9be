"""Open and click tracking for workflow emails, through pitboard's own public endpoints.

``instrument`` rewrites every http(s) link of an email's HTML to ``/t/c/<token>`` and adds a 1x1 pixel
``/t/o/<token>``. The token is signed (itsdangerous, keyed by the installation secret, its own salt) and carries
the contact, the message key and, for clicks, the target URL: nobody can forge a click for another contact or
turn the redirect into an open redirect to a URL we did not send. A hit records an ``Email Opened`` /
``Email Clicked`` event for the contact (at most once per message and link: message ids are derived from the
token, so a re-open or a mail scanner's prefetch does not inflate counts) and queues ``contacts.changed`` so
segments, scoring and workflow triggers see it.
"""

from __future__ import annotations

import hashlib
import re
from html import escape, unescape
from typing import Any, cast

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pitboard.contacts.changes import contacts_changed
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event
from pitboard.settings import Settings, get_settings

_HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
OPEN_EVENT = "Email Opened"
CLICK_EVENT = "Email Clicked"
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.resolved_secret_key(), salt="pitboard.workflows.tracking")


def token(payload: dict[str, Any], settings: Settings | None = None) -> str:
    return str(_serializer(settings or get_settings()).dumps(payload))


def read(value: str, settings: Settings | None = None) -> dict[str, Any]:
    try:
        payload = _serializer(settings or get_settings()).loads(value)
    except BadSignature as exc:
        raise ValidationFailed("this tracking link is not valid") from exc
    if not isinstance(payload, dict) or "c" not in payload or "k" not in payload:
        raise ValidationFailed("this tracking link is not valid")
    return payload


def instrument(
    html: str, *, contact_id: int, key: str, workflow: str, step: str, settings: Settings | None = None
) -> str:
    settings = settings or get_settings()
    base = settings.base_url.rstrip("/")
    common = {"c": contact_id, "k": key, "w": workflow, "s": step}

    def link(match: re.Match[str]) -> str:
        target = unescape(match.group(1))
        return f'href="{base}/t/c/{token({**common, "u": target}, settings)}"'

    out = _HREF.sub(link, html)
    pixel = f'<img src="{base}/t/o/{escape(token(common, settings))}" width="1" height="1" alt="" style="display:none">'
    end = out.lower().rfind("</body>")
    return out + pixel if end == -1 else out[:end] + pixel + out[end:]


def record(session: Session, payload: dict[str, Any], *, kind: str) -> str | None:
    """Record an open or click; returns the URL to redirect to for a click."""
    contact_id = int(payload["c"])
    target = payload.get("u") if kind == "click" else None
    if kind == "click" and not isinstance(target, str):
        raise ValidationFailed("this tracking link is not valid")
    if session.get(Contact, contact_id) is None:
        return target  # the contact was erased: redirect, record nothing
    suffix = hashlib.sha256(str(target).encode()).hexdigest()[:16] if target else ""
    now = utcnow()
    row = {
        "message_id": f"track:{kind}:{payload['k']}:{suffix}"[:200], "event_type": "track",
        "name": OPEN_EVENT if kind == "open" else CLICK_EVENT, "contact_id": contact_id, "occurred_at": now,
        "received_at": now, "channel": "email", "source": "pitboard",
        "properties": {"workflow": payload.get("w"), "step": payload.get("s"), "message_key": payload["k"],
                       **({"url": target} if target else {})},
        "context": {},
    }  # fmt: skip
    connection = session.connection()
    insert_fn = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    stmt = insert_fn(cast(Table, Event.__table__)).on_conflict_do_nothing(index_elements=["message_id"])
    inserted = connection.execute(stmt, [row]).rowcount
    if inserted:
        contacts_changed(session, [contact_id], reason="events")
    return target
