"""Activating a segment (a CSV for an ad platform, a webinar tool, an agency) is a send by other means, so
it goes through the consent gate: the segment's current members are the selection handed to
``consent.audience.write_csv``, which keeps only those who may be contacted and counts who was left out."""

from __future__ import annotations

from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pitboard.consent import audience
from pitboard.consent.audience import AudienceSummary
from pitboard.kit.actor import Actor
from pitboard.kit.errors import ValidationFailed
from pitboard.models import Contact
from pitboard.segments.matching import contacts_of, open_member_ids
from pitboard.segments.service import get_segment


def member_contacts(session: Session, key: str) -> Select[Any]:
    """The contacts a segment reaches now, by id: its members, or the contacts of its member accounts."""
    row = get_segment(session, key)
    if not row.active:
        raise ValidationFailed(f"segment {key} is inactive")
    ids = contacts_of(row.entity, open_member_ids(row.id)).subquery()
    return select(Contact.id).where(Contact.id.in_(select(next(iter(ids.c))))).order_by(Contact.id)


def export_segment_csv(
    session: Session, key: str, out: IO[str], *, channel: str = "email", purpose: str, actor: Actor
) -> AudienceSummary:
    """Write the segment's members who may be contacted on ``channel`` for ``purpose`` as CSV to ``out``."""
    actor.require("editor")
    return audience.write_csv(session, out, contacts=member_contacts(session, key), channel=channel, purpose=purpose,
                              actor=actor, label=f"segment:{key}")  # fmt: skip
