"""REST routes around ingestion: sources and write keys, the event stream, import history, merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut
from pitboard.contacts.account_merge import undo_account_merge
from pitboard.contacts.merge import merge_history, undo_merge
from pitboard.contacts.schemas import AccountOut, ContactOut
from pitboard.events import sources
from pitboard.kit.crud import keyset_page
from pitboard.models import Event, ImportRun

router = APIRouter()


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str = "server"


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    write_key: str
    enabled: bool
    created_at: datetime
    last_event_at: datetime | None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str
    event_type: str
    name: str | None
    contact_id: int | None
    anonymous_id: str | None
    user_id: str | None
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    channel: str | None
    campaign_id: int | None
    source: str | None


class ImportRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    filename: str
    mapping: str | None
    source_name: str | None
    status: str
    actor: str
    rows_total: int
    created: int
    updated: int
    unchanged: int
    quarantined: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class MergeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    survivor_id: int
    merged_id: int
    reason: str
    actor: str
    merged_at: datetime
    undone_at: datetime | None


@router.get("/sources", response_model=list[SourceOut], tags=["sources"])
def list_sources(session: SessionDep, _actor: ActorDep) -> list[SourceOut]:
    return [SourceOut.model_validate(s) for s in sources.list_sources(session)]


@router.post("/sources", response_model=SourceOut, status_code=201, tags=["sources"])
def create_source(data: SourceIn, session: SessionDep, actor: ActorDep) -> SourceOut:
    return SourceOut.model_validate(sources.create_source(session, name=data.name, kind=data.kind, actor=actor))


@router.post("/sources/{source_id}/rotate-key", response_model=SourceOut, tags=["sources"])
def rotate_key(source_id: int, session: SessionDep, actor: ActorDep) -> SourceOut:
    return SourceOut.model_validate(sources.rotate_write_key(session, source_id=source_id, actor=actor))


@router.get("/events", response_model=PageOut[EventOut], tags=["events"])
def list_events(
    session: SessionDep,
    _actor: ActorDep,
    contact_id: int | None = None,
    source: str | None = None,
    name: str | None = Query(default=None, description="Event name"),
    after_id: int | None = Query(default=None, description="Only events stored after this id (live tail)"),
    cursor: str | None = None,
    limit: int = Depends(Limit()),
) -> PageOut[EventOut]:
    stmt = select(Event)
    if contact_id is not None:
        stmt = stmt.where(Event.contact_id == contact_id)
    if source:
        stmt = stmt.where(Event.source == source)
    if name:
        stmt = stmt.where(Event.name == name)
    if after_id is not None:
        stmt = stmt.where(Event.id > after_id)
    page = keyset_page(session, stmt, Event.id, cursor=cursor, limit=limit)
    return PageOut(items=[EventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/imports", response_model=list[ImportRunOut], tags=["imports"])
def list_imports(session: SessionDep, _actor: ActorDep, limit: int = Depends(Limit())) -> list[ImportRunOut]:
    rows = session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit))
    return [ImportRunOut.model_validate(r) for r in rows]


@router.get("/contacts/{contact_id}/merges", response_model=list[MergeOut], tags=["contacts"])
def list_merges(contact_id: int, session: SessionDep, _actor: ActorDep) -> list[MergeOut]:
    return [MergeOut.model_validate(m) for m in merge_history(session, contact_id)]


@router.post("/merges/{merge_id}/undo", response_model=ContactOut, tags=["contacts"])
def undo(merge_id: int, session: SessionDep, actor: ActorDep) -> ContactOut:
    actor.require("editor")
    return ContactOut.model_validate(undo_merge(session, merge_id=merge_id, actor=actor))


@router.post("/account-merges/{merge_id}/undo", response_model=AccountOut, tags=["accounts"])
def undo_account(merge_id: int, session: SessionDep, actor: ActorDep) -> AccountOut:
    return AccountOut.model_validate(undo_account_merge(session, merge_id=merge_id, actor=actor))
