"""Durable execution of workflows.

State lives in the database: an enrolment row says which step a contact is at (``step_id``) and what it waits
for (``state``); exactly one job (``workflows.step``, key ``wf:<enrolment>:<seq>``) will run its next step.
A step job runs in the job's transaction (worker/queue.py): it runs steps until the enrolment waits, needs an
approval or ends, writes the step log, and enqueues the next job, all in one commit. A worker killed mid-way
rolls everything back and the job is claimed again after its lock expires; so every database effect (fields,
lists, step log, the outbox rows of emails and notifications, the next job) happens exactly once. Emails and
HTTP notifications leave through their outboxes, whose rows carry idempotency keys derived from the enrolment
and the step counter (``wf:<enrolment>:<n>``), so a retried step never queues a second message.

A job whose ``seq`` is no longer the enrolment's is stale and does nothing (a decision or a wake-up moved it
on). On PostgreSQL the step locks the enrolment and the contact rows, so steps of several workflows for one
contact run one at a time, in the order their jobs became due.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.conditions import Condition, evaluate, load_facts, load_field_registry
from pitboard.contacts.changes import contacts_changed
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.logging import get_logger
from pitboard.models import Contact, Event, Job, SalesUser
from pitboard.models.workflows import (
    Workflow,
    WorkflowApproval,
    WorkflowEnrolment,
    WorkflowStepLog,
    WorkflowTask,
)
from pitboard.worker import queue
from pitboard.workflows import schemas as s

log = get_logger(__name__)

STEP_TASK = "workflows.step"
SLA_TASK = "workflows.approval_sla"
STEP_MAX_ATTEMPTS = 6
STEPS_PER_JOB = 50
RUNNING = ("active", "waiting")
_T = TypeVar("_T")


def actor_for(key: str) -> Actor:
    return Actor(name=f"workflow:{key}", interface="worker", role="admin")


# --- loading definitions --------------------------------------------------------------------------


@dataclass
class Loaded:
    row_id: int
    key: str
    checksum: str
    spec: s.WorkflowSpec
    conditions: dict[str, Condition] = field(default_factory=dict)


_CACHE: dict[tuple[int, str], Loaded] = {}


def load(session: Session, workflow: Workflow) -> Loaded:
    """The parsed definition (cached by checksum; conditions parsed once)."""
    cache_key = (workflow.id, workflow.checksum)
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    registry = load_field_registry(session)
    spec = s.validate_spec(workflow.definition, registry)
    conditions = {where: s.condition(data, registry) for where, data in s.conditions_of(spec)}
    loaded = Loaded(workflow.id, workflow.key, workflow.checksum, spec, conditions)
    if len(_CACHE) > 500:
        _CACHE.clear()
    _CACHE[cache_key] = loaded
    return loaded


def matches(session: Session, contact_id: int, tree: Condition, now: datetime) -> bool:
    facts = load_facts(session, contact_id, tree, now=now)
    return facts is not None and evaluate(tree, facts, now=now)


def unit(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for these parts: the same contact lands in the same holdout group
    and A/B variant on every run, every worker and every re-entry."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- enrolling ------------------------------------------------------------------------------------


def step_job_key(enrolment_id: int, seq: int) -> str:
    return f"wf:{enrolment_id}:{seq}"


def schedule(session: Session, enrolment: WorkflowEnrolment, run_at: datetime | None = None) -> None:
    """Move the enrolment to its next seq and queue the job that runs it."""
    enrolment.seq += 1
    enrolment.next_run_at = run_at
    # The job row as ``queue.enqueue`` writes it, in one statement: the key is new by construction (the seq only
    # grows, in this transaction), and ON CONFLICT DO NOTHING keeps a repeat harmless without a look-up and a
    # savepoint (three round trips per step job fewer).
    now = utcnow()
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        dialect_insert(Job)
        .values(task=STEP_TASK, payload={"enrolment_id": enrolment.id, "seq": enrolment.seq}, status="queued",
                attempts=0, max_attempts=STEP_MAX_ATTEMPTS, run_at=run_at or now, created_at=now,
                idempotency_key=step_job_key(enrolment.id, enrolment.seq))
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )  # fmt: skip


def enrol(
    session: Session,
    loaded: Loaded,
    contact_id: int,
    *,
    trigger_key: str,
    trigger: dict[str, Any],
    now: datetime | None = None,
    check_condition: bool = True,
) -> WorkflowEnrolment | None:
    """Enrol a contact for one trigger occurrence, following the re-entry rule; None when it does not enrol."""
    now = now or utcnow()
    spec = loaded.spec
    if spec.reentry == "once":
        trigger_key = "once"
    if spec.reentry == "after_exit" and session.scalar(
        select(WorkflowEnrolment.id).where(
            WorkflowEnrolment.workflow_id == loaded.row_id, WorkflowEnrolment.contact_id == contact_id,
            WorkflowEnrolment.status.in_(("active", "waiting", "approval", "dead")),
        ).limit(1)
    ):  # fmt: skip
        return None
    entry = loaded.conditions.get("condition")
    if check_condition and entry is not None and not matches(session, contact_id, entry, now):
        return None
    holdout = spec.holdout > 0 and unit(loaded.key, "holdout", contact_id) < spec.holdout
    values = {
        "workflow_id": loaded.row_id, "contact_id": contact_id, "trigger_key": trigger_key[:200],
        "status": "holdout" if holdout else "active", "holdout": holdout,
        "step_id": None if holdout else spec.steps[0].id, "seq": 0, "workflow_version": 1,
        "state": {"trigger": trigger, "n": 0}, "enrolled_at": now, "finished_at": now if holdout else None,
    }  # fmt: skip
    # One statement, no savepoint: an occurrence already enrolled (a retried job, a concurrent worker) is skipped
    # by the unique key (workflow, contact, trigger key).
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(WorkflowEnrolment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["workflow_id", "contact_id", "trigger_key"])
        .returning(WorkflowEnrolment)
    )
    row = session.scalars(stmt).one_or_none()
    if row is None:
        return None
    if holdout:
        _log(session, row, "holdout", "holdout", "held_back", {"share": spec.holdout}, now)
    else:
        schedule(session, row)
    return row


def enrol_many(
    session: Session,
    loaded: Loaded,
    occurrences: list[tuple[int, str, dict[str, Any]]],
    *,
    now: datetime,
    contacts: dict[int, Contact],
) -> int:
    """The trigger listener's path: enrol many (contact, trigger key, trigger data) occurrences at once and run
    their first steps in this transaction. The caller has locked the ``contacts`` (and keeps them referenced).
    One INSERT for the batch (repeats skipped by the unique key), one savepoint around all first steps (one
    flush: step logs and effects are written in batches). Should any step fail, the savepoint is rolled back
    and every enrolment of the batch takes the durable path instead (its own step job, with retries and a
    dead state)."""
    spec = loaded.spec
    once = spec.reentry == "once"
    wanted: list[tuple[int, str, dict[str, Any]]] = []
    seen: set[tuple[int, str]] = set()
    open_contacts: set[int] = set()
    ids = sorted({c for c, _, _ in occurrences})
    if spec.reentry == "after_exit":
        open_contacts = set(session.scalars(select(WorkflowEnrolment.contact_id).where(
            WorkflowEnrolment.workflow_id == loaded.row_id, WorkflowEnrolment.contact_id.in_(ids),
            WorkflowEnrolment.status.in_(("active", "waiting", "approval", "dead")))))  # fmt: skip
    entry = loaded.conditions.get("condition")
    passed: dict[int, bool] = {}
    for contact_id, key, data in occurrences:
        key = "once" if once else key[:200]
        if (contact_id, key) in seen or contact_id in open_contacts:
            continue
        if entry is not None:
            if contact_id not in passed:
                passed[contact_id] = matches(session, contact_id, entry, now)
            if not passed[contact_id]:
                continue
        seen.add((contact_id, key))
        if spec.reentry == "after_exit":
            open_contacts.add(contact_id)  # one open enrolment at a time, also within the batch
        wanted.append((contact_id, key, data))
    if not wanted:
        return 0
    rows_in = []
    for contact_id, key, data in wanted:
        holdout = spec.holdout > 0 and unit(loaded.key, "holdout", contact_id) < spec.holdout
        rows_in.append({
            "workflow_id": loaded.row_id, "contact_id": contact_id, "trigger_key": key,
            "status": "holdout" if holdout else "active", "holdout": holdout,
            "step_id": None if holdout else spec.steps[0].id, "seq": 0, "workflow_version": 1,
            "state": {"trigger": data, "n": 0}, "enrolled_at": now, "finished_at": now if holdout else None,
        })  # fmt: skip
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        dialect_insert(WorkflowEnrolment)
        .on_conflict_do_nothing(index_elements=["workflow_id", "contact_id", "trigger_key"])
        .returning(WorkflowEnrolment)
    )
    rows = list(session.scalars(stmt, rows_in))
    order = {(c, k): i for i, (c, k, _) in enumerate(wanted)}
    rows.sort(key=lambda r: order.get((r.contact_id, r.trigger_key), 0))  # trigger order: per-contact ordering
    running = []
    for row in rows:
        if row.holdout:
            _log(session, row, "holdout", "holdout", "held_back", {"share": spec.holdout}, now)
        else:
            running.append(row)
    if not running:
        return len(rows)
    try:
        with session.begin_nested(), batched_writes(session):
            for row in running:
                contact = contacts.get(row.contact_id)
                if contact is None:
                    raise LookupError(f"contact {row.contact_id} is gone")
                advance(session, row, contact, loaded)
    except Exception as exc:
        log.info("inline steps failed; the batch goes through step jobs", workflow=loaded.key, error=str(exc)[:300])
        for row in running:
            session.refresh(row)
            schedule(session, row)
    return len(rows)


# --- running steps --------------------------------------------------------------------------------


@dataclass
class Ctx:
    session: Session
    enrolment: WorkflowEnrolment
    contact: Contact
    loaded: Loaded
    now: datetime

    @property
    def n(self) -> int:
        return int(self.enrolment.state.get("n", 0))

    def effect_key(self) -> str:
        return f"wf:{self.enrolment.id}:{self.n}"


@dataclass
class Outcome:
    """What a step decided: go to ``goto`` (None: the end), or wait until ``wait_until``, or stop (approval)."""

    goto: str | None = None
    wait_until: datetime | None = None
    stop: str | None = None  # "approval", "exited"
    result: str = "done"
    detail: dict[str, Any] = field(default_factory=dict)


_PENDING = "pitboard.workflows.pending_rows"


@contextmanager
def batched_writes(session: Session) -> Iterator[None]:
    """Step logs and tasks written inside go to the database in one multi-row INSERT per table at the end.

    Why: the ORM inserts added objects with ``RETURNING id`` to learn their keys, which on PostgreSQL becomes one
    long statement per flush that psycopg parses afresh every time (it only caches statements under 4 KB):
    about half of the trigger listener's time at 1,000 events/s. Nothing reads these rows back before the
    transaction ends, so they need no keys; a plain executemany is pipelined and its statement cached. An error
    inside discards the collected rows with the caller's savepoint."""
    if _PENDING in session.info:  # nested: the outermost block writes
        yield
        return
    pending: dict[type[Any], list[dict[str, Any]]] = {WorkflowStepLog: [], WorkflowTask: []}
    session.info[_PENDING] = pending
    try:
        yield
        for model, rows in pending.items():
            if rows:
                session.execute(insert(model), rows)
    finally:
        session.info.pop(_PENDING, None)


