"""Segment definitions and static lists: create, change, delete; apply and diff the project's segments.

Segments come from two places. ``origin: project`` ones are defined in the project folder
(``segments/<key>.yml``) and change only by ``pitboard apply``; the API and the web UI refuse to edit them and
say which file to change. ``api`` and ``web`` ones are made and changed there. Either kind may use the other
in ``in_segment``; every change is checked so that references name active segments and form no cycle.

Members of a static list are data, not definition: they are added and removed through the API, the web UI or
an import, whoever owns the definition. Services flush and never commit; entry points commit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.conditions import load_field_registry
from pitboard.contacts.identities import contact_id_for_email
from pitboard.kit.actor import Actor
from pitboard.kit.emails import InvalidEmail
from pitboard.kit.errors import Conflict, NotFound, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Account, Contact, Segment
from pitboard.segments import refresh as refreshing
from pitboard.segments.graph import check_acyclic
from pitboard.segments.matching import MEMBERSHIPS, open_member_ids, stored_definition
from pitboard.segments.matching import count_matching as count_matching  # part of this module's API (plan/apply)
from pitboard.segments.schemas import SegmentPatch, SegmentSpec, validate_spec
from pitboard.segments.tasks import queue_refresh

PROJECT = "project"
EDITABLE_ORIGINS = ("api", "web")
DEFINITION_FIELDS = ("name", "description", "entity", "kind", "min_contacts", "condition")
MANUAL_ENTRY = ("manual", "import", "api")
EXIT_REMOVED = "removed"
Refresh = Literal["queue", "now", "none"]


class ProjectOwned(Conflict):
    code = "project_owned"


def project_file(key: str) -> str:
    return f"segments/{key}.yml"


def _refuse_project(row: Segment) -> None:
    if row.origin == PROJECT:
        raise ProjectOwned(
            f"segment {row.key} is defined in the project: change {project_file(row.key)} and run pitboard apply",
            details={"file": project_file(row.key)},
        )


# --- reading -------------------------------------------------------------------------------------


def get_segment(session: Session, key: str) -> Segment:
    row = session.scalar(select(Segment).where(Segment.key == key))
    if row is None:
        raise NotFound(f"segment {key} does not exist")
    return row


def list_segments(session: Session, *, include_inactive: bool = False) -> list[Segment]:
    stmt = select(Segment).order_by(Segment.key)
    if not include_inactive:
        stmt = stmt.where(Segment.active)
    return list(session.scalars(stmt))


def parse_spec(session: Session, data: Any) -> SegmentSpec:
    """A definition from JSON/YAML data, validated against this database's fields; raises SpecInvalid."""
    return validate_spec(data, load_field_registry(session))


def spec_of(session: Session, row: Segment) -> SegmentSpec:
    return parse_spec(session, stored_definition(row))


# --- references ----------------------------------------------------------------------------------


def check_references(session: Session, changed: Mapping[str, SegmentSpec | None]) -> None:
    """Would the active segments, with ``changed`` applied (None: removed), reference only active segments,
    without a cycle? Raises ValidationFailed naming the segment and the reference."""
    world = {
        row.key: refreshing.raw_dependencies(row.condition)
        for row in session.scalars(select(Segment).where(Segment.active))
    }
    for key, spec in changed.items():
        if spec is None:
            world.pop(key, None)
        else:
            world[key] = spec.dependencies
    problems = []
    for key, deps in sorted(world.items()):
        for dep in sorted(deps - set(world)):
            if key in changed:
                problems.append(f"segment {key}: in_segment {dep} names no active segment")
            else:
                problems.append(f"segment {key} uses in_segment {dep}; change {key} first")
    if problems:
        raise ValidationFailed("; ".join(problems))
    check_acyclic(world)


def unknown_references(session: Session, condition_keys: frozenset[str], *, own_key: str | None = None) -> list[str]:
    """``in_segment`` keys that name no active segment (or the segment itself): a preview says so rather than
    silently counting nobody there."""
    active = set(session.scalars(select(Segment.key).where(Segment.active, Segment.key.in_(sorted(condition_keys)))))
    return sorted(k for k in condition_keys if k not in active or k == own_key)


# --- create, change, delete ----------------------------------------------------------------------


def _after_change(session: Session, row: Segment, refresh: Refresh) -> None:
    if row.kind != "dynamic" or refresh == "none":
        return
    if refresh == "now":
        refreshing.refresh_segments(session, [row.key], dependents=True)
    else:
        queue_refresh(session, [row.key])


