"""Versions of the applied ops-as-code project: what ``pitboard apply`` changed, when and by whom."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType, UTCDateTime
from pitboard.models.base import Base, IdMixin


class ProjectVersion(IdMixin, Base):
    """One ``pitboard apply``: the whole manifest as applied (so the next plan can diff against it and any
    version can be inspected later) and the changes it made."""

    __tablename__ = "project_versions"

    version: Mapped[int] = mapped_column(Integer, unique=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(320))
    checksum: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(Text)