def _add(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    pending = session.info.get(_PENDING)
    if pending is not None and model in pending:
        pending[model].append(values)
    else:
        session.add(model(**values))


def _log(
    session: Session, row: WorkflowEnrolment, step_id: str, action: str, outcome: str, detail: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    _add(session, WorkflowStepLog, {
        "enrolment_id": row.id, "workflow_id": row.workflow_id, "contact_id": row.contact_id, "seq": row.seq,
        "step_id": step_id, "action": action, "outcome": outcome, "detail": detail, "at": now,
    })  # fmt: skip


def _lock(session: Session, model: type[_T], row_id: int) -> _T | None:
    """SELECT ... FOR NO KEY UPDATE on PostgreSQL: serialises our own writers of the row but does not block (or
    deadlock with) inserts elsewhere whose foreign keys take KEY SHARE locks on it (events, messages)."""
    stmt = select(model).where(model.id == row_id).with_for_update(key_share=True)  # type: ignore[attr-defined]
    return session.scalar(stmt)


def merge_step_payloads(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    return {"batch": payloads}


@queue.task(
    STEP_TASK, on_dead=lambda session, payload, error: mark_dead(session, payload, error), merge=merge_step_payloads
)
def run_step_job(session: Session, payload: dict[str, Any]) -> None:
    """Run one step job, or several a worker claimed together (``{"batch": [...]}``: the queue merges them, and
    should anything fail, runs each alone instead). Contacts are locked first, then enrolments, each in id
    order, as the trigger listener locks contacts, so two workers wait for each other instead of deadlocking;
    steps then run in claim order, so one contact's jobs keep their order."""
    batch = [dict(p) for p in payload["batch"]] if "batch" in payload else [payload]
    wanted = [int(p["enrolment_id"]) for p in batch]
    contact_ids = sorted(set(session.scalars(select(WorkflowEnrolment.contact_id).where(
        WorkflowEnrolment.id.in_(wanted)))))  # fmt: skip
    lock_contacts = select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)
    contacts = {c.id: c for c in session.scalars(lock_contacts.with_for_update(key_share=True))}
    lock_rows = select(WorkflowEnrolment).where(WorkflowEnrolment.id.in_(wanted)).order_by(WorkflowEnrolment.id)
    rows = {r.id: r for r in session.scalars(lock_rows.with_for_update(key_share=True))}
    with batched_writes(session):
        for one in batch:
            row = rows.get(int(one["enrolment_id"]))
            if row is None or row.seq != int(one["seq"]) or row.status not in RUNNING:
                continue  # stale: a decision, a wake-up or a replay moved the enrolment on
            # Not among the locked ones if a merge moved the enrolment to another contact meanwhile.
            contact = contacts.get(row.contact_id) or _lock(session, Contact, row.contact_id)
            workflow = session.get(Workflow, row.workflow_id)
            if contact is None or workflow is None:
                continue
            advance(session, row, contact, load(session, workflow))


def advance(session: Session, row: WorkflowEnrolment, contact: Contact, loaded: Loaded) -> None:
    """Run steps from ``row.step_id`` until the enrolment waits, stops or ends."""
    now = utcnow()
    ctx = Ctx(session, row, contact, loaded, now)
    spec = loaded.spec
    row.status, row.next_run_at = "active", None
    for _ in range(STEPS_PER_JOB):
        if row.step_id is None:
            row.status, row.finished_at = "completed", now
            _log(session, row, "end", "end", "completed", {}, now)
            return
        try:
            step = spec.step(row.step_id)
        except KeyError:
            row.status, row.finished_at = "exited", now
            _log(session, row, row.step_id, "missing", "exited", {"reason": "the step no longer exists"}, now)
            return
        row.state = {**row.state, "n": ctx.n + 1}
        outcome = EXECUTORS[step.action](ctx, step)
        if outcome.wait_until is not None:
            row.status = "waiting"
            if outcome.result != "still_waiting":
                _log(session, row, step.id, step.action, outcome.result, outcome.detail, now)
            schedule(session, row, outcome.wait_until)
            return
        _log(session, row, step.id, step.action, outcome.result, outcome.detail, now)
        if outcome.stop == "approval":
            row.status = "approval"
            return
        if outcome.stop == "exited":
            row.status, row.finished_at = "exited", now
            return
        row.step_id = outcome.goto
    schedule(session, row)  # a long run of instant steps: carry on in a fresh job (and let others in)


def mark_dead(session: Session, payload: dict[str, Any], error: str) -> None:
    row = _lock(session, WorkflowEnrolment, int(payload["enrolment_id"]))
    if row is not None and row.seq == int(payload["seq"]) and row.status in RUNNING:
        row.state = {**row.state, "dead_from": row.status}
        row.status, row.last_error = "dead", error
        _log(session, row, row.step_id or "?", "dead", "dead", {"error": error[:500]}, utcnow())


def replay(session: Session, enrolment_id: int, *, actor: Actor) -> WorkflowEnrolment:
    """Run a dead enrolment's step again (after fixing the cause)."""
    actor.require("editor")
    row = _lock(session, WorkflowEnrolment, enrolment_id)
    if row is None:
        raise NotFound(f"enrolment {enrolment_id} does not exist")
    if row.status != "dead":
        raise ValidationFailed(f"enrolment {enrolment_id} is {row.status}; only dead enrolments are replayed")
    job = session.scalar(select(Job).where(Job.idempotency_key == step_job_key(row.id, row.seq)))
    row.status = str(row.state.get("dead_from", "active"))
    row.last_error = None
    if job is not None and job.status == "dead":
        queue.replay(session, job.id)
    else:
        schedule(session, row)
    _log(session, row, row.step_id or "?", "replay", "replayed", {"by": actor.name}, utcnow())
    audit.record(session, actor=actor, action="replay", entity_type="workflow_enrolment", entity_id=row.id,
                 changes={"status": ["dead", row.status]})  # fmt: skip
    return row


# --- rendering ------------------------------------------------------------------------------------

_TEXT_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def _context(ctx: Ctx) -> dict[str, Any]:
    from pitboard.messaging.render import contact_fields

    return {"contact": contact_fields(ctx.contact), "trigger": ctx.enrolment.state.get("trigger", {}),
            "workflow": {"key": ctx.loaded.key, "name": ctx.loaded.spec.name}}  # fmt: skip


@lru_cache(maxsize=512)
def _compiled(template: str, html: bool) -> Template:
    """Templates are compiled once (compiling costs far more than rendering)."""
    from pitboard.messaging.render import fallback

    env = _HTML_ENV if html else _TEXT_ENV
    env.filters.setdefault("fallback", fallback)
    try:
        return env.from_string(template)
    except TemplateError as exc:
        raise ValidationFailed(f"template error: {exc}") from exc


def render(template: str, ctx: Ctx, *, html: bool = False) -> str:
    try:
        return _compiled(template, html).render(_context(ctx))
    except TemplateError as exc:
        raise ValidationFailed(f"workflow {ctx.loaded.key}: template error: {exc}") from exc


# --- the actions ----------------------------------------------------------------------------------


def _owner_email(ctx: Ctx) -> str | None:
    if ctx.contact.owner_id is None:
        return None
    owner = ctx.session.get(SalesUser, ctx.contact.owner_id)
    return getattr(owner, "email", None) if owner is not None else None


def _resolve_value(ctx: Ctx, path: str) -> Any:
    trigger = ctx.enrolment.state.get("trigger", {})
    head, _, rest = path.partition(".")
    if head == "trigger":
        value: Any = trigger
        for part in rest.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if head == "event":
        event_id = trigger.get("event_id")
        event = ctx.session.get(Event, event_id) if event_id else None
        if event is None:
            return None
        if rest.startswith("properties."):
            return (event.properties or {}).get(rest.removeprefix("properties."))
        if rest in ("name", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "channel",
                    "source", "occurred_at"):  # fmt: skip
            value = getattr(event, rest)
            return value.isoformat() if isinstance(value, datetime) else value
    raise ValidationFailed(f"value_from {path!r}: use trigger.<key>, event.<column> or event.properties.<name>")


def _set_field(ctx: Ctx, step: s.SetField) -> Outcome:
    value = step.value if step.value_from is None else _resolve_value(ctx, step.value_from)
    contact = ctx.contact
    if step.field.startswith("custom."):
        name = step.field.removeprefix("custom.")
        current = (contact.custom or {}).get(name)
    else:
        name, current = step.field, getattr(contact, step.field)
    if step.only_if_empty and current not in (None, ""):
        return Outcome(goto=ctx.loaded.spec.following(step), result="skipped", detail={"kept": current})
    if value is None:
        return Outcome(goto=ctx.loaded.spec.following(step), result="skipped", detail={"reason": "no value"})
    if step.field.startswith("custom."):
        contact.custom = {**(contact.custom or {}), name: value}
    else:
        setattr(contact, name, str(value))
    audit.record(ctx.session, actor=actor_for(ctx.loaded.key), action="update", entity_type="contact",
                 entity_id=contact.id, changes={step.field: [current, value]})  # fmt: skip
    contacts_changed(ctx.session, [contact.id], reason="workflow")
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"field": step.field, "from": current, "to": value})


