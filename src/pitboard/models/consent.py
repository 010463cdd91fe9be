"""Consent, suppression and data-subject requests.

The consent ledger is append-only: what a person agreed to, how and when is never rewritten (database
triggers refuse updates of its content; only the owning contact may change, when contacts merge).
``consent_states`` is the current state per contact, channel and purpose, derived from the ledger in the
same transaction as each append and rebuildable from it.

Suppressions are keyed by a salted hash of the address, not by contact, so they outlive erasure and a
re-imported address is still suppressed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin

CHANNELS = ("email", "sms", "phone")
CONSENT_STATUSES = ("granted", "denied", "withdrawn", "pending")
LAWFUL_BASES = ("consent", "legitimate_interest", "contract", "legal_obligation", "vital_interests", "public_task")
CONSENT_SOURCES = (
    "form", "import", "api", "preference_page", "double_opt_in", "unsubscribe", "admin", "tracking", "merge",
)  # fmt: skip
SUPPRESSION_REASONS = ("hard_bounce", "complaint", "unsubscribe", "manual", "erasure", "invalid")
PRIVACY_REQUEST_KINDS = ("export", "erasure")
PRIVACY_REQUEST_STATUSES = ("received", "completed", "rejected")


class ConsentPurpose(IdMixin, TimestampMixin, Base):
    """Why we contact someone (newsletter, product updates, ...): configurable in the project's privacy.yml.

    ``regime`` is ``opt_in`` (no record means no consent: GDPR, CASL) or ``opt_out`` (no record means we may,
    until they object: legitimate interest / CAN-SPAM style B2B mail).
    """

    __tablename__ = "consent_purposes"

    key: Mapped[str] = mapped_column(String(50), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSONType)
    regime: Mapped[str] = mapped_column(String(10), default="opt_in")
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_text: Mapped[str | None] = mapped_column(Text, doc="The wording shown when consent is asked")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ConsentRecord(IdMixin, Base):
    """One entry of the append-only consent ledger: the proof GDPR Art. 7(1) asks for."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_contact_occurred", "contact_id", "occurred_at"),)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    lawful_basis: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(30))
    consent_text: Mapped[str | None] = mapped_column(Text)
    policy_version: Mapped[str | None] = mapped_column(String(50))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(320))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class ConsentState(IdMixin, Base):
    """The latest ledger entry per contact, channel and purpose: what every send checks."""

    __tablename__ = "consent_states"
    __table_args__ = (
        UniqueConstraint("contact_id", "channel", "purpose", name="uq_consent_states_contact_channel_purpose"),
        Index("ix_consent_states_channel_purpose_status", "channel", "purpose", "status"),
    )

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    lawful_basis: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Suppression(IdMixin, Base):
    """An address we must not contact on a channel, keyed by a salted hash so it survives erasure."""

    __tablename__ = "suppressions"
    __table_args__ = (
        # One active suppression per address and channel; lifted ones stay as history.
        Index(
            "uq_suppressions_active",
            "subject_hash",
            "channel",
            unique=True,
            sqlite_where=text("lifted_at IS NULL"),
            postgresql_where=text("lifted_at IS NULL"),
        ),
    )

    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(320))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class PrivacyRequest(IdMixin, Base):
    """A data-subject request (access/export or erasure) and its progress; due one month after receipt."""

    __tablename__ = "privacy_requests"

    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The address as given; masked (j***@a***.com) once an erasure completes.
    subject_label: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(320))
    notes: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class ErasureTombstone(IdMixin, Base):
    """What remains of an erased person: no personal data, only that an erasure happened and what it removed."""

    __tablename__ = "erasure_tombstones"

    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    former_contact_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20), doc="request or retention")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("privacy_requests.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class SystemSetting(Base):
    """Installation-wide values kept in the database (the suppression hash salt, the retention policy)."""

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