def create_segment(
    session: Session, spec: SegmentSpec, *, actor: Actor, origin: str = "api", refresh: Refresh = "queue"
) -> Segment:
    """A new segment. ``refresh``: "queue" computes its members in the background, "now" before returning."""
    actor.require("editor")
    if origin not in EDITABLE_ORIGINS:
        raise ValidationFailed(f"segments are created with origin {' or '.join(EDITABLE_ORIGINS)}; "
                               "project segments come from pitboard apply")  # fmt: skip
    if session.scalar(select(Segment.id).where(Segment.key == spec.key)) is not None:
        raise Conflict(f"a segment with the key {spec.key} exists already")
    check_references(session, {spec.key: spec})
    row = _new_row(spec, origin)
    session.add(row)
    session.flush()
    audit.created_recorded(session, row, actor=actor, entity_type="segment", fields=["key", *DEFINITION_FIELDS])
    _after_change(session, row, refresh)
    return row


def _new_row(spec: SegmentSpec, origin: str) -> Segment:
    definition = spec.definition()
    return Segment(
        key=spec.key, name=spec.name, description=spec.description, entity=spec.entity, kind=spec.kind,
        condition=definition["condition"], min_contacts=spec.min_contacts, origin=origin, active=True,
        checksum=spec.checksum, member_count=0,
    )  # fmt: skip


def _redefine(session: Session, row: Segment, spec: SegmentSpec, *, actor: Actor, extra: dict[str, Any]) -> bool:
    """Make ``row`` equal to ``spec`` (plus ``extra`` columns); returns whether anything changed."""
    definition = spec.definition()
    if spec.entity != row.entity:
        # Member ids mean contacts in one and accounts in the other: the old stays end here.
        refreshing.close_all(session, row, now=utcnow(), reason=refreshing.EXIT_REDEFINED)
    values = {name: definition[name] for name in DEFINITION_FIELDS}
    values.update(checksum=spec.checksum, **extra)
    diff = audit.update_recorded(session, row, values, actor=actor, entity_type="segment", internal=("checksum",))
    return bool(diff)


def update_segment(
    session: Session, key: str, spec: SegmentSpec, *, actor: Actor, refresh: Refresh = "queue"
) -> Segment:
    """Replace a segment's definition (its key stays). Changing ``kind`` to static freezes the current
    members as a list; changing ``entity`` ends every stay, since member ids then name other things."""
    actor.require("editor")
    row = get_segment(session, key)
    _refuse_project(row)
    if not row.active:
        raise ValidationFailed(f"segment {key} is inactive")
    if spec.key != key:
        raise ValidationFailed(f"the key of a segment cannot change ({key} → {spec.key}); create a new one")
    check_references(session, {key: spec})
    if _redefine(session, row, spec, actor=actor, extra={}):
        _after_change(session, row, refresh)
    return row


def patch_segment(
    session: Session, key: str, patch: SegmentPatch, *, actor: Actor, refresh: Refresh = "queue"
) -> Segment:
    """Change the parts of a definition that ``patch`` sets."""
    row = get_segment(session, key)
    _refuse_project(row)
    merged = {**stored_definition(row), **patch.model_dump(exclude_unset=True)}
    if merged.get("kind") == "static" and "condition" not in patch.model_fields_set:
        merged["condition"] = None  # freezing a dynamic segment into a list drops its rule
    if merged.get("entity") == "contact" and "min_contacts" not in patch.model_fields_set:
        merged["min_contacts"] = 1
    return update_segment(session, key, parse_spec(session, merged), actor=actor, refresh=refresh)


def delete_segment(session: Session, key: str, *, actor: Actor) -> None:
    """Delete a segment made in the API or web UI, with its membership history."""
    actor.require("editor")
    row = get_segment(session, key)
    _refuse_project(row)
    check_references(session, {key: None})
    audit.delete_recorded(session, row, actor=actor, entity_type="segment", label="key")


# --- the project folder --------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentChange:
    """What ``pitboard apply`` would do to one segment: its definition before and after, and how many
    members it has now and would have (counted by running the new condition, nothing written)."""

    key: str
    action: Literal["create", "update", "deactivate"]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_fields: list[str]
    members_before: int
    members_after: int

    @property
    def member_change(self) -> int:
        return self.members_after - self.members_before


