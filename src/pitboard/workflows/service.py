"""Workflows: definitions (API, web or the project folder), enrolments, counts, journeys and the lift report."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.conditions import CompileContext, load_field_registry, matching_contacts
from pitboard.kit.actor import Actor
from pitboard.kit.db import UTCDateTime
from pitboard.kit.errors import Conflict, NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Opportunity
from pitboard.models.workflows import (
    Workflow,
    WorkflowApproval,
    WorkflowEnrolment,
    WorkflowFieldValue,
    WorkflowStepLog,
    WorkflowTask,
)
from pitboard.workflows import engine
from pitboard.workflows import schemas as s

PROJECT = "project"


def project_file(key: str) -> str:
    return f"workflows/{key}.yml"


def definition_of(spec: s.WorkflowSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True) | {
        "key": spec.key, "name": spec.name, "trigger": spec.trigger.model_dump(mode="json", by_alias=True,
                                                                               exclude_none=True),
        "steps": [step.model_dump(mode="json", by_alias=True, exclude_none=True) for step in spec.steps],
    }  # fmt: skip


def checksum(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def parse(session: Session, data: Any) -> s.WorkflowSpec:
    return s.validate_spec(data, load_field_registry(session))


def get_workflow(session: Session, key: str) -> Workflow:
    row = session.scalar(select(Workflow).where(Workflow.key == key))
    if row is None:
        raise NotFound(f"workflow {key!r} does not exist")
    return row


def list_workflows(session: Session, *, include_inactive: bool = True) -> list[Workflow]:
    stmt = select(Workflow).order_by(Workflow.key)
    if not include_inactive:
        stmt = stmt.where(Workflow.active.is_(True))
    return list(session.scalars(stmt))


def _check_references(session: Session, spec: s.WorkflowSpec) -> None:
    """Segments, endpoints and stages a definition names must exist, or it would fail at run time."""
    from pitboard.models import Segment
    from pitboard.models.workflows import NotifyEndpoint

    problems: list[str] = []
    segments = {spec.trigger.segment} if spec.trigger.segment else set()
    endpoints: set[str] = set()
    for step in spec.steps:
        if isinstance(step, s.AddToSegment):
            segments.add(step.segment)
        elif isinstance(step, s.Webhook):
            endpoints.add(step.endpoint)
        elif isinstance(step, s.Notify | s.Approval):
            target = step.to if isinstance(step, s.Notify) else (step.approvers or "")
            kind, _, name = target.partition(":")
            if kind in ("slack", "webhook"):
                endpoints.add(name)
    if segments:
        known = set(session.scalars(select(Segment.key).where(Segment.key.in_(segments))))
        problems += [f"segment {k!r} does not exist" for k in sorted(segments - known)]
    if endpoints:
        known = set(session.scalars(select(NotifyEndpoint.key).where(NotifyEndpoint.key.in_(endpoints))))
        problems += [f"notification endpoint {k!r} does not exist" for k in sorted(endpoints - known)]
    if problems:
        raise ValidationFailed(f"workflow {spec.key}: " + "; ".join(problems), details=problems)


def _snapshot_fields(session: Session, row: Workflow, spec: s.WorkflowSpec) -> None:
    """A field-change workflow starts from every contact's current value, so only later changes trigger it."""
    if spec.trigger.type != "field_change" or spec.trigger.field is None:
        return
    from pitboard.workflows.triggers import field_expression

    session.execute(delete(WorkflowFieldValue).where(WorkflowFieldValue.workflow_id == row.id))
    now = utcnow()
    expr = field_expression(spec.trigger.field)
    source = select(literal(row.id).label("workflow_id"), Contact.id, expr.label("value"),
                    literal(now, type_=UTCDateTime()).label("seen_at"))  # fmt: skip
    session.execute(insert(WorkflowFieldValue).from_select(["workflow_id", "contact_id", "value", "seen_at"], source))


