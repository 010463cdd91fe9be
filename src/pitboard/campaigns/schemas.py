from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

CAMPAIGN_TYPES = ("webinar", "paid_search", "paid_social", "display", "email", "event", "content", "partner", "other")
CAMPAIGN_STATUSES = ("planned", "in_progress", "live", "completed", "cancelled")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CampaignCreate(_In):
    name: str = Field(min_length=1, max_length=300)
    campaign_type: str
    channel: str | None = Field(default=None, max_length=50)
    status: str = "planned"
    start_date: datetime | None = None
    end_date: datetime | None = None
    budget: Decimal | None = Field(default=None, ge=0)
    actual_spend: Decimal | None = Field(default=None, ge=0)
    utm_campaign: str | None = Field(default=None, max_length=200)
    owner_email: str | None = Field(default=None, max_length=320)
    description: str | None = None


class CampaignUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    campaign_type: str | None = None
    channel: str | None = Field(default=None, max_length=50)
    status: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    budget: Decimal | None = Field(default=None, ge=0)
    actual_spend: Decimal | None = Field(default=None, ge=0)
    utm_campaign: str | None = Field(default=None, max_length=200)
    owner_email: str | None = Field(default=None, max_length=320)
    description: str | None = None


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    campaign_type: str
    channel: str | None
    status: str
    start_date: datetime | None
    end_date: datetime | None
    budget: Decimal | None
    actual_spend: Decimal | None
    utm_campaign: str | None
    owner_email: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime
