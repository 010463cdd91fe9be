"""Approval requests and SLA reminders, by email through ``pitboard.notify`` (or the outbox directly).

When a stage opens, its approvers and reviewers are asked; when it passes its due time, its approvers are
reminded, then again every ``REMIND_EVERY`` until ``MAX_REMINDERS``. Each message has an idempotency key made
of the step, its opening time and the reminder number, so a retried job or a second worker sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Campaign
from pitboard.models.workboard import CampaignApprovalStep

REMIND_EVERY = timedelta(hours=24)
MAX_REMINDERS = 3


def send_email(session: Session, *, to: str, subject: str, text: str, link: str, key: str) -> None:
    try:
        from pitboard.notify import notify
    except ImportError:  # the notify package is another feature; the outbox is always there
        from pitboard.messaging.outbox import enqueue_email

        enqueue_email(session, contact_id=None, to_address=to, kind="transactional", purpose=None, template=None,
                      subject=subject, text=f"{text}\n\n{link}\n", idempotency_key=key)  # fmt: skip
        return
    notify(session, to=f"email:{to}", subject=subject, text=text, link=link, idempotency_key=key)


def _stamp(moment: datetime | None) -> str:
    return str(int(ensure_utc(moment).timestamp())) if moment else "0"


def request_decisions(session: Session, step: CampaignApprovalStep, *, base_url: str = "") -> int:
    campaign = session.get(Campaign, step.campaign_id)
    name = campaign.name if campaign else str(step.campaign_id)
    link = f"{base_url}/campaigns/{step.campaign_id}/ops"
    sent = 0
    for role, people in (("approve", step.approvers), ("review", step.reviewers)):
        for person in people:
            send_email(session, to=person, subject=f"Please {role}: {name} ({step.stage})",
                       text=f"The {step.stage} stage of campaign {name} waits for you; due within "
                            f"{step.sla_hours} h.", link=link,
                       key=f"approval:{step.id}:{_stamp(step.opened_at)}:ask:{person}")  # fmt: skip
            sent += 1
    return sent


def send_reminders(session: Session, *, now: datetime | None = None, base_url: str = "") -> int:
    """Remind the approvers of overdue stages. Returns the number of messages queued."""
    now = ensure_utc(now) if now else utcnow()
    stmt = select(CampaignApprovalStep).where(
        CampaignApprovalStep.status == "pending",
        CampaignApprovalStep.due_at <= now,
        CampaignApprovalStep.reminders_sent < MAX_REMINDERS,
    )
    sent = 0
    for step in session.scalars(stmt.with_for_update()):
        last = step.last_reminded_at
        if last is not None and ensure_utc(last) > now - REMIND_EVERY:
            continue
        number = step.reminders_sent + 1
        campaign = session.get(Campaign, step.campaign_id)
        name = campaign.name if campaign else str(step.campaign_id)
        assert step.due_at is not None
        late = now - ensure_utc(step.due_at)
        for person in step.approvers:
            send_email(session, to=person, subject=f"Overdue approval: {name} ({step.stage})",
                       text=f"The {step.stage} stage of {name} was due {late.total_seconds() / 3600:.0f} h ago "
                            f"(SLA {step.sla_hours} h). Reminder {number} of {MAX_REMINDERS}.",
                       link=f"{base_url}/campaigns/{step.campaign_id}/ops",
                       key=f"approval:{step.id}:{_stamp(step.opened_at)}:remind:{number}:{person}")  # fmt: skip
            sent += 1
        step.reminders_sent, step.last_reminded_at = number, now
    session.flush()
    return sent