def _segment(ctx: Ctx, step: s.AddToSegment) -> Outcome:
    from pitboard.segments import service as segments

    actor = actor_for(ctx.loaded.key)
    if step.action == "add_to_segment":
        change = segments.add_members(ctx.session, step.segment, ids=[ctx.contact.id], entered_by="api", actor=actor)
    else:
        change = segments.remove_members(ctx.session, step.segment, ids=[ctx.contact.id], actor=actor)
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"segment": step.segment, "change": repr(change)[:300]})


def _score(ctx: Ctx, step: s.ChangeScore) -> Outcome:
    contact = ctx.contact
    current = (contact.custom or {}).get(step.field) or 0
    if not isinstance(current, int | float):
        raise ValidationFailed(f"custom.{step.field} holds {current!r}, not a number")
    new = current + step.by
    contact.custom = {**(contact.custom or {}), step.field: new}
    contacts_changed(ctx.session, [contact.id], reason="workflow")
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"field": f"custom.{step.field}", "from": current,
                                                                 "to": new})  # fmt: skip


def _lifecycle(ctx: Ctx, step: s.ChangeLifecycle) -> Outcome:
    from pitboard.lifecycle.definitions import current_spec
    from pitboard.lifecycle.engine import enter_stage

    spec = current_spec(ctx.session)
    if spec.stage(step.stage) is None:
        raise ValidationFailed(f"lifecycle stage {step.stage!r} does not exist")
    before = ctx.contact.lifecycle_stage
    moves = enter_stage(ctx.session, [ctx.contact.id], step.stage, spec=spec, now=ctx.now, source="workflow",
                        reason=f"workflow {ctx.loaded.key}")  # fmt: skip
    ctx.session.refresh(ctx.contact)
    result = "done" if moves else "skipped"
    return Outcome(goto=ctx.loaded.spec.following(step), result=result,
                   detail={"from": before, "to": ctx.contact.lifecycle_stage})  # fmt: skip


