"""REST routes for workflows (and, included from ``notify.api``, notification endpoints and deliveries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from pitboard.api.deps import ActorDep, SessionDep
from pitboard.models.workflows import Workflow, WorkflowApproval, WorkflowEnrolment, WorkflowStepLog, WorkflowTask
from pitboard.notify.api import router as notify_router
from pitboard.workflows import engine, service

router = APIRouter(tags=["workflows"])
router.include_router(notify_router)


class WorkflowOut(BaseModel):
    key: str
    name: str
    description: str | None
    active: bool
    origin: str
    version: int
    activated_at: datetime
    definition: dict[str, Any]
    enrolments: dict[str, int] = Field(default_factory=dict, description="Enrolments by status")
    file: str | None = None

    @classmethod
    def of(cls, row: Workflow, counts: dict[str, int] | None = None) -> WorkflowOut:
        return cls(key=row.key, name=row.name, description=row.description, active=row.active, origin=row.origin,
                   version=row.version, activated_at=row.activated_at, definition=row.definition,
                   enrolments=dict(counts or {}),
                   file=service.project_file(row.key) if row.origin == service.PROJECT else None)  # fmt: skip


class StepCountOut(BaseModel):
    step_id: str
    action: str
    ran: int
    here: dict[str, int]


class EnrolmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    workflow_id: int
    contact_id: int
    trigger_key: str
    status: str
    holdout: bool
    variant: str | None
    step_id: str | None
    next_run_at: datetime | None
    last_error: str | None
    enrolled_at: datetime
    finished_at: datetime | None


class StepLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_id: str
    action: str
    outcome: str
    detail: dict[str, Any]
    at: datetime


class JourneyOut(BaseModel):
    workflow: str
    enrolment: EnrolmentOut
    steps: list[StepLogOut]


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    enrolment_id: int
    workflow_id: int
    contact_id: int
    step_id: str
    title: str
    approvers: str | None
    status: str
    due_at: datetime | None
    overdue_notified_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str | None = Field(default=None, max_length=2000, description="Required when rejecting")


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[int] = Field(min_length=1, max_length=10_000)


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_id: int | None
    assignee: str
    title: str
    due_at: datetime | None
    status: str
    created_at: datetime


class ArmOut(BaseModel):
    n: int
    converted: int
    rate: float
    pipeline: float
    pipeline_per_contact: float


class LiftOut(BaseModel):
    treatment: ArmOut
    control: ArmOut
    conversion_diff: float | None
    conversion_ci: tuple[float, float] | None
    relative_lift: float | None
    pipeline_diff: float | None
    pipeline_ci: tuple[float, float] | None
    has_goal: bool
    note: str


def _arm(a: service.Arm) -> ArmOut:
    return ArmOut(n=a.n, converted=a.converted, rate=a.rate, pipeline=a.pipeline,
                  pipeline_per_contact=a.pipeline_per_contact)  # fmt: skip


@router.get("/workflows", response_model=list[WorkflowOut])
def list_workflows(session: SessionDep, actor: ActorDep) -> list[WorkflowOut]:
    actor.require("viewer")
    rows = service.list_workflows(session)
    counts = service.status_counts(session, [r.id for r in rows])
    return [WorkflowOut.of(r, counts.get(r.id)) for r in rows]


@router.post("/workflows", response_model=WorkflowOut, status_code=201)
def create_workflow(session: SessionDep, actor: ActorDep, body: dict[str, Any] = Body(...)) -> WorkflowOut:
    spec = service.parse(session, body)
    if session.scalar(select(Workflow.id).where(Workflow.key == spec.key)) is not None:
        from pitboard.kit.errors import Conflict

        raise Conflict(f"a workflow with the key {spec.key} exists already; PUT /workflows/{spec.key} changes it")
    row, _ = service.save_workflow(session, spec, actor=actor, origin="api")
    return WorkflowOut.of(row)


@router.post("/workflows/validate")
def validate_workflow(session: SessionDep, actor: ActorDep, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    actor.require("viewer")
    spec = service.parse(session, body)
    return {"valid": True, "key": spec.key, "steps": [s.id for s in spec.steps]}


@router.get("/workflows/approvals", response_model=list[ApprovalOut])
def list_approvals(session: SessionDep, actor: ActorDep, status: str | None = "pending") -> list[WorkflowApproval]:
    actor.require("viewer")
    return service.approvals(session, status=status or None)


@router.post("/workflows/approvals/{approval_id}/decision", response_model=ApprovalOut)
def decide(approval_id: int, body: DecisionIn, session: SessionDep, actor: ActorDep) -> WorkflowApproval:
    return engine.decide(session, approval_id, approve=body.approve, reason=body.reason, actor=actor)


@router.get("/workflows/dead-letters", response_model=list[EnrolmentOut])
def dead_letters(session: SessionDep, actor: ActorDep) -> list[WorkflowEnrolment]:
    actor.require("viewer")
    return service.dead_letters(session)


@router.post("/workflows/enrolments/{enrolment_id}/replay", response_model=EnrolmentOut)
def replay(enrolment_id: int, session: SessionDep, actor: ActorDep) -> WorkflowEnrolment:
    return engine.replay(session, enrolment_id, actor=actor)


@router.get("/workflows/journeys/{contact_id}", response_model=list[JourneyOut])
def journey(contact_id: int, session: SessionDep, actor: ActorDep) -> list[JourneyOut]:
    actor.require("viewer")
    return [
        JourneyOut(
            workflow=j.workflow_key,
            enrolment=EnrolmentOut.model_validate(j.enrolment),
            steps=[StepLogOut.model_validate(s) for s in j.steps],
        )
        for j in service.journey(session, contact_id)
    ]


@router.get("/workflows/tasks", response_model=list[TaskOut])
def tasks(
    session: SessionDep, actor: ActorDep, assignee: str | None = None, status: str = "open"
) -> list[WorkflowTask]:
    """Tasks made by ``create_task`` steps; ``status`` open (default), done, cancelled or all."""
    actor.require("viewer")
    return service.tasks(session, assignee=assignee, status=None if status == "all" else status)


class TaskStatusIn(BaseModel):
    status: str


@router.post("/workflows/tasks/{task_id}", response_model=TaskOut)
def set_task_status(task_id: int, body: TaskStatusIn, session: SessionDep, actor: ActorDep) -> WorkflowTask:
    """Close a task (``done`` / ``cancelled``) or reopen it (``open``)."""
    return service.set_task_status(session, task_id, body.status, actor=actor)


@router.get("/workflows/{key}", response_model=WorkflowOut)
def get_workflow(key: str, session: SessionDep, actor: ActorDep) -> WorkflowOut:
    actor.require("viewer")
    row = service.get_workflow(session, key)
    return WorkflowOut.of(row, service.status_counts(session, [row.id]).get(row.id))


@router.put("/workflows/{key}", response_model=WorkflowOut)
def put_workflow(key: str, session: SessionDep, actor: ActorDep, body: dict[str, Any] = Body(...)) -> WorkflowOut:
    spec = service.parse(session, {**body, "key": body.get("key", key)})
    if spec.key != key:
        from pitboard.kit.errors import ValidationFailed

        raise ValidationFailed(f"the body's key {spec.key!r} is not the URL's {key!r}")
    row, _ = service.save_workflow(session, spec, actor=actor, origin="api")
    return WorkflowOut.of(row)


@router.patch("/workflows/{key}", response_model=WorkflowOut)
def set_active(key: str, body: ActiveIn, session: SessionDep, actor: ActorDep) -> WorkflowOut:
    return WorkflowOut.of(service.set_active(session, key, body.active, actor=actor))


@router.delete("/workflows/{key}", status_code=204)
def delete_workflow(key: str, session: SessionDep, actor: ActorDep) -> Response:
    service.delete_workflow(session, key, actor=actor)
    return Response(status_code=204)


@router.get("/workflows/{key}/steps", response_model=list[StepCountOut])
def step_counts(key: str, session: SessionDep, actor: ActorDep) -> list[StepCountOut]:
    actor.require("viewer")
    row = service.get_workflow(session, key)
    return [StepCountOut(step_id=c.step_id, action=c.action, ran=c.ran, here=dict(c.here))
            for c in service.step_counts(session, row)]  # fmt: skip


@router.post("/workflows/{key}/enrolments", status_code=201)
def enrol(key: str, body: EnrolIn, session: SessionDep, actor: ActorDep) -> dict[str, list[int]]:
    return {"enrolment_ids": service.enrol_contacts(session, key, body.contact_ids, actor=actor)}


@router.get("/workflows/{key}/enrolments", response_model=list[EnrolmentOut])
def enrolments(
    key: str, session: SessionDep, actor: ActorDep, status: str | None = None, limit: int = 100
) -> list[WorkflowEnrolment]:
    actor.require("viewer")
    row = service.get_workflow(session, key)
    stmt = (
        select(WorkflowEnrolment)
        .where(WorkflowEnrolment.workflow_id == row.id)
        .order_by(WorkflowEnrolment.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    if status:
        stmt = stmt.where(WorkflowEnrolment.status == status)
    return list(session.scalars(stmt))


@router.get("/workflows/{key}/enrolments/{enrolment_id}/steps", response_model=list[StepLogOut])
def enrolment_steps(key: str, enrolment_id: int, session: SessionDep, actor: ActorDep) -> list[WorkflowStepLog]:
    actor.require("viewer")
    row = service.get_workflow(session, key)
    return list(
        session.scalars(
            select(WorkflowStepLog)
            .where(WorkflowStepLog.enrolment_id == enrolment_id, WorkflowStepLog.workflow_id == row.id)
            .order_by(WorkflowStepLog.id)
        )
    )


@router.get("/workflows/{key}/lift", response_model=LiftOut)
def lift(key: str, session: SessionDep, actor: ActorDep) -> LiftOut:
    actor.require("viewer")
    result = service.lift(session, service.get_workflow(session, key))
    return LiftOut(treatment=_arm(result.treatment), control=_arm(result.control),
                   conversion_diff=result.conversion_diff, conversion_ci=result.conversion_ci,
                   relative_lift=result.relative_lift, pipeline_diff=result.pipeline_diff,
                   pipeline_ci=result.pipeline_ci, has_goal=result.goal, note=result.note)  # fmt: skip
