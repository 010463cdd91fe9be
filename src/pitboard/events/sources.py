"""Sources and their write keys."""

from __future__ import annotations

import secrets
import threading
import time

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Source

SOURCE_KINDS = ("website", "server", "mobile", "crm", "import", "other")


def create_source(session: Session, *, name: str, kind: str, actor: Actor) -> Source:
    actor.require("admin")
    if kind not in SOURCE_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(SOURCE_KINDS)}")
    if not name.strip():
        raise ValidationFailed("a source needs a name")
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(f"a source named {name!r} already exists")
    source = Source(
        name=name.strip(), kind=kind, write_key=secrets.token_urlsafe(24), enabled=True, created_at=utcnow()
    )
    session.add(source)
    session.flush()
    audit.record(session, actor=actor, action="create", entity_type="source", entity_id=source.id,
                 changes={"name": [None, source.name], "kind": [None, kind]})  # fmt: skip
    return source


def rotate_write_key(session: Session, *, source_id: int, actor: Actor) -> Source:
    actor.require("admin")
    source = session.get(Source, source_id)
    if source is None:
        raise NotFound(f"source {source_id} does not exist")
    source.write_key = secrets.token_urlsafe(24)
    audit.record(session, actor=actor, action="rotate_key", entity_type="source", entity_id=source.id, changes={})
    return source


_KEY_CACHE_SECONDS = 5.0
_key_cache: dict[tuple[str, str], tuple[float, int | None]] = {}
_key_lock = threading.Lock()


def source_id_for_write_key(engine: Engine, write_key: str | None) -> int:
    """The source a write key belongs to, remembered for a few seconds.

    Tracking traffic is many small requests with the same few keys; caching the look-up keeps it out
    of the write transaction. A rotated or disabled key stops working within ``_KEY_CACHE_SECONDS``
    (and at once in the transaction, which re-reads the source and checks ``enabled``).
    """
    if not write_key:
        raise Unauthorized("send the source's write key as the Basic auth user name, X-Write-Key, or writeKey")
    cache_key = (str(engine.url), write_key)
    now = time.monotonic()
    with _key_lock:
        hit = _key_cache.get(cache_key)
    if hit is None or hit[0] < now:
        with engine.connect() as conn:
            row = conn.execute(select(Source.id, Source.enabled).where(Source.write_key == write_key)).first()
        hit = (now + _KEY_CACHE_SECONDS, row.id if row is not None and row.enabled else None)
        with _key_lock:
            _key_cache[cache_key] = hit
    if hit[1] is None:
        raise Unauthorized("write key is not valid")
    return hit[1]


def source_for_write_key(session: Session, write_key: str | None) -> Source:
    if not write_key:
        raise Unauthorized("send the source's write key as the Basic auth user name, X-Write-Key, or writeKey")
    source = session.scalar(select(Source).where(Source.write_key == write_key))
    if source is None or not source.enabled:
        raise Unauthorized("write key is not valid")
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))