def _route(ctx: Ctx, step: s.RouteLead) -> Outcome:
    from pitboard.routing.engine import route_contacts

    outcomes = route_contacts(ctx.session, [ctx.contact.id], trigger="workflow", actor=actor_for(ctx.loaded.key))
    detail = {"outcomes": [repr(o)[:300] for o in outcomes]}
    return Outcome(goto=ctx.loaded.spec.following(step), detail=detail)


def _send_email(ctx: Ctx, step: s.SendEmail) -> Outcome:
    from pitboard.messaging.outbox import enqueue_email
    from pitboard.messaging.render import contact_fields, render_email
    from pitboard.workflows import tracking

    if step.template is not None:
        rendered = render_email(step.template, {"contact": contact_fields(ctx.contact)})
        subject, text, html = rendered.subject, rendered.text, rendered.html
    else:
        assert step.subject is not None
        subject = render(step.subject, ctx)
        html = render(step.html, ctx, html=True) if step.html is not None else None
        if step.text is not None:
            text = render(step.text, ctx)
        else:
            from pitboard.messaging.render import html_to_text

            text = html_to_text(html or "")
    key = ctx.effect_key()
    if step.track and html is not None:
        html = tracking.instrument(html, contact_id=ctx.contact.id, key=key, workflow=ctx.loaded.key, step=step.id)
    message = enqueue_email(
        ctx.session, contact_id=ctx.contact.id, kind=step.kind, purpose=step.purpose,
        template=step.template or f"workflow:{ctx.loaded.key}", subject=subject, text=text, html=html,
        idempotency_key=key,
    )  # fmt: skip
    result = "done" if message.status == "queued" else message.status
    detail = {"message_id": message.id, "status": message.status, "reason": message.blocked_reason}
    return Outcome(goto=ctx.loaded.spec.following(step), result=result, detail=detail)


