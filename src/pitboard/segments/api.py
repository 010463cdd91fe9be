"""REST routes for segments: definitions, previews, refreshes, members, history, static lists, export."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut
from pitboard.conditions import Condition, load_field_registry
from pitboard.kit.errors import ValidationFailed
from pitboard.models import Segment
from pitboard.segments import activation, members, service
from pitboard.segments.matching import preview as run_preview
from pitboard.segments.refresh import refresh_segments
from pitboard.segments.schemas import SegmentIn, SegmentPatch, SegmentSpec, SpecInvalid, SpecIssue, validate_spec

router = APIRouter(tags=["segments"])
RefreshWhen = Literal["queue", "now"]


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    name: str
    description: str | None
    entity: str
    kind: str
    condition: dict[str, Any] | None
    min_contacts: int
    origin: str
    active: bool
    member_count: int
    refreshed_at: datetime | None
    refresh_ms: float | None
    created_at: datetime
    updated_at: datetime
    file: str | None = Field(default=None, description="For project segments: the file that defines it")

    @classmethod
    def of(cls, row: Segment) -> SegmentOut:
        out = cls.model_validate(row)
        out.file = service.project_file(row.key) if row.origin == service.PROJECT else None
        return out


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    condition: dict[str, Any]
    entity: Literal["contact", "account"] = "contact"
    min_contacts: int = Field(default=1, ge=1, le=1_000_000)


class MemberOut(BaseModel):
    id: int
    label: str
    email: str | None = None
    company: str | None = None
    country: str | None = None
    lifecycle_stage: str | None = None
    domain: str | None = None
    matching_contacts: int | None = Field(default=None, description="Account previews: its matching contacts")
    entered_at: datetime | None = None
    entered_by: str | None = None


class PreviewOut(BaseModel):
    entity: str
    count: int
    members: list[MemberOut]
    took_ms: float


class RefreshOut(BaseModel):
    key: str
    member_count: int
    entered: int
    exited: int
    refresh_ms: float


class HistoryDayOut(BaseModel):
    day: date
    entered: int
    exited: int
    members: int


class MembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] = Field(default_factory=list, max_length=10_000, description="Contact ids (account ids for "
                           "account lists)")  # fmt: skip
    emails: list[str] = Field(default_factory=list, max_length=10_000, description="Contacts by email address")


class MemberChangeOut(BaseModel):
    changed: int = Field(description="Members added (or removed)")
    unchanged: int = Field(description="Already members (or not members)")
    not_found: list[str]


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(min_length=1, description="The consent purpose the export is for")
    channel: str = "email"


def _spec(session: SessionDep, body: SegmentIn) -> SegmentSpec:
    return service.parse_spec(session, body.model_dump())


@router.get("/segments", response_model=list[SegmentOut])
def list_segments(session: SessionDep, actor: ActorDep, include_inactive: bool = False) -> list[SegmentOut]:
    actor.require("viewer")
    return [SegmentOut.of(row) for row in service.list_segments(session, include_inactive=include_inactive)]


@router.post("/segments", response_model=SegmentOut, status_code=201)
def create_segment(body: SegmentIn, session: SessionDep, actor: ActorDep, refresh: RefreshWhen = "queue") -> SegmentOut:
    """Create a segment. Its members are computed by a background job, or before answering with ``refresh=now``."""
    row = service.create_segment(session, _spec(session, body), actor=actor, origin="api", refresh=refresh)
    return SegmentOut.of(row)


@router.post("/segments/preview", response_model=PreviewOut)
def preview_segment(body: PreviewIn, session: SessionDep, actor: ActorDep) -> PreviewOut:
    """Count and the first 20 members of a condition, without saving anything (one pass over the data)."""
    actor.require("viewer")
    # Validated as a whole definition, so the errors (with their paths) are those saving would give.
    spec = _validated_condition(session, body)
    result = run_preview(session, spec, entity=body.entity, min_contacts=body.min_contacts)
    return PreviewOut(
        entity=result.entity, count=result.count, took_ms=round(result.took_ms, 1),
        members=[MemberOut.model_validate(r, from_attributes=True) for r in result.rows],
    )  # fmt: skip


def _validated_condition(session: SessionDep, body: PreviewIn) -> Condition:
    data = {"key": "condition-preview", "name": "preview", "entity": body.entity, "min_contacts": body.min_contacts,
            "condition": body.condition}  # fmt: skip
    spec = validate_spec(data, load_field_registry(session))
    assert spec.condition is not None
    unknown = service.unknown_references(session, spec.dependencies)
    if unknown:
        raise SpecInvalid([SpecIssue("condition", f"in_segment {key} names no active segment") for key in unknown])
    return spec.condition


@router.get("/segments/{key}", response_model=SegmentOut)
def get_segment(key: str, session: SessionDep, actor: ActorDep) -> SegmentOut:
    actor.require("viewer")
    return SegmentOut.of(service.get_segment(session, key))


@router.put("/segments/{key}", response_model=SegmentOut)
def replace_segment(
    key: str, body: SegmentIn, session: SessionDep, actor: ActorDep, refresh: RefreshWhen = "queue"
) -> SegmentOut:
    """Replace a segment's definition (not for project segments: change their file and run pitboard apply)."""
    return SegmentOut.of(service.update_segment(session, key, _spec(session, body), actor=actor, refresh=refresh))


