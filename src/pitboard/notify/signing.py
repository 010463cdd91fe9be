"""Standard Webhooks signatures (https://www.standardwebhooks.com/) and the Slack message format.

A secret is ``whsec_`` followed by base64 of the key bytes. The signature of a delivery is
``v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>``; several space-separated
signatures may be sent during a key rotation, and a receiver accepts the request when any one matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
# Receivers should refuse timestamps older or newer than this (replay protection); we follow the spec's advice.
TOLERANCE_SECONDS = 5 * 60


class BadSecret(ValueError):
    pass


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise BadSecret("a webhook secret starts with 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSecret("the part after 'whsec_' is not valid base64") from exc
    if len(key) < 24:
        raise BadSecret("a webhook secret needs at least 24 random bytes (32 recommended)")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: check the timestamp window and any one of the ``v1`` signatures."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
        signatures = lower["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, webhook_id, timestamp, body).partition(",")[2]
    for candidate in signatures:
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


# Slack limits (https://api.slack.com/reference/block-kit/blocks): header text 150 chars, section text 3000,
# at most 10 fields of 2000 chars each.
_HEADER_MAX = 150
_SECTION_MAX = 3000
_FIELDS_MAX = 10
_FIELD_MAX = 2000


def slack_escape(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped; everything else is sent as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(subject: str, text: str, link: str | None, facts: dict[str, str] | None) -> dict[str, object]:
    """Blocks (header, text, facts as fields, a link) plus ``text``: the fallback notifications and old clients
    show."""
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(subject, _HEADER_MAX), "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(slack_escape(text), _SECTION_MAX)}},
    ]
    items = list((facts or {}).items())
    if items:
        fields = [
            {"type": "mrkdwn", "text": _cut(f"*{slack_escape(k)}*\n{slack_escape(v)}", _FIELD_MAX)}
            for k, v in items[:_FIELDS_MAX]
        ]
        blocks.append({"type": "section", "fields": fields})
        if len(items) > _FIELDS_MAX:
            rest = "\n".join(f"*{slack_escape(k)}*: {slack_escape(v)}" for k, v in items[_FIELDS_MAX:])
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(rest, _SECTION_MAX)}})
    if link:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in pitboard>"}})
    fallback = f"{subject}: {text}" + (f" {link}" if link else "")
    return {"text": _cut(fallback, _SECTION_MAX), "blocks": blocks}