def _notify(ctx: Ctx, step: s.Notify) -> Outcome:
    from pitboard.notify import notify

    to = step.to
    if to == "owner":
        owner = _owner_email(ctx)
        if owner is None:
            return Outcome(goto=ctx.loaded.spec.following(step), result="skipped", detail={"reason": "no owner"})
        to = f"email:{owner}"
    from pitboard.settings import get_settings

    link = f"{get_settings().base_url.rstrip('/')}/workflows/journey/{ctx.contact.id}"
    notify(ctx.session, to=to, subject=render(step.subject, ctx), text=render(step.text, ctx), link=link,
           facts=_facts(ctx), idempotency_key=ctx.effect_key())  # fmt: skip
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"to": to})


def _facts(ctx: Ctx, fields: list[str] | None = None) -> dict[str, str]:
    from pitboard.messaging.render import contact_fields

    data = contact_fields(ctx.contact)
    names = fields or ["email", "full_name", "company_name"]
    facts = {"contact_id": str(ctx.contact.id), "workflow": ctx.loaded.key}
    for name in names:
        value = data.get(name) if not name.startswith("custom.") else data["custom"].get(name[7:])
        if value is not None:
            facts[name] = str(value)
    return facts


def _task(ctx: Ctx, step: s.CreateTask) -> Outcome:
    assignee = _owner_email(ctx) if step.assignee == "owner" else step.assignee
    if assignee is None:
        return Outcome(goto=ctx.loaded.spec.following(step), result="skipped", detail={"reason": "no owner"})
    due = ctx.now + s.parse_duration(step.due_in) if step.due_in else None
    key = ctx.effect_key()
    # No look-up first: the step runs in one transaction with everything else, so a key can only repeat
    # after a rollback (and the unique key would stop a duplicate anyway).
    _add(ctx.session, WorkflowTask, {"enrolment_id": ctx.enrolment.id, "contact_id": ctx.contact.id,
                                     "assignee": assignee, "title": render(step.title, ctx)[:300], "due_at": due,
                                     "status": "open", "idempotency_key": key, "created_at": ctx.now})  # fmt: skip
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"assignee": assignee})


