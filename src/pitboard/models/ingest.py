"""Where data comes from (sources with write keys) and how identities were merged."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin


class Source(IdMixin, Base):
    """A sender of events (website, product, CRM sync). Its write key is public by design
    (it ships in browser JavaScript), so it is stored as is and shown in the UI."""

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(50), default="server", doc="website, server, mobile, crm, import")
    write_key: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountIdentity(IdMixin, Base):
    """A way of recognising an account: a Segment ``groupId``, a CRM id (``external:salesforce``)."""

    __tablename__ = "account_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_account_identities_kind_value"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContactMerge(IdMixin, Base):
    """One contact folded into another, with what is needed to undo it.

    ``moved`` lists the ids of identities and events re-pointed from the merged contact, and
    ``merged_snapshot`` its fields before the merge, so an undo restores exactly what was there.
    """

    __tablename__ = "contact_merges"
    __table_args__ = (Index("ix_contact_merges_survivor", "survivor_id"),)

    survivor_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(doc="The id the merged contact had; restored on undo")
    reason: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(320))
    merged_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountMerge(IdMixin, Base):
    """One account folded into another, with what is needed to undo it (like :class:`ContactMerge`)."""

    __tablename__ = "account_merges"
    __table_args__ = (Index("ix_account_merges_survivor", "survivor_id"),)

    survivor_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(doc="The id the merged account had; restored on undo")
    reason: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(320))
    merged_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    moved: Mapped[dict[str, Any]] = mapped_column(JSONType)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QuarantinedRecord(IdMixin, Base):
    """Input we could not accept as it is, kept whole with every reason so it can be fixed and replayed.

    Nothing that reaches pitboard is dropped silently: malformed tracking messages and rows that break
    a source's data contract land here.
    """

    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_status_received", "status", "received_at"),)

    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(50), doc="tracking_api or import")
    entity: Mapped[str] = mapped_column(String(50), doc="events, contacts, accounts, opportunities, campaign_spend")
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reasons: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open, replayed, discarded")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DataContract(IdMixin, Base):
    """An applied input standard from the project's ``contracts/`` folder (see quality/contracts.py)."""

    __tablename__ = "data_contracts"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    entity: Mapped[str] = mapped_column(String(50))
    source: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportRun(IdMixin, Base):
    """One bulk import: what came in, how it was mapped, and what became of every row."""

    __tablename__ = "import_runs"

    entity: Mapped[str] = mapped_column(String(50))
    filename: Mapped[str] = mapped_column(String(500))
    mapping: Mapped[str | None] = mapped_column(String(200), doc="preset name or mapping file")
    system: Mapped[str] = mapped_column(String(100), default="import", doc="external ids are external:<system>")
    source_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="running", doc="running, completed, failed")
    actor: Mapped[str] = mapped_column(String(320))
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CampaignSpend(IdMixin, Base):
    """Money spent on a campaign on one day in one channel (from ad platforms or a CSV)."""

    __tablename__ = "campaign_spend"
    __table_args__ = (
        UniqueConstraint("campaign_id", "spend_date", "channel", name="uq_campaign_spend_campaign_day_channel"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    spend_date: Mapped[date] = mapped_column(Date, index=True)
    channel: Mapped[str] = mapped_column(String(50), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    source: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DedupeCandidate(IdMixin, Base):
    """A pair of records that may be one: merged automatically above the auto-merge threshold, or waiting
    here for a person to decide (the human review point), with the matcher's explanation."""

    __tablename__ = "dedupe_candidates"
    __table_args__ = (
        UniqueConstraint("entity", "left_id", "right_id", name="uq_dedupe_candidates_pair"),
        Index("ix_dedupe_candidates_status", "entity", "status"),
    )

    entity: Mapped[str] = mapped_column(String(20), doc="contact or account")
    left_id: Mapped[int] = mapped_column(Integer)
    right_id: Mapped[int] = mapped_column(Integer)
    probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20), doc="auto or review")
    explanation: Mapped[list[Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open, merged, rejected")
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merge_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QualitySnapshot(IdMixin, Base):
    """One data-quality measure on one day: per dataset (field empty) or per field, 0..1."""

    __tablename__ = "quality_snapshots"
    __table_args__ = (
        UniqueConstraint("taken_on", "entity", "field", "metric", name="uq_quality_snapshots_day_measure"),
    )

    taken_on: Mapped[date] = mapped_column(Date, index=True)
    entity: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(100), default="", doc="empty for the whole dataset")
    metric: Mapped[str] = mapped_column(String(20), doc="completeness, validity, uniqueness, freshness, overall")
    value: Mapped[float] = mapped_column(Float)
    records: Mapped[int] = mapped_column(Integer)
