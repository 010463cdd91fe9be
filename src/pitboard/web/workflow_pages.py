"""Workflow pages: the list with live counts, a workflow's steps (who is where now), lift against the holdout,
a contact's journey, the approval inbox, people's tasks and the dead letters with replay. Plus the public
open/click tracking endpoints (``/t/o/<token>``, ``/t/c/<token>``), which need no login.

Everyone signed in reads; editors and admins decide approvals, close tasks and replay. Workflows are defined in
the project folder (``workflows/*.yml``) or through the API; these pages show them read-only.
"""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from pitboard.api.deps import SessionDep
from pitboard.kit.errors import PitboardError
from pitboard.kit.time import utcnow
from pitboard.models import Contact
from pitboard.models.workflows import NotifyDelivery, WorkflowEnrolment
from pitboard.notify import tasks as notify_tasks
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, web_actor
from pitboard.web.render import error_page, render, url_with
from pitboard.workflows import engine, service, tracking

router = APIRouter(include_in_schema=False)

STATUSES = ("active", "waiting", "approval", "completed", "exited", "dead", "holdout")


# --- tracking (public) -----------------------------------------------------------------------------


@router.get("/t/o/{token}")
def track_open(token: str, request: Request, session: SessionDep) -> Response:
    """The open pixel: always a 1x1 GIF (a bad token records nothing but still answers with the image)."""
    try:
        tracking.record(session, tracking.read(token, request.app.state.settings), kind="open")
        session.commit()
    except PitboardError:
        session.rollback()
    headers = {"Cache-Control": "no-store, private", "Content-Type": "image/gif"}
    return Response(content=tracking.PIXEL, headers=headers)


@router.get("/t/c/{token}")
def track_click(token: str, request: Request, session: SessionDep) -> Response:
    """A click: record it and redirect to the link that was sent (only URLs signed into the token)."""
    try:
        target = tracking.record(session, tracking.read(token, request.app.state.settings), kind="click")
    except PitboardError as exc:
        session.rollback()
        return error_page(request, 404, exc.message)
    session.commit()
    assert target is not None
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store, private"})


# --- pages -----------------------------------------------------------------------------------------


@router.get("/workflows")
def workflow_list(request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None) -> Response:
    rows = service.list_workflows(session)
    counts = service.status_counts(session, [r.id for r in rows])
    pending = len(service.approvals(session, status="pending"))
    dead = len(service.dead_letters(session))
    open_tasks = service.count_tasks(session, assignee=user.email)
    context = {"nav": "workflows", "rows": rows, "counts": counts, "statuses": STATUSES, "notice": notice,
               "pending": pending, "dead": dead, "open_tasks": open_tasks,
               "project_file": service.project_file}  # fmt: skip
    return render(request, "workflows/list.html", context)


@router.get("/workflows/approvals")
def approval_inbox(
    request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None, error: str | None = None
) -> Response:
    pending = service.approvals(session, status="pending")
    decided = [a for a in service.approvals(session, status=None, limit=50) if a.status != "pending"][:20]
    names = _contact_names(session, {a.contact_id for a in [*pending, *decided]})
    keys = {r.id: r.key for r in service.list_workflows(session)}
    context = {"nav": "workflows", "pending": pending, "decided": decided, "names": names, "keys": keys,
               "can_write": can_write(user), "notice": notice, "error": error}  # fmt: skip
    return render(request, "workflows/approvals.html", context)