def _webhook(ctx: Ctx, step: s.Webhook) -> Outcome:
    from pitboard.notify import notify

    notify(ctx.session, to=f"webhook:{step.endpoint}", subject=step.event,
           text=f"workflow {ctx.loaded.key}, step {step.id}, contact {ctx.contact.id}",
           facts=_facts(ctx, step.fields), idempotency_key=ctx.effect_key())  # fmt: skip
    return Outcome(goto=ctx.loaded.spec.following(step), detail={"endpoint": step.endpoint})


def _until(ctx: Ctx, value: str) -> datetime | None:
    if value.startswith("field:"):
        name = value.removeprefix("field:")
        raw = (ctx.contact.custom or {}).get(name.removeprefix("custom.")) if name.startswith("custom.") else (
            getattr(ctx.contact, name, None))  # fmt: skip
        if raw is None:
            return None
        value = raw.isoformat() if isinstance(raw, datetime) else str(raw)
    try:
        return ensure_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise ValidationFailed(f"wait until {value!r}: not an ISO date or date-time") from exc


def _wait(ctx: Ctx, step: s.Wait) -> Outcome:
    state = dict(ctx.enrolment.state)
    waiting = state.get("wait")
    spec = ctx.loaded.spec
    if not waiting or waiting.get("step") != step.id:
        # First arrival at this wait.
        if step.duration is not None:
            until: datetime | None = ctx.now + s.parse_duration(step.duration)
        elif step.until is not None:
            until = _until(ctx, step.until)
            if until is None:
                return Outcome(goto=spec.following(step), result="skipped", detail={"reason": "no date to wait for"})
        else:
            until = ctx.now + s.parse_duration(step.timeout or "0s")
        waiting = {"step": step.id, "until": until.isoformat() if until else None, "started": ctx.now.isoformat(),
                   "condition": step.condition is not None}  # fmt: skip
        ctx.enrolment.state = {**state, "wait": waiting}
        if step.condition is None and until is not None and until <= ctx.now:
            return _waited(ctx, step, "done", {"until": waiting["until"]})
        if step.condition is not None:
            if matches(ctx.session, ctx.contact.id, ctx.loaded.conditions[f"steps.{spec.index(step.id)}.condition"],
                       ctx.now):  # fmt: skip
                return _waited(ctx, step, "condition_met", {})
            assert until is not None
            check = min(until, ctx.now + s.parse_duration(step.check_every))
            return Outcome(wait_until=check, result="waiting", detail={"timeout": waiting["until"]})
        assert until is not None
        return Outcome(wait_until=until, result="waiting", detail={"until": waiting["until"]})
    until = datetime.fromisoformat(waiting["until"]) if waiting.get("until") else ctx.now
    if step.condition is not None:
        tree = ctx.loaded.conditions[f"steps.{spec.index(step.id)}.condition"]
        if matches(ctx.session, ctx.contact.id, tree, ctx.now):
            return _waited(ctx, step, "condition_met", {})
        if ctx.now >= until:
            return _waited(ctx, step, "timed_out", {}, goto=step.on_timeout or spec.following(step))
        return Outcome(wait_until=min(until, ctx.now + s.parse_duration(step.check_every)), result="still_waiting")
    # A duration or date wait ends when its job runs: the job's run_at is the deadline (jobs of such waits are
    # never woken early; an operator moving run_at forward means "skip the rest of the wait").
    return _waited(ctx, step, "done", {"until": waiting["until"]})


