from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.campaigns.schemas import CAMPAIGN_STATUSES, CAMPAIGN_TYPES, CampaignCreate, CampaignUpdate
from pitboard.kit.actor import Actor
from pitboard.kit.crud import get_or_404, keyset_page
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.kit.pagination import Page
from pitboard.models import Campaign

FIELDS = [
    "name", "campaign_type", "channel", "status", "start_date", "end_date", "budget", "actual_spend",
    "utm_campaign", "owner_email", "description",
]  # fmt: skip


def _check(values: dict[str, Any], current: Campaign | None = None) -> None:
    if values.get("campaign_type") is not None and values["campaign_type"] not in CAMPAIGN_TYPES:
        raise ValidationFailed(f"campaign_type must be one of {', '.join(CAMPAIGN_TYPES)}")
    if values.get("status") is not None and values["status"] not in CAMPAIGN_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(CAMPAIGN_STATUSES)}")
    start = values.get("start_date", current.start_date if current else None)
    end = values.get("end_date", current.end_date if current else None)
    if start and end and end < start:
        raise ValidationFailed("end_date is before start_date")


def _name_taken(session: Session, name: str, other_than: int | None = None) -> bool:
    stmt = select(Campaign.id).where(Campaign.name == name)
    if other_than is not None:
        stmt = stmt.where(Campaign.id != other_than)
    return session.scalar(stmt) is not None


def create_campaign(session: Session, data: CampaignCreate, *, actor: Actor) -> Campaign:
    actor.require("editor")
    values = data.model_dump()
    _check(values)
    if _name_taken(session, data.name):
        raise Conflict(f"a campaign named {data.name!r} already exists")
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    audit.created_recorded(session, campaign, actor=actor, entity_type="campaign", fields=FIELDS)
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    return get_or_404(session, Campaign, campaign_id, "campaign")


def update_campaign(session: Session, campaign_id: int, data: CampaignUpdate, *, actor: Actor) -> Campaign:
    actor.require("editor")
    campaign = get_campaign(session, campaign_id)
    values = data.model_dump(exclude_unset=True)
    for required in ("name", "campaign_type", "status"):
        if required in values and values[required] is None:
            raise ValidationFailed(f"{required} cannot be empty")
    _check(values, campaign)
    if "name" in values and _name_taken(session, values["name"], other_than=campaign_id):
        raise Conflict(f"a campaign named {values['name']!r} already exists")
    audit.update_recorded(session, campaign, values, actor=actor, entity_type="campaign")
    return campaign


def delete_campaign(session: Session, campaign_id: int, *, actor: Actor) -> None:
    actor.require("editor")
    audit.delete_recorded(
        session, get_campaign(session, campaign_id), actor=actor, entity_type="campaign", label="name"
    )


@dataclass(frozen=True)
class CampaignFilter:
    q: str | None = None
    status: str | None = None
    channel: str | None = None
    campaign_type: str | None = None


def campaign_query(f: CampaignFilter) -> Select[Campaign]:
    stmt = select(Campaign)
    if f.q:
        stmt = stmt.where(func.lower(Campaign.name).contains(f.q.strip().lower(), autoescape=True))
    if f.status:
        stmt = stmt.where(Campaign.status == f.status)
    if f.channel:
        stmt = stmt.where(Campaign.channel == f.channel)
    if f.campaign_type:
        stmt = stmt.where(Campaign.campaign_type == f.campaign_type)
    return stmt


def list_campaigns(
    session: Session, f: CampaignFilter, *, cursor: str | None = None, limit: int = 50
) -> Page[Campaign]:
    return keyset_page(session, campaign_query(f), Campaign.id, cursor=cursor, limit=limit)
