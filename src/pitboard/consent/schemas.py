"""REST shapes for consent, suppression and audience export."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pitboard.consent.ledger import ConsentEntry


class PurposeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label: str
    description: str | None
    channels: list[str]
    regime: str
    double_opt_in: bool
    consent_text: str | None
    active: bool


class ConsentEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "phone"]
    purpose: str
    status: Literal["granted", "denied", "withdrawn"]
    source: str = "api"
    lawful_basis: str = "consent"
    consent_text: str | None = Field(default=None, description="The exact wording the person saw")
    policy_version: str | None = None
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = None
    occurred_at: datetime | None = None
    evidence: dict[str, Any] | None = None
    idempotency_key: str | None = Field(default=None, max_length=200)

    def to_entry(self) -> ConsentEntry:
        return ConsentEntry(**self.model_dump())


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[ConsentEntryIn] = Field(min_length=1, max_length=100)
    confirmed: bool = Field(
        default=False,
        description="The address was already confirmed (e.g. by your own double opt-in); skip ours",
    )


class ConsentRecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int
    channel: str
    purpose: str
    status: str
    lawful_basis: str
    source: str
    consent_text: str | None
    policy_version: str | None
    ip_address: str | None
    user_agent: str | None
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    evidence: dict[str, Any]


class ConsentStateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str
    purpose: str
    status: str
    lawful_basis: str
    source: str
    record_id: int
    changed_at: datetime


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subject_hash: str
    channel: str
    reason: str
    source: str
    note: str | None
    contact_id: int | None
    created_at: datetime
    created_by: str
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None


class ContactConsentOut(BaseModel):
    contact_id: int
    states: list[ConsentStateOut]
    history: list[ConsentRecordOut]
    suppressions: list[SuppressionOut]


class ConsentOutcomeOut(BaseModel):
    records: list[ConsentRecordOut]
    confirmation_message_id: int | None
    notes: list[str]


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320, description="Email address or phone number")
    channel: Literal["email", "sms", "phone"] = "email"
    reason: Literal["hard_bounce", "complaint", "unsubscribe", "manual", "invalid"]
    source: str = "api"
    note: str | None = None


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3)


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str | None = Field(default=None, description="One purpose, or all email purposes when empty")


class VerdictOut(BaseModel):
    contact_id: int
    allowed: bool
    reason: str


class AudienceExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["email", "sms", "phone"] = "email"
    purpose: str
    contact_ids: list[int] | None = Field(default=None, max_length=100_000)
    lifecycle_stage: str | None = None
    country: str | None = None
    account_id: int | None = None