def _waited(ctx: Ctx, step: s.Wait, result: str, detail: dict[str, Any], goto: str | None = None) -> Outcome:
    state = dict(ctx.enrolment.state)
    started = state.pop("wait", {}).get("started")
    ctx.enrolment.state = state
    return Outcome(goto=goto if goto is not None else ctx.loaded.spec.following(step), result=result,
                   detail={**detail, "since": started})  # fmt: skip


def _branch(ctx: Ctx, step: s.Branch) -> Outcome:
    spec = ctx.loaded.spec
    tree = ctx.loaded.conditions[f"steps.{spec.index(step.id)}.condition"]
    hit = matches(ctx.session, ctx.contact.id, tree, ctx.now)
    target = (step.then or spec.following(step)) if hit else step.else_
    if not hit and target is None:
        target = spec.following(step)
    return Outcome(goto=target, result="then" if hit else "else", detail={"matched": hit, "goto": target})


def split_variant(workflow_key: str, step: s.Split, contact_id: int) -> s.Variant:
    """The variant of an A/B split a contact gets: by weight, stable for the workflow, step and contact (the
    engine and the dry run must agree)."""
    point = unit(workflow_key, step.id, contact_id) * sum(v.weight for v in step.variants)
    for variant in step.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return step.variants[-1]


def _split(ctx: Ctx, step: s.Split) -> Outcome:
    chosen = split_variant(ctx.loaded.key, step, ctx.contact.id)
    if ctx.enrolment.variant is None:
        ctx.enrolment.variant = chosen.name
    goto = chosen.next or ctx.loaded.spec.following(step)
    return Outcome(goto=goto, result=chosen.name, detail={"variant": chosen.name})


