"""Slack and webhook endpoints, by key: created through the API (``/api/v1/notify/endpoints``) or the CLI
(``pitboard workflows endpoint-set``). ``url`` and ``secret`` may be ``env:NAME`` to keep the real value in
the environment of the worker instead of the database."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import NotFound, ValidationFailed
from pitboard.models.workflows import ENDPOINT_KINDS, NotifyEndpoint
from pitboard.notify import signing

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
ENV_PREFIX = "env:"


class EndpointUnusable(Exception):
    """The endpoint cannot be called as configured (missing environment variable, bad secret)."""


@dataclass(frozen=True)
class Resolved:
    url: str
    secret: str | None


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValidationFailed(f"endpoint key {key!r} must be lowercase letters, digits, '_', '.' or '-' (max 100)")
    return key


def _check_url(url: str) -> None:
    if url.startswith(ENV_PREFIX):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", url[len(ENV_PREFIX) :]):
            raise ValidationFailed(f"{url!r}: env: must be followed by an environment variable name")
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"{url!r} is not an http(s) URL")


def _check_secret(kind: str, secret: str | None) -> None:
    if kind == "slack":
        if secret is not None:
            raise ValidationFailed("a Slack endpoint has no secret: the URL is the secret")
        return
    if secret is None:
        raise ValidationFailed("a webhook endpoint needs a secret ('whsec_' + base64, or env:NAME)")
    if secret.startswith(ENV_PREFIX):
        return
    try:
        signing.secret_bytes(secret)
    except signing.BadSecret as exc:
        raise ValidationFailed(str(exc)) from exc


def get_endpoint(session: Session, key: str) -> NotifyEndpoint:
    row = session.scalar(select(NotifyEndpoint).where(NotifyEndpoint.key == key))
    if row is None:
        raise NotFound(f"notification endpoint {key!r} does not exist")
    return row


def list_endpoints(session: Session) -> list[NotifyEndpoint]:
    return list(session.scalars(select(NotifyEndpoint).order_by(NotifyEndpoint.key)))


def set_endpoint(
    session: Session,
    *,
    key: str,
    kind: str,
    url: str,
    secret: str | None = None,
    description: str | None = None,
    active: bool = True,
    actor: Actor,
) -> NotifyEndpoint:
    """Create or replace the endpoint ``key``."""
    actor.require("admin")
    check_key(key)
    if kind not in ENDPOINT_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(ENDPOINT_KINDS)}")
    _check_url(url)
    _check_secret(kind, secret)
    row = session.scalar(select(NotifyEndpoint).where(NotifyEndpoint.key == key))
    values = {"kind": kind, "url": url, "secret": secret, "description": description, "active": active}
    if row is None:
        row = NotifyEndpoint(key=key, **values)
        session.add(row)
        session.flush()
        # Never the URL or the secret in the audit log: both are credentials.
        audit.record(session, actor=actor, action="create", entity_type="notify_endpoint", entity_id=row.id,
                     changes={"key": [None, key], "kind": [None, kind]})  # fmt: skip
    else:
        changed = sorted(k for k, v in values.items() if getattr(row, k) != v)
        for name, value in values.items():
            setattr(row, name, value)
        session.flush()
        if changed:
            audit.record(session, actor=actor, action="update", entity_type="notify_endpoint", entity_id=row.id,
                         changes={"changed": [None, changed]})  # fmt: skip
    return row


def delete_endpoint(session: Session, key: str, *, actor: Actor) -> None:
    actor.require("admin")
    row = get_endpoint(session, key)
    audit.delete_recorded(session, row, actor=actor, entity_type="notify_endpoint", label="key")


def _from_env(value: str, what: str) -> str:
    if not value.startswith(ENV_PREFIX):
        return value
    name = value[len(ENV_PREFIX) :]
    found = os.environ.get(name)
    if not found:
        raise EndpointUnusable(f"the {what} comes from environment variable {name}, which is not set")
    return found


def resolve(row: NotifyEndpoint) -> Resolved:
    """The URL and secret to use now (environment variables read at delivery time)."""
    url = _from_env(row.url, "URL")
    secret = _from_env(row.secret, "secret") if row.secret is not None else None
    if row.kind == "webhook":
        if secret is None:
            raise EndpointUnusable("a webhook endpoint needs a secret")
        try:
            signing.secret_bytes(secret)
        except signing.BadSecret as exc:
            raise EndpointUnusable(str(exc)) from exc
    return Resolved(url=url, secret=secret)