def _project_changes(
    session: Session, specs: Sequence[SegmentSpec]
) -> tuple[dict[str, Segment], list[SegmentSpec], list[Segment]]:
    """(existing rows by key, specs that differ from the database, project rows that would be deactivated)."""
    keys = [s.key for s in specs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValidationFailed(f"segment keys must be unique in the project; repeated: {', '.join(repeated)}")
    existing = {row.key: row for row in session.scalars(select(Segment))}
    differing = [
        spec for spec in specs
        if (row := existing.get(spec.key)) is None or not row.active or row.origin != PROJECT
        or row.checksum != spec.checksum or stored_definition(row) != spec.definition()
    ]  # fmt: skip
    wanted = set(keys)
    dropped = [r for r in existing.values() if r.origin == PROJECT and r.active and r.key not in wanted]
    return existing, differing, sorted(dropped, key=lambda r: r.key)


def apply_segments(session: Session, specs: list[SegmentSpec], *, actor: Actor) -> dict[str, list[str]]:
    """Make the project's segments equal to ``specs``: new ones created, changed ones updated, missing ones
    deactivated (kept with their history; their open stays end). A segment made in the UI whose key appears
    in the project is taken over by it. Changed dynamic segments (and those testing them) are refreshed by a
    queued job, so apply stays one quick transaction. Returns the keys per kind of change (non-empty only)."""
    actor.require("admin")
    existing, differing, dropped = _project_changes(session, specs)
    check_references(session, {**{s.key: s for s in specs}, **{r.key: None for r in dropped}})
    created, updated, deactivated = [], [], []
    for spec in differing:
        row = existing.get(spec.key)
        if row is None:
            row = _new_row(spec, PROJECT)
            session.add(row)
            session.flush()
            audit.created_recorded(session, row, actor=actor, entity_type="segment", fields=["key", *DEFINITION_FIELDS])
            created.append(spec.key)
        else:
            _redefine(session, row, spec, actor=actor, extra={"origin": PROJECT, "active": True})
            updated.append(spec.key)
    now = utcnow()
    for row in dropped:
        refreshing.close_all(session, row, now=now, reason=refreshing.EXIT_DEACTIVATED)
        audit.update_recorded(session, row, {"active": False}, actor=actor, entity_type="segment")
        deactivated.append(row.key)
    session.flush()
    queue_refresh(session, [spec.key for spec in differing if spec.kind == "dynamic"])
    result = {"created": created, "updated": updated, "deactivated": deactivated}
    return {name: keys for name, keys in result.items() if keys}


def diff_segments(session: Session, specs: list[SegmentSpec], *, now: datetime | None = None) -> list[SegmentChange]:
    """What :func:`apply_segments` would change, with member counts before and after; nothing is written.

    Counts of changed segments that test other changed segments are computed with the new definitions of
    those too, so a plan of several related changes reports what apply followed by the refresh will show.
    """
    existing, differing, dropped = _project_changes(session, specs)
    pending = {spec.key: spec for spec in differing}
    at = ensure_utc(now or utcnow())
    changes = []
    for spec in differing:
        row = existing.get(spec.key)
        before = stored_definition(row) if row is not None else None
        after = spec.definition()
        changed = [f for f in DEFINITION_FIELDS if before is None or before[f] != after[f]]
        if row is not None and row.origin != PROJECT:
            changed.append("origin")
        if row is not None and not row.active:
            changed.append("active")
        members_before = _open_count(session, row) if row is not None and row.active else 0
        members_after = count_matching(session, spec, now=at, pending=pending)
        if spec.kind == "static" and row is not None and row.entity != spec.entity:
            members_after = 0  # the stays end when a list changes what it holds
        changes.append(SegmentChange(spec.key, "update" if row else "create", before, after, changed,
                                     members_before, members_after))  # fmt: skip
    for row in dropped:
        changes.append(SegmentChange(row.key, "deactivate", stored_definition(row), None, ["active"],
                                     _open_count(session, row), 0))  # fmt: skip
    return changes


def _open_count(session: Session, row: Segment) -> int:
    return int(session.scalar(select(func.count()).select_from(open_member_ids(row.id).subquery())) or 0)


# --- static lists --------------------------------------------------------------------------------


@dataclass
class MemberChange:
    """The outcome of adding or removing list members: how many changed, were so already, or were not found."""

    changed: int = 0
    unchanged: int = 0
    not_found: list[str] = field(default_factory=list)


def _static(session: Session, key: str) -> Segment:
    row = get_segment(session, key)
    if row.kind != "static":
        raise ValidationFailed(f"segment {key} is dynamic: its members follow its condition, not a list")
    if not row.active:
        raise ValidationFailed(f"segment {key} is inactive")
    return row


def _resolve_members(
    session: Session, row: Segment, ids: Iterable[int], emails: Iterable[str]
) -> tuple[list[int], list[str]]:
    """Member ids for ids and email addresses (contacts only); plus what was not found, as given."""
    wanted = sorted({int(i) for i in ids})
    emails = [e.strip() for e in emails if e and e.strip()]
    if emails and row.entity != "contact":
        raise ValidationFailed(f"segment {row.key} lists accounts: give account ids, not email addresses")
    model: type[Contact] | type[Account] = Contact if row.entity == "contact" else Account
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(model.id).where(model.id.in_(chunk))))
    missing = [str(i) for i in wanted if i not in found]
    for email in emails:
        try:
            contact_id = contact_id_for_email(session, email)
        except InvalidEmail:
            contact_id = None
        if contact_id is None:
            missing.append(email)
        else:
            found.add(contact_id)
    return sorted(found), missing


