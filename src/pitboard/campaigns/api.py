"""REST routes for campaigns."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.api.schemas import Limit, PageOut
from pitboard.campaigns import service
from pitboard.campaigns.schemas import CampaignCreate, CampaignOut, CampaignUpdate

router = APIRouter(tags=["campaigns"])


@router.get("/campaigns", response_model=PageOut[CampaignOut])
def list_campaigns(
    session: SessionDep,
    _actor: ActorDep,
    q: str | None = Query(default=None, description="Search the name"),
    status: str | None = None,
    channel: str | None = None,
    campaign_type: str | None = None,
    cursor: str | None = None,
    limit: int = Depends(Limit()),
) -> PageOut[CampaignOut]:
    f = service.CampaignFilter(q=q, status=status, channel=channel, campaign_type=campaign_type)
    page = service.list_campaigns(session, f, cursor=cursor, limit=limit)
    return PageOut(items=[CampaignOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def create_campaign(data: CampaignCreate, session: SessionDep, actor: ActorDep) -> CampaignOut:
    return CampaignOut.model_validate(service.create_campaign(session, data, actor=actor))


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: int, session: SessionDep, _actor: ActorDep) -> CampaignOut:
    return CampaignOut.model_validate(service.get_campaign(session, campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut)
def update_campaign(campaign_id: int, data: CampaignUpdate, session: SessionDep, actor: ActorDep) -> CampaignOut:
    return CampaignOut.model_validate(service.update_campaign(session, campaign_id, data, actor=actor))


@router.delete("/campaigns/{campaign_id}", status_code=204)
def delete_campaign(campaign_id: int, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_campaign(session, campaign_id, actor=actor)
    return Response(status_code=204)
