"""Lead scoring models and each contact's score with its explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin, TimestampMixin


class ScoringModel(IdMixin, TimestampMixin, Base):
    """A scoring model from the project's scoring.yml: fit and engagement criteria, caps, decay, thresholds."""

    __tablename__ = "scoring_models"

    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="Last full rescore")


class ContactScore(IdMixin, Base):
    """A contact's score under one model, as of ``computed_at``. ``explanation`` lists every criterion that
    gave points: [{"criterion", "group", "kind" (fit/engagement), "points", "raw", "capped_by"}]."""

    __tablename__ = "contact_scores"
    __table_args__ = (
        UniqueConstraint("contact_id", "model_key", name="uq_contact_scores_contact_model"),
        Index("ix_contact_scores_model_total", "model_key", "total"),
    )

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    model_key: Mapped[str] = mapped_column(String(100))
    fit: Mapped[float] = mapped_column(Float, default=0.0)
    engagement: Mapped[float] = mapped_column(Float, default=0.0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    explanation: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    model_version: Mapped[int] = mapped_column(Integer, default=1)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # calc.signatures of the explanation's ingredients: a bulk rescore compares these instead of the JSON.
    signature: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