def add_members(
    session: Session,
    key: str,
    *,
    ids: Iterable[int] = (),
    emails: Iterable[str] = (),
    entered_by: str = "api",
    actor: Actor,
) -> MemberChange:
    """Add contacts (by id or email) or accounts (by id) to a static list; members already in stay as they are."""
    actor.require("editor")
    if entered_by not in MANUAL_ENTRY:
        raise ValidationFailed(f"entered_by must be one of {', '.join(MANUAL_ENTRY)}")
    row = _static(session, key)
    members, missing = _resolve_members(session, row, ids, emails)
    now = utcnow()
    added = 0
    for start in range(0, len(members), 500):
        values = [{"segment_id": row.id, "member_id": m, "entered_at": now, "entered_by": entered_by}
                  for m in members[start : start + 500]]  # fmt: skip
        stmt = refreshing.skip_open_duplicates(refreshing.insert_stays(session).values(values))
        added += len(session.execute(stmt.returning(MEMBERSHIPS.c.member_id)).all())
    refreshing.count_change(session, row, added)
    if added:
        audit.record(session, actor=actor, action="segment.members_added", entity_type="segment", entity_id=row.id,
                     changes={"added": [None, added], "by": [None, entered_by]})  # fmt: skip
    session.flush()
    return MemberChange(added, len(members) - added, missing)


def remove_members(
    session: Session, key: str, *, ids: Iterable[int] = (), emails: Iterable[str] = (), actor: Actor
) -> MemberChange:
    """End the stays of these members of a static list (the history keeps them)."""
    actor.require("editor")
    row = _static(session, key)
    members, missing = _resolve_members(session, row, ids, emails)
    removed = 0
    now = utcnow()
    for start in range(0, len(members), 500):
        stmt = (
            update(MEMBERSHIPS)
            .where(MEMBERSHIPS.c.segment_id == row.id, MEMBERSHIPS.c.exited_at.is_(None),
                   MEMBERSHIPS.c.member_id.in_(members[start : start + 500]))
            .values(exited_at=now, exit_reason=EXIT_REMOVED)
        )  # fmt: skip
        removed += refreshing.rowcount(session.execute(stmt))
    refreshing.count_change(session, row, -removed)
    if removed:
        audit.record(session, actor=actor, action="segment.members_removed", entity_type="segment", entity_id=row.id,
                     changes={"removed": [None, removed]})  # fmt: skip
    session.flush()
    return MemberChange(removed, len(members) - removed, missing)


def read_member_csv(text: str) -> tuple[list[int], list[str]]:
    """Ids and emails from a CSV with an ``email``, ``contact_id``, ``account_id`` or ``id`` column, or from
    a plain list of addresses or ids, one per line."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines:
        return [], []
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    id_columns = [c for c in ("contact_id", "account_id", "id") if c in header]
    if "email" not in header and not id_columns:
        values = [line.strip() for line in lines]
        return [int(v) for v in values if v.isdigit()], [v for v in values if not v.isdigit()]
    ids, emails = [], []
    for number, record in enumerate(csv.reader(lines[1:]), start=2):
        cells = dict(zip(header, (cell.strip() for cell in record), strict=False))
        if cells.get("email"):
            emails.append(cells["email"])
        elif id_columns and (value := cells.get(id_columns[0], "")):
            if not value.isdigit():
                raise ValidationFailed(f"line {number}: {id_columns[0]} {value!r} is not a number")
            ids.append(int(value))
    return ids, emails


def import_members_csv(session: Session, key: str, text: str, *, actor: Actor) -> MemberChange:
    """Add the members of a CSV file to a static list (recorded as entered by ``import``)."""
    ids, emails = read_member_csv(text)
    if not ids and not emails:
        raise ValidationFailed("the file lists no email addresses or ids")
    return add_members(session, key, ids=ids, emails=emails, entered_by="import", actor=actor)