def save_workflow(
    session: Session, spec: s.WorkflowSpec, *, actor: Actor, origin: str = "api", replace_project: bool = False
) -> tuple[Workflow, bool]:
    """Create or update; returns (row, changed). A project workflow changes only through ``pitboard apply``."""
    actor.require("editor")
    _check_references(session, spec)
    definition = definition_of(spec)
    digest = checksum(definition)
    row = session.scalar(select(Workflow).where(Workflow.key == spec.key))
    now = utcnow()
    if row is None:
        row = Workflow(key=spec.key, name=spec.name, description=spec.description, definition=definition,
                       checksum=digest, version=1, active=spec.active, origin=origin, activated_at=now)  # fmt: skip
        session.add(row)
        session.flush()
        audit.created_recorded(session, row, actor=actor, entity_type="workflow", fields=["key", "name", "origin"])
        _snapshot_fields(session, row, spec)
        return row, True
    if row.origin == PROJECT and not replace_project:
        raise Conflict(f"workflow {spec.key!r} is defined in {project_file(spec.key)}; change it there and apply")
    if row.checksum == digest and row.active == spec.active and row.origin == origin:
        return row, False
    was_active = row.active
    trigger_changed = row.definition.get("trigger") != definition.get("trigger")
    audit.update_recorded(
        session, row,
        {"name": spec.name, "description": spec.description, "definition": definition, "checksum": digest,
         "version": row.version + (row.checksum != digest), "active": spec.active, "origin": origin},
        actor=actor, entity_type="workflow", internal=("definition",),
    )  # fmt: skip
    if spec.active and not was_active:
        row.activated_at = now  # nothing that happened while it was off enrols anyone
    if trigger_changed:
        _snapshot_fields(session, row, spec)
    return row, True


def set_active(session: Session, key: str, active: bool, *, actor: Actor) -> Workflow:
    actor.require("editor")
    row = get_workflow(session, key)
    if row.origin == PROJECT:
        raise Conflict(f"workflow {key!r} is defined in {project_file(key)}; set active: there and apply")
    if row.active != active:
        audit.update_recorded(session, row, {"active": active}, actor=actor, entity_type="workflow")
        if active:
            row.activated_at = utcnow()
    return row


def delete_workflow(session: Session, key: str, *, actor: Actor) -> None:
    actor.require("admin")
    row = get_workflow(session, key)
    if row.origin == PROJECT:
        raise Conflict(f"workflow {key!r} is defined in {project_file(key)}; delete the file and apply")
    audit.delete_recorded(session, row, actor=actor, entity_type="workflow", label="key")


def apply_workflows(session: Session, specs: Sequence[s.WorkflowSpec], *, actor: Actor) -> dict[str, list[str]]:
    """Make the project's workflows equal to ``specs``; project workflows no longer in the folder are
    deactivated (their history and running enrolments stay; running enrolments finish)."""
    actor.require("admin")
    keys = [spec.key for spec in specs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValidationFailed(f"workflow keys must be unique in the project; repeated: {', '.join(repeated)}")
    created: list[str] = []
    updated: list[str] = []
    deactivated: list[str] = []
    existing = {row.key: row for row in session.scalars(select(Workflow))}
    for spec in specs:
        row, changed = save_workflow(session, spec, actor=actor, origin=PROJECT, replace_project=True)
        if changed:
            (created if spec.key not in existing else updated).append(spec.key)
    for key, row in sorted(existing.items()):
        if row.origin == PROJECT and row.active and key not in keys:
            audit.update_recorded(session, row, {"active": False}, actor=actor, entity_type="workflow")
            deactivated.append(key)
    session.flush()
    result = {"created": created, "updated": updated, "deactivated": deactivated}
    return {name: value for name, value in result.items() if value}


def enrol_contacts(
    session: Session, key: str, contact_ids: Iterable[int], *, actor: Actor, reason: str = "manual"
) -> list[int]:
    """Enrol contacts by hand (any trigger type); returns the ids of the new enrolments."""
    actor.require("editor")
    row = get_workflow(session, key)
    if not row.active:
        raise ValidationFailed(f"workflow {key!r} is not active")
    loaded = engine.load(session, row)
    ids = sorted({int(i) for i in contact_ids})
    known = set(session.scalars(select(Contact.id).where(Contact.id.in_(ids)))) if ids else set()
    missing = [i for i in ids if i not in known]
    if missing:
        raise NotFound(f"contacts do not exist: {', '.join(map(str, missing[:20]))}")
    now = utcnow()
    enrolled = []
    for cid in ids:
        trigger_key = f"manual:{now.isoformat()}"
        got = engine.enrol(session, loaded, cid, trigger_key=trigger_key,
                           trigger={"type": "manual", "by": actor.name, "reason": reason}, now=now)  # fmt: skip
        if got is not None:
            enrolled.append(got.id)
    return enrolled


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class StepCount:
    step_id: str
    action: str
    ran: int = 0
    here: Counter[str] = field(default_factory=Counter)


def step_counts(session: Session, row: Workflow) -> list[StepCount]:
    """Per step: how many times it ran, and how many enrolments are at it now by status (live counts)."""
    spec = engine.load(session, row).spec
    counts = {step.id: StepCount(step.id, step.action) for step in spec.steps}
    ran = session.execute(
        select(WorkflowStepLog.step_id, func.count())
        .where(WorkflowStepLog.workflow_id == row.id)
        .group_by(WorkflowStepLog.step_id)
    ).all()
    for step_id, n in ran:
        if step_id in counts:
            counts[step_id].ran = int(n)
    here = session.execute(
        select(WorkflowEnrolment.step_id, WorkflowEnrolment.status, func.count())
        .where(WorkflowEnrolment.workflow_id == row.id, WorkflowEnrolment.status.in_(("active", "waiting",
                                                                                      "approval", "dead")))
        .group_by(WorkflowEnrolment.step_id, WorkflowEnrolment.status)
    ).all()  # fmt: skip
    for here_step, status, n in here:
        if here_step is not None and here_step in counts:
            counts[here_step].here[str(status)] += int(n)
    return list(counts.values())


def status_counts(session: Session, workflow_ids: Sequence[int] | None = None) -> dict[int, Counter[str]]:
    stmt = select(WorkflowEnrolment.workflow_id, WorkflowEnrolment.status, func.count()).group_by(
        WorkflowEnrolment.workflow_id, WorkflowEnrolment.status
    )
    if workflow_ids is not None:
        stmt = stmt.where(WorkflowEnrolment.workflow_id.in_(workflow_ids))
    out: dict[int, Counter[str]] = defaultdict(Counter)
    for wid, status, n in session.execute(stmt):
        out[int(wid)][str(status)] += int(n)
    return out


@dataclass
class JourneyEntry:
    enrolment: WorkflowEnrolment
    workflow_key: str
    steps: list[WorkflowStepLog]


def journey(session: Session, contact_id: int) -> list[JourneyEntry]:
    """Every enrolment of a contact, newest first, with its full step log."""
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} does not exist")
    rows = list(
        session.scalars(
            select(WorkflowEnrolment)
            .where(WorkflowEnrolment.contact_id == contact_id)
            .order_by(WorkflowEnrolment.enrolled_at.desc(), WorkflowEnrolment.id.desc())
        )
    )
    keys = {int(r[0]): str(r[1]) for r in session.execute(select(Workflow.id, Workflow.key))} if rows else {}
    logs: dict[int, list[WorkflowStepLog]] = defaultdict(list)
    if rows:
        for log in session.scalars(
            select(WorkflowStepLog)
            .where(WorkflowStepLog.enrolment_id.in_([r.id for r in rows]))
            .order_by(WorkflowStepLog.id)
        ):
            logs[log.enrolment_id].append(log)
    return [JourneyEntry(r, keys.get(r.workflow_id, "?"), logs[r.id]) for r in rows]