@router.patch("/segments/{key}", response_model=SegmentOut)
def patch_segment(
    key: str, body: SegmentPatch, session: SessionDep, actor: ActorDep, refresh: RefreshWhen = "queue"
) -> SegmentOut:
    return SegmentOut.of(service.patch_segment(session, key, body, actor=actor, refresh=refresh))


@router.delete("/segments/{key}", status_code=204)
def delete_segment(key: str, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_segment(session, key, actor=actor)
    return Response(status_code=204)


@router.post("/segments/{key}/refresh", response_model=list[RefreshOut])
def refresh_segment(key: str, session: SessionDep, actor: ActorDep, dependents: bool = False) -> list[RefreshOut]:
    """Fully refresh the segment now, after the segments it tests (and, with ``dependents``, those testing it)."""
    actor.require("editor")
    results = refresh_segments(session, [key], dependents=dependents)
    return [RefreshOut(key=r.key, member_count=r.member_count, entered=r.entered, exited=r.exited,
                       refresh_ms=round(r.refresh_ms, 1)) for r in results]  # fmt: skip


@router.get("/segments/{key}/members", response_model=PageOut[MemberOut])
def list_members(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    at: datetime | None = Query(default=None, description="Members at this instant instead of now"),
    cursor: str | None = None,
    limit: int = Depends(Limit()),
) -> PageOut[MemberOut]:
    actor.require("viewer")
    page = members.list_members(session, service.get_segment(session, key), cursor=cursor, limit=limit, at=at)
    return PageOut(items=[MemberOut.model_validate(r, from_attributes=True) for r in page.items],
                   next_cursor=page.next_cursor)  # fmt: skip


@router.get("/segments/{key}/history", response_model=list[HistoryDayOut])
def history(
    key: str, session: SessionDep, actor: ActorDep, days: int = Query(default=30, ge=1, le=366)
) -> list[HistoryDayOut]:
    """Per UTC day: stays entered, stays exited and the members at the end of the day."""
    actor.require("viewer")
    row = service.get_segment(session, key)
    return [
        HistoryDayOut.model_validate(d, from_attributes=True) for d in members.daily_history(session, row.id, days=days)
    ]


def _change(outcome: service.MemberChange) -> MemberChangeOut:
    return MemberChangeOut(changed=outcome.changed, unchanged=outcome.unchanged, not_found=outcome.not_found)


@router.post("/segments/{key}/members", response_model=MemberChangeOut)
def add_members(key: str, body: MembersIn, session: SessionDep, actor: ActorDep) -> MemberChangeOut:
    """Add members to a static list, by id or (contacts) email address."""
    return _change(service.add_members(session, key, ids=body.ids, emails=body.emails, entered_by="api", actor=actor))


@router.post("/segments/{key}/members/remove", response_model=MemberChangeOut)
def remove_members(key: str, body: MembersIn, session: SessionDep, actor: ActorDep) -> MemberChangeOut:
    return _change(service.remove_members(session, key, ids=body.ids, emails=body.emails, actor=actor))


@router.post("/segments/{key}/members/import", response_model=MemberChangeOut)
def import_members(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    body: bytes = Body(media_type="text/csv", description="CSV with an email or contact_id column"),
) -> MemberChangeOut:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the CSV must be UTF-8") from exc
    return _change(service.import_members_csv(session, key, text, actor=actor))


@router.post("/segments/{key}/export")
def export_segment(key: str, body: ExportIn, session: SessionDep, actor: ActorDep) -> StreamingResponse:
    """CSV of the segment's members who may be contacted on the channel for the purpose: the consent gate
    decides, as for every send. Who was left out and why: ``X-Pitboard-Excluded`` (JSON: reason → count)."""
    # Spool to a temporary file: the request's transaction ends before a streamed body would be read.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115
    try:
        summary = activation.export_segment_csv(session, key, spool, channel=body.channel, purpose=body.purpose,
                                                actor=actor)  # fmt: skip
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[str]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    headers = {
        "Content-Disposition": f'attachment; filename="segment-{key}-{body.purpose}-{body.channel}.csv"',
        "X-Pitboard-Included": str(summary.included),
        "X-Pitboard-Excluded": json.dumps(dict(summary.excluded), sort_keys=True),
    }
    return StreamingResponse(chunks(), media_type="text/csv", headers=headers)
