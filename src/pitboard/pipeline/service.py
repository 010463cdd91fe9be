"""Opportunities. ``is_closed`` / ``is_won`` are derived from the stage so they can never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.crud import get_or_404, keyset_page
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.kit.pagination import Page
from pitboard.kit.time import utcnow
from pitboard.models import Account, Campaign, Contact, Opportunity, SalesUser
from pitboard.pipeline.schemas import STAGES, OpportunityCreate, OpportunityUpdate

FIELDS = [
    "name", "account_id", "contact_id", "owner_id", "amount", "currency", "stage", "opened_at", "closed_at",
    "is_closed", "is_won", "source_campaign_id", "external_id",
]  # fmt: skip
_REFERENCES: dict[str, type[Any]] = {
    "account_id": Account, "contact_id": Contact, "owner_id": SalesUser, "source_campaign_id": Campaign,
}  # fmt: skip


def _check(session: Session, values: dict[str, Any]) -> None:
    for field, model in _REFERENCES.items():
        if values.get(field) is not None and session.get(model, values[field]) is None:
            raise ValidationFailed(f"{field} {values[field]} does not exist")
    if values.get("stage") is not None and values["stage"] not in STAGES:
        raise ValidationFailed(f"stage must be one of {', '.join(STAGES)}")
    if values.get("currency"):
        values["currency"] = values["currency"].upper()


def _derive_close(values: dict[str, Any], opened_at: datetime, closed_at: datetime | None) -> None:
    stage = values.get("stage")
    if stage is None:
        return
    values["is_closed"] = stage.startswith("closed_")
    values["is_won"] = stage == "closed_won"
    if values["is_closed"]:
        values["closed_at"] = values.get("closed_at") or closed_at or utcnow()
        if values["closed_at"] < opened_at:
            raise ValidationFailed("closed_at is before opened_at")
    else:
        values["closed_at"] = None


def _external_id_taken(session: Session, external_id: str | None, other_than: int | None = None) -> bool:
    if not external_id:
        return False
    stmt = select(Opportunity.id).where(Opportunity.external_id == external_id)
    if other_than is not None:
        stmt = stmt.where(Opportunity.id != other_than)
    return session.scalar(stmt) is not None


def create_opportunity(session: Session, data: OpportunityCreate, *, actor: Actor) -> Opportunity:
    actor.require("editor")
    values = data.model_dump()
    _check(session, values)
    values["opened_at"] = values["opened_at"] or utcnow()
    _derive_close(values, values["opened_at"], None)
    if _external_id_taken(session, values["external_id"]):
        raise Conflict(f"an opportunity with external_id {values['external_id']} already exists")
    opp = Opportunity(**values)
    session.add(opp)
    session.flush()
    audit.created_recorded(session, opp, actor=actor, entity_type="opportunity", fields=FIELDS)
    return opp


def get_opportunity(session: Session, opportunity_id: int) -> Opportunity:
    return get_or_404(session, Opportunity, opportunity_id, "opportunity")


def update_opportunity(session: Session, opportunity_id: int, data: OpportunityUpdate, *, actor: Actor) -> Opportunity:
    actor.require("editor")
    opp = get_opportunity(session, opportunity_id)
    values = data.model_dump(exclude_unset=True)
    for required in ("name", "amount", "currency", "stage"):
        if required in values and values[required] is None:
            raise ValidationFailed(f"{required} cannot be empty")
    _check(session, values)
    if "closed_at" in values and "stage" not in values:
        values["stage"] = opp.stage
    _derive_close(values, opp.opened_at, opp.closed_at)
    if _external_id_taken(session, values.get("external_id"), other_than=opportunity_id):
        raise Conflict(f"an opportunity with external_id {values['external_id']} already exists")
    audit.update_recorded(session, opp, values, actor=actor, entity_type="opportunity")
    return opp


def delete_opportunity(session: Session, opportunity_id: int, *, actor: Actor) -> None:
    actor.require("editor")
    audit.delete_recorded(
        session, get_opportunity(session, opportunity_id), actor=actor, entity_type="opportunity", label="name"
    )


@dataclass(frozen=True)
class OpportunityFilter:
    account_id: int | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    stage: str | None = None
    is_closed: bool | None = None
    is_won: bool | None = None
    opened_after: datetime | None = None
    opened_before: datetime | None = None
    min_amount: Decimal | None = None


def opportunity_query(f: OpportunityFilter) -> Select[Opportunity]:
    stmt = select(Opportunity)
    for field in ("account_id", "contact_id", "owner_id", "stage", "is_closed", "is_won"):
        value = getattr(f, field)
        if value is not None:
            stmt = stmt.where(getattr(Opportunity, field) == value)
    if f.opened_after:
        stmt = stmt.where(Opportunity.opened_at >= f.opened_after)
    if f.opened_before:
        stmt = stmt.where(Opportunity.opened_at < f.opened_before)
    if f.min_amount is not None:
        stmt = stmt.where(Opportunity.amount >= f.min_amount)
    return stmt


def list_opportunities(
    session: Session, f: OpportunityFilter, *, cursor: str | None = None, limit: int = 50
) -> Page[Opportunity]:
    return keyset_page(session, opportunity_query(f), Opportunity.id, cursor=cursor, limit=limit)
