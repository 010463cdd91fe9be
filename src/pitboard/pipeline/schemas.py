from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

OPEN_STAGES = ("discovery", "qualification", "solution", "proposal", "negotiation")
CLOSED_STAGES = ("closed_won", "closed_lost")
STAGES = OPEN_STAGES + CLOSED_STAGES


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OpportunityCreate(_In):
    name: str = Field(min_length=1, max_length=300)
    account_id: int | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    amount: Decimal = Field(default=Decimal(0), ge=0)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    stage: str = "discovery"
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    source_campaign_id: int | None = None
    external_id: str | None = Field(default=None, max_length=100)


class OpportunityUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    account_id: int | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    amount: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    stage: str | None = None
    closed_at: datetime | None = None
    source_campaign_id: int | None = None
    external_id: str | None = Field(default=None, max_length=100)


class OpportunityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    account_id: int | None
    contact_id: int | None
    owner_id: int | None
    amount: Decimal
    currency: str
    stage: str
    opened_at: datetime
    closed_at: datetime | None
    is_closed: bool
    is_won: bool
    source_campaign_id: int | None
    external_id: str | None
    created_at: datetime
    updated_at: datetime
