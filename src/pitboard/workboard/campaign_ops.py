"""Campaign operations: intake, the launch checklist, approval chains, budget and going live.

Intake turns a complete brief into a campaign (``campaigns`` row, created through the campaigns service), its
ops record, a work item on the board, a planned budget line, the checklist of its type and the approval chain
of its type. A campaign goes live only when no blocking checklist item is open or failed and every approval
stage has approved; ``go_live`` refuses otherwise and names what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.campaigns import service as campaigns
from pitboard.campaigns.schemas import CAMPAIGN_TYPES, CampaignCreate, CampaignUpdate
from pitboard.kit.actor import Actor
from pitboard.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Campaign, CampaignSpend, Event, Segment, SegmentMembership
from pitboard.models.workboard import (
    PRIORITIES,
    SERVICE_TIERS,
    CampaignApprovalDecision,
    CampaignApprovalStep,
    CampaignBudgetLine,
    CampaignChecklistItem,
    CampaignOps,
    WorkItem,
)
from pitboard.workboard import board
from pitboard.workboard.naming import check_name, check_utm, generate_name
from pitboard.workboard.reminders import request_decisions

CHECK_STATUSES = ("open", "done", "failed", "waived")
DECISIONS = ("approve", "reject", "comment")


# --- intake --------------------------------------------------------------------------------------


class SuccessMetric(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    metric: str = Field(min_length=1, max_length=100)
    target: float


class IntakeIn(BaseModel):
    """A campaign request: nothing starts until every one of these is given."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=300, description="A name that follows the convention")
    name_parts: dict[str, str] | None = Field(default=None, description="Or the convention's fields, to generate it")
    campaign_type: str
    channel: str = Field(min_length=1, max_length=50)
    objective: str = Field(min_length=10, max_length=5000)
    audience_segment: str = Field(min_length=1, max_length=100)
    consent_purpose: str | None = Field(default=None, max_length=100)
    start_date: date
    end_date: date
    budget: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    success_metrics: list[SuccessMetric] = Field(min_length=1, max_length=10)
    owner_email: str = Field(min_length=3, max_length=320)
    priority: str = "normal"
    service_tier: str = "project"

    @field_validator("campaign_type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in CAMPAIGN_TYPES:
            raise ValueError(f"must be one of {', '.join(CAMPAIGN_TYPES)}")
        return v

    @field_validator("owner_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if "@" not in v or " " in v:
            raise ValueError("must be an email address")
        return v.lower()

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str) -> str:
        if v not in PRIORITIES:
            raise ValueError(f"must be one of {', '.join(PRIORITIES)}")
        return v

    @field_validator("service_tier")
    @classmethod
    def _tier(cls, v: str) -> str:
        if v not in SERVICE_TIERS:
            raise ValueError(f"must be one of {', '.join(SERVICE_TIERS)}")
        return v

    @model_validator(mode="after")
    def _whole(self) -> IntakeIn:
        if (self.name is None) == (self.name_parts is None):
            raise ValueError("give either name or name_parts")
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


def _resolve_name(session: Session, body: IntakeIn) -> str:
    spec = board.current_spec(session).naming
    if body.name_parts is not None:
        return generate_name(spec, body.name_parts)
    assert body.name is not None
    issues = check_name(spec, body.name)
    if issues:
        text = "; ".join(
            f"{i.field} {i.value!r} {i.message}" + (f" (did you mean {i.suggestion!r}?)" if i.suggestion else "")
            for i in issues
        )
        raise ValidationFailed(f"name breaks the naming convention: {text}", details=[i.to_dict() for i in issues])
    return body.name


def _day(d: date) -> datetime:
    from datetime import UTC

    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def submit_intake(session: Session, body: IntakeIn, *, actor: Actor) -> CampaignOps:
    actor.require("editor")
    name = _resolve_name(session, body)
    segment = session.scalar(select(Segment).where(Segment.key == body.audience_segment))
    if segment is None or not segment.active:
        raise ValidationFailed(f"audience_segment: no active segment with key {body.audience_segment!r}")
    if segment.entity != "contact":
        raise ValidationFailed(f"audience_segment: {body.audience_segment!r} is an account segment; use a contact one")
    if body.consent_purpose is not None:
        from pitboard.consent.purposes import load_purposes

        purposes = load_purposes(session)
        if body.consent_purpose not in purposes:
            raise ValidationFailed(f"consent_purpose must be one of {', '.join(purposes)}")
    campaign = campaigns.create_campaign(
        session,
        CampaignCreate(
            name=name, campaign_type=body.campaign_type, channel=body.channel, status="planned",
            start_date=_day(body.start_date), end_date=_day(body.end_date), budget=body.budget,
            utm_campaign=name, owner_email=body.owner_email, description=body.objective,
        ),
        actor=actor,
    )  # fmt: skip
    now = utcnow()
    item = board.create_item(session, title=f"Campaign: {name}", item_type="campaign", actor=actor,
                             priority=body.priority, service_tier=body.service_tier, owner_email=body.owner_email,
                             requested_by=actor.name, campaign_id=campaign.id, description=body.objective)  # fmt: skip
    ops = CampaignOps(
        campaign_id=campaign.id, work_item_id=item.id, objective=body.objective,
        audience_segment=body.audience_segment, consent_purpose=body.consent_purpose,
        success_metrics=[m.model_dump() for m in body.success_metrics], owner_email=body.owner_email,
        stage="brief", briefed_at=now,
    )  # fmt: skip
    session.add(ops)
    session.add(CampaignBudgetLine(campaign_id=campaign.id, channel=body.channel, planned=body.budget,
                                   committed=Decimal("0"), currency=body.currency, updated_at=now))  # fmt: skip
    spec = board.current_spec(session)
    for position, entry in enumerate(spec.checklist_for(body.campaign_type)):
        session.add(CampaignChecklistItem(campaign_id=campaign.id, key=entry.key, label=entry.label,
                                          check=entry.check, blocking=entry.blocking, position=position,
                                          status="open"))  # fmt: skip
    for position, stage in enumerate(spec.approvals_for(body.campaign_type)):
        session.add(CampaignApprovalStep(campaign_id=campaign.id, position=position, stage=stage.stage,
                                         approvers=stage.approvers, reviewers=stage.reviewers, status="waiting",
                                         sla_hours=stage.sla_hours, reminders_sent=0))  # fmt: skip
    session.flush()
    _open_next_stage(session, campaign.id, now)
    changes = {"audience_segment": [None, body.audience_segment], "objective": [None, body.objective]}
    audit.record(session, actor=actor, action="intake", entity_type="campaign", entity_id=campaign.id, changes=changes)
    session.flush()
    return ops


def get_ops(session: Session, campaign_id: int) -> CampaignOps:
    ops = session.scalar(select(CampaignOps).where(CampaignOps.campaign_id == campaign_id))
    if ops is None:
        campaigns.get_campaign(session, campaign_id)  # 404 for an unknown campaign
        raise NotFound(f"campaign {campaign_id} has no operations record (it did not come through intake)")
    return ops


# --- checklist -----------------------------------------------------------------------------------


def checklist(session: Session, campaign_id: int) -> list[CampaignChecklistItem]:
    stmt = select(CampaignChecklistItem).where(CampaignChecklistItem.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(CampaignChecklistItem.position)))