@router.post("/workflows/approvals/{approval_id}")
def approval_decide(
    approval_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Deciding approvals needs the editor or admin role.")
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", "")).strip()[:2000] or None
    if decision not in ("approve", "reject"):
        return RedirectResponse(url_with("/workflows/approvals", error="Choose approve or reject."), status_code=303)
    try:
        engine.decide(session, approval_id, approve=decision == "approve", reason=reason, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/workflows/approvals", error=exc.message), status_code=303)
    session.commit()
    word = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(url_with("/workflows/approvals", notice=f"Approval {approval_id} {word}."),
                            status_code=303)  # fmt: skip


@router.get("/workflows/tasks")
def task_list(
    request: Request, user: CurrentUser, session: SessionDep, who: str = "me", status: str = "open",
    notice: str | None = None, error: str | None = None,
) -> Response:  # fmt: skip
    """Tasks that workflow steps made for people: the signed-in user's by default, or everyone's."""
    status = status if status in (*service.TASK_STATUSES, "all") else "open"
    mine = who != "all"
    rows = service.tasks(session, assignee=user.email if mine else None, status=None if status == "all" else status)
    keys = {r.id: r.key for r in service.list_workflows(session)}
    enrolments = {t.enrolment_id for t in rows if t.enrolment_id is not None}
    pairs = select(WorkflowEnrolment.id, WorkflowEnrolment.workflow_id).where(WorkflowEnrolment.id.in_(enrolments))
    flows: dict[int, int] = {int(e): int(w) for e, w in session.execute(pairs)} if enrolments else {}
    context = {"nav": "workflows", "rows": rows, "mine": mine, "status": status, "statuses": service.TASK_STATUSES,
               "names": _contact_names(session, {t.contact_id for t in rows if t.contact_id is not None}),
               "workflow_of": {t.id: keys.get(flows.get(t.enrolment_id or -1, -1), "") for t in rows},
               "now": utcnow(), "can_write": can_write(user), "notice": notice, "error": error}  # fmt: skip
    return render(request, "workflows/tasks.html", context)


@router.post("/workflows/tasks/{task_id}")
def task_set_status(task_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Closing tasks needs the editor or admin role.")
    # Back to the list as it was filtered.
    view = {"who": "all" if form.get("who") == "all" else None, "status": str(form.get("showing", "")) or None}
    try:
        row = service.set_task_status(session, task_id, str(form.get("status", "done")), actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/workflows/tasks", **view, error=exc.message), status_code=303)
    session.commit()
    notice = f"Task {task_id} is {row.status}."
    return RedirectResponse(url_with("/workflows/tasks", **view, notice=notice), status_code=303)


@router.get("/workflows/dead-letters")
def dead_letters(
    request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None, error: str | None = None
) -> Response:
    rows = service.dead_letters(session)
    keys = {r.id: r.key for r in service.list_workflows(session)}
    deliveries = list(
        session.scalars(
            select(NotifyDelivery).where(NotifyDelivery.status == "dead").order_by(NotifyDelivery.id.desc()).limit(100)
        )
    )
    context = {"nav": "workflows", "rows": rows, "keys": keys, "deliveries": deliveries,
               "names": _contact_names(session, {r.contact_id for r in rows}), "can_write": can_write(user),
               "notice": notice, "error": error}  # fmt: skip
    return render(request, "workflows/dead.html", context)


@router.post("/workflows/dead-letters/{enrolment_id}/replay")
def replay_enrolment(
    enrolment_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    del form
    if not can_write(user):
        return error_page(request, 403, "Replaying needs the editor or admin role.")
    try:
        engine.replay(session, enrolment_id, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/workflows/dead-letters", error=exc.message), status_code=303)
    session.commit()
    return RedirectResponse(url_with("/workflows/dead-letters", notice=f"Enrolment {enrolment_id} queued again."),
                            status_code=303)  # fmt: skip


@router.post("/workflows/deliveries/{delivery_id}/replay")
def replay_delivery(
    delivery_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    del form
    if not can_write(user):
        return error_page(request, 403, "Replaying needs the editor or admin role.")
    try:
        notify_tasks.replay(session, delivery_id)
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/workflows/dead-letters", error=exc.message), status_code=303)
    session.commit()
    return RedirectResponse(url_with("/workflows/dead-letters", notice=f"Delivery {delivery_id} queued again."),
                            status_code=303)  # fmt: skip


@router.get("/workflows/journey/{contact_id}")
def journey(contact_id: int, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    contact = session.get(Contact, contact_id)
    if contact is None:
        return error_page(request, 404, f"Contact {contact_id} does not exist.")
    entries = service.journey(session, contact_id)
    context = {"nav": "workflows", "contact": contact, "entries": entries}
    return render(request, "workflows/journey.html", context)


@router.get("/workflows/{key}")
def workflow_detail(key: str, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    try:
        row = service.get_workflow(session, key)
    except PitboardError as exc:
        return error_page(request, 404, exc.message)
    steps = service.step_counts(session, row)
    counts: dict[str, int] = dict(service.status_counts(session, [row.id]).get(row.id, {}))
    lift = service.lift(session, row) if row.definition.get("holdout") else None
    recent = list(
        session.scalars(
            select(WorkflowEnrolment)
            .where(WorkflowEnrolment.workflow_id == row.id)
            .order_by(WorkflowEnrolment.id.desc())
            .limit(25)
        )
    )
    definition = yaml.safe_dump(row.definition, sort_keys=False, allow_unicode=True)
    context = {"nav": "workflows", "row": row, "steps": steps, "counts": counts, "statuses": STATUSES,
               "lift": lift, "recent": recent, "names": _contact_names(session, {e.contact_id for e in recent}),
               "definition": definition, "project_file": service.project_file}  # fmt: skip
    return render(request, "workflows/detail.html", context)


def _contact_names(session: SessionDep, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name)
                           .where(Contact.id.in_(ids)))  # fmt: skip
    return {int(i): (" ".join(p for p in (f, ln) if p) or e or f"#{i}") for i, e, f, ln in rows}
