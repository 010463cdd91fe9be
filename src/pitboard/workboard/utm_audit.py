"""Flag imported events and spend whose UTM tags break the naming convention, each with a suggested fix.

Events are grouped by their distinct UTM combination (one GROUP BY, so a million events cost one scan and a
few hundred checks); spend rows by campaign, checked on the campaign's ``utm_campaign`` (or name) that the
spend import matched them by. Nothing is rewritten: the report says what to fix and how, people decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pitboard.kit.time import utcnow
from pitboard.models import Campaign, CampaignSpend, Event
from pitboard.workboard.board import current_spec
from pitboard.workboard.naming import check_name, check_utm


@dataclass
class Finding:
    kind: str  # event or spend
    tags: dict[str, str | None]
    rows: int
    issues: list[dict[str, Any]]
    amount: Decimal | None = None
    campaign_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        amount = str(self.amount) if self.amount is not None else None
        return {"kind": self.kind, "tags": self.tags, "rows": self.rows, "issues": self.issues, "amount": amount,
                "campaign_id": self.campaign_id}  # fmt: skip


def audit_events(session: Session, *, days: int = 30, now: datetime | None = None, limit: int = 500) -> list[Finding]:
    spec = current_spec(session).naming
    since = (now or utcnow()) - timedelta(days=days)
    cols = (Event.utm_source, Event.utm_medium, Event.utm_campaign, Event.utm_content, Event.utm_term)
    stmt = (
        select(*cols, func.count())
        .where(Event.occurred_at >= since, or_(*(c.is_not(None) for c in cols)))
        .group_by(*cols)
        .order_by(func.count().desc())
    )
    out: list[Finding] = []
    for source, medium, campaign, content, term, n in session.execute(stmt):
        issues = check_utm(spec, source=source, medium=medium, campaign=campaign, content=content, term=term)
        if issues:
            tags = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign, "utm_content": content,
                    "utm_term": term}  # fmt: skip
            out.append(Finding("event", tags, int(n), [i.to_dict() for i in issues]))
            if len(out) >= limit:
                break
    return out


def audit_spend(session: Session) -> list[Finding]:
    spec = current_spec(session).naming
    stmt = (
        select(Campaign.id, Campaign.name, Campaign.utm_campaign, func.count(), func.sum(CampaignSpend.amount))
        .join(CampaignSpend, CampaignSpend.campaign_id == Campaign.id)
        .group_by(Campaign.id, Campaign.name, Campaign.utm_campaign)
        .order_by(Campaign.id)
    )
    out: list[Finding] = []
    for cid, name, utm, n, amount in session.execute(stmt):
        tag = utm or name
        issues = check_name(spec, tag, label="utm_campaign" if utm else "campaign")
        if issues:
            out.append(Finding("spend", {"utm_campaign": utm, "campaign": name}, int(n), [i.to_dict() for i in issues],
                               amount=Decimal(amount or 0), campaign_id=cid))  # fmt: skip
    return out
