"""REST routes for campaign operations and the work board.

- ``/board``: the board, work items, moves (WIP limits, recorded overrides), blocked flags, flow metrics;
- ``/campaign-ops``: intake, a campaign's checklist, approvals, budget and go-live;
- ``/naming``: name generation and checks, the UTM link builder, the audit of imported UTMs and spend.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.kit.errors import ValidationFailed
from pitboard.models.workboard import ITEM_TYPES, WorkItem
from pitboard.workboard import board, campaign_ops, flow, utm_audit
from pitboard.workboard.campaign_ops import IntakeIn
from pitboard.workboard.naming import build_utm_url, check_name, check_utm, generate_name

router = APIRouter(tags=["workboard"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    item_type: str
    description: str | None
    column_key: str
    priority: str
    service_tier: str
    blocked: bool
    blocked_reason: str | None
    owner_email: str | None
    requested_by: str | None
    campaign_id: int | None
    created_at: datetime
    column_entered_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    due_at: datetime | None


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    from_column: str | None
    to_column: str | None
    actor: str
    wip_override: bool
    note: str | None


class ItemDetailOut(ItemOut):
    transitions: list[TransitionOut] = Field(default_factory=list)


class ColumnOut(BaseModel):
    key: str
    name: str
    kind: str
    wip_limit: int | None
    count: int
    items: list[ItemOut]


class ItemIn(_In):
    title: str = Field(min_length=1, max_length=300)
    item_type: Literal["campaign", "report", "data_fix", "tooling", "other"]
    description: str | None = Field(default=None, max_length=10_000)
    priority: Literal["urgent", "high", "normal", "low"] = "normal"
    service_tier: Literal["self_service", "standard", "project"] = "standard"
    owner_email: EmailStr | None = None


class ItemPatch(_In):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    priority: Literal["urgent", "high", "normal", "low"] | None = None
    service_tier: Literal["self_service", "standard", "project"] | None = None
    owner_email: EmailStr | None = None


class MoveIn(_In):
    column: str = Field(min_length=1, max_length=50)
    override: bool = Field(default=False, description="Move past the WIP limit; needs a reason, which is recorded")
    reason: str | None = Field(default=None, max_length=500)


class BlockIn(_In):
    blocked: bool
    reason: str | None = Field(default=None, max_length=500)


@router.get("/board", response_model=list[ColumnOut])
def get_board(session: SessionDep, actor: ActorDep, item_type: str | None = None) -> list[ColumnOut]:
    actor.require("viewer")
    if item_type is not None and item_type not in ITEM_TYPES:
        raise ValidationFailed(f"item_type must be one of {', '.join(ITEM_TYPES)}")
    return [
        ColumnOut(key=v.column.key, name=v.column.name, kind=v.column.kind, wip_limit=v.column.wip_limit,
                  count=v.count, items=[ItemOut.model_validate(i) for i in v.items])
        for v in board.board_view(session, item_type=item_type)
    ]  # fmt: skip


@router.post("/board/items", response_model=ItemOut, status_code=201)
def create_item(body: ItemIn, session: SessionDep, actor: ActorDep) -> ItemOut:
    item = board.create_item(session, actor=actor, **body.model_dump())
    return ItemOut.model_validate(item)


def _detail(session: SessionDep, item: WorkItem) -> ItemDetailOut:
    out = ItemDetailOut.model_validate(item)
    out.transitions = [TransitionOut.model_validate(t) for t in board.transitions(session, item.id)]
    return out


@router.get("/board/items/{item_id}", response_model=ItemDetailOut)
def get_item(item_id: int, session: SessionDep, actor: ActorDep) -> ItemDetailOut:
    actor.require("viewer")
    return _detail(session, board.get_item(session, item_id))


@router.patch("/board/items/{item_id}", response_model=ItemOut)
def patch_item(item_id: int, body: ItemPatch, session: SessionDep, actor: ActorDep) -> ItemOut:
    return ItemOut.model_validate(board.update_item(session, item_id, body.model_dump(exclude_unset=True), actor=actor))


@router.post("/board/items/{item_id}/move", response_model=ItemDetailOut)
def move_item(item_id: int, body: MoveIn, session: SessionDep, actor: ActorDep) -> ItemDetailOut:
    """Move to a column. Into a column at its WIP limit: 409, unless ``override`` with a ``reason``."""
    item = board.move_item(session, item_id, body.column, actor=actor, override=body.override, reason=body.reason)
    return _detail(session, item)


@router.post("/board/items/{item_id}/block", response_model=ItemOut)
def block_item(item_id: int, body: BlockIn, session: SessionDep, actor: ActorDep) -> ItemOut:
    return ItemOut.model_validate(board.set_blocked(session, item_id, body.blocked, actor=actor, reason=body.reason))


@router.get("/board/flow")
def get_flow(
    session: SessionDep,
    actor: ActorDep,
    days: int = Query(default=90, ge=1, le=730),
    item_type: str | None = None,
) -> dict[str, Any]:
    """Lead and cycle time, throughput, work item age, blocked time, flow efficiency, time to market (days)."""
    actor.require("viewer")
    return flow.flow_report(session, days=days, item_type=item_type).to_dict()


# --- campaign operations -------------------------------------------------------------------------


class OpsOut(BaseModel):
    campaign_id: int
    name: str
    campaign_type: str
    status: str
    stage: str
    objective: str
    audience_segment: str
    consent_purpose: str | None
    success_metrics: list[dict[str, Any]]
    owner_email: str
    briefed_at: datetime
    live_at: datetime | None
    work_item_id: int | None
    ready: bool
    blocking: list[str]
    checklist: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    budget: list[dict[str, Any]]


def _ops_out(session: SessionDep, campaign_id: int) -> OpsOut:
    from pitboard.campaigns.service import get_campaign

    ops = campaign_ops.get_ops(session, campaign_id)
    c = get_campaign(session, campaign_id)
    state = campaign_ops.readiness(session, campaign_id)
    return OpsOut(
        campaign_id=c.id, name=c.name, campaign_type=c.campaign_type, status=c.status, stage=ops.stage,
        objective=ops.objective, audience_segment=ops.audience_segment, consent_purpose=ops.consent_purpose,
        success_metrics=ops.success_metrics, owner_email=ops.owner_email, briefed_at=ops.briefed_at,
        live_at=ops.live_at, work_item_id=ops.work_item_id, ready=state.ready, blocking=state.reasons(),
        checklist=[{"key": i.key, "label": i.label, "check": i.check, "blocking": i.blocking, "status": i.status,
                    "checked_by": i.checked_by, "checked_at": i.checked_at, "note": i.note, "evidence": i.evidence}
                   for i in campaign_ops.checklist(session, campaign_id)],
        approvals=[{"stage": s.stage, "status": s.status, "approvers": s.approvers, "reviewers": s.reviewers,
                    "sla_hours": s.sla_hours, "opened_at": s.opened_at, "due_at": s.due_at,
                    "decided_at": s.decided_at, "decided_by": s.decided_by}
                   for s in campaign_ops.approval_steps(session, campaign_id)],
        decisions=[{"at": d.at, "actor": d.actor, "role": d.role, "decision": d.decision, "comment": d.comment}
                   for d in campaign_ops.decisions(session, campaign_id)],
        budget=[{"channel": r.channel, "planned": str(r.planned), "committed": str(r.committed),
                 "actual": str(r.actual), "remaining": str(r.remaining), "currency": r.currency, "over": r.over}
                for _, r in campaign_ops.budget(session, campaign_id)],
    )  # fmt: skip


@router.post("/campaign-ops/intake", response_model=OpsOut, status_code=201)
def intake(body: IntakeIn, session: SessionDep, actor: ActorDep) -> OpsOut:
    """A campaign request; every field of the brief is required. Creates the campaign and its work item."""
    ops = campaign_ops.submit_intake(session, body, actor=actor)
    return _ops_out(session, ops.campaign_id)


@router.get("/campaign-ops/{campaign_id}", response_model=OpsOut)
def get_ops(campaign_id: int, session: SessionDep, actor: ActorDep) -> OpsOut:
    actor.require("viewer")
    return _ops_out(session, campaign_id)


class CheckIn(_In):
    status: Literal["open", "done", "failed", "waived"]
    note: str | None = Field(default=None, max_length=1000)


@router.post("/campaign-ops/{campaign_id}/checklist/{key}", response_model=OpsOut)
def set_check(campaign_id: int, key: str, body: CheckIn, session: SessionDep, actor: ActorDep) -> OpsOut:
    campaign_ops.set_check(session, campaign_id, key, body.status, actor=actor, note=body.note)
    return _ops_out(session, campaign_id)


@router.post("/campaign-ops/{campaign_id}/checklist/{key}/run", response_model=OpsOut)
def run_check(campaign_id: int, key: str, session: SessionDep, actor: ActorDep) -> OpsOut:
    """Run an automatic check (UTM tagging, audience QA with counts and consent) and store its evidence."""
    campaign_ops.run_check(session, campaign_id, key, actor=actor)
    return _ops_out(session, campaign_id)


class DecisionIn(_In):
    decision: Literal["approve", "reject", "comment"]
    comment: str | None = Field(default=None, max_length=5000)
    stage: str | None = Field(default=None, description="Comment on another stage than the pending one")
    on_behalf_of: EmailStr | None = Field(
        default=None, description="Admin keys only: record the decision of this named approver or reviewer"
    )


@router.post("/campaign-ops/{campaign_id}/decisions", response_model=OpsOut)
def decide(campaign_id: int, body: DecisionIn, session: SessionDep, actor: ActorDep) -> OpsOut:
    """Approvers decide, reviewers comment. An API key is not a person: an admin key records a named person's
    decision with ``on_behalf_of`` (the audit log keeps the key that did it)."""
    if body.on_behalf_of is None:
        raise ValidationFailed("on_behalf_of: name the approver or reviewer whose decision this is")
    campaign_ops.decide(session, campaign_id, body.decision, actor=actor, comment=body.comment, stage=body.stage,
                        person=str(body.on_behalf_of))  # fmt: skip
    return _ops_out(session, campaign_id)


class NoteIn(_In):
    note: str | None = Field(default=None, max_length=1000)


@router.post("/campaign-ops/{campaign_id}/resubmit", response_model=OpsOut)
def resubmit(campaign_id: int, session: SessionDep, actor: ActorDep, body: NoteIn | None = None) -> OpsOut:
    campaign_ops.resubmit(session, campaign_id, actor=actor, note=body.note if body else None)
    return _ops_out(session, campaign_id)


@router.post("/campaign-ops/{campaign_id}/go-live", response_model=OpsOut)
def go_live(campaign_id: int, session: SessionDep, actor: ActorDep) -> OpsOut:
    """409 with the open blocking checklist items and missing approvals, or the campaign is live."""
    campaign_ops.go_live(session, campaign_id, actor=actor)
    return _ops_out(session, campaign_id)


class BudgetIn(_In):
    planned: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    committed: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


@router.put("/campaign-ops/{campaign_id}/budget/{channel}", response_model=OpsOut)
def set_budget(campaign_id: int, channel: str, body: BudgetIn, session: SessionDep, actor: ActorDep) -> OpsOut:
    """Planned and committed money of a channel; actual spend comes from ``pitboard import campaign_spend``."""
    campaign_ops.set_budget(session, campaign_id, channel, actor=actor, planned=body.planned,
                            committed=body.committed, currency=body.currency)  # fmt: skip
    return _ops_out(session, campaign_id)


@router.get("/campaign-ops")
def list_ops(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    actor.require("viewer")
    return [
        {"campaign_id": c.id, "name": c.name, "stage": o.stage, "status": c.status, "briefed_at": o.briefed_at,
         "live_at": o.live_at, "work_item_id": w.id if w else None, "column": w.column_key if w else None}
        for c, o, w in campaign_ops.ops_overview(session)
    ]  # fmt: skip


# --- naming and UTM governance -------------------------------------------------------------------


class NameIn(_In):
    parts: dict[str, str]


class UtmLinkIn(_In):
    url: str = Field(min_length=1, max_length=2000)
    source: str
    medium: str
    campaign: str
    content: str | None = None
    term: str | None = None


@router.get("/naming")
def naming_rules(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    actor.require("viewer")
    return board.current_spec(session).naming.model_dump(mode="json")


@router.post("/naming/generate")
def generate(body: NameIn, session: SessionDep, actor: ActorDep) -> dict[str, str]:
    actor.require("viewer")
    return {"name": generate_name(board.current_spec(session).naming, body.parts)}


@router.get("/naming/check")
def check(
    session: SessionDep,
    actor: ActorDep,
    name: str | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
) -> dict[str, Any]:
    """Check a campaign name, or a set of UTM values; each issue has the closest allowed value as suggestion."""
    actor.require("viewer")
    spec = board.current_spec(session).naming
    if name is not None:
        issues = check_name(spec, name)
    elif utm_source or utm_medium or utm_campaign:
        issues = check_utm(spec, source=utm_source, medium=utm_medium, campaign=utm_campaign)
    else:
        raise ValidationFailed("give name, or utm_source, utm_medium and utm_campaign")
    return {"ok": not issues, "issues": [i.to_dict() for i in issues]}


@router.post("/naming/utm-link")
def utm_link(body: UtmLinkIn, session: SessionDep, actor: ActorDep) -> dict[str, str]:
    actor.require("viewer")
    spec = board.current_spec(session).naming
    url = build_utm_url(spec, body.url, source=body.source, medium=body.medium, campaign=body.campaign,
                        content=body.content, term=body.term)  # fmt: skip
    return {"url": url}


@router.get("/naming/audit")
def audit(session: SessionDep, actor: ActorDep, days: int = Query(default=30, ge=1, le=730)) -> dict[str, Any]:
    """Imported events (last ``days``) and spend whose UTM tags break the convention, with suggested fixes."""
    actor.require("viewer")
    return {
        "events": [f.to_dict() for f in utm_audit.audit_events(session, days=days)],
        "spend": [f.to_dict() for f in utm_audit.audit_spend(session)],
    }
