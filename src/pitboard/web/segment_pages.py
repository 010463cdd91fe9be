"""Segment pages: the list, a segment's page (definition, member trend, entries and exits, members, static
list editing, consent-checked export) and the builder with a live count and preview.

The builder works without JavaScript: "Preview" submits the form and the page comes back with the count.
With JavaScript, ``/segments/builder.js`` (served from here: the CSP allows scripts from our own origin
only, never inline) posts the form to ``/segments/preview`` 400 ms after the last keystroke and swaps in
the HTML fragment it returns. Everyone signed in reads; editors and admins change. Project segments are
shown read-only with the file that defines them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from pitboard.api.deps import SessionDep
from pitboard.conditions import load_field_registry
from pitboard.consent.purposes import load_purposes
from pitboard.kit.errors import PitboardError, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Segment, User
from pitboard.models.consent import CHANNELS
from pitboard.segments import activation, members, service
from pitboard.segments.matching import Preview, active_segments, preview, stored_definition
from pitboard.segments.refresh import refresh_segments
from pitboard.segments.schemas import SegmentSpec, SpecInvalid, SpecIssue, validate_spec
from pitboard.web import charts
from pitboard.web.auth import CsrfForm, CurrentUser, can_write, form_text, web_actor
from pitboard.web.render import SECURITY_HEADERS, TEMPLATE_DIR, error_page, render, url_with

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
HISTORY_DAYS = 30
BUILDER_JS = TEMPLATE_DIR / "segments" / "builder.js"
MAX_CONDITION = 50_000
MAX_UPLOAD = 20 * 1024 * 1024

# Starting points shown in the builder: each is a whole condition, ready to edit.
EXAMPLES: list[tuple[str, str]] = [
    ("Leads in the US and Canada", "all:\n  - {field: country, op: in, value: [US, CA]}\n"
     "  - {field: lifecycle_stage, op: in, value: [lead, mql]}\n"),
    ("Viewed pricing 3+ times in 14 days", "event: Page Viewed\nwhere:\n  - {property: path, op: starts_with, "
     "value: /pricing}\nmin_count: 3\nwithin_days: 14\n"),
    ("New this month, business email", "all:\n  - {field: created_at, op: within_last, value: 30d}\n"
     "  - not: {field: is_free_mail, op: eq, value: true}\n"),
    ("Inactive for 90 days (or never active)", "not: {field: last_activity_at, op: within_last, value: 90d}\n"),
    ("At companies of 200+ people", "{field: account.employee_count, op: gte, value: 200}\n"),
    ("Never attended a webinar", "{event: Webinar Attended, min_count: 0, max_count: 0}\n"),
]  # fmt: skip


def _notice(value: str | None) -> str | None:
    return (value or "").strip()[:300] or None


def _back(key: str, **params: str) -> Response:
    return RedirectResponse(url_with(f"/segments/{key}", **params), status_code=303)


# --- the builder's form --------------------------------------------------------------------------


@dataclass
class Draft:
    """The builder form as typed: every field as text, so it comes back exactly as the person left it."""

    key: str = ""
    name: str = ""
    description: str = ""
    entity: str = "contact"
    kind: str = "dynamic"
    min_contacts: str = "1"
    condition: str = ""

    @classmethod
    def from_form(cls, form: FormData) -> Draft:
        return cls(
            key=form_text(form, "key", 100), name=form_text(form, "name", 200),
            description=form_text(form, "description", 5000),
            entity=form_text(form, "entity", 10) or "contact", kind=form_text(form, "kind", 10) or "dynamic",
            min_contacts=form_text(form, "min_contacts", 10) or "1", condition=_raw(form, "condition", MAX_CONDITION),
        )  # fmt: skip

    @classmethod
    def of(cls, definition: dict[str, Any]) -> Draft:
        """The form for a stored definition (which may no longer validate: it is shown to be fixed)."""
        condition = definition.get("condition")
        return cls(
            key=definition["key"], name=definition["name"], description=definition.get("description") or "",
            entity=definition["entity"], kind=definition["kind"], min_contacts=str(definition["min_contacts"]),
            condition=yaml.safe_dump(condition, sort_keys=False, allow_unicode=True) if condition else "",
        )  # fmt: skip


def _raw(form: FormData, name: str, max_length: int) -> str:
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""


@dataclass
class Checked:
    """A draft after validation: the definition, or the problems with it (each with its path)."""

    spec: SegmentSpec | None = None
    issues: list[SpecIssue] = field(default_factory=list)


def _condition_data(draft: Draft) -> Any:
    if draft.kind == "static" or not draft.condition.strip():
        return None  # a list has no condition; the field is ignored for lists
    try:
        return yaml.safe_load(draft.condition)
    except yaml.MarkedYAMLError as exc:
        line = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        raise SpecInvalid([SpecIssue("condition", f"{line}not valid YAML or JSON: {exc.problem}")]) from exc


def check_draft(session: Session, draft: Draft, *, key: str | None = None) -> Checked:
    """Validate the draft as a whole definition (``key`` fixed when editing), as saving would."""
    try:
        min_contacts = int(draft.min_contacts) if draft.min_contacts.isdigit() else draft.min_contacts
        data = {
            "key": key or draft.key, "name": draft.name, "description": draft.description or None,
            "entity": draft.entity, "kind": draft.kind, "min_contacts": min_contacts,
            "condition": _condition_data(draft),
        }  # fmt: skip
        return Checked(spec=validate_spec(data, load_field_registry(session)))
    except SpecInvalid as exc:
        return Checked(issues=exc.issues)


def _preview_for(session: Session, draft: Draft, *, key: str | None = None) -> tuple[Preview | None, list[SpecIssue]]:
    """The live preview needs only the condition: problems elsewhere (no name yet) must not hide the count."""
    if draft.kind == "static":
        return None, []
    stand_in = Draft(key=key or "builder-preview", name="preview", entity=draft.entity, kind="dynamic",
                     min_contacts=draft.min_contacts, condition=draft.condition)  # fmt: skip
    if not draft.condition.strip():
        return None, [SpecIssue("condition", "type a condition to see how many match")]
    checked = check_draft(session, stand_in)
    spec = checked.spec
    if spec is None or spec.condition is None:
        return None, checked.issues
    unknown = service.unknown_references(session, spec.dependencies, own_key=key)
    if unknown:
        return None, [SpecIssue("condition", f"in_segment {k} names no other active segment") for k in unknown]
    return preview(session, spec.condition, entity=spec.entity, min_contacts=spec.min_contacts), []


def _builder(
    request: Request,
    session: Session,
    user: User,
    draft: Draft,
    *,
    segment: Segment | None = None,
    issues: list[SpecIssue] | None = None,
    result: Preview | None = None,
    preview_issues: list[SpecIssue] | None = None,
    status_code: int = 200,
) -> Response:
    registry = load_field_registry(session)
    others = [k for k in active_segments(session) if segment is None or k != segment.key]
    examples = list(EXAMPLES)
    if others:
        examples.append(("Members of another segment", f"{{in_segment: {others[0]}}}\n"))
    context = {
        "nav": "segments", "draft": draft, "segment": segment, "issues": issues or [], "result": result,
        "preview_issues": preview_issues or [], "examples": examples, "fields": registry.names(),
        "segment_keys": others, "can_write": can_write(user),
        "read_only": segment is not None and segment.origin == service.PROJECT,
        "file": service.project_file(segment.key) if segment is not None else None,
        "preview_url": "/segments/preview", "action": f"/segments/{segment.key}/edit" if segment else "/segments/new",
    }  # fmt: skip
    return render(request, "segments/builder.html", context, status_code=status_code)


@router.get("/segments/builder.js")
def builder_script() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(Path(BUILDER_JS).read_text(encoding="utf-8"), media_type="text/javascript", headers=headers)


@router.get("/segments/new")
def new_segment(request: Request, user: CurrentUser, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Creating a segment needs the editor or admin role.")
    return _builder(request, session, user, Draft())


@router.post("/segments/new")
def create_segment(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Creating a segment needs the editor or admin role.")
    draft = Draft.from_form(form)
    if form_text(form, "action") == "preview":
        result, problems = _preview_for(session, draft)
        return _builder(request, session, user, draft, result=result, preview_issues=problems)
    checked = check_draft(session, draft)
    if checked.spec is None:
        return _builder(request, session, user, draft, issues=checked.issues, status_code=422)
    try:
        service.create_segment(session, checked.spec, actor=web_actor(user), origin="web", refresh="now")
    except PitboardError as exc:
        session.rollback()
        return _builder(request, session, user, draft, issues=[SpecIssue("", exc.message)],
                        status_code=exc.status_code)  # fmt: skip
    session.commit()
    return _back(checked.spec.key, notice="Segment created and its members computed.")


@router.post("/segments/preview")
def preview_fragment(request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    """The live preview: an HTML fragment with the count and the first members, or the problems."""
    draft = Draft.from_form(form)
    key = form_text(form, "editing", 100) or None
    result, problems = _preview_for(session, draft, key=key)
    return render(request, "segments/_preview.html", {"result": result, "preview_issues": problems, "draft": draft})


# --- list and detail -----------------------------------------------------------------------------


@router.get("/segments")
def segment_list(request: Request, user: CurrentUser, session: SessionDep, notice: str | None = None) -> Response:
    rows = service.list_segments(session, include_inactive=True)
    context = {"nav": "segments", "rows": rows, "can_write": can_write(user), "notice": _notice(notice),
               "project_file": service.project_file}  # fmt: skip
    return render(request, "segments/list.html", context)


def _charts(history: list[members.HistoryDay]) -> tuple[Markup, Markup]:
    labels = [d.day.strftime("%d %b") for d in history]
    trend = charts.bar_chart(labels, [d.members for d in history], title=f"Members at the end of each day, "
                             f"last {len(history)} days")  # fmt: skip
    moves = charts.stacked_bar_chart(
        labels,
        [charts.Series("Entered", [d.entered for d in history], charts.PALETTE[2]),
         charts.Series("Exited", [d.exited for d in history], charts.PALETTE[3])],
        title="Entries and exits per day", empty_message="Nobody entered or left in this period",
    )  # fmt: skip
    # The chart module escapes every label and title itself (see charts.py), so its output is safe markup.
    return Markup(trend), Markup(moves)  # noqa: S704


@router.get("/segments/{key}")
def segment_detail(
    key: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    cursor: str | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    try:
        row = service.get_segment(session, key)
        page = members.list_members(session, row, cursor=(cursor or "")[:500] or None, limit=PAGE_SIZE)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    history = members.daily_history(session, row.id, days=HISTORY_DAYS)
    trend, moves = _charts(history)
    definition = stored_definition(row)
    context = {
        "nav": "segments", "segment": row, "page": page, "history": list(reversed(history)),
        "trend_chart": trend, "moves_chart": moves, "can_write": can_write(user),
        "read_only": row.origin == service.PROJECT, "file": service.project_file(row.key),
        "condition_yaml": yaml.safe_dump(definition["condition"], sort_keys=False, allow_unicode=True)
        if definition["condition"] else None,
        "purposes": [p for p in load_purposes(session).values() if p.active], "channels": CHANNELS,
        "is_first_page": not cursor, "first_url": f"/segments/{row.key}#members",
        "next_url": f"{url_with(f'/segments/{row.key}', cursor=page.next_cursor)}#members" if page.next_cursor
        else None,
        "notice": _notice(notice), "error": _notice(error),
    }  # fmt: skip
    return render(request, "segments/detail.html", context)


@router.get("/segments/{key}/edit")
def edit_segment(key: str, request: Request, user: CurrentUser, session: SessionDep) -> Response:
    try:
        row = service.get_segment(session, key)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    if row.origin != service.PROJECT and not can_write(user):
        return error_page(request, 403, "Changing a segment needs the editor or admin role.")
    draft = Draft.of(stored_definition(row))
    # A stored definition can stop validating (a custom field it uses was deleted): say so on the form.
    return _builder(request, session, user, draft, segment=row, issues=check_draft(session, draft, key=key).issues)


@router.post("/segments/{key}/edit")
def update_segment(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Changing a segment needs the editor or admin role.")
    try:
        row = service.get_segment(session, key)
    except PitboardError as exc:
        return error_page(request, exc.status_code, exc.message)
    draft = Draft.from_form(form)
    draft.key = row.key
    if form_text(form, "action") == "preview":
        result, problems = _preview_for(session, draft, key=row.key)
        return _builder(request, session, user, draft, segment=row, result=result, preview_issues=problems)
    checked = check_draft(session, draft, key=row.key)
    if checked.spec is None:
        return _builder(request, session, user, draft, segment=row, issues=checked.issues, status_code=422)
    try:
        service.update_segment(session, key, checked.spec, actor=web_actor(user), refresh="now")
    except PitboardError as exc:
        session.rollback()
        row = service.get_segment(session, key)
        return _builder(request, session, user, draft, segment=row, issues=[SpecIssue("", exc.message)],
                        status_code=exc.status_code)  # fmt: skip
    session.commit()
    return _back(key, notice="Segment saved and its members recomputed.")


@router.post("/segments/{key}/refresh")
def refresh_segment(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    del form  # checked for its CSRF token; it carries nothing else
    if not can_write(user):
        return error_page(request, 403, "Refreshing a segment needs the editor or admin role.")
    try:
        results = refresh_segments(session, [key])
    except PitboardError as exc:
        session.rollback()
        return _back(key, error=f"Not refreshed: {exc.message}")
    session.commit()
    mine = results[-1]
    return _back(key, notice=f"Refreshed in {mine.refresh_ms:,.0f} ms: {mine.member_count:,} members, "
                 f"{mine.entered:,} entered, {mine.exited:,} left.")  # fmt: skip


@router.post("/segments/{key}/delete")
def delete_segment(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Deleting a segment needs the editor or admin role.")
    if form_text(form, "confirm_key", 100) != key:
        return _back(key, error="Type the segment's key to confirm; nothing was deleted.")
    try:
        service.delete_segment(session, key, actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return _back(key, error=f"Not deleted: {exc.message}")
    session.commit()
    return RedirectResponse(url_with("/segments", notice=f"Segment {key} deleted."), status_code=303)


# --- static lists and export ---------------------------------------------------------------------


def _upload_text(form: FormData) -> str:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return ""
    try:
        data = upload.file.read(MAX_UPLOAD + 1)
    finally:
        upload.file.close()  # the form was parsed by our CSRF dependency, so nothing else closes its files
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed("the file is larger than 20 MB; import it with pitboard segments import")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the file must be UTF-8 text") from exc


@router.post("/segments/{key}/members")
def add_members(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    """Add typed addresses or ids, and the rows of an uploaded CSV, to a static list."""
    if not can_write(user):
        return error_page(request, 403, "Changing a list needs the editor or admin role.")
    typed = _raw(form, "members", 1_000_000)
    # Typed members may be separated by new lines, commas or semicolons.
    ids, emails = service.read_member_csv(typed.replace(",", "\n").replace(";", "\n")) if typed.strip() else ([], [])
    try:
        uploaded = _upload_text(form)
        if not ids and not emails and not uploaded.strip():
            raise ValidationFailed("type addresses or ids, or choose a CSV file")
        added = service.add_members(session, key, ids=ids, emails=emails, entered_by="manual", actor=web_actor(user))
        if uploaded.strip():
            imported = service.import_members_csv(session, key, uploaded, actor=web_actor(user))
            added.changed += imported.changed
            added.unchanged += imported.unchanged
            added.not_found += imported.not_found
    except PitboardError as exc:
        session.rollback()
        return _back(key, error=f"Not added: {exc.message}")
    session.commit()
    missing = f"; not found: {', '.join(added.not_found[:10])}" if added.not_found else ""
    more = f" and {len(added.not_found) - 10} more" if len(added.not_found) > 10 else ""
    return _back(key, notice=f"{added.changed:,} added, {added.unchanged:,} already on the list{missing}{more}.")


@router.post("/segments/{key}/members/remove")
def remove_member(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    if not can_write(user):
        return error_page(request, 403, "Changing a list needs the editor or admin role.")
    member = form_text(form, "member_id", 20)
    if not member.isdigit():
        return _back(key, error="Choose a member to remove.")
    try:
        outcome = service.remove_members(session, key, ids=[int(member)], actor=web_actor(user))
    except PitboardError as exc:
        session.rollback()
        return _back(key, error=f"Not removed: {exc.message}")
    session.commit()
    return _back(key, notice="Removed from the list." if outcome.changed else "That was not a member.")


@router.post("/segments/{key}/export")
def export_segment(key: str, request: Request, user: CurrentUser, form: CsrfForm, session: SessionDep) -> Response:
    """The members who may be contacted for the chosen purpose, as CSV: the consent gate decides."""
    if not can_write(user):
        return error_page(request, 403, "Exporting needs the editor or admin role.")
    purpose, channel = form_text(form, "purpose", 100), form_text(form, "channel", 20) or "email"
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", newline="")  # noqa: SIM115
    try:
        summary = activation.export_segment_csv(session, key, spool, channel=channel, purpose=purpose,
                                                actor=web_actor(user))  # fmt: skip
    except PitboardError as exc:
        spool.close()
        session.rollback()
        return _back(key, error=f"Not exported: {exc.message}")
    session.commit()  # the export's audit entry is kept before the file leaves
    spool.seek(0)

    def chunks() -> Any:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    stamp = utcnow().strftime("%Y%m%d")
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="segment-{key}-{purpose}-{stamp}.csv"',
        "X-Pitboard-Included": str(summary.included),
        "X-Pitboard-Excluded-Total": str(summary.excluded_total),
    }
    return StreamingResponse(chunks(), media_type="text/csv", headers=headers)
