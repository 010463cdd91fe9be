"""Demo data for workflows: the three standard workflows (adapted to the demo's event names), a discount
approval workflow, and 30 days of history built from the demo's own events (enrolments, holdouts, step logs,
a few contacts waiting, pending approvals, approved ones with their owners' quote tasks (open, overdue, done) and
one dead letter), so the workflow pages show realistic state.

History rows are written directly (no emails are queued and no webhooks called). The demo's webhook endpoint
is disabled: anything sent to it is recorded as blocked.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, insert, select

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, Event, SalesUser, Segment
from pitboard.models.workflows import (
    NotifyEndpoint,
    Workflow,
    WorkflowApproval,
    WorkflowEnrolment,
    WorkflowStepLog,
    WorkflowTask,
)
from pitboard.notify import endpoints, signing
from pitboard.segments import service as segments
from pitboard.workflows import engine, service

DAYS = 30
TEMPLATES = Path(engine.__file__).parent / "templates"
# The demo's event vocabulary names things its own way.
EVENT_NAMES = {"trial-signup": "trial_started", "event-registration": "webinar_registered"}
DISCOUNT = {
    "key": "discount-approval", "name": "Discount approval", "trigger": {"type": "manual"},
    "steps": [
        {"id": "ask", "action": "approval", "title": "Discount for {{ contact.company_name | fallback('?') }}",
         "sla": "1d", "on_reject": "no"},
        {"id": "yes", "action": "set_field", "field": "custom.discount", "value": "approved"},
        {"id": "quote", "action": "create_task", "assignee": "owner", "due_in": "2d",
         "title": "Send {{ contact.company_name | fallback('the') }} quote with the approved discount", "next": "done"},
        {"id": "no", "action": "set_field", "field": "custom.discount", "value": "refused"},
        {"id": "done", "action": "exit"},
    ],
}  # fmt: skip


def _definition(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((TEMPLATES / f"{name}.yml").read_text())
    if name in EVENT_NAMES:
        data["trigger"]["event"] = EVENT_NAMES[name]
    return data


def generate_workflows(engine_: Engine, *, now: datetime, seed: int) -> dict[str, int]:
    now = ensure_utc(now)
    rng = random.Random(seed + 8)
    counts = {
        "workflows": 0,
        "workflow_enrolments": 0,
        "workflow_step_logs": 0,
        "workflow_approvals": 0,
        "workflow_tasks": 0,
    }
    with session_scope(engine_) as s:
        for key, name in (("trial-users", "Trial users"), ("event-registrants", "Event registrants")):
            if s.scalar(select(Segment.id).where(Segment.key == key)) is None:
                spec = segments.parse_spec(s, {"key": key, "name": name, "kind": "static"})
                segments.create_segment(s, spec, actor=SYSTEM)
        if s.scalar(select(NotifyEndpoint.id).where(NotifyEndpoint.key == "product-api")) is None:
            endpoints.set_endpoint(s, key="product-api", kind="webhook", url="https://product.example.invalid/hooks",
                                   secret=signing.new_secret(), active=False, actor=SYSTEM,
                                   description="Demo: the product's provisioning API (disabled)")  # fmt: skip
        rows: dict[str, Workflow] = {}
        for name in ("trial-signup", "event-registration", "hard-bounce"):
            row, _ = service.save_workflow(s, service.parse(s, _definition(name)), actor=SYSTEM, origin="api")
            row.activated_at = now - timedelta(days=DAYS)
            rows[name] = row
        discount, _ = service.save_workflow(s, service.parse(s, DISCOUNT), actor=SYSTEM, origin="api")
        counts["workflows"] = 4
        s.flush()
        for name, event_name in EVENT_NAMES.items():
            row = rows[name]
            loaded = engine.load(s, row)
            history = s.execute(
                select(Event.id, Event.contact_id, Event.received_at, Event.utm_source)
                .where(Event.name == event_name, Event.received_at >= now - timedelta(days=DAYS),
                       Event.contact_id.is_not(None))
                .order_by(Event.id)
            ).all()  # fmt: skip
            seen: set[int] = set()
            for i, (event_id, contact_id, received_at, source) in enumerate(history):
                if contact_id is None or (loaded.spec.reentry == "once" and contact_id in seen):
                    continue
                seen.add(contact_id)
                held = loaded.spec.holdout > 0 and engine.unit(loaded.key, "holdout", contact_id) < loaded.spec.holdout
                dead = name == "trial-signup" and i == 3
                status = "holdout" if held else ("dead" if dead else "completed")
                steps = [] if held else [st.id for st in loaded.spec.steps]
                failed_at = "provision" if dead else None
                if failed_at:
                    steps = steps[: steps.index(failed_at)]
                at = ensure_utc(received_at) + timedelta(seconds=rng.uniform(0.2, 1.5))
                enrolment_id = s.scalar(
                    insert(WorkflowEnrolment).returning(WorkflowEnrolment.id).values(**{
                      "workflow_id": row.id, "contact_id": contact_id,
                      "trigger_key": "once" if loaded.spec.reentry == "once" else f"event:{event_id}",
                      "status": status, "holdout": held, "variant": None,
                      "step_id": failed_at, "seq": 1, "workflow_version": 1,
                      "state": {"trigger": {"type": "event", "event_id": event_id, "name": event_name,
                                            "utm_source": source}, "n": len(steps)},
                      "last_error": "TemporaryFailure: the endpoint answered HTTP 503" if dead else None,
                      "enrolled_at": at, "finished_at": None if dead else at})
                )  # fmt: skip
                logs = [{"enrolment_id": enrolment_id, "workflow_id": row.id, "contact_id": contact_id, "seq": 0,
                         "step_id": step, "action": loaded.spec.step(step).action, "outcome": "done", "detail": {},
                         "at": at} for step in steps]  # fmt: skip
                logs.append({"enrolment_id": enrolment_id, "workflow_id": row.id, "contact_id": contact_id,
                             "seq": 0, "step_id": "holdout" if held else ("provision" if dead else "end"),
                             "action": "holdout" if held else ("dead" if dead else "end"),
                             "outcome": "held_back" if held else ("dead" if dead else "completed"), "detail": {},
                             "at": at})  # fmt: skip
                s.execute(insert(WorkflowStepLog), logs)
                counts["workflow_enrolments"] += 1
                counts["workflow_step_logs"] += len(logs)
        # Three discount requests waiting for a decision, one of them overdue.
        candidates = list(s.scalars(select(Event.contact_id).where(Event.name == "demo_requested",
                                                                  Event.contact_id.is_not(None))
                                  .order_by(Event.id).limit(3)))  # fmt: skip
        for i, contact_id in enumerate(candidates):
            created = now - timedelta(hours=6 + 20 * i)
            enrolment_id = s.scalar(insert(WorkflowEnrolment).returning(WorkflowEnrolment.id).values(
                **{"workflow_id": discount.id, "contact_id": contact_id, "trigger_key": f"manual:demo:{i}",
                 "status": "approval", "holdout": False, "step_id": "ask", "seq": 1, "workflow_version": 1,
                 "state": {"trigger": {"type": "manual"}, "n": 1}, "enrolled_at": created}))  # fmt: skip
            s.execute(insert(WorkflowApproval), [
                {"enrolment_id": enrolment_id, "workflow_id": discount.id, "contact_id": contact_id, "step_id": "ask",
                 "seq": 1, "title": f"Discount request #{i + 1}", "approvers": None, "status": "pending",
                 "due_at": created + timedelta(days=1), "created_at": created,
                 "overdue_notified_at": created + timedelta(days=1) if i == 2 else None}])  # fmt: skip
            s.execute(insert(WorkflowStepLog), [
                {"enrolment_id": enrolment_id, "workflow_id": discount.id, "contact_id": contact_id, "seq": 1,
                 "step_id": "ask", "action": "approval", "outcome": "pending", "detail": {},
                 "at": created}])  # fmt: skip
            counts["workflow_approvals"] += 1
            counts["workflow_enrolments"] += 1
            counts["workflow_step_logs"] += 1
        # Five approved requests of contacts with an owner: the owner's quote task, three open (two overdue), two done.
        approved = s.execute(
            select(Contact.id, SalesUser.email, Contact.company_name).join(SalesUser, SalesUser.id == Contact.owner_id)
            .join(Event, Event.contact_id == Contact.id).where(Event.name == "demo_requested")
            .where(Contact.id.not_in(candidates) if candidates else Contact.id.is_not(None))
            .group_by(Contact.id, SalesUser.email, Contact.company_name).order_by(Contact.id).limit(5)
        ).all()  # fmt: skip
        for i, (contact_id, owner_email, company) in enumerate(approved):
            created = now - timedelta(days=1 + 2 * i, hours=rng.uniform(0, 8))
            enrolment_id = s.scalar(insert(WorkflowEnrolment).returning(WorkflowEnrolment.id).values(
                **{"workflow_id": discount.id, "contact_id": contact_id, "trigger_key": f"manual:demo:approved:{i}",
                 "status": "exited", "holdout": False, "step_id": "done", "seq": 2, "workflow_version": 1,
                 "state": {"trigger": {"type": "manual"}, "n": 4}, "enrolled_at": created - timedelta(hours=3),
                 "finished_at": created}))  # fmt: skip
            s.execute(insert(WorkflowApproval), [
                {"enrolment_id": enrolment_id, "workflow_id": discount.id, "contact_id": contact_id, "step_id": "ask",
                 "seq": 1, "title": f"Discount request #{len(candidates) + i + 1}", "approvers": None,
                 "status": "approved", "decided_by": "admin@example.com", "decided_at": created,
                 "due_at": created + timedelta(hours=21), "created_at": created - timedelta(hours=3)}])  # fmt: skip
            s.execute(insert(WorkflowStepLog), [
                {"enrolment_id": enrolment_id, "workflow_id": discount.id, "contact_id": contact_id, "seq": seq,
                 "step_id": step, "action": action, "outcome": outcome, "detail": {}, "at": at}
                for seq, step, action, outcome, at in (
                    (1, "ask", "approval", "pending", created - timedelta(hours=3)),
                    (2, "ask", "decision", "approved", created), (2, "yes", "set_field", "done", created),
                    (2, "quote", "create_task", "done", created), (2, "done", "exit", "exited", created))
            ])  # fmt: skip
            s.execute(insert(WorkflowTask), [
                {"enrolment_id": enrolment_id, "contact_id": contact_id, "assignee": owner_email,
                 "title": f"Send {company or 'the'} quote with the approved discount",
                 "due_at": created + timedelta(days=2), "status": "done" if i >= 3 else "open",
                 "idempotency_key": f"wf:{enrolment_id}:3", "created_at": created}])  # fmt: skip
            counts["workflow_approvals"] += 1
            counts["workflow_enrolments"] += 1
            counts["workflow_step_logs"] += 5
            counts["workflow_tasks"] += 1
    return counts
