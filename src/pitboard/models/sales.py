from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pitboard.kit.db import JSONType
from pitboard.models.base import Base, IdMixin, TimestampMixin


class SalesUser(IdMixin, TimestampMixin, Base):
    """A seller leads and accounts can be assigned to (routing reads team, territory, capacity, hours)."""

    __tablename__ = "sales_users"

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    territory: Mapped[str | None] = mapped_column(String(100), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("sales_users.id", ondelete="SET NULL"))
    capacity: Mapped[int | None] = mapped_column(Integer, doc="Most open leads this person should hold")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # {"mon": [["09:00", "17:00"]], ...} in the person's own time zone.
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
