"""Audience export: the contacts of a selection we may contact on a channel for a purpose, for activation
in another tool (an ad platform, a webinar system, a CSV for an agency).

It is a send by other means, so it goes through the consent gate like every email does; who was left out
and why is counted and the export is written to the audit log (an export of personal data is itself a
processing activity someone may have to account for).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.consent.gate import iter_verdicts
from pitboard.kit.actor import Actor
from pitboard.models import Contact

COLUMNS = ("contact_id", "email", "phone", "first_name", "last_name", "company_name", "country", "lifecycle_stage")


@dataclass
class AudienceSummary:
    included: int = 0
    excluded: Counter[str] = field(default_factory=Counter)

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())


def selection(
    *,
    contact_ids: list[int] | None = None,
    lifecycle_stage: str | None = None,
    country: str | None = None,
    account_id: int | None = None,
) -> Select[int]:
    query = select(Contact.id).order_by(Contact.id)
    if contact_ids is not None:
        query = query.where(Contact.id.in_(contact_ids))
    if lifecycle_stage:
        query = query.where(Contact.lifecycle_stage == lifecycle_stage)
    if country:
        query = query.where(Contact.country == country.upper())
    if account_id is not None:
        query = query.where(Contact.account_id == account_id)
    return query


def write_csv(
    session: Session, out: IO[str], *, contacts: Select[int], channel: str, purpose: str, actor: Actor,
    label: str = "audience",
) -> AudienceSummary:  # fmt: skip
    """Write the contactable contacts of ``contacts`` as CSV to ``out``; returns who was left out and why."""
    summary = AudienceSummary()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    allowed: list[int] = []

    def flush() -> None:
        # Plain columns, not ORM objects: a 1M-contact export would fill the identity map for nothing.
        columns = [getattr(Contact, "id" if c == "contact_id" else c) for c in COLUMNS]
        rows = session.execute(select(*columns).where(Contact.id.in_(allowed)).order_by(Contact.id))
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        allowed.clear()

    for contact_id, verdict in iter_verdicts(session, contacts, channel=channel, purpose=purpose, kind="marketing"):
        if verdict.allowed:
            summary.included += 1
            allowed.append(contact_id)
            if len(allowed) >= 1000:
                flush()
        else:
            summary.excluded[verdict.reason] += 1
    flush()
    audit.record(session, actor=actor, action="audience.exported", entity_type="audience", entity_id=label,
                 changes={"channel": [None, channel], "purpose": [None, purpose], "included": [None, summary.included],
                          "excluded": [None, dict(summary.excluded)]})  # fmt: skip
    return summary