def _check_item(session: Session, campaign_id: int, key: str) -> CampaignChecklistItem:
    row = session.scalar(
        select(CampaignChecklistItem).where(
            CampaignChecklistItem.campaign_id == campaign_id, CampaignChecklistItem.key == key
        )
    )
    if row is None:
        raise NotFound(f"campaign {campaign_id} has no checklist item {key!r}")
    return row


def set_check(
    session: Session, campaign_id: int, key: str, status: str, *, actor: Actor, note: str | None = None
) -> CampaignChecklistItem:
    actor.require("editor")
    if status not in CHECK_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(CHECK_STATUSES)}")
    note = (note or "").strip()[:1000] or None
    if status in ("waived", "failed") and not note:
        raise ValidationFailed(f"marking an item {status} needs a note saying why")
    row = _check_item(session, campaign_id, key)
    old = row.status
    row.status, row.note = status, note
    row.checked_by, row.checked_at = (None, None) if status == "open" else (actor.name, utcnow())
    audit.record(session, actor=actor, action="checklist", entity_type="campaign", entity_id=campaign_id,
                 changes={f"checklist.{key}": [old, status], **({"note": [None, note]} if note else {})})  # fmt: skip
    session.flush()
    return row


def run_check(session: Session, campaign_id: int, key: str, *, actor: Actor) -> CampaignChecklistItem:
    """Run an automatic check (``utm`` or ``audience``) and record its result and evidence."""
    actor.require("editor")
    row = _check_item(session, campaign_id, key)
    if row.check == "utm":
        ok, evidence = utm_check(session, campaign_id)
    elif row.check == "audience":
        ok, evidence = audience_check(session, campaign_id)
    else:
        raise ValidationFailed(f"{key!r} is a manual check: mark it done, failed or waived")
    old = row.status
    row.status, row.evidence = ("done" if ok else "failed"), evidence
    row.checked_by, row.checked_at, row.note = actor.name, utcnow(), evidence.get("summary")
    audit.record(session, actor=actor, action="checklist", entity_type="campaign", entity_id=campaign_id,
                 changes={f"checklist.{key}": [old, row.status]})  # fmt: skip
    session.flush()
    return row


