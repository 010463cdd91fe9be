"""The retention policy: personal data is kept no longer than needed (storage limitation, GDPR Art. 5(1)(e)).

The policy lives in ``system_settings`` under ``retention_policy`` so the API, the CLI and the worker read
one value. A daily worker task applies it:

- contacts inactive for ``inactive_contact_days`` (last activity, else last update, before the cutoff) are
  erased like an erasure request would (reason ``retention``), except those in ``exclude_lifecycle_stages``,
  those with an open opportunity and those with an unanswered data-subject request. Off unless set.
- quarantined input older than ``quarantine_days`` is deleted (it is raw personal data nobody fixed).
- message bodies older than ``message_body_days`` are cleared; the row stays as the record of the send.

:func:`plan_retention` shows what would happen without changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.lifecycle.stages import DEFAULT_STAGES
from pitboard.models import Contact, Message, Opportunity, PrivacyRequest, QuarantinedRecord, SystemSetting
from pitboard.privacy.erasure import CHUNK, delete_ids, erase_person, scrub_audit
from pitboard.privacy.subject import chunked
from pitboard.worker.queue import enqueue, task

POLICY_KEY = "retention_policy"
TASK = "privacy.retention"
DEFAULT_BATCH = 100  # contacts erased per job: one transaction each, so SQLite's writer lock is not held for long
SAMPLE_SIZE = 20
RETENTION_ACTOR = Actor(name="retention-policy", interface="worker", role="admin")


class RetentionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # At least 30 days: a slip of the finger ("3") must not erase everyone who was quiet this month.
    inactive_contact_days: int | None = Field(default=None, ge=30, strict=True)
    exclude_lifecycle_stages: list[str] = Field(default_factory=lambda: ["customer", "opportunity"])
    quarantine_days: int | None = Field(default=90, ge=1, strict=True)
    message_body_days: int | None = Field(default=365, ge=1, strict=True)

    @field_validator("exclude_lifecycle_stages")
    @classmethod
    def _known_stages(cls, stages: list[str]) -> list[str]:
        unknown = [s for s in stages if s not in DEFAULT_STAGES]
        if unknown:
            raise ValueError(f"unknown lifecycle stage {', '.join(unknown)}; known: {', '.join(DEFAULT_STAGES)}")
        return list(dict.fromkeys(stages))


def validate_policy(data: RetentionPolicy | dict[str, Any]) -> RetentionPolicy:
    """A policy from a dict (API body, privacy.yml), with every problem in one :class:`ValidationFailed`."""
    if isinstance(data, RetentionPolicy):
        return data
    try:
        return RetentionPolicy.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()]
        raise ValidationFailed("retention policy: " + "; ".join(problems), details=problems) from exc


def get_policy(session: Session) -> RetentionPolicy:
    value = session.scalar(select(SystemSetting.value).where(SystemSetting.key == POLICY_KEY))
    if value is None:
        return RetentionPolicy()
    return validate_policy(value)


def set_policy(session: Session, policy: RetentionPolicy | dict[str, Any], actor: Actor) -> RetentionPolicy:
    actor.require("admin")
    new = validate_policy(policy)
    old = get_policy(session)
    row = session.get(SystemSetting, POLICY_KEY)
    if row is None:
        row = SystemSetting(key=POLICY_KEY, value=new.model_dump(), updated_at=utcnow())
        session.add(row)
    else:
        row.value, row.updated_at = new.model_dump(), utcnow()
    before, after = old.model_dump(), new.model_dump()
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    session.flush()
    if diff:
        audit.record(session, actor=actor, action="update", entity_type="system_setting", entity_id=POLICY_KEY,
                     changes=diff)  # fmt: skip
    return new


@dataclass(frozen=True)
class RetentionPlan:
    policy: RetentionPolicy
    now: datetime
    cutoffs: dict[str, datetime | None]  # contacts, quarantine, message_bodies; None where that rule is off
    counts: dict[str, int]
    samples: dict[str, list[int]]  # the first ids of each, for a look before applying


def _cutoffs(policy: RetentionPolicy, now: datetime) -> dict[str, datetime | None]:
    def before(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    return {
        "contacts": before(policy.inactive_contact_days),
        "quarantine": before(policy.quarantine_days),
        "message_bodies": before(policy.message_body_days),
    }


def _inactive_contacts(policy: RetentionPolicy, cutoff: datetime) -> Select[int]:
    activity = func.coalesce(Contact.last_activity_at, Contact.updated_at)
    open_opportunity = select(Opportunity.id).where(
        Opportunity.contact_id == Contact.id, Opportunity.is_closed.is_(False)
    )
    # Erasing someone whose request we have not answered would turn their access request into "no data held".
    open_request = select(PrivacyRequest.id).where(
        PrivacyRequest.contact_id == Contact.id, PrivacyRequest.status == "received"
    )
    stmt = select(Contact.id).where(activity < cutoff, ~open_opportunity.exists(), ~open_request.exists())
    if policy.exclude_lifecycle_stages:
        stmt = stmt.where(Contact.lifecycle_stage.not_in(policy.exclude_lifecycle_stages))
    return stmt.order_by(Contact.id)


def _old_quarantine(cutoff: datetime) -> Select[int]:
    return select(QuarantinedRecord.id).where(QuarantinedRecord.received_at < cutoff).order_by(QuarantinedRecord.id)


def _old_message_bodies(cutoff: datetime) -> Select[int]:
    # Queued messages keep their body: clearing it would send an empty mail.
    has_body = or_(Message.body_text != "", Message.body_html.is_not(None))
    return (
        select(Message.id).where(Message.created_at < cutoff, Message.status != "queued", has_body).order_by(Message.id)
    )


def _selections(policy: RetentionPolicy, cutoffs: dict[str, datetime | None]) -> dict[str, Select[int]]:
    found: dict[str, Select[int]] = {}
    if (cutoff := cutoffs["contacts"]) is not None:
        found["contacts"] = _inactive_contacts(policy, cutoff)
    if (cutoff := cutoffs["quarantine"]) is not None:
        found["quarantine"] = _old_quarantine(cutoff)
    if (cutoff := cutoffs["message_bodies"]) is not None:
        found["message_bodies"] = _old_message_bodies(cutoff)
    return found


def plan_retention(session: Session, now: datetime | None = None) -> RetentionPlan:
    policy = get_policy(session)
    at = now or utcnow()
    cutoffs = _cutoffs(policy, at)
    counts = {"contacts": 0, "quarantine": 0, "message_bodies": 0}
    samples: dict[str, list[int]] = {"contacts": [], "quarantine": [], "message_bodies": []}
    for name, stmt in _selections(policy, cutoffs).items():
        counts[name] = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        samples[name] = list(session.scalars(stmt.limit(SAMPLE_SIZE)))
    return RetentionPlan(policy=policy, now=at, cutoffs=cutoffs, counts=counts, samples=samples)


def apply_retention(
    session: Session, *, actor: Actor, now: datetime | None = None, limit: int | None = None
) -> dict[str, int]:
    """Apply the policy; at most ``limit`` contacts are erased (``contacts_remaining`` says how many wait)."""
    actor.require("admin")
    if limit is not None and limit < 0:
        raise ValidationFailed("limit must not be negative")
    policy = get_policy(session)
    at = now or utcnow()
    selections = _selections(policy, _cutoffs(policy, at))
    counts = {"contacts_erased": 0, "contacts_remaining": 0, "quarantine_deleted": 0, "message_bodies_cleared": 0,
              "audit_entries_scrubbed": 0}  # fmt: skip
    if "contacts" in selections:
        ids = list(session.scalars(selections["contacts"]))
        chosen = ids if limit is None else ids[:limit]
        for contact_id in chosen:
            erase_person(session, contact_id=contact_id, reason="retention", actor=actor)
        counts["contacts_erased"], counts["contacts_remaining"] = len(chosen), len(ids) - len(chosen)
    if "quarantine" in selections:
        ids = list(session.scalars(selections["quarantine"]))
        # The audit trail of fixes holds the payloads too.
        counts["audit_entries_scrubbed"] += scrub_audit(session, "quarantine", ids)
        counts["quarantine_deleted"] = delete_ids(session, QuarantinedRecord, ids)
    if "message_bodies" in selections:
        ids = list(session.scalars(selections["message_bodies"]))
        for chunk in chunked(ids, CHUNK):
            stmt = update(Message).where(Message.id.in_(chunk)).values(body_text="", body_html=None)
            session.execute(stmt.execution_options(synchronize_session=False))
        counts["message_bodies_cleared"] = len(ids)
    session.flush()
    session.expire_all()
    audit.record(session, actor=actor, action="retention.applied", entity_type="system_setting", entity_id=POLICY_KEY,
                 changes={k: [None, v] for k, v in counts.items()})  # fmt: skip
    session.flush()
    return counts


@task(TASK)
def retention_task(session: Session, payload: dict[str, Any]) -> None:
    """Daily job: ``{"today": "2025-01-31", "batch": 100, "part": 0}``, all optional. While contacts remain
    beyond the batch, a continuation job is queued (one per part and day), each in its own transaction."""
    batch = int(payload.get("batch", DEFAULT_BATCH))
    counts = apply_retention(session, actor=RETENTION_ACTOR, limit=batch)
    if counts["contacts_remaining"] and batch > 0:
        day = str(payload.get("today") or utcnow().date().isoformat())
        part = int(payload.get("part", 0)) + 1
        enqueue(session, TASK, {"today": day, "batch": batch, "part": part}, idempotency_key=f"{TASK}:{day}:{part}")
