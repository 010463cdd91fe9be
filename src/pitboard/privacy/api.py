"""REST routes for data-subject requests and the retention policy."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.privacy import requests, retention
from pitboard.privacy.export import document_bytes
from pitboard.settings import Settings

router = APIRouter(tags=["privacy"])


class PrivacyRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["export", "erasure"]
    email: str = Field(min_length=3, max_length=320)
    notes: str | None = None
    received_at: datetime | None = Field(default=None, description="When the request reached you (default: now)")


class PrivacyRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    subject_label: str
    contact_id: int | None
    requested_at: datetime
    due_at: datetime
    completed_at: datetime | None
    requested_by: str
    notes: str | None
    result: dict[str, Any]
    overdue: bool = False


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3)


class RetentionOut(BaseModel):
    policy: dict[str, Any]
    counts: dict[str, int]
    cutoffs: dict[str, datetime | None]


def _out(row: Any) -> PrivacyRequestOut:
    out = PrivacyRequestOut.model_validate(row)
    out.overdue = requests.is_overdue(row)
    return out


@router.post("/privacy/requests", response_model=PrivacyRequestOut, status_code=201)
def open_request(body: PrivacyRequestIn, request: Request, session: SessionDep, actor: ActorDep) -> PrivacyRequestOut:
    """Record a data-subject request the day it arrives; it is due one month later (GDPR Art. 12(3))."""
    settings: Settings = request.app.state.settings
    row = requests.open_request(session, kind=body.kind, email=body.email, actor=actor, settings=settings,
                                notes=body.notes, received_at=body.received_at)  # fmt: skip
    return _out(row)


@router.get("/privacy/requests", response_model=list[PrivacyRequestOut])
def list_requests(
    session: SessionDep, actor: ActorDep, status: str | None = None, kind: str | None = None,
    overdue: bool | None = None,
) -> list[PrivacyRequestOut]:  # fmt: skip
    actor.require("editor")  # the list names people: not for read-only keys
    return [_out(r) for r in requests.list_requests(session, status, kind, overdue=overdue)]


@router.get("/privacy/requests/{request_id}", response_model=PrivacyRequestOut)
def get_request(request_id: int, session: SessionDep, actor: ActorDep) -> PrivacyRequestOut:
    actor.require("editor")
    return _out(requests.get_request(session, request_id))


@router.post("/privacy/requests/{request_id}/export")
def complete_export(request_id: int, session: SessionDep, actor: ActorDep) -> Response:
    """Answer an access request: everything held about the person as one JSON document (the SHA-256 of
    exactly these bytes is recorded on the request)."""
    document = requests.complete_export(session, request_id=request_id, actor=actor)
    session.commit()  # recorded as answered before the answer leaves
    return Response(
        document_bytes(document), media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="privacy-request-{request_id}-export.json"'},
    )  # fmt: skip


@router.post("/privacy/requests/{request_id}/erase", response_model=PrivacyRequestOut)
def complete_erasure(request_id: int, session: SessionDep, actor: ActorDep) -> PrivacyRequestOut:
    """Erase the person: personal data removed from every table, events kept anonymised, the address
    suppressed by hash, a tombstone and an audit entry written."""
    requests.complete_erasure(session, request_id=request_id, actor=actor)
    return _out(requests.get_request(session, request_id))


@router.post("/privacy/requests/{request_id}/reject", response_model=PrivacyRequestOut)
def reject(request_id: int, body: RejectIn, session: SessionDep, actor: ActorDep) -> PrivacyRequestOut:
    return _out(requests.reject(session, request_id=request_id, reason=body.reason, actor=actor))


@router.get("/privacy/retention", response_model=RetentionOut)
def retention_plan(session: SessionDep, actor: ActorDep) -> RetentionOut:
    """The retention policy and what it would remove today."""
    actor.require("viewer")
    plan = retention.plan_retention(session)
    return RetentionOut(policy=plan.policy.model_dump(), counts=dict(plan.counts), cutoffs=dict(plan.cutoffs))


@router.put("/privacy/retention", response_model=RetentionOut)
def set_retention(body: dict[str, Any], session: SessionDep, actor: ActorDep) -> RetentionOut:
    retention.set_policy(session, body, actor)
    plan = retention.plan_retention(session)
    return RetentionOut(policy=plan.policy.model_dump(), counts=dict(plan.counts), cutoffs=dict(plan.cutoffs))