def approvals(session: Session, *, status: str | None = "pending", limit: int = 200) -> list[WorkflowApproval]:
    stmt = select(WorkflowApproval).order_by(WorkflowApproval.due_at.is_(None), WorkflowApproval.due_at,
                                             WorkflowApproval.id).limit(limit)  # fmt: skip
    if status:
        stmt = stmt.where(WorkflowApproval.status == status)
    return list(session.scalars(stmt))


TASK_STATUSES = ("open", "done", "cancelled")


def tasks(
    session: Session, *, assignee: str | None = None, status: str | None = "open", limit: int = 500
) -> list[WorkflowTask]:
    """To-dos made by ``create_task`` steps: open ones by due date (undated last), others newest first."""
    stmt = _tasks_where(select(WorkflowTask), assignee, status)
    if status == "open":
        stmt = stmt.order_by(WorkflowTask.due_at.is_(None), WorkflowTask.due_at, WorkflowTask.id)
    else:
        stmt = stmt.order_by(WorkflowTask.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def count_tasks(session: Session, *, assignee: str | None = None, status: str | None = "open") -> int:
    return int(session.scalar(_tasks_where(select(func.count()).select_from(WorkflowTask), assignee, status)) or 0)


def _tasks_where(stmt: Any, assignee: str | None, status: str | None) -> Any:
    if status is not None and status not in TASK_STATUSES:
        raise ValidationFailed(f"task status must be one of {', '.join(TASK_STATUSES)}, not {status!r}")
    if status is not None:
        stmt = stmt.where(WorkflowTask.status == status)
    if assignee:
        stmt = stmt.where(func.lower(WorkflowTask.assignee) == assignee.strip().lower())
    return stmt


def set_task_status(session: Session, task_id: int, status: str, *, actor: Actor) -> WorkflowTask:
    """Close a task (``done`` or ``cancelled``) or reopen it; audited with who and when."""
    actor.require("editor")
    if status not in TASK_STATUSES:
        raise ValidationFailed(f"task status must be one of {', '.join(TASK_STATUSES)}, not {status!r}")
    row = session.get(WorkflowTask, task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    if row.status != status:
        audit.record(session, actor=actor, action="update", entity_type="workflow_task", entity_id=row.id,
                     changes={"status": [row.status, status]})  # fmt: skip
        row.status = status
    return row


def dead_letters(session: Session, *, limit: int = 200) -> list[WorkflowEnrolment]:
    return list(
        session.scalars(
            select(WorkflowEnrolment)
            .where(WorkflowEnrolment.status == "dead")
            .order_by(WorkflowEnrolment.id.desc())
            .limit(limit)
        )
    )


# --- holdout lift ----------------------------------------------------------------------------------

Z95 = 1.959963984540054


@dataclass
class Arm:
    n: int
    converted: int
    pipeline: float

    @property
    def rate(self) -> float:
        return self.converted / self.n if self.n else 0.0

    @property
    def pipeline_per_contact(self) -> float:
        return self.pipeline / self.n if self.n else 0.0


@dataclass
class Lift:
    treatment: Arm
    control: Arm
    conversion_diff: float | None
    conversion_ci: tuple[float, float] | None
    relative_lift: float | None
    pipeline_diff: float | None
    pipeline_ci: tuple[float, float] | None
    goal: bool
    note: str


def diff_of_proportions(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> tuple[float, tuple[float, float]]:
    """Difference of two rates with a Wald interval (normal approximation; needs a few conversions per arm)."""
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    d = p1 - p0
    return d, (d - z * se, d + z * se)


def diff_of_means(a: Sequence[float], b: Sequence[float], z: float = Z95) -> tuple[float, tuple[float, float]]:
    """Difference of two means with a Welch standard error (normal approximation)."""

    def mean_var(xs: Sequence[float]) -> tuple[float, float]:
        m = sum(xs) / len(xs)
        v = sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
        return m, v

    ma, va = mean_var(a)
    mb, vb = mean_var(b)
    se = math.sqrt(va / len(a) + vb / len(b))
    d = ma - mb
    return d, (d - z * se, d + z * se)


def lift(session: Session, row: Workflow, *, now: datetime | None = None) -> Lift:
    """Conversion (the workflow's ``goal`` condition, as of now) and pipeline (opportunity amounts opened after
    enrolment) of enrolled contacts against the held-out control, with 95% confidence intervals."""
    now = now or utcnow()
    loaded = engine.load(session, row)
    first: dict[int, tuple[datetime, bool]] = {}
    for cid, enrolled_at, holdout in session.execute(
        select(WorkflowEnrolment.contact_id, WorkflowEnrolment.enrolled_at, WorkflowEnrolment.holdout)
        .where(WorkflowEnrolment.workflow_id == row.id)
        .order_by(WorkflowEnrolment.enrolled_at)
    ):
        first.setdefault(int(cid), (enrolled_at, bool(holdout)))
    goal = loaded.conditions.get("goal")
    converted: set[int] = set()
    if goal is not None and first:
        matched = session.scalars(matching_contacts(goal, CompileContext.for_session(session, now=now)))
        converted = {int(c) for c in matched} & set(first)
    pipeline: dict[int, float] = defaultdict(float)
    if first:
        ids = list(first)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for opp_contact, amount, opened in session.execute(
                select(Opportunity.contact_id, Opportunity.amount, Opportunity.opened_at).where(
                    Opportunity.contact_id.in_(chunk)
                )
            ):
                if opp_contact is not None and opened is not None and opened >= first[int(opp_contact)][0]:
                    pipeline[int(opp_contact)] += float(amount or 0)
    arms: dict[bool, list[int]] = {True: [], False: []}
    for cid, (_, holdout) in first.items():
        arms[holdout].append(cid)

    def arm(ids: list[int]) -> Arm:
        return Arm(len(ids), sum(1 for c in ids if c in converted), sum(pipeline[c] for c in ids))

    treatment, control = arm(arms[False]), arm(arms[True])
    conv = ci = rel = pdiff = pci = None
    note = ""
    if treatment.n >= 2 and control.n >= 2:
        if goal is not None:
            conv, ci = diff_of_proportions(treatment.converted, treatment.n, control.converted, control.n)
            rel = (treatment.rate / control.rate - 1) if control.rate > 0 else None
        pdiff, pci = diff_of_means([pipeline[c] for c in arms[False]], [pipeline[c] for c in arms[True]])
        if min(treatment.converted, control.converted) < 5 and goal is not None:
            note = "fewer than 5 conversions in an arm: the interval is unreliable"
    else:
        note = "not enough enrolments in both groups yet (holdout 0 or too few contacts)"
    return Lift(treatment, control, conv, ci, rel, pdiff, pci, goal is not None, note)
