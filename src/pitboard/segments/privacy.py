"""Segment memberships in data-subject requests: an export lists a person's stays, an erasure deletes them.

Stays of contact segments name the person by ``member_id`` (no foreign key: the same column holds account
ids in account segments), so nothing cascades; this step removes them. Stays of records merged into the
person count until the merge, as everywhere in privacy/ (SQLite may give a deleted id to a newer record).
Account segments hold companies, not people, and are left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.models import Segment, SegmentMembership
from pitboard.privacy.erasure import register_erasure_step
from pitboard.privacy.export import register_section
from pitboard.privacy.subject import Subject, load_subject
from pitboard.segments.refresh import count_change, rowcount

SECTION = "segment_memberships"


def _about(subject: Subject) -> ColumnElement[bool]:
    own = SegmentMembership.member_id == subject.contact_id
    merged = [and_(SegmentMembership.member_id == mid, SegmentMembership.entered_at <= at)
              for mid, at in subject.merged.items()]  # fmt: skip
    contact_segments = select(Segment.id).where(Segment.entity == "contact")
    return and_(or_(own, *merged), SegmentMembership.segment_id.in_(contact_segments))


def erase_memberships(session: Session, subject: Subject, actor: Actor) -> int:
    del actor  # the erasure as a whole is audited by erase_person
    open_by_segment: dict[int, int] = {}
    open_stays = select(SegmentMembership.segment_id).where(_about(subject), SegmentMembership.exited_at.is_(None))
    for segment_id in session.scalars(open_stays):
        open_by_segment[segment_id] = open_by_segment.get(segment_id, 0) + 1
    removed = rowcount(session.execute(delete(SegmentMembership).where(_about(subject))))
    for segment in session.scalars(select(Segment).where(Segment.id.in_(list(open_by_segment)))):
        count_change(session, segment, -open_by_segment[segment.id])
    return removed


def export_memberships(session: Session, contact_id: int) -> list[dict[str, Any]]:
    subject = load_subject(session, contact_id)
    stmt = (
        select(
            Segment.key.label("segment"), Segment.name.label("segment_name"), SegmentMembership.member_id,
            SegmentMembership.entered_at, SegmentMembership.entered_by, SegmentMembership.exited_at,
            SegmentMembership.exit_reason,
        )
        .join(Segment, Segment.id == SegmentMembership.segment_id)
        .where(_about(subject))
        .order_by(SegmentMembership.entered_at, SegmentMembership.id)
    )  # fmt: skip
    return [dict(row) for row in session.execute(stmt).mappings()]


register_erasure_step("segment_memberships", erase_memberships)
register_section(SECTION, export_memberships)
