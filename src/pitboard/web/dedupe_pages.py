"""The duplicate review queue: pairs the matcher was not sure enough to merge, side by side, with why."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from pitboard.api.deps import SessionDep
from pitboard.kit.actor import Actor
from pitboard.kit.errors import PitboardError
from pitboard.models import Account, Contact
from pitboard.quality import dedupe_service
from pitboard.web.auth import CsrfForm, CurrentUser
from pitboard.web.render import error_page, render

router = APIRouter(include_in_schema=False)


@router.get("/quality/duplicates")
def duplicates(request: Request, user: CurrentUser, session: SessionDep, entity: str = "contact") -> Response:
    entity = entity if entity in ("contact", "account") else "contact"
    queue = dedupe_service.review_queue(session, entity=entity, limit=100)
    ids = {i for c in queue for i in (c.left_id, c.right_id)}
    records: dict[int, Contact | Account] = {}
    if ids and entity == "contact":
        records = {r.id: r for r in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    elif ids:
        records = {r.id: r for r in session.scalars(select(Account).where(Account.id.in_(ids)))}
    pairs = [(c, records.get(c.left_id), records.get(c.right_id)) for c in queue]
    context = {"nav": "quality", "entity": entity, "pairs": pairs}
    return render(request, "quality/duplicates.html", context)


@router.post("/quality/duplicates/{candidate_id}")
def decide(candidate_id: int, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    decision = form.get("decision")
    if decision not in ("merge", "reject"):
        return error_page(request, 400, "Choose merge or reject.")
    try:
        row = dedupe_service.decide(session, candidate_id, merge=decision == "merge",
                                    actor=Actor(name=user.email, interface="web", role=user.role))  # fmt: skip
    except PitboardError as exc:
        session.rollback()
        return error_page(request, exc.status_code, exc.message)
    return RedirectResponse(f"/quality/duplicates?entity={row.entity}", status_code=303)
