"""Sources and their write keys."""

from __future__ import annotations

import secrets

from sqlalchemy import select
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


def source_for_write_key(session: Session, write_key: str | None) -> Source:
    if not write_key:
        raise Unauthorized("send the source's write key as the Basic auth user name, X-Write-Key, or writeKey")
    source = session.scalar(select(Source).where(Source.write_key == write_key))
    if source is None or not source.enabled:
        raise Unauthorized("write key is not valid")
    return source


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))
