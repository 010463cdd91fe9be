"""Lead scoring models and each contact's score with its explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import BigIntPK, JSONType, UTCDateTime
from pitboard.kit.time import utcnow
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


class ScoringModelVersion(Base):
    """Every applied definition of a scoring model, one row per version: a stored score is explained with the
    definition it was computed under, also while a rescore under a newer one is still running."""

    __tablename__ = "scoring_model_versions"

    model_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactScore(Base):
    """A contact's score under one model, as of ``computed_at``, with the facts it was computed from
    (``scoring.codec``): which fit criteria matched, each engagement criterion's points and occurrences. The
    explanation is rendered from them on read, with the model version the row names.

    On PostgreSQL the table is partitioned by model (LIST on ``model_key``; rows of a model without its own
    partition go to ``contact_scores_default``), so a full rescore loads a model's rows into a fresh table and
    swaps it in (see scoring/store.py). On SQLite it is a WITHOUT ROWID table keyed by contact and model.
    """

    __tablename__ = "contact_scores"
    __table_args__ = {"postgresql_partition_by": "LIST (model_key)", "sqlite_with_rowid": False}

    contact_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    model_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    fit: Mapped[float] = mapped_column(Float, default=0.0)
    engagement: Mapped[float] = mapped_column(Float, default=0.0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    # NULL for a row migrated from before facts were stored: explained again by its model's next rescore.
    facts: Mapped[bytes | None] = mapped_column(LargeBinary)
    model_version: Mapped[int] = mapped_column(Integer, default=1)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # calc.signatures of the explanation's ingredients: a bulk rescore compares these instead of the facts.
    signature: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


SCORE_PARTITION_PREFIX = "contact_scores_"


def not_a_score_partition(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: the partitions of ``contact_scores`` (PostgreSQL) are made at run time, one
    per scored model, and are not part of the schema the models describe."""
    return not (type_ == "table" and name is not None and name.startswith(SCORE_PARTITION_PREFIX))