def _approval(ctx: Ctx, step: s.Approval) -> Outcome:
    due = ctx.now + s.parse_duration(step.sla) if step.sla else None
    title = render(step.title, ctx)[:300]
    approval = WorkflowApproval(
        enrolment_id=ctx.enrolment.id, workflow_id=ctx.loaded.row_id, contact_id=ctx.contact.id, step_id=step.id,
        seq=ctx.enrolment.seq, title=title, approvers=step.approvers, status="pending", due_at=due,
        created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(approval)
    ctx.session.flush()
    if step.approvers and re.match(r"^(email|slack|webhook):", step.approvers):
        from pitboard.notify import notify
        from pitboard.settings import get_settings

        notify(ctx.session, to=step.approvers, subject=f"Approval needed: {title}",
               text=f"Workflow {ctx.loaded.spec.name} waits for your decision.",
               link=f"{get_settings().base_url.rstrip('/')}/workflows/approvals", facts=_facts(ctx),
               idempotency_key=ctx.effect_key())  # fmt: skip
    if due is not None:
        queue.enqueue(ctx.session, SLA_TASK, {"approval_id": approval.id}, run_at=due,
                      idempotency_key=f"wf-sla:{approval.id}")  # fmt: skip
    return Outcome(stop="approval", result="pending", detail={"approval_id": approval.id})


def _suppress(ctx: Ctx, step: s.Suppress) -> Outcome:
    """Suppress every email address of the contact (the consent package's suppression list)."""
    from pitboard.consent import suppression
    from pitboard.contacts.identities import email_addresses

    addresses = email_addresses(ctx.session, ctx.contact)
    for address in addresses:
        suppression.suppress(ctx.session, channel=step.channel, reason=step.reason, source="workflow",
                             actor=actor_for(ctx.loaded.key), address=address, contact_id=ctx.contact.id,
                             note=f"workflow {ctx.loaded.key}")  # fmt: skip
    result = "done" if addresses else "skipped"
    return Outcome(goto=ctx.loaded.spec.following(step), result=result, detail={"addresses": len(addresses)})


def _exit(ctx: Ctx, step: s.Exit) -> Outcome:
    return Outcome(stop="exited", result="exited")


EXECUTORS: dict[str, Any] = {
    "set_field": _set_field, "add_to_segment": _segment, "remove_from_segment": _segment, "change_score": _score,
    "change_lifecycle": _lifecycle, "route_lead": _route, "send_email": _send_email, "notify": _notify,
    "create_task": _task, "webhook": _webhook, "wait": _wait, "branch": _branch, "ab_split": _split,
    "approval": _approval, "suppress": _suppress, "exit": _exit,
}  # fmt: skip


# --- approvals ------------------------------------------------------------------------------------


def decide(session: Session, approval_id: int, *, approve: bool, reason: str | None, actor: Actor) -> WorkflowApproval:
    """Approve or reject; the enrolment carries on (``on_reject`` or exit after a rejection)."""
    actor.require("editor")
    approval = _lock(session, WorkflowApproval, approval_id)
    if approval is None:
        raise NotFound(f"approval {approval_id} does not exist")
    if approval.status != "pending":
        raise Conflict(f"approval {approval_id} was already {approval.status}")
    if not approve and not (reason or "").strip():
        raise ValidationFailed("a rejection needs a reason")
    now = utcnow()
    approval.status = "approved" if approve else "rejected"
    approval.decided_by, approval.decided_at, approval.reason = actor.name, now, (reason or None)
    row = _lock(session, WorkflowEnrolment, approval.enrolment_id)
    workflow = session.get(Workflow, approval.workflow_id)
    audit.record(session, actor=actor, action=approval.status, entity_type="workflow_approval", entity_id=approval.id,
                 changes={"status": ["pending", approval.status], "reason": [None, reason]})  # fmt: skip
    if row is None or workflow is None or row.status != "approval" or row.seq != approval.seq:
        return approval
    spec = load(session, workflow).spec
    step = spec.step(approval.step_id)
    _log(session, row, step.id, "decision", approval.status, {"by": actor.name, "reason": reason}, now)
    target = spec.following(step) if approve else step.on_reject
    if target is None and not approve:
        row.status, row.finished_at = "exited", now
        return approval
    row.status, row.step_id = "active", target
    schedule(session, row)
    return approval


@queue.task(SLA_TASK)
def approval_sla(session: Session, payload: dict[str, Any]) -> None:
    approval = _lock(session, WorkflowApproval, int(payload["approval_id"]))
    if approval is None or approval.status != "pending" or approval.overdue_notified_at is not None:
        return
    approval.overdue_notified_at = utcnow()
    row = session.get(WorkflowEnrolment, approval.enrolment_id)
    if row is not None:
        _log(session, row, approval.step_id, "approval_sla", "overdue", {"due_at": str(approval.due_at)}, utcnow())
    if approval.approvers and re.match(r"^(email|slack|webhook):", approval.approvers):
        from pitboard.notify import notify

        notify(session, to=approval.approvers, subject=f"Approval overdue: {approval.title}"[:300],
               text="An approval in pitboard is past its SLA.", idempotency_key=f"wf-sla:{approval.id}")  # fmt: skip


def wake(session: Session, contact_ids: list[int]) -> int:
    """Contacts changed: make the jobs of their enrolments waiting for a condition due now (they re-check)."""
    if not contact_ids:
        return 0
    rows = session.execute(
        select(WorkflowEnrolment.id, WorkflowEnrolment.seq, WorkflowEnrolment.state).where(
            WorkflowEnrolment.contact_id.in_(contact_ids), WorkflowEnrolment.status == "waiting"
        )
    ).all()
    keys = [step_job_key(r.id, r.seq) for r in rows if (r.state or {}).get("wait", {}).get("condition")]
    if not keys:
        return 0
    now = utcnow()
    result = session.execute(
        update(Job).where(Job.idempotency_key.in_(keys), Job.status == "queued", Job.run_at > now).values(run_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
