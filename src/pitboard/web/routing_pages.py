"""Web pages for lead routing: the queue (unassigned with reasons, queued), the assignment log with
explanations (and accept/reject), the SLA board with overdue leads and speed to lead, rep availability with
absences. Everyone signed in reads; editors and admins route, dispose and record absences."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from pitboard.api.deps import SessionDep
from pitboard.kit.errors import PitboardError
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import User
from pitboard.routing import service
from pitboard.routing.engine import current_flow
from pitboard.routing.sla import sla_counts
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, web_actor
from pitboard.web.render import error_page, render, url_with

router = APIRouter(include_in_schema=False)
STATUSES = ("unassigned", "queued", "assigned", "rejected")


def _base(tab: str, user: User, session: SessionDep, notice: str | None, error: str | None) -> dict[str, object]:
    return {"nav": "routing", "tab": tab, "can_write": can_write(user), "notice": (notice or "")[:300] or None,
            "error": (error or "")[:300] or None, "flow_applied": current_flow(session) is not None}  # fmt: skip


@router.get("/routing")
def queue_page(
    request: Request, user: CurrentUser, session: SessionDep, status: str = "unassigned",
    notice: str | None = None, error: str | None = None,
) -> Response:  # fmt: skip
    if status not in STATUSES:
        status = "unassigned"
    rows = service.leads(session, status=status, limit=200)
    return render(request, "routing/queue.html", {**_base("queue", user, session, notice, error), "rows": rows,
                                                   "status": status})  # fmt: skip


@router.get("/routing/log")
def log_page(
    request: Request, user: CurrentUser, session: SessionDep, contact_id: int | None = None,
    notice: str | None = None, error: str | None = None,
) -> Response:  # fmt: skip
    rows = service.decision_log(session, contact_id=contact_id, limit=100)
    return render(request, "routing/log.html", {**_base("log", user, session, notice, error), "rows": rows,
                                                 "contact_id": contact_id,
                                                 "reasons": service.rejection_reasons(session)})  # fmt: skip


@router.get("/routing/sla")
def sla_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    now = utcnow()
    overdue = service.leads(session, overdue_at=now, limit=200)
    for row in overdue:
        row["late"] = int((now - ensure_utc(row["sla_due_at"])).total_seconds() // 60)
    context = {**_base("sla", user, session, None, None), "overdue": overdue, "counts": sla_counts(session),
               "speed": service.speed_to_lead(session), "rejections": service.rejection_report(session)}  # fmt: skip
    return render(request, "routing/sla.html", context)


@router.get("/routing/reps")
def reps_page(
    request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None, error: str | None = None
) -> Response:
    context = {**_base("reps", user, session, notice, error), "rows": service.availability(session)}
    return render(request, "routing/reps.html", context)


@router.post("/routing/contacts/{contact_id}/route")
def route_contact(
    contact_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Routing a lead needs the editor or admin role.")
    back = form.get("back")
    status = back if isinstance(back, str) and back in STATUSES else "unassigned"
    try:
        out = service.route_one(session, contact_id=contact_id, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/routing", status=status, error=exc.message), status_code=303)
    session.commit()
    message = f"Contact {contact_id}: {out.outcome} — {out.reason}"
    return RedirectResponse(url_with("/routing", status=status, notice=message), status_code=303)


@router.post("/routing/contacts/{contact_id}/disposition")
def dispose(contact_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Accepting or rejecting a lead needs the editor or admin role.")
    disposition, reason, note = (form.get(k) for k in ("disposition", "reason", "note"))
    try:
        service.dispose(session, contact_id=contact_id, disposition=str(disposition or ""),
                        reason=str(reason) if disposition == "rejected" and reason else None,
                        note=str(note).strip()[:300] or None if note else None, actor=web_actor(user))  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/routing/log", contact_id=contact_id, error=exc.message), status_code=303)
    session.commit()
    return RedirectResponse(url_with("/routing/log", contact_id=contact_id, notice=f"Lead {disposition}."),
                            status_code=303)  # fmt: skip


@router.post("/routing/out-of-office")
def add_absence(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Recording an absence needs the editor or admin role.")
    try:
        starts = datetime.fromisoformat(str(form.get("starts_at") or ""))
        ends = datetime.fromisoformat(str(form.get("ends_at") or ""))
    except ValueError:
        return RedirectResponse(url_with("/routing/reps", error="Give the start and end as date and time."),
                                status_code=303)  # fmt: skip
    try:
        service.add_out_of_office(session, user_email=str(form.get("email") or ""), starts_at=starts, ends_at=ends,
                                  note=str(form.get("note") or "").strip() or None, actor=web_actor(user))  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return RedirectResponse(url_with("/routing/reps", error=exc.message), status_code=303)
    session.commit()
    return RedirectResponse(url_with("/routing/reps", notice="Absence recorded."), status_code=303)
