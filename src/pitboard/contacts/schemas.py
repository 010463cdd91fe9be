"""API shapes for contacts, accounts and custom field definitions (separate from the ORM tables)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ContactCreate(_In):
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    company_name: str | None = Field(default=None, max_length=300)
    country: str | None = Field(default=None, max_length=100, description="ISO code or name; stored as ISO 3166-1")
    region: str | None = Field(default=None, max_length=100, description="State or province; ISO 3166-2 where known")
    city: str | None = Field(default=None, max_length=100)
    account_id: int | None = None
    owner_id: int | None = None
    lifecycle_stage: str = "subscriber"
    lead_source: str | None = Field(default=None, max_length=100)
    custom: dict[str, Any] = Field(default_factory=dict)


class ContactUpdate(_In):
    email: str | None = Field(default=None, max_length=320)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    company_name: str | None = Field(default=None, max_length=300)
    country: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    account_id: int | None = None
    owner_id: int | None = None
    lifecycle_stage: str | None = None
    lead_source: str | None = Field(default=None, max_length=100)
    custom: dict[str, Any] | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    phone: str | None
    company_name: str | None
    country: str | None
    region: str | None
    city: str | None
    account_id: int | None
    owner_id: int | None
    lifecycle_stage: str
    lead_source: str | None
    custom: dict[str, Any]
    seniority: str | None
    job_function: str | None
    email_domain: str | None
    is_free_mail: bool | None
    account_match: str | None
    account_match_reason: str | None
    original_values: dict[str, Any]
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime


class AccountCreate(_In):
    name: str = Field(min_length=1, max_length=300)
    domain: str | None = Field(default=None, max_length=253)
    industry: str | None = Field(default=None, max_length=100)
    employee_count: int | None = Field(default=None, ge=0)
    annual_revenue: Decimal | None = Field(default=None, ge=0)
    country: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    owner_id: int | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class AccountUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    domain: str | None = Field(default=None, max_length=253)
    industry: str | None = Field(default=None, max_length=100)
    employee_count: int | None = Field(default=None, ge=0)
    annual_revenue: Decimal | None = Field(default=None, ge=0)
    country: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    owner_id: int | None = None
    custom: dict[str, Any] | None = None


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    domain: str | None
    registered_domain: str | None
    industry: str | None
    employee_count: int | None
    annual_revenue: Decimal | None
    country: str | None
    region: str | None
    owner_id: int | None
    custom: dict[str, Any]
    original_values: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CustomFieldCreate(_In):
    entity: str = Field(description="contact or account")
    name: str
    label: str
    field_type: str
    options: list[str] | None = None
    required: bool = False
    description: str | None = None


class CustomFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    entity: str
    name: str
    label: str
    field_type: str
    options: list[str] | None
    required: bool
    description: str | None
