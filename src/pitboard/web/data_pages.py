"""Data-in pages: sources and write keys, the live event stream, the quarantine, import history.

Changes go through the same services as the API and CLI, with the signed-in person as the actor.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from pitboard.api.deps import SessionDep
from pitboard.events import sources
from pitboard.kit.errors import PitboardError
from pitboard.kit.time import utcnow
from pitboard.models import Event, ImportRun, Source
from pitboard.quality import quarantine
from pitboard.web.auth import CsrfForm, CurrentUser, web_actor
from pitboard.web.render import error_page, render, url_with

router = APIRouter(include_in_schema=False)
STREAM_SIZE = 100
ENTITIES = ("events", "contacts", "accounts", "opportunities", "campaign_spend")


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _back(path: str, **params: Any) -> Response:
    return RedirectResponse(url_with(path, **params), status_code=303)


def _sources_page(
    request: Request, session: Any, *, notice: str | None, error: str | None, status_code: int = 200
) -> Response:
    day_start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    today = select(Event.source, func.count()).where(Event.received_at >= day_start).group_by(Event.source)
    context: dict[str, Any] = {
        "nav": "data", "tab": "sources", "sources": sources.list_sources(session), "kinds": sources.SOURCE_KINDS,
        "today": dict(session.execute(today).all()), "notice": notice, "error": error,
        "base_url": str(request.base_url).rstrip("/"),
    }  # fmt: skip
    return render(request, "data/sources.html", context, status_code=status_code)


@router.get("/sources")
def source_list(request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None) -> Response:
    return _sources_page(request, session, notice=notice, error=None)


@router.post("/sources")
def source_create(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    try:
        source = sources.create_source(
            session, name=_text(form, "name"), kind=_text(form, "kind"), actor=web_actor(user)
        )
    except PitboardError as exc:
        session.rollback()
        return _sources_page(request, session, notice=None, error=exc.message, status_code=exc.status_code)
    return _back("/sources", notice=f"Source {source.name} created.")


@router.post("/sources/{source_id}/rotate")
def source_rotate(source_id: int, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    del form
    try:
        source = sources.rotate_write_key(session, source_id=source_id, actor=web_actor(user))
    except PitboardError as exc:
        return _back("/sources", notice=exc.message)
    return _back("/sources", notice=f"New write key for {source.name}; the old one stops working within seconds.")


@router.get("/events/stream")
def event_stream(
    request: Request, user: CurrentUser, session: SessionDep, source: str | None = None, live: str | None = None
) -> Response:
    stmt = select(Event).order_by(Event.id.desc()).limit(STREAM_SIZE)
    if source:
        stmt = stmt.where(Event.source == source)
    events = list(session.scalars(stmt))
    names = [s.name for s in session.scalars(select(Source).order_by(Source.name))]
    context = {"nav": "data", "tab": "stream", "events": events, "source": source, "source_names": names,
               "live": live == "1"}  # fmt: skip
    return render(request, "data/stream.html", context)


@router.get("/quarantine")
def quarantine_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    status: str | None = "open",
    entity: str | None = None,
    run: str | None = None,
    cursor: str | None = None,
) -> Response:
    status = status if status in quarantine.STATUSES else None
    f = quarantine.QuarantineFilter(status=status, entity=entity if entity in ENTITIES else None,
                                    import_run_id=int(run) if run and run.isdigit() else None)  # fmt: skip
    try:
        page = quarantine.list_records(session, f, cursor=cursor, limit=50)
    except PitboardError as exc:
        return error_page(request, 400, exc.message)
    params = {"status": status or "all", "entity": f.entity, "run": f.import_run_id}
    context = {"nav": "data", "tab": "quarantine", "page": page, "params": params, "entities": ENTITIES,
               "statuses": quarantine.STATUSES, "counts": quarantine.count_by_status(session),
               "next_url": url_with("/quarantine", **params, cursor=page.next_cursor) if page.next_cursor else None,
               "first_url": url_with("/quarantine", **params), "is_first_page": not cursor}  # fmt: skip
    return render(request, "data/quarantine.html", context)


def _detail(request: Request, session: Any, record_id: int, *, error: str | None = None, draft: str | None = None,
            status_code: int = 200) -> Response:  # fmt: skip
    try:
        record = quarantine.get(session, record_id)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    editable = record.payload.get("record") if record.channel == "import" else record.payload
    if draft is None:
        draft = json.dumps(editable, indent=2, ensure_ascii=False, default=str)
    context = {"nav": "data", "tab": "quarantine", "record": record, "error": error, "draft": draft,
               "payload_json": json.dumps(record.payload, indent=2, ensure_ascii=False, default=str)}  # fmt: skip
    return render(request, "data/quarantine_detail.html", context, status_code=status_code)


@router.get("/quarantine/{record_id}")
def quarantine_detail(record_id: int, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    return _detail(request, session, record_id)


@router.post("/quarantine/{record_id}/replay")
def quarantine_replay(
    record_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    draft = form.get("payload")
    try:
        if isinstance(draft, str) and draft.strip():
            try:
                fixed = json.loads(draft)
            except json.JSONDecodeError as exc:
                return _detail(request, session, record_id, error=f"The record is not valid JSON: {exc}", draft=draft,
                               status_code=422)  # fmt: skip
            if not isinstance(fixed, dict):
                return _detail(request, session, record_id, error="The record must be a JSON object.", draft=draft,
                               status_code=422)  # fmt: skip
            quarantine.fix(session, record_id, fixed, actor=web_actor(user))
        record = quarantine.replay(session, record_id, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return _detail(request, session, record_id, error=exc.message, status_code=exc.status_code)
    if record.status == "replayed":
        return _back("/quarantine")
    session.commit()  # keep the fix and the new reasons
    return _detail(request, session, record_id, error="Still not accepted: " + "; ".join(record.reasons),
                   status_code=422)  # fmt: skip


@router.post("/quarantine/{record_id}/discard")
def quarantine_discard(
    record_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep
) -> Response:
    try:
        quarantine.discard(session, record_id, reason=_text(form, "reason"), actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return _detail(request, session, record_id, error=exc.message, status_code=exc.status_code)
    return _back("/quarantine")


@router.get("/imports")
def import_history(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    runs = list(session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(100)))
    return render(request, "data/imports.html", {"nav": "data", "tab": "imports", "runs": runs})