def utm_check(session: Session, campaign_id: int) -> tuple[bool, dict[str, Any]]:
    """The campaign's utm_campaign follows the convention and every event tagged with it has valid UTMs."""
    campaign = campaigns.get_campaign(session, campaign_id)
    spec = board.current_spec(session).naming
    problems: list[dict[str, Any]] = []
    if not campaign.utm_campaign:
        problems.append({"field": "utm_campaign", "value": "", "message": "the campaign has no utm_campaign"})
    else:
        problems += [i.to_dict() for i in check_name(spec, campaign.utm_campaign, label="utm_campaign")]
        rows = session.execute(
            select(Event.utm_source, Event.utm_medium, Event.utm_content, Event.utm_term, func.count())
            .where(Event.utm_campaign == campaign.utm_campaign)
            .group_by(Event.utm_source, Event.utm_medium, Event.utm_content, Event.utm_term)
        ).all()
        for source, medium, content, term, n in rows:
            for issue in check_utm(spec, source=source, medium=medium, campaign=campaign.utm_campaign,
                                   content=content, term=term):  # fmt: skip
                if not issue.field.startswith("utm_campaign"):
                    problems.append({**issue.to_dict(), "events": int(n)})
    tagged = sum(int(p.get("events", 0)) for p in problems)
    summary = "UTM tags follow the convention" if not problems else f"{len(problems)} UTM problem(s)" + (
        f" on {tagged} events" if tagged else "")  # fmt: skip
    return not problems, {"summary": summary, "problems": problems[:50]}


def audience_check(session: Session, campaign_id: int) -> tuple[bool, dict[str, Any]]:
    """Audience QA: the segment's current members and how many of them the consent gate lets us email."""
    from pitboard.consent.gate import check_many

    ops = get_ops(session, campaign_id)
    segment = session.scalar(select(Segment).where(Segment.key == ops.audience_segment))
    if segment is None:
        return False, {"summary": f"segment {ops.audience_segment!r} no longer exists", "members": 0}
    ids = list(
        session.scalars(
            select(SegmentMembership.member_id).where(
                SegmentMembership.segment_id == segment.id, SegmentMembership.exited_at.is_(None)
            )
        )
    )
    if ops.consent_purpose is None:
        return False, {"summary": "no consent purpose on the brief: cannot check consent", "members": len(ids)}
    verdicts = check_many(session, ids, channel="email", purpose=ops.consent_purpose, kind="marketing")
    reasons: dict[str, int] = {}
    for v in verdicts.values():
        if not v.allowed:
            reasons[v.reason] = reasons.get(v.reason, 0) + 1
    allowed = sum(1 for v in verdicts.values() if v.allowed)
    summary = f"{len(ids)} members, {allowed} may be emailed for {ops.consent_purpose}"
    evidence = {"summary": summary, "segment": segment.key, "members": len(ids), "allowed": allowed,
                "blocked": reasons, "purpose": ops.consent_purpose,
                "refreshed_at": str(segment.refreshed_at)}  # fmt: skip
    return allowed > 0, evidence


# --- approvals -----------------------------------------------------------------------------------


def approval_steps(session: Session, campaign_id: int) -> list[CampaignApprovalStep]:
    stmt = select(CampaignApprovalStep).where(CampaignApprovalStep.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(CampaignApprovalStep.position)))


def decisions(session: Session, campaign_id: int) -> list[CampaignApprovalDecision]:
    stmt = select(CampaignApprovalDecision).where(CampaignApprovalDecision.campaign_id == campaign_id)
    return list(session.scalars(stmt.order_by(CampaignApprovalDecision.at, CampaignApprovalDecision.id)))


def _open_next_stage(session: Session, campaign_id: int, now: datetime) -> CampaignApprovalStep | None:
    steps = approval_steps(session, campaign_id)
    if any(s.status in ("pending", "rejected") for s in steps):
        return None
    nxt = next((s for s in steps if s.status == "waiting"), None)
    ops = session.scalar(select(CampaignOps).where(CampaignOps.campaign_id == campaign_id))
    if nxt is None:
        if ops is not None and ops.stage in ("brief", "in_review"):
            ops.stage = "approved"
        return None
    nxt.status, nxt.opened_at, nxt.due_at = "pending", now, now + timedelta(hours=nxt.sla_hours)
    if ops is not None and ops.stage == "brief":
        ops.stage = "in_review"
    session.flush()
    request_decisions(session, nxt)
    return nxt


