"""Request-scoped dependencies: the database session (the request owns the transaction) and the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pitboard.auth import service as auth
from pitboard.kit.actor import Actor
from pitboard.kit.db import session_factory
from pitboard.kit.errors import Unauthorized


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed after the handler returns, rolled back on error."""
    session = session_factory(get_engine(request))()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def api_actor(request: Request, session: SessionDep) -> Actor:
    secret = _bearer(request)
    if not secret:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    key = auth.resolve_api_key(session, secret)
    return Actor(name=f"api-key:{key.prefix}", interface="api", role=key.role)


ActorDep = Annotated[Actor, Depends(api_actor)]
