from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin


class Account(IdMixin, TimestampMixin, Base):
    """A company: the unit sales sells to and account-based reports group by."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(300), index=True)
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[float | None] = mapped_column(Numeric(18, 2))
    country: Mapped[str | None] = mapped_column(String(2), doc="ISO 3166-1 alpha-2")
    region: Mapped[str | None] = mapped_column(String(100))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("sales_users.id", ondelete="SET NULL"), index=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    registered_domain: Mapped[str | None] = mapped_column(String(253), index=True, doc="acme.co.uk for shop.acme.co.uk")
    # What normalisation changed ({field: value as received}) and where each value came from
    # ({field: {"source": ..., "at": ...}}), so data-quality work can be audited and undone.
    original_values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))
    field_sources: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))


class Contact(IdMixin, TimestampMixin, Base):
    """A person marketing knows about: a lead before sales accepts them, a contact after."""

    __tablename__ = "contacts"
    # AUTOINCREMENT on SQLite: without it a deleted (erased, merged) contact's id is handed to the next new
    # contact, and undoing a merge or matching records of an erased person would hit the wrong one.
    __table_args__ = (Index("ix_contacts_lower_email", "email_normalized"), {"sqlite_autoincrement": True})

    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    company_name: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2), index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("sales_users.id", ondelete="SET NULL"), index=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(50), default="subscriber", index=True)
    lead_source: Mapped[str | None] = mapped_column(String(100))
    custom: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    region: Mapped[str | None] = mapped_column(String(100), doc="ISO 3166-2 (US-CA) where known, else as given")
    # Facts derived by normalisation, stored so segments, scoring and routing can filter on them.
    seniority: Mapped[str | None] = mapped_column(String(20))
    job_function: Mapped[str | None] = mapped_column(String(30))
    email_domain: Mapped[str | None] = mapped_column(String(253), index=True)
    is_free_mail: Mapped[bool | None] = mapped_column(Boolean)
    # Lead-to-account matching: how the account was found (domain, name) or why none was (unmatched).
    account_match: Mapped[str | None] = mapped_column(String(20))
    account_match_reason: Mapped[str | None] = mapped_column(String(300))
    original_values: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))
    field_sources: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))


class Identity(IdMixin, Base):
    """One way of recognising a contact: an email, a user id, an anonymous id, a CRM record id.

    ``kind`` is ``email``, ``user_id``, ``anonymous_id`` or ``external:<system>`` (``external:salesforce``).
    A (kind, value) pair belongs to exactly one contact: that is what identity resolution resolves on.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_identities_kind_value"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomFieldDefinition(IdMixin, TimestampMixin, Base):
    """A typed custom field: values live in the entity's ``custom`` JSON, so adding one needs no migration."""

    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("entity", "name", name="uq_custom_field_definitions_entity_name"),)

    entity: Mapped[str] = mapped_column(String(50), doc="contact or account")
    name: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[str] | None] = mapped_column(JSONType)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)


class LifecycleStageChange(IdMixin, Base):
    """Every stage a contact entered and when, so funnels and stage-to-stage times can be measured."""

    __tablename__ = "lifecycle_stage_changes"
    __table_args__ = (Index("ix_lifecycle_stage_changes_contact_changed", "contact_id", "changed_at"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(50))
    to_stage: Mapped[str] = mapped_column(String(50), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(100), default="system")
