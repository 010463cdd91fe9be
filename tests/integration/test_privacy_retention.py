"""The retention policy: stored setting, plan, apply, and the daily worker task."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Forbidden, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import (
    AuditEntry,
    Contact,
    ErasureTombstone,
    Job,
    Message,
    Opportunity,
    PrivacyRequest,
    QuarantinedRecord,
)
from pitboard.privacy.retention import (
    POLICY_KEY,
    TASK,
    RetentionPolicy,
    apply_retention,
    get_policy,
    plan_retention,
    set_policy,
)
from pitboard.quality import quarantine
from pitboard.worker.queue import enqueue
from pitboard.worker.runner import run_worker

NOW = utcnow()
OLD = NOW - timedelta(days=400)


def _contact(session: Session, name: str, *, last_activity: datetime | None, updated: datetime = OLD,
             stage: str = "lead") -> int:  # fmt: skip
    contact = Contact(email=f"{name}@keep-or-go.io", email_normalized=f"{name}@keep-or-go.io", first_name=name,
                      lifecycle_stage=stage, last_activity_at=last_activity)  # fmt: skip
    session.add(contact)
    session.flush()
    # updated_at is set on every write; put it back explicitly (an explicit value wins over onupdate).
    session.execute(update(Contact).where(Contact.id == contact.id).values(updated_at=updated))
    return contact.id


def _opportunity(session: Session, contact_id: int, *, closed: bool) -> None:
    session.add(Opportunity(name=f"deal {contact_id}", contact_id=contact_id, stage="won" if closed else "proposal",
                            opened_at=OLD, is_closed=closed, is_won=closed))  # fmt: skip


def _message(session: Session, *, at: datetime, status: str, tag: str) -> int:
    message = Message(channel="email", kind="marketing", to_address=f"{tag}@keep-or-go.io", from_address="a@b-co.io",
                      subject=tag, body_text=f"body {tag}", body_html=f"<p>{tag}</p>", headers={},
                      message_id_header=f"<{tag}@x>", status=status, created_at=at)  # fmt: skip
    session.add(message)
    session.flush()
    return message.id


def _arrange(session: Session) -> dict[str, Any]:
    ids = {
        "inactive": _contact(session, "inactive", last_activity=OLD),
        "never_active": _contact(session, "never", last_activity=None),
        "recent": _contact(session, "recent", last_activity=NOW - timedelta(days=10)),
        "touched": _contact(session, "touched", last_activity=None, updated=NOW - timedelta(days=5)),
        "customer": _contact(session, "customer", last_activity=OLD, stage="customer"),
        "open_deal": _contact(session, "opendeal", last_activity=OLD),
        "closed_deal": _contact(session, "closeddeal", last_activity=OLD),
        "asked": _contact(session, "asked", last_activity=OLD),
    }
    _opportunity(session, ids["open_deal"], closed=False)
    _opportunity(session, ids["closed_deal"], closed=True)
    session.add(PrivacyRequest(kind="export", status="received", subject_hash="0" * 64, subject_label="asked@x.io",
                               contact_id=ids["asked"], requested_at=NOW, due_at=NOW + timedelta(days=30),
                               requested_by="system", result={}))  # fmt: skip
    old_q = quarantine.hold(session, channel="import", entity="contacts", payload={"email": "old@q.io"}, reasons=["x"])
    new_q = quarantine.hold(session, channel="import", entity="contacts", payload={"email": "new@q.io"}, reasons=["x"])
    session.flush()
    quarantine.fix(session, old_q.id, {"email": "old@q2.io"}, actor=SYSTEM)
    session.execute(update(QuarantinedRecord).where(QuarantinedRecord.id == old_q.id)
                    .values(received_at=NOW - timedelta(days=100)))  # fmt: skip
    ids["old_quarantine"], ids["new_quarantine"] = old_q.id, new_q.id
    ids["old_sent"] = _message(session, at=NOW - timedelta(days=400), status="sent", tag="oldsent")
    ids["old_queued"] = _message(session, at=NOW - timedelta(days=400), status="queued", tag="oldqueued")
    ids["new_sent"] = _message(session, at=NOW - timedelta(days=10), status="sent", tag="newsent")
    return ids


def test_the_policy_is_stored_validated_and_audited(session: Session) -> None:
    assert get_policy(session) == RetentionPolicy()
    assert get_policy(session).exclude_lifecycle_stages == ["customer", "opportunity"]
    saved = set_policy(session, {"inactive_contact_days": 730, "quarantine_days": 30}, SYSTEM)
    assert get_policy(session) == saved
    assert (saved.inactive_contact_days, saved.quarantine_days, saved.message_body_days) == (730, 30, 365)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == POLICY_KEY)).one()
    assert entry.changes == {"inactive_contact_days": [None, 730], "quarantine_days": [90, 30]}
    with pytest.raises(ValidationFailed, match="inactive_contact_days"):
        set_policy(session, {"inactive_contact_days": 7}, SYSTEM)
    with pytest.raises(Forbidden):
        set_policy(session, {}, Actor("ed", "api", "editor"))
    assert get_policy(session).inactive_contact_days == 730


def test_plan_then_apply(session: Session) -> None:
    ids = _arrange(session)
    set_policy(session, {"inactive_contact_days": 365}, SYSTEM)
    plan = plan_retention(session, NOW)
    eligible = sorted([ids["inactive"], ids["never_active"], ids["closed_deal"]])
    assert plan.counts == {"contacts": 3, "quarantine": 1, "message_bodies": 1}
    assert plan.samples == {"contacts": eligible, "quarantine": [ids["old_quarantine"]],
                            "message_bodies": [ids["old_sent"]]}  # fmt: skip
    assert plan.cutoffs["contacts"] == NOW - timedelta(days=365)
    assert session.scalar(select(func.count()).select_from(Contact)) == 8  # planning changed nothing

    counts = apply_retention(session, actor=SYSTEM, now=NOW, limit=2)
    assert (counts["contacts_erased"], counts["contacts_remaining"]) == (2, 1)
    assert (counts["quarantine_deleted"], counts["message_bodies_cleared"], counts["audit_entries_scrubbed"]) == (
        1, 1, 1,
    )  # fmt: skip
    again = apply_retention(session, actor=SYSTEM, now=NOW)
    assert (again["contacts_erased"], again["contacts_remaining"], again["quarantine_deleted"]) == (1, 0, 0)

    remaining = set(session.scalars(select(Contact.id)))
    assert remaining == {ids[k] for k in ("recent", "touched", "customer", "open_deal", "asked")}
    tombstones = session.scalars(select(ErasureTombstone)).all()
    assert sorted(t.former_contact_id for t in tombstones) == eligible
    assert {t.reason for t in tombstones} == {"retention"}
    assert session.get(QuarantinedRecord, ids["new_quarantine"]) is not None
    assert session.get(QuarantinedRecord, ids["old_quarantine"]) is None
    fixes = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "quarantine")).all()
    assert [f.changes for f in fixes] == [{"erased": [None, True]}]
    bodies = {m.id: (m.body_text, m.body_html) for m in session.scalars(select(Message))}
    assert bodies[ids["old_sent"]] == ("", None)
    assert bodies[ids["old_queued"]] == ("body oldqueued", "<p>oldqueued</p>")
    assert bodies[ids["new_sent"]] == ("body newsent", "<p>newsent</p>")
    applied = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.applied")).all()
    assert len(applied) == 2


def test_contacts_are_kept_while_the_rule_is_off(session: Session) -> None:
    ids = _arrange(session)
    plan = plan_retention(session, NOW)
    assert plan.counts["contacts"] == 0
    assert plan.cutoffs["contacts"] is None
    counts = apply_retention(session, actor=SYSTEM, now=NOW)
    assert (counts["contacts_erased"], counts["quarantine_deleted"]) == (0, 1)
    assert session.get(Contact, ids["inactive"]) is not None
    set_policy(session, {"quarantine_days": None, "message_body_days": None}, SYSTEM)
    assert plan_retention(session, NOW).counts == {"contacts": 0, "quarantine": 0, "message_bodies": 0}


def test_the_daily_task_works_through_the_backlog_in_batches(engine: Engine, session: Session) -> None:
    for n in range(3):
        _contact(session, f"sleeper{n}", last_activity=OLD)
    _contact(session, "awake", last_activity=NOW)
    set_policy(session, {"inactive_contact_days": 365}, SYSTEM)
    enqueue(session, TASK, {"today": "2030-01-01", "batch": 2})
    session.commit()
    outcomes = run_worker(engine, burst=True, poll_seconds=0.01)
    assert outcomes["done"] == 2  # the day's job and one continuation for the last sleeper
    jobs = session.scalars(select(Job).order_by(Job.id)).all()
    assert [(j.status, j.payload.get("part"), j.idempotency_key) for j in jobs] == [
        ("done", None, None), ("done", 1, f"{TASK}:2030-01-01:1"),
    ]  # fmt: skip
    assert [c.first_name for c in session.scalars(select(Contact))] == ["awake"]
    assert session.scalar(select(func.count()).select_from(ErasureTombstone)) == 3