def decide(
    session: Session,
    campaign_id: int,
    decision: Literal["approve", "reject", "comment"] | str,
    *,
    actor: Actor,
    comment: str | None = None,
    stage: str | None = None,
    person: str | None = None,
) -> CampaignApprovalDecision:
    """Record a decision on the pending stage (or a comment on any stage). Approvers decide; reviewers only
    comment. The decider is the actor (a web user: their email) or, recorded by an admin (an API key, the
    CLI), the named ``person``; the audit entry keeps both."""
    actor.require("viewer")
    if person is not None:
        actor.require("admin")
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision must be one of {', '.join(DECISIONS)}")
    comment = (comment or "").strip() or None
    steps = approval_steps(session, campaign_id)
    if not steps:
        get_ops(session, campaign_id)
        raise Conflict(f"campaign {campaign_id} has no approval chain")
    if stage is not None:
        step = next((s for s in steps if s.stage == stage), None)
        if step is None:
            raise ValidationFailed(f"stage must be one of {', '.join(s.stage for s in steps)}")
    else:
        step = next((s for s in steps if s.status == "pending"), None)
        if step is None:
            raise Conflict("no approval stage is waiting for a decision")
    who = (person or actor.name).strip().lower()
    role = "approver" if who in step.approvers else "reviewer" if who in step.reviewers else None
    if role is None:
        raise Forbidden(f"{actor.name} is neither an approver nor a reviewer of stage {step.stage!r}")
    if decision != "comment":
        if role != "approver":
            raise Forbidden(f"reviewers comment; only approvers of {step.stage!r} decide ({', '.join(step.approvers)})")
        if step.status != "pending":
            raise Conflict(f"stage {step.stage!r} is {step.status}, not waiting for a decision")
        if decision == "reject" and not comment:
            raise ValidationFailed("a rejection needs a comment saying what to change")
    elif not comment:
        raise ValidationFailed("a comment needs text")
    now = utcnow()
    row = CampaignApprovalDecision(step_id=step.id, campaign_id=campaign_id, at=now, actor=who, role=role,
                                   decision=decision, comment=comment)  # fmt: skip
    session.add(row)
    if decision in ("approve", "reject"):
        step.status = "approved" if decision == "approve" else "rejected"
        step.decided_at, step.decided_by = now, who
        audit.record(session, actor=actor, action="approval", entity_type="campaign", entity_id=campaign_id,
                     changes={f"approval.{step.stage}": ["pending", step.status], "by": [None, who]})  # fmt: skip
        session.flush()
        if decision == "approve":
            _open_next_stage(session, campaign_id, now)
    session.flush()
    return row


def resubmit(session: Session, campaign_id: int, *, actor: Actor, note: str | None = None) -> CampaignApprovalStep:
    """After a rejection and changes: the rejected stage is pending again (the rejection stays on record)."""
    actor.require("editor")
    step = next((s for s in approval_steps(session, campaign_id) if s.status == "rejected"), None)
    if step is None:
        raise Conflict("no stage is rejected")
    now = utcnow()
    step.status, step.opened_at, step.due_at = "pending", now, now + timedelta(hours=step.sla_hours)
    step.decided_at = step.decided_by = None
    step.reminders_sent, step.last_reminded_at = 0, None
    session.flush()
    request_decisions(session, step)
    audit.record(session, actor=actor, action="approval", entity_type="campaign", entity_id=campaign_id,
                 changes={f"approval.{step.stage}": ["rejected", "pending"], "note": [None, note]})  # fmt: skip
    session.flush()
    return step


# --- going live ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readiness:
    open_blocking: list[str]
    approvals_missing: list[str]

    @property
    def ready(self) -> bool:
        return not self.open_blocking and not self.approvals_missing

    def reasons(self) -> list[str]:
        return [f"checklist: {k}" for k in self.open_blocking] + [f"approval: {s}" for s in self.approvals_missing]


def readiness(session: Session, campaign_id: int) -> Readiness:
    items = checklist(session, campaign_id)
    blocking = [i.key for i in items if i.blocking and i.status not in ("done", "waived")]
    missing = [s.stage for s in approval_steps(session, campaign_id) if s.status != "approved"]
    return Readiness(blocking, missing)


