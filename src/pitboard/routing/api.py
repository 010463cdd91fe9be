"""REST routes for lead routing: route and assign, dispositions, the queue, the decision log, SLAs,
availability and absences, bulk re-routes and reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.conditions import ConditionError, load_field_registry, parse_condition
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.routing import service
from pitboard.routing.engine import Outcome, current_flow, reroute_matching
from pitboard.worker.queue import enqueue

router = APIRouter(tags=["routing"])


class OutcomeOut(BaseModel):
    contact_id: int
    outcome: str
    reason: str
    owner_id: int | None
    queue: str | None
    rule: str | None
    pool: str | None

    @classmethod
    def of(cls, o: Outcome) -> OutcomeOut:
        return cls(contact_id=o.contact_id, outcome=o.outcome, reason=o.reason, owner_id=o.owner_id, queue=o.queue,
                   rule=o.rule, pool=o.pool_key)  # fmt: skip


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_email: str = Field(min_length=3, max_length=320)
    reason: str = Field(default="", max_length=300)


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: Literal["accepted", "rejected"]
    reason: str | None = Field(default=None, max_length=100, description="Rejections: one of the flow's reasons")
    note: str | None = Field(default=None, max_length=300)


class RerouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    condition: dict[str, Any] | None = Field(default=None, description="Which contacts; all when left out")
    run: Literal["queue", "now"] = "queue"
    limit: int = Field(default=1000, ge=1, le=5000, description="With run=now: most contacts routed in the request")
    notify: bool = False


class AbsenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_email: str = Field(min_length=3, max_length=320)
    starts_at: datetime
    ends_at: datetime
    note: str | None = Field(default=None, max_length=300)


@router.post("/routing/contacts/{contact_id}/route", response_model=OutcomeOut)
def route_contact(contact_id: int, session: SessionDep, actor: ActorDep, force: bool = True) -> OutcomeOut:
    """Route one contact now with the applied flow (``force=false``: only if it needs routing)."""
    return OutcomeOut.of(service.route_one(session, contact_id=contact_id, actor=actor, force=force))


@router.post("/routing/contacts/{contact_id}/assign", response_model=OutcomeOut)
def assign_contact(contact_id: int, body: AssignIn, session: SessionDep, actor: ActorDep) -> OutcomeOut:
    out = service.assign_manually(session, contact_id=contact_id, owner_email=body.owner_email, actor=actor,
                                  reason=body.reason)  # fmt: skip
    return OutcomeOut.of(out)


@router.post("/routing/contacts/{contact_id}/disposition")
def set_disposition(contact_id: int, body: DispositionIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    lead = service.dispose(session, contact_id=contact_id, disposition=body.disposition, reason=body.reason,
                           note=body.note, actor=actor)  # fmt: skip
    return {"contact_id": contact_id, "status": lead.status, "disposition": lead.disposition,
            "reason": lead.disposition_reason}  # fmt: skip


@router.get("/routing/contacts/{contact_id}/decisions")
def contact_decisions(contact_id: int, session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    actor.require("viewer")
    return service.decision_log(session, contact_id=contact_id)


@router.get("/routing/leads")
def list_leads(
    session: SessionDep, actor: ActorDep,
    status: Literal["assigned", "queued", "unassigned", "rejected"] | None = None,
    queue: str | None = None, owner_id: int | None = None, limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:  # fmt: skip
    """The routing queue: ``status=unassigned`` lists the leads nobody got, with the reason."""
    actor.require("viewer")
    return service.leads(session, status=status, queue=queue, owner_id=owner_id, limit=limit)


@router.get("/routing/decisions")
def list_decisions(
    session: SessionDep, actor: ActorDep, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    actor.require("viewer")
    return service.decision_log(session, limit=limit)


@router.get("/routing/sla")
def sla_board(session: SessionDep, actor: ActorDep, limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    from pitboard.routing.sla import sla_counts

    actor.require("viewer")
    return {"counts": sla_counts(session), "overdue": service.leads(session, overdue_at=utcnow(), limit=limit)}


@router.get("/routing/availability")
def availability(session: SessionDep, actor: ActorDep) -> list[dict[str, Any]]:
    actor.require("viewer")
    return service.availability(session)


@router.post("/routing/out-of-office", status_code=201)
def add_absence(body: AbsenceIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    row = service.add_out_of_office(session, user_email=body.user_email, starts_at=body.starts_at,
                                    ends_at=body.ends_at, note=body.note, actor=actor)  # fmt: skip
    return {"id": row.id, "sales_user_id": row.sales_user_id, "starts_at": row.starts_at, "ends_at": row.ends_at,
            "note": row.note}  # fmt: skip


@router.delete("/routing/out-of-office/{absence_id}", status_code=204)
def remove_absence(absence_id: int, session: SessionDep, actor: ActorDep) -> None:
    service.remove_out_of_office(session, absence_id=absence_id, actor=actor)


@router.post("/routing/reroute")
def reroute(body: RerouteIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Re-route every contact matching ``condition``: in background batches (``run=queue``) or, for up to
    ``limit`` contacts, before answering (``run=now``)."""
    actor.require("editor")
    tree = None
    if body.condition is not None:
        try:
            tree = parse_condition(body.condition, load_field_registry(session))
        except ConditionError as exc:
            raise ValidationFailed(f"condition: {exc}") from exc
    if current_flow(session) is None:
        raise ValidationFailed("no routing flow is applied: add routing.yml to the project and run pitboard apply")
    if body.run == "queue":
        from pitboard.routing.tasks import REROUTE

        run = uuid.uuid4().hex[:12]
        enqueue(session, REROUTE, {"condition": body.condition, "run": run, "actor": actor.name, "after": 0,
                                   "notify": body.notify}, idempotency_key=f"routing:reroute:{run}:0")  # fmt: skip
        return {"queued": True, "run": run}
    outcomes, cursor = reroute_matching(session, condition=tree, limit=body.limit, actor=actor, notify=body.notify)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    return {"queued": False, "routed": len(outcomes), "outcomes": counts, "more": cursor is not None}


@router.get("/routing/reports/rejections")
def rejections(session: SessionDep, actor: ActorDep, since: datetime | None = None) -> dict[str, Any]:
    actor.require("viewer")
    return service.rejection_report(session, since=since)


@router.get("/routing/reports/speed-to-lead")
def speed_to_lead(session: SessionDep, actor: ActorDep, since: datetime | None = None) -> dict[str, Any]:
    actor.require("viewer")
    return service.speed_to_lead(session, since=since)
