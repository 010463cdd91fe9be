"""Web pages for campaign operations and the work board.

- ``/board``: the Kanban board. Every card has a move form (works without JavaScript); with JavaScript,
  ``/board/board.js`` (served from here: the CSP allows our own scripts only, never inline ones) lets cards be
  dragged between columns and submits the same form. A move into a full column comes back with the WIP error
  and a form to override it with a reason.
- ``/board/items/{id}``: a card's history; ``/board/flow``: the flow dashboard with SVG charts;
- ``/board/intake``: the campaign request form; ``/board/campaigns``: campaigns in operation;
- ``/campaigns/{id}/ops``: a campaign's checklist, approvals (approvers decide, reviewers comment), budget, go-live;
- ``/board/naming``: the naming convention, a name checker, the UTM link builder and the UTM audit.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from starlette.datastructures import FormData

from pitboard.api.deps import SessionDep
from pitboard.campaigns.schemas import CAMPAIGN_TYPES
from pitboard.consent.purposes import load_purposes
from pitboard.kit.errors import PitboardError
from pitboard.kit.time import utcnow
from pitboard.models import Segment, User
from pitboard.models.workboard import ITEM_TYPES, PRIORITIES, SERVICE_TIERS
from pitboard.web import charts
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, form_text, web_actor
from pitboard.web.render import SECURITY_HEADERS, TEMPLATE_DIR, error_page, render, url_with
from pitboard.workboard import board, campaign_ops, flow, utm_audit
from pitboard.workboard.campaign_ops import IntakeIn
from pitboard.workboard.naming import Issue, build_utm_url, check_name, check_utm

router = APIRouter(include_in_schema=False)

BOARD_JS = TEMPLATE_DIR / "board" / "board.js"


def _notice(value: str | None) -> str | None:
    return (value or "").strip()[:500] or None


def _redirect(path: str, **params: str) -> Response:
    return RedirectResponse(url_with(path, **params), status_code=303)


@router.get("/board/board.js")
def board_script() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(Path(BOARD_JS).read_text(encoding="utf-8"), media_type="text/javascript", headers=headers)


# --- the board -----------------------------------------------------------------------------------


@router.get("/board")
def board_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    type: str | None = None,
    notice: str | None = None,
    error: str | None = None,
    wip_item: int | None = None,
    wip_column: str | None = None,
) -> Response:
    item_type = type if type in ITEM_TYPES else None
    views = board.board_view(session, item_type=item_type)
    spec = board.current_spec(session)
    context = {
        "nav": "board", "views": views, "columns": spec.board.columns, "tiers": spec.board.tiers,
        "item_type": item_type, "item_types": ITEM_TYPES, "priorities": PRIORITIES, "service_tiers": SERVICE_TIERS,
        "can_write": can_write(user), "notice": _notice(notice), "error": _notice(error),
        "wip_item": wip_item, "wip_column": wip_column if wip_column and spec.column(wip_column) else None,
        "now": utcnow(),
    }  # fmt: skip
    return render(request, "board/board.html", context)


@router.post("/board/items")
def create_item(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Adding to the board needs the editor or admin role.")
    try:
        item = board.create_item(
            session, title=form_text(form, "title", 300), item_type=form_text(form, "item_type", 20),
            priority=form_text(form, "priority", 10) or "normal",
            service_tier=form_text(form, "service_tier", 20) or "standard",
            description=form_text(form, "description", 10_000) or None,
            owner_email=form_text(form, "owner_email", 320) or None, actor=web_actor(user),
        )  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return _redirect("/board", error=exc.message)
    session.commit()
    return _redirect("/board", notice=f"#{item.id} added.")


@router.post("/board/items/{item_id}/move")
def move_item(item_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Moving cards needs the editor or admin role.")
    column = form_text(form, "column", 50)
    override = form_text(form, "override", 10) == "yes"
    back = form_text(form, "back", 200)
    back = back if back.startswith("/board") else "/board"
    try:
        item = board.move_item(session, item_id, column, actor=web_actor(user), override=override,
                               reason=form_text(form, "reason", 500))  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        if exc.status_code == 409 and "WIP limit" in exc.message:
            return _redirect("/board", error=exc.message, wip_item=str(item_id), wip_column=column)
        return _redirect(back, error=exc.message)
    session.commit()
    note = " over the WIP limit (recorded)" if override else ""
    return _redirect(back, notice=f"#{item.id} moved to {column}{note}.")


@router.post("/board/items/{item_id}/block")
def block_item(item_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Blocking cards needs the editor or admin role.")
    blocked = form_text(form, "blocked", 5) == "yes"
    try:
        board.set_blocked(session, item_id, blocked, actor=web_actor(user), reason=form_text(form, "reason", 500))
    except PitboardError as exc:
        session.rollback()
        return _redirect(f"/board/items/{item_id}", error=exc.message)
    session.commit()
    return _redirect(f"/board/items/{item_id}", notice="Blocked." if blocked else "Unblocked.")


@router.get("/board/items/{item_id}")
def item_page(
    item_id: int,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    try:
        item = board.get_item(session, item_id)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    spec = board.current_spec(session)
    context = {
        "nav": "board", "item": item, "transitions": board.transitions(session, item_id), "columns": spec.board.columns,
        "can_write": can_write(user), "notice": _notice(notice), "error": _notice(error),
    }  # fmt: skip
    return render(request, "board/item.html", context)


# --- flow ----------------------------------------------------------------------------------------


def _histogram(values: list[float]) -> tuple[list[str], list[float]]:
    edges = [1, 2, 3, 5, 8, 13, 21, 34]
    labels = [f"≤{e} d" for e in edges] + [f">{edges[-1]} d"]
    counts = [0.0] * len(labels)
    for v in values:
        index = next((i for i, e in enumerate(edges) if v <= e), len(edges))
        counts[index] += 1
    return labels, counts


@router.get("/board/flow")
def flow_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    days: int = 90,
    type: str | None = None,
) -> Response:
    days = min(max(days, 7), 730)
    item_type = type if type in ITEM_TYPES else None
    report = flow.flow_report(session, days=days, item_type=item_type)
    weeks = [w.strftime("%d %b") for w, _ in report.throughput_per_week]
    throughput = charts.bar_chart(weeks, [n for _, n in report.throughput_per_week],
                                  title="Items finished per week")  # fmt: skip
    labels, counts = _histogram(report.cycle_times)
    cycle = charts.bar_chart(labels, counts, title="Cycle time: how many items took how long",
                             color=charts.PALETTE[1], empty_message="Nothing finished in this period")  # fmt: skip
    columns = [c for c in board.current_spec(session).board.columns if c.kind not in ("queue", "done")]
    age = charts.bar_chart(
        [c.name for c in columns],
        [float(report.age_by_column.get(c.key, {}).get("p85") or 0) for c in columns],
        title="Work item age (85th percentile, days) per column", color=charts.PALETTE[3],
        value_format=lambda v: f"{v:,.1f}", empty_message="No started work in progress",
    )  # fmt: skip
    launched = [r for r in report.time_to_market_rows if r["days"] is not None][-20:]
    ttm = charts.bar_chart([str(r["name"])[:18] for r in launched], [float(r["days"]) for r in launched],
                           title="Campaign time to market (brief → live, days)", color=charts.PALETTE[2],
                           value_format=lambda v: f"{v:,.1f}",
                           empty_message="No campaign went live in this period")  # fmt: skip
    context = {
        "nav": "board", "report": report, "days": days, "item_type": item_type, "item_types": ITEM_TYPES,
        # charts.py escapes every label and title itself, so its output is safe markup.
        "throughput_chart": Markup(throughput), "cycle_chart": Markup(cycle),  # noqa: S704
        "age_chart": Markup(age), "ttm_chart": Markup(ttm),  # noqa: S704
    }  # fmt: skip
    return render(request, "board/flow.html", context)


# --- intake --------------------------------------------------------------------------------------

INTAKE_FIELDS = ("campaign_type", "channel", "objective", "audience_segment", "consent_purpose", "start_date",
                 "end_date", "budget", "currency", "metric", "target", "owner_email", "priority",
                 "service_tier")  # fmt: skip


def _intake_context(session: SessionDep, user: User, draft: dict[str, str], problems: list[str]) -> dict[str, Any]:
    spec = board.current_spec(session).naming
    segments = (
        session.query(Segment).filter(Segment.active.is_(True), Segment.entity == "contact").order_by(Segment.key)
    )
    return {
        "nav": "board", "draft": draft, "problems": problems, "naming": spec, "campaign_types": CAMPAIGN_TYPES,
        "segments": list(segments), "purposes": [p for p in load_purposes(session).values() if p.active],
        "priorities": PRIORITIES, "service_tiers": SERVICE_TIERS, "can_write": can_write(user),
    }  # fmt: skip


@router.get("/board/intake")
def intake_form(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    draft = {"currency": "USD", "priority": "normal", "service_tier": "project", "owner_email": user.email,
             "consent_purpose": ""}  # fmt: skip
    return render(request, "board/intake.html", _intake_context(session, user, draft, []))


@router.post("/board/intake")
def intake_submit(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Submitting a campaign request needs the editor or admin role.")
    naming = board.current_spec(session).naming
    draft = {name: form_text(form, name, 5000) for name in INTAKE_FIELDS}
    parts = {f.name: form_text(form, f"part_{f.name}", 100) for f in naming.fields}
    draft.update({f"part_{k}": v for k, v in parts.items()})
    data: dict[str, Any] = {k: v for k, v in draft.items() if v and k in IntakeIn.model_fields}
    data["name_parts"] = parts
    if draft["metric"]:
        data["success_metrics"] = [{"metric": draft["metric"], "target": draft["target"] or "0"}]
    try:
        body = IntakeIn.model_validate(data)
        ops = campaign_ops.submit_intake(session, body, actor=web_actor(user))
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'brief'}: {e['msg']}" for e in exc.errors()]
        return render(request, "board/intake.html", _intake_context(session, user, draft, problems), status_code=422)
    except PitboardError as exc:
        session.rollback()
        return render(request, "board/intake.html", _intake_context(session, user, draft, [exc.message]),
                      status_code=exc.status_code)  # fmt: skip
    session.commit()
    return _redirect(f"/campaigns/{ops.campaign_id}/ops", notice="Request submitted: the campaign and its card exist.")


@router.get("/board/campaigns")
def campaigns_page(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    rows = campaign_ops.ops_overview(session)
    return render(request, "board/campaigns.html", {"nav": "board", "rows": rows, "can_write": can_write(user)})


# --- a campaign's operations ---------------------------------------------------------------------


@router.get("/campaigns/{campaign_id}/ops")
def ops_page(
    campaign_id: int,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    from pitboard.campaigns.service import get_campaign

    try:
        ops = campaign_ops.get_ops(session, campaign_id)
        campaign = get_campaign(session, campaign_id)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    steps = campaign_ops.approval_steps(session, campaign_id)
    me = user.email.lower()
    context = {
        "nav": "board", "campaign": campaign, "ops": ops, "checklist": campaign_ops.checklist(session, campaign_id),
        "steps": steps, "decisions": campaign_ops.decisions(session, campaign_id),
        "budget": [r for _, r in campaign_ops.budget(session, campaign_id)],
        "readiness": campaign_ops.readiness(session, campaign_id), "can_write": can_write(user),
        "my_stages": [s.stage for s in steps if me in s.approvers or me in s.reviewers],
        "can_decide": any(s.status == "pending" and me in s.approvers for s in steps), "me": me,
        "item": board.get_item(session, ops.work_item_id) if ops.work_item_id else None,
        "notice": _notice(notice), "error": _notice(error),
    }  # fmt: skip
    return render(request, "board/ops.html", context)


def _ops_action(campaign_id: int, session: SessionDep, action: Any, done: str) -> Response:
    back = f"/campaigns/{campaign_id}/ops"
    try:
        action()
    except PitboardError as exc:
        session.rollback()
        return _redirect(back, error=exc.message)
    session.commit()
    return _redirect(back, notice=done)


@router.post("/campaigns/{campaign_id}/ops/check")
def ops_check(campaign_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Checklists need the editor or admin role.")
    key, status = form_text(form, "key", 50), form_text(form, "status", 10)
    if status == "run":
        return _ops_action(campaign_id, session, lambda: campaign_ops.run_check(session, campaign_id, key,
                           actor=web_actor(user)), f"{key} checked.")  # fmt: skip
    return _ops_action(campaign_id, session, lambda: campaign_ops.set_check(session, campaign_id, key, status,
                       actor=web_actor(user), note=form_text(form, "note", 1000)), f"{key}: {status}.")  # fmt: skip


@router.post("/campaigns/{campaign_id}/ops/decide")
def ops_decide(campaign_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    decision = form_text(form, "decision", 10)
    return _ops_action(campaign_id, session, lambda: campaign_ops.decide(
        session, campaign_id, decision, actor=web_actor(user), comment=form_text(form, "comment", 5000),
        stage=form_text(form, "stage", 100) or None), "Recorded.")  # fmt: skip


@router.post("/campaigns/{campaign_id}/ops/resubmit")
def ops_resubmit(
    campaign_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Resubmitting needs the editor or admin role.")
    return _ops_action(campaign_id, session, lambda: campaign_ops.resubmit(session, campaign_id, actor=web_actor(user),
                       note=form_text(form, "note", 1000) or None), "Resubmitted for approval.")  # fmt: skip


@router.post("/campaigns/{campaign_id}/ops/go-live")
def ops_go_live(campaign_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Going live needs the editor or admin role.")
    return _ops_action(campaign_id, session, lambda: campaign_ops.go_live(session, campaign_id, actor=web_actor(user)),
                       "The campaign is live.")  # fmt: skip


def _money(form: FormData, name: str) -> Decimal | None:
    text = form_text(form, name, 30).replace(",", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise PitboardError(f"{name} must be a number, got {text!r}") from exc


@router.post("/campaigns/{campaign_id}/ops/budget")
def ops_budget(campaign_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Budgets need the editor or admin role.")

    def change() -> None:
        campaign_ops.set_budget(session, campaign_id, form_text(form, "channel", 50), actor=web_actor(user),
                                planned=_money(form, "planned"), committed=_money(form, "committed"))  # fmt: skip

    return _ops_action(campaign_id, session, change, "Budget saved.")


# --- naming and UTM ------------------------------------------------------------------------------


@router.get("/board/naming")
def naming_page(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    name: str | None = None,
    url: str | None = None,
    source: str | None = None,
    medium: str | None = None,
    campaign: str | None = None,
    content: str | None = None,
    audit: str | None = None,
) -> Response:
    spec = board.current_spec(session).naming
    name_issues: list[Issue] | None = check_name(spec, name.strip()[:300]) if name else None
    link: str | None = None
    link_error: str | None = None
    utm_issues: list[Issue] = []
    if url:
        try:
            link = build_utm_url(spec, url[:2000], source=source or "", medium=medium or "", campaign=campaign or "",
                                 content=content or None)  # fmt: skip
        except PitboardError as exc:
            link_error = exc.message
            utm_issues = check_utm(spec, source=source, medium=medium, campaign=campaign, content=content)
    findings = None
    if audit:
        findings = [*utm_audit.audit_events(session, days=30), *utm_audit.audit_spend(session)]
    context = {
        "nav": "board", "spec": spec, "name": name or "", "name_issues": name_issues, "url": url or "",
        "source": source or "", "medium": medium or "", "campaign": campaign or "", "content": content or "",
        "link": link, "link_error": link_error, "utm_issues": utm_issues, "findings": findings,
        "today": date.today(),
    }  # fmt: skip
    return render(request, "board/naming.html", context)
