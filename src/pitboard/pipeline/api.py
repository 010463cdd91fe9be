"""REST routes for opportunities."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Response

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut
from pitboard.pipeline import service
from pitboard.pipeline.schemas import OpportunityCreate, OpportunityOut, OpportunityUpdate

router = APIRouter(tags=["opportunities"])


@router.get("/opportunities", response_model=PageOut[OpportunityOut])
def list_opportunities(
    session: SessionDep,
    _actor: ActorDep,
    account_id: int | None = None,
    contact_id: int | None = None,
    owner_id: int | None = None,
    stage: str | None = None,
    is_closed: bool | None = None,
    is_won: bool | None = None,
    opened_after: datetime | None = None,
    opened_before: datetime | None = None,
    min_amount: Decimal | None = None,
    cursor: str | None = None,
    limit: int = Depends(Limit()),
) -> PageOut[OpportunityOut]:
    f = service.OpportunityFilter(
        account_id=account_id, contact_id=contact_id, owner_id=owner_id, stage=stage, is_closed=is_closed,
        is_won=is_won, opened_after=opened_after, opened_before=opened_before, min_amount=min_amount,
    )  # fmt: skip
    page = service.list_opportunities(session, f, cursor=cursor, limit=limit)
    return PageOut(items=[OpportunityOut.model_validate(o) for o in page.items], next_cursor=page.next_cursor)


@router.post("/opportunities", response_model=OpportunityOut, status_code=201)
def create_opportunity(data: OpportunityCreate, session: SessionDep, actor: ActorDep) -> OpportunityOut:
    return OpportunityOut.model_validate(service.create_opportunity(session, data, actor=actor))


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut)
def get_opportunity(opportunity_id: int, session: SessionDep, _actor: ActorDep) -> OpportunityOut:
    return OpportunityOut.model_validate(service.get_opportunity(session, opportunity_id))


@router.patch("/opportunities/{opportunity_id}", response_model=OpportunityOut)
def update_opportunity(
    opportunity_id: int, data: OpportunityUpdate, session: SessionDep, actor: ActorDep
) -> OpportunityOut:
    return OpportunityOut.model_validate(service.update_opportunity(session, opportunity_id, data, actor=actor))


@router.delete("/opportunities/{opportunity_id}", status_code=204)
def delete_opportunity(opportunity_id: int, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_opportunity(session, opportunity_id, actor=actor)
    return Response(status_code=204)