def go_live(session: Session, campaign_id: int, *, actor: Actor) -> CampaignOps:
    """Mark the campaign live (campaign status ``live`` and ops stage ``live``, time recorded for
    time-to-market). Refused while a blocking checklist item is open or failed or a stage is not approved."""
    actor.require("editor")
    ops = get_ops(session, campaign_id)
    if ops.stage == "live":
        return ops
    if ops.stage in ("completed", "cancelled"):
        raise Conflict(f"the campaign is {ops.stage}")
    state = readiness(session, campaign_id)
    if not state.ready:
        raise Conflict("the campaign cannot go live yet: " + "; ".join(state.reasons()), details=state.reasons())
    now = utcnow()
    ops.stage, ops.live_at = "live", now
    campaigns.update_campaign(session, campaign_id, CampaignUpdate(status="live"), actor=actor)
    audit.record(session, actor=actor, action="go_live", entity_type="campaign", entity_id=campaign_id,
                 changes={"ops_stage": ["approved", "live"]})  # fmt: skip
    session.flush()
    return ops


# --- budget --------------------------------------------------------------------------------------


def set_budget(
    session: Session,
    campaign_id: int,
    channel: str,
    *,
    actor: Actor,
    planned: Decimal | None = None,
    committed: Decimal | None = None,
    currency: str | None = None,
) -> CampaignBudgetLine:
    actor.require("editor")
    campaigns.get_campaign(session, campaign_id)
    channel = channel.strip()
    if not channel or len(channel) > 50:
        raise ValidationFailed("channel must be 1 to 50 characters")
    for name, value in (("planned", planned), ("committed", committed)):
        if value is not None and value < 0:
            raise ValidationFailed(f"{name} must not be negative")
    row = session.scalar(
        select(CampaignBudgetLine).where(
            CampaignBudgetLine.campaign_id == campaign_id, CampaignBudgetLine.channel == channel
        )
    )
    if row is None:
        row = CampaignBudgetLine(campaign_id=campaign_id, channel=channel, planned=Decimal("0"),
                                 committed=Decimal("0"), currency=currency or "USD", updated_at=utcnow())  # fmt: skip
        session.add(row)
    changes: dict[str, list[Any]] = {}
    values: tuple[tuple[str, object], ...] = (("planned", planned), ("committed", committed), ("currency", currency))
    for name, new in values:
        if new is not None and getattr(row, name) != new:
            changes[f"budget.{channel}.{name}"] = [str(getattr(row, name)), str(new)]
            setattr(row, name, new)
    row.updated_at = utcnow()
    if changes:
        audit.record(session, actor=actor, action="budget", entity_type="campaign", entity_id=campaign_id,
                     changes=changes)  # fmt: skip
    session.flush()
    return row


@dataclass
class BudgetRow:
    channel: str
    planned: Decimal
    committed: Decimal
    actual: Decimal
    currency: str

    @property
    def remaining(self) -> Decimal:
        return self.planned - max(self.committed, self.actual)

    @property
    def over(self) -> bool:
        return self.actual > self.planned or self.committed > self.planned


def budget(session: Session, campaign_id: int | None = None) -> list[tuple[int, BudgetRow]]:
    """Planned and committed (our lines) against actual (``campaign_spend``) per campaign and channel."""
    lines = select(CampaignBudgetLine)
    spend = select(CampaignSpend.campaign_id, CampaignSpend.channel, CampaignSpend.currency,
                   func.sum(CampaignSpend.amount)).group_by(CampaignSpend.campaign_id, CampaignSpend.channel,
                                                            CampaignSpend.currency)  # fmt: skip
    if campaign_id is not None:
        lines = lines.where(CampaignBudgetLine.campaign_id == campaign_id)
        spend = spend.where(CampaignSpend.campaign_id == campaign_id)
    out: dict[tuple[int, str], BudgetRow] = {}
    for line in session.scalars(lines):
        out[(line.campaign_id, line.channel)] = BudgetRow(
            line.channel, Decimal(line.planned), Decimal(line.committed), Decimal("0"), line.currency
        )
    for cid, channel, currency, total in session.execute(spend):
        row = out.setdefault((cid, channel or ""), BudgetRow(channel or "", Decimal("0"), Decimal("0"),
                                                             Decimal("0"), currency))  # fmt: skip
        row.actual += Decimal(total or 0)
    return sorted(((cid, row) for (cid, _), row in out.items()), key=lambda t: (t[0], t[1].channel))


def ops_overview(session: Session) -> list[tuple[Campaign, CampaignOps, WorkItem | None]]:
    stmt = (
        select(Campaign, CampaignOps, WorkItem)
        .join(CampaignOps, CampaignOps.campaign_id == Campaign.id)
        .outerjoin(WorkItem, WorkItem.id == CampaignOps.work_item_id)
        .order_by(CampaignOps.briefed_at.desc())
    )
    return [(c, o, w) for c, o, w in session.execute(stmt).all()]
