"""REST routes for the quarantine and data contracts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut
from pitboard.models import DataContract
from pitboard.quality import dedupe_service, quarantine

router = APIRouter(tags=["quarantine"])


class QuarantinedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str
    entity: str
    source_id: int | None
    import_run_id: int | None
    payload: dict[str, Any]
    reasons: list[str]
    status: str
    received_at: datetime
    resolved_at: datetime | None


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: dict[str, Any]


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


class ContractOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    entity: str
    source: str | None
    version: int
    active: bool
    applied_at: datetime
    definition: dict[str, Any]


@router.get("/quarantine", response_model=PageOut[QuarantinedOut])
def list_quarantine(
    session: SessionDep,
    _actor: ActorDep,
    status: str | None = "open",
    channel: str | None = None,
    entity: str | None = None,
    source_id: int | None = None,
    import_run_id: int | None = None,
    cursor: str | None = None,
    limit: int = Depends(Limit()),
) -> PageOut[QuarantinedOut]:
    f = quarantine.QuarantineFilter(status=status or None, channel=channel, entity=entity, source_id=source_id,
                                    import_run_id=import_run_id)  # fmt: skip
    page = quarantine.list_records(session, f, cursor=cursor, limit=limit)
    return PageOut(items=[QuarantinedOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/quarantine/{record_id}", response_model=QuarantinedOut)
def get_quarantined(record_id: int, session: SessionDep, _actor: ActorDep) -> QuarantinedOut:
    return QuarantinedOut.model_validate(quarantine.get(session, record_id))


@router.patch("/quarantine/{record_id}", response_model=QuarantinedOut)
def fix_quarantined(record_id: int, data: FixIn, session: SessionDep, actor: ActorDep) -> QuarantinedOut:
    return QuarantinedOut.model_validate(quarantine.fix(session, record_id, data.payload, actor=actor))


@router.post("/quarantine/{record_id}/replay", response_model=QuarantinedOut)
def replay_quarantined(record_id: int, session: SessionDep, actor: ActorDep) -> QuarantinedOut:
    return QuarantinedOut.model_validate(quarantine.replay(session, record_id, actor=actor))


@router.post("/quarantine/{record_id}/discard", response_model=QuarantinedOut)
def discard_quarantined(record_id: int, data: DiscardIn, session: SessionDep, actor: ActorDep) -> QuarantinedOut:
    return QuarantinedOut.model_validate(quarantine.discard(session, record_id, reason=data.reason, actor=actor))


@router.get("/contracts", response_model=list[ContractOut], tags=["data contracts"])
def list_contracts(session: SessionDep, _actor: ActorDep) -> list[ContractOut]:
    rows = session.scalars(select(DataContract).order_by(DataContract.name))
    return [ContractOut.model_validate(r) for r in rows]


class CandidateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    left_id: int
    right_id: int
    probability: float
    match_weight: float
    band: str
    explanation: list[Any]
    status: str
    decided_by: str | None
    decided_at: datetime | None
    merge_id: int | None


@router.get("/dedupe/candidates", response_model=list[CandidateOut], tags=["dedupe"])
def list_candidates(
    session: SessionDep, _actor: ActorDep, entity: str = "contact", limit: int = Depends(Limit())
) -> list[CandidateOut]:
    return [CandidateOut.model_validate(r) for r in dedupe_service.review_queue(session, entity=entity, limit=limit)]


@router.post("/dedupe/candidates/{candidate_id}/merge", response_model=CandidateOut, tags=["dedupe"])
def merge_candidate(candidate_id: int, session: SessionDep, actor: ActorDep) -> CandidateOut:
    return CandidateOut.model_validate(dedupe_service.decide(session, candidate_id, merge=True, actor=actor))


@router.post("/dedupe/candidates/{candidate_id}/reject", response_model=CandidateOut, tags=["dedupe"])
def reject_candidate(candidate_id: int, session: SessionDep, actor: ActorDep) -> CandidateOut:
    return CandidateOut.model_validate(dedupe_service.decide(session, candidate_id, merge=False, actor=actor))
