"""Demo data for campaign operations and the work board: a board with four months of recorded history (so the
flow dashboard has lead times, throughput and blocked time to show), and the demo campaigns in operation with
their briefs, checklists, approval decisions and budgets.

Rows are written directly with back-dated times (the services stamp "now"); the shapes are the ones the
services write. Deterministic for a seed; skipped when the board already has items.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.kit.db import session_scope
from pitboard.kit.time import ensure_utc
from pitboard.models import Campaign, Segment
from pitboard.models.workboard import (
    CampaignApprovalDecision,
    CampaignApprovalStep,
    CampaignBudgetLine,
    CampaignChecklistItem,
    CampaignOps,
    WorkItem,
    WorkItemTransition,
)
from pitboard.workboard import board
from pitboard.workboard.config import DEFAULT, CampaignOpsFile

TABLES = (WorkItem, WorkItemTransition, CampaignOps, CampaignChecklistItem, CampaignApprovalStep,
          CampaignApprovalDecision, CampaignBudgetLine)  # fmt: skip
DEMO_ACTOR = Actor(name="demo", interface="system", role="admin")
PEOPLE = ["maria@pitboard.example", "jonas@pitboard.example", "li@pitboard.example", "sam@pitboard.example"]
APPROVALS = {"default": [
    {"stage": "brand", "approvers": ["brand@pitboard.example"], "reviewers": ["maria@pitboard.example"],
     "sla_hours": 24},
    {"stage": "legal", "approvers": ["legal@pitboard.example"], "sla_hours": 48},
]}  # fmt: skip
REQUESTS = {
    "report": ["Q{q} pipeline report for the board", "Webinar attendance by region", "Paid social CPL breakdown",
               "Win/loss by lead source", "Churned accounts: last touches"],
    "data_fix": ["Fix country codes from the Q{q} import", "Merge duplicate accounts (acme)", "Backfill missing UTMs",
                 "Job titles normalisation"],
    "tooling": ["Lead form for the partner portal", "Slack alert for demo requests", "New scoring field: seniority",
                "Connect the events platform"],
    "other": ["Brief the agency on the spring launch", "Persona refresh workshop"],
}  # fmt: skip
# (column, mean days spent there) along the usual path
PATH = [("requested", 3.0), ("ready", 2.0), ("in_progress", 4.0), ("review", 1.5)]


def _walk(rng: random.Random, created: datetime, now: datetime) -> list[tuple[datetime, str]]:
    """The moves of one item from its creation: (time, column entered)."""
    moves = [(created, "requested")]
    at = created
    for (_column, mean), nxt in zip(PATH, [c for c, _ in PATH[1:]] + ["done"], strict=True):
        at = at + timedelta(days=rng.expovariate(1 / mean))
        if at >= now:
            break
        moves.append((at, nxt))
    return moves


def generate_workboard(engine: Engine, *, now: datetime, seed: int = 42) -> dict[str, int]:
    rng = random.Random(seed * 7331 + 10)
    now = ensure_utc(now)
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(WorkItem)):
            return {}
        spec = CampaignOpsFile.model_validate({**DEFAULT, "approvals": APPROVALS})
        board.apply_spec(session, spec, actor=DEMO_ACTOR, origin="demo")
        tiers = {"report": "standard", "data_fix": "self_service", "tooling": "project", "other": "standard"}
        for n in range(70):
            item_type = rng.choice(list(REQUESTS))
            title = rng.choice(REQUESTS[item_type]).format(q=rng.randint(1, 4))
            created = now - timedelta(days=rng.uniform(0, 120))
            moves = _walk(rng, created, now)
            last_at, last_col = moves[-1]
            started = next((at for at, col in moves if col != "requested"), None)
            item = WorkItem(
                title=title, item_type=item_type, column_key=last_col, rank=float(n),
                priority=rng.choices(["urgent", "high", "normal", "low"], [1, 3, 8, 2])[0],
                service_tier=tiers[item_type], blocked=False, owner_email=rng.choice(PEOPLE),
                requested_by=rng.choice(PEOPLE), column_entered_at=last_at, started_at=started,
                finished_at=last_at if last_col == "done" else None,
                due_at=created + timedelta(hours=120) if tiers[item_type] == "standard" else None,
                created_at=created, updated_at=last_at,
            )  # fmt: skip
            session.add(item)
            session.flush()
            prev = None
            for at, col in moves:
                session.add(WorkItemTransition(item_id=item.id, at=at, kind="created" if prev is None else "moved",
                                               from_column=prev, to_column=col, actor=item.requested_by or "demo",
                                               wip_override=False))  # fmt: skip
                prev = col
            # about one item in five was blocked for a while (some still are)
            if started is not None and rng.random() < 0.2:
                since = started + timedelta(hours=rng.uniform(2, 30))
                if since < now:
                    reason = rng.choice(["waiting for IT", "data export pending", "legal question"])
                    session.add(WorkItemTransition(item_id=item.id, at=since, kind="blocked", from_column=last_col,
                                                   to_column=last_col, actor="demo", wip_override=False,
                                                   note=reason))  # fmt: skip
                    until = since + timedelta(days=rng.uniform(0.5, 4))
                    if until < (item.finished_at or now) and rng.random() < 0.8:
                        session.add(WorkItemTransition(item_id=item.id, at=until, kind="unblocked",
                                                       from_column=last_col, to_column=last_col, actor="demo",
                                                       wip_override=False))  # fmt: skip
                    elif item.finished_at is None:
                        item.blocked, item.blocked_reason = True, reason
        _campaigns(session, rng, now, spec)
        session.flush()
        # Rows per table as written (the demo summary's counts are compared with the tables).
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0) for model in TABLES
        }


def _campaigns(session: Session, rng: random.Random, now: datetime, spec: CampaignOpsFile) -> int:
    made = 0
    segment = session.scalar(
        select(Segment.key).where(Segment.active.is_(True), Segment.entity == "contact").order_by(Segment.id)
    )
    rows = session.scalars(select(Campaign).where(Campaign.start_date.is_not(None)).order_by(Campaign.id)).all()
    for campaign in rows[:16]:
        start = ensure_utc(campaign.start_date) if campaign.start_date else now
        briefed = start - timedelta(days=rng.uniform(12, 40))
        if briefed > now:
            continue
        live = start if start <= now else None
        stage = "live" if live else rng.choice(["in_review", "approved"])
        item = WorkItem(title=f"Campaign: {campaign.name}", item_type="campaign",
                        column_key="done" if live else rng.choice(["in_progress", "review"]), rank=1000.0 + made,
                        priority="high", service_tier="project", blocked=False, owner_email=campaign.owner_email,
                        requested_by=campaign.owner_email, campaign_id=campaign.id, column_entered_at=live or briefed,
                        started_at=briefed + timedelta(days=2), finished_at=live, created_at=briefed,
                        updated_at=live or briefed)  # fmt: skip
        session.add(item)
        session.flush()
        steps = [(briefed, None, "requested"), (briefed + timedelta(days=2), "requested", "in_progress")]
        if live:
            steps += [(live - timedelta(days=3), "in_progress", "review"), (live, "review", "done")]
        elif item.column_key == "review":
            steps += [(min(now, briefed + timedelta(days=8)), "in_progress", "review")]
        for at, frm, to in steps:
            session.add(WorkItemTransition(item_id=item.id, at=at, kind="created" if frm is None else "moved",
                                           from_column=frm, to_column=to, actor=item.requested_by or "demo",
                                           wip_override=False))  # fmt: skip
        session.add(CampaignOps(
            campaign_id=campaign.id, work_item_id=item.id, objective=campaign.description or campaign.name,
            audience_segment=segment or "demo-audience", consent_purpose="newsletter",
            success_metrics=[{"metric": "mqls", "target": rng.choice([50, 100, 200])}],
            owner_email=campaign.owner_email or PEOPLE[0], stage=stage, briefed_at=briefed, live_at=live,
            created_at=briefed, updated_at=live or briefed,
        ))  # fmt: skip
        for pos, entry in enumerate(spec.checklist_for(campaign.campaign_type)):
            done = live is not None or rng.random() < 0.5
            session.add(CampaignChecklistItem(campaign_id=campaign.id, key=entry.key, label=entry.label,
                                              check=entry.check, blocking=entry.blocking, position=pos,
                                              status="done" if done else "open",
                                              checked_by=campaign.owner_email if done else None,
                                              checked_at=briefed + timedelta(days=5) if done else None))  # fmt: skip
        pending_seen = False
        for pos, stage_spec in enumerate(spec.approvals_for(campaign.campaign_type)):
            lucky = pos == 0 and rng.random() < 0.5
            approved = not pending_seen and (live is not None or stage == "approved" or lucky)
            status = "approved" if approved else "waiting" if pending_seen else "pending"
            opened = briefed + timedelta(days=3 + pos * 2) if status != "waiting" else None
            step = CampaignApprovalStep(
                campaign_id=campaign.id, position=pos, stage=stage_spec.stage, approvers=stage_spec.approvers,
                reviewers=stage_spec.reviewers, status=status, sla_hours=stage_spec.sla_hours, opened_at=opened,
                due_at=opened + timedelta(hours=stage_spec.sla_hours) if opened else None,
                decided_at=opened + timedelta(hours=rng.uniform(2, 40)) if approved and opened else None,
                decided_by=stage_spec.approvers[0] if approved else None, reminders_sent=0,
            )  # fmt: skip
            session.add(step)
            session.flush()
            pending_seen = pending_seen or not approved
            if approved and step.decided_at is not None:
                session.add(CampaignApprovalDecision(step_id=step.id, campaign_id=campaign.id, at=step.decided_at,
                                                     actor=stage_spec.approvers[0], role="approver",
                                                     decision="approve", comment=None))  # fmt: skip
        planned = Decimal(str(campaign.budget or 0)) or Decimal(rng.choice([2000, 5000, 12000]))
        session.add(CampaignBudgetLine(campaign_id=campaign.id, channel=campaign.channel or "",
                                       planned=planned, committed=(planned * Decimal("0.6")).quantize(Decimal("1")),
                                       currency="USD", updated_at=briefed))  # fmt: skip
        made += 1
    session.flush()
    return made
