"""The workflow engine end to end on SQLite and PostgreSQL: triggers noticed by the contacts.changed listener,
steps run by the real worker loop, email to a real SMTP server, Slack and webhooks to a real HTTP receiver."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pitboard.contacts.changes import contacts_changed
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Contact, CustomFieldDefinition, Event, Job, Message, SalesUser, SegmentMembership
from pitboard.models.workflows import WorkflowApproval, WorkflowEnrolment, WorkflowStepLog, WorkflowTask
from pitboard.notify import endpoints, signing
from pitboard.segments import service as segments
from pitboard.worker.runner import run_worker
from pitboard.workflows import engine as wf_engine
from pitboard.workflows import service
from tests.integration.smtp_fixture import SmtpServer
from tests.integration.test_workflows_helpers import Receiver

SECRET = signing.new_secret()


# --- helpers -----------------------------------------------------------------------------------------


def contact(session: Session, email: str, **values: Any) -> int:
    row = Contact(email=email, email_normalized=email.lower(), first_name=values.pop("first_name", "Ada"), **values)
    session.add(row)
    session.flush()
    return row.id


def event(session: Session, contact_id: int, name: str, **properties: Any) -> int:
    now = utcnow()
    source = properties.pop("utm_source", None)
    row = Event(message_id=uuid.uuid4().hex, event_type="track", name=name, contact_id=contact_id, occurred_at=now,
                received_at=now, properties=properties, context={}, utm_source=source)  # fmt: skip
    session.add(row)
    session.flush()
    contacts_changed(session, [contact_id], reason="events")
    return row.id


def custom_field(session: Session, name: str, field_type: str = "text") -> None:
    session.add(CustomFieldDefinition(entity="contact", name=name, label=name, field_type=field_type, required=False))
    session.flush()


def workflow(session: Session, data: dict[str, Any]) -> None:
    service.save_workflow(session, service.parse(session, data), actor=SYSTEM)


def run(engine: Engine, rounds: int = 20) -> None:
    """Run the worker until nothing is due now (future waits stay future)."""
    for _ in range(rounds):
        outcomes = run_worker(engine, burst=True, poll_seconds=0.01)
        if not outcomes:
            return
    raise AssertionError("the worker never ran out of due jobs")


def advance(engine: Engine, *, retries_too: bool = False) -> None:
    """Make every queued job due now (as if its wait or backoff had passed), then run them."""
    with engine.begin() as conn:
        conn.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow() - timedelta(seconds=1)))
    run(engine)


def enrolments(engine: Engine) -> list[WorkflowEnrolment]:
    with session_scope(engine) as s:
        return list(s.scalars(select(WorkflowEnrolment).order_by(WorkflowEnrolment.id)))


def log_of(engine: Engine, enrolment_id: int) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        rows = s.scalars(select(WorkflowStepLog).where(WorkflowStepLog.enrolment_id == enrolment_id)
                         .order_by(WorkflowStepLog.id))  # fmt: skip
        return [(r.step_id, r.outcome) for r in rows]


# --- tests -------------------------------------------------------------------------------------------


def test_event_trigger_runs_actions_waits_and_completes(
    engine: Engine, receiver: Receiver, smtp_server: SmtpServer
) -> None:
    with session_scope(engine) as s:
        segments.create_segment(s, segments.parse_spec(s, {"key": "registrants", "name": "R", "kind": "static"}),
                                actor=SYSTEM)  # fmt: skip
        endpoints.set_endpoint(s, key="team", kind="slack", url=receiver.url + "/slack", actor=SYSTEM)
        endpoints.set_endpoint(s, key="product", kind="webhook", url=receiver.url + "/hook", secret=SECRET,
                               actor=SYSTEM)  # fmt: skip
        workflow(s, {
            "key": "webinar", "name": "Webinar registration",
            "trigger": {"type": "event", "event": "Webinar Registered"},
            "steps": [
                {"id": "source", "action": "set_field", "field": "lead_source", "value_from": "event.utm_source",
                 "only_if_empty": True},
                {"id": "list", "action": "add_to_segment", "segment": "registrants"},
                {"id": "confirm", "action": "send_email", "kind": "transactional",
                 "subject": "You're in, {{ contact.first_name }}",
                 "text": "See you at {{ trigger.properties.title }}."},
                {"id": "tell", "action": "notify", "to": "slack:team", "subject": "New registrant",
                 "text": "{{ contact.email }} registered"},
                {"id": "later", "action": "wait", "duration": "1h"},
                {"id": "product", "action": "webhook", "endpoint": "product", "event": "webinar.registered"},
            ],
        })  # fmt: skip
    with session_scope(engine) as s:
        cid = contact(s, "ada@example.org")
        event(s, cid, "Webinar Registered", title="Attribution 101", utm_source="linkedin")
        event(s, cid, "Page Viewed")
    run(engine)
    [enrolment] = enrolments(engine)
    assert (enrolment.status, enrolment.step_id) == ("waiting", "later")
    [mail] = smtp_server.received
    assert mail.message["Subject"] == "You're in, Ada"
    assert "See you at Attribution 101." in mail.part("text/plain")
    [slack] = receiver.received("/slack")
    assert slack.json()["text"].startswith("New registrant: ada@example.org registered")
    assert receiver.received("/hook") == []
    with session_scope(engine) as s:
        row = s.get(Contact, cid)
        assert row is not None
        assert row.lead_source == "linkedin"
        assert s.scalar(select(func.count()).select_from(SegmentMembership)) == 1

    advance(engine)
    [enrolment] = enrolments(engine)
    assert enrolment.status == "completed"
    [hook] = receiver.received("/hook")
    assert hook.json()["data"]["facts"]["email"] == "ada@example.org"
    assert log_of(engine, enrolment.id) == [
        ("source", "done"), ("list", "done"), ("confirm", "done"), ("tell", "done"), ("later", "waiting"),
        ("later", "done"), ("product", "done"), ("end", "completed"),
    ]  # fmt: skip
    assert len(smtp_server.received) == 1


def test_reentry_rules(engine: Engine) -> None:
    with session_scope(engine) as s:
        for key, rule in (("once", "once"), ("always", "always"), ("after", "after_exit")):
            workflow(s, {"key": key, "name": key, "reentry": rule, "trigger": {"type": "event", "event": "Ping"},
                         "steps": [{"id": "w", "action": "wait", "duration": "1d"}]})  # fmt: skip
        cid = contact(s, "ada@example.org")
        event(s, cid, "Ping")
    run(engine)
    with session_scope(engine) as s:
        event(s, cid, "Ping")
    run(engine)
    by_key: dict[str, int] = {}
    with session_scope(engine) as s:
        for key, n in s.execute(
            select(service.Workflow.key, func.count()).join(WorkflowEnrolment).group_by(service.Workflow.key)
        ):
            by_key[key] = n
    # after_exit: the first enrolment is still waiting, so the second event does not enrol again.
    assert by_key == {"once": 1, "always": 2, "after": 1}
    # The listener seeing the same events again (a retried job) enrols nobody twice.
    with session_scope(engine) as s:
        contacts_changed(s, [cid], reason="events")
    run(engine)
    assert len(enrolments(engine)) == 4


def test_entry_condition_branch_and_split(engine: Engine) -> None:
    with session_scope(engine) as s:
        workflow(s, {
            "key": "b", "name": "Branching", "trigger": {"type": "event", "event": "Go"},
            "condition": {"field": "country", "op": "in", "value": ["US", "DE"]},
            "steps": [
                {"id": "is-us", "action": "branch", "condition": {"field": "country", "op": "eq", "value": "US"},
                 "then": "split", "else": "eu"},
                {"id": "eu", "action": "set_field", "field": "custom.path", "value": "eu", "next": "bye"},
                {"id": "split", "action": "ab_split", "variants": [
                    {"name": "a", "weight": 1, "next": "va"}, {"name": "b", "weight": 1, "next": "vb"}]},
                {"id": "va", "action": "set_field", "field": "custom.path", "value": "a", "next": "bye"},
                {"id": "vb", "action": "set_field", "field": "custom.path", "value": "b"},
                {"id": "bye", "action": "exit"},
                {"id": "never", "action": "set_field", "field": "custom.path", "value": "never"},
            ],
        })  # fmt: skip
        ids = {country: contact(s, f"{country.lower()}@example.org", country=country) for country in ("US", "DE", "FR")}
        us_more = [contact(s, f"us{i}@example.org", country="US") for i in range(30)]
        for cid in [*ids.values(), *us_more]:
            event(s, cid, "Go")
    run(engine)
    with session_scope(engine) as s:
        paths = {c.id: (c.custom or {}).get("path") for c in s.scalars(select(Contact))}
        statuses = {e.contact_id: (e.status, e.variant) for e in s.scalars(select(WorkflowEnrolment))}
    assert ids["FR"] not in statuses  # the entry condition keeps France out
    assert paths[ids["DE"]] == "eu"
    assert statuses[ids["DE"]] == ("exited", None)
    variants = [statuses[c][1] for c in [ids["US"], *us_more]]
    assert set(variants) == {"a", "b"}
    for cid in [ids["US"], *us_more]:
        assert paths[cid] == statuses[cid][1]  # each followed its variant's path
    assert "never" not in paths.values()


def test_wait_for_a_condition_wakes_on_change_and_times_out(engine: Engine) -> None:
    with session_scope(engine) as s:
        custom_field(s, "plan")
        workflow(s, {
            "key": "w", "name": "Wait for MQL", "reentry": "always", "trigger": {"type": "event", "event": "Go"},
            "steps": [
                {"id": "until", "action": "wait", "condition": {"field": "custom.plan", "op": "eq", "value": "pro"},
                 "timeout": "7d", "check_every": "1d", "on_timeout": "late"},
                {"id": "ok", "action": "set_field", "field": "custom.result", "value": "converted", "next": "done"},
                {"id": "late", "action": "set_field", "field": "custom.result", "value": "timed out"},
                {"id": "done", "action": "exit"},
            ],
        })  # fmt: skip
        a = contact(s, "a@example.org")
        b = contact(s, "b@example.org")
        event(s, a, "Go")
        event(s, b, "Go")
    run(engine)
    assert [e.status for e in enrolments(engine)] == ["waiting", "waiting"]
    with session_scope(engine) as s:
        row = s.get(Contact, a)
        assert row is not None
        row.custom = {"plan": "pro"}
        contacts_changed(s, [a], reason="edit")
    run(engine)  # the change wakes a's wait at once: no need to wait for the next check
    with session_scope(engine) as s:
        first = s.get(Contact, a)
        assert first is not None
        assert first.custom["result"] == "converted"
    # b: push the clock past the timeout by moving its wait's deadline into the past.
    with session_scope(engine) as s:
        row_b = s.scalar(select(WorkflowEnrolment).where(WorkflowEnrolment.contact_id == b))
        assert row_b is not None
        row_b.state = {**row_b.state, "wait": {**row_b.state["wait"], "until": (utcnow() - timedelta(seconds=1))
                                                .isoformat()}}  # fmt: skip
    advance(engine)
    with session_scope(engine) as s:
        second = s.get(Contact, b)
        assert second is not None
        assert second.custom["result"] == "timed out"


def test_approval_approve_reject_and_sla(engine: Engine, receiver: Receiver) -> None:
    with session_scope(engine) as s:
        endpoints.set_endpoint(s, key="managers", kind="slack", url=receiver.url + "/slack", actor=SYSTEM)
        workflow(s, {
            "key": "disc", "name": "Discount approval", "trigger": {"type": "event", "event": "Asked"},
            "steps": [
                {"id": "ask", "action": "approval", "title": "Discount for {{ contact.email }}",
                 "approvers": "slack:managers", "sla": "4h", "on_reject": "no"},
                {"id": "yes", "action": "set_field", "field": "custom.discount", "value": "granted", "next": "end"},
                {"id": "no", "action": "set_field", "field": "custom.discount", "value": "refused"},
                {"id": "end", "action": "exit"},
            ],
        })  # fmt: skip
        a = contact(s, "a@example.org")
        b = contact(s, "b@example.org")
        event(s, a, "Asked")
        event(s, b, "Asked")
    run(engine)
    assert [e.status for e in enrolments(engine)] == ["approval", "approval"]
    assert len(receiver.received("/slack")) == 2
    with session_scope(engine) as s:
        pending = {ap.contact_id: ap.id for ap in service.approvals(s)}
        assert set(pending) == {a, b}
    with session_scope(engine) as s, pytest.raises(ValidationFailed, match="reason"):
        wf_engine.decide(s, pending[b], approve=False, reason=" ", actor=SYSTEM)
    with session_scope(engine) as s:
        wf_engine.decide(s, pending[a], approve=True, reason=None, actor=SYSTEM)
        wf_engine.decide(s, pending[b], approve=False, reason="margin too low", actor=SYSTEM)
    with session_scope(engine) as s, pytest.raises(Conflict, match="already approved"):
        wf_engine.decide(s, pending[a], approve=False, reason="changed my mind", actor=SYSTEM)
    run(engine)
    with session_scope(engine) as s:
        got = {c.id: (c.custom or {}).get("discount") for c in s.scalars(select(Contact))}
    assert got == {a: "granted", b: "refused"}
    # The SLA job fires for an approval still pending: here none is, so nothing more is sent.
    advance(engine)
    assert len(receiver.received("/slack")) == 2


def test_approval_sla_notifies_once_when_overdue(engine: Engine, receiver: Receiver) -> None:
    with session_scope(engine) as s:
        endpoints.set_endpoint(s, key="managers", kind="slack", url=receiver.url + "/slack", actor=SYSTEM)
        workflow(s, {"key": "a", "name": "A", "trigger": {"type": "event", "event": "Asked"},
                     "steps": [{"id": "ask", "action": "approval", "title": "t", "approvers": "slack:managers",
                                "sla": "1h"}]})  # fmt: skip
        event(s, contact(s, "a@example.org"), "Asked")
    run(engine)
    advance(engine)
    advance(engine)
    texts = [r.json()["text"] for r in receiver.received("/slack")]
    assert len(texts) == 2
    assert texts[1].startswith("Approval overdue: t")
    with session_scope(engine) as s:
        approval = s.scalar(select(WorkflowApproval))
        assert approval is not None
        assert approval.overdue_notified_at is not None
        assert approval.status == "pending"


def test_holdout_group_runs_no_steps_and_lift_is_reported(engine: Engine) -> None:
    with session_scope(engine) as s:
        custom_field(s, "plan")
        workflow(s, {"key": "h", "name": "H", "holdout": 0.3, "trigger": {"type": "event", "event": "Go"},
                     "goal": {"field": "custom.plan", "op": "eq", "value": "pro"},
                     "steps": [{"id": "mark", "action": "set_field", "field": "custom.touched",
                                "value": True}]})  # fmt: skip
        ids = [contact(s, f"c{i}@example.org") for i in range(120)]
        for cid in ids:
            event(s, cid, "Go")
    run(engine)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(WorkflowEnrolment)))
        held = {r.contact_id for r in rows if r.holdout}
        assert all(r.status == "holdout" for r in rows if r.holdout)
        assert 15 <= len(held) <= 60  # 30% of 120, give or take chance
        for c in s.scalars(select(Contact)):
            assert ((c.custom or {}).get("touched") is True) == (c.id not in held)
        # Treated contacts convert at 50%, held-back ones at 10%.
        treated = [c for c in ids if c not in held]
        for i, cid in enumerate(treated):
            if i % 2 == 0:
                row = s.get(Contact, cid)
                assert row is not None
                row.custom = {**row.custom, "plan": "pro"}
        for i, cid in enumerate(sorted(held)):
            if i % 10 == 0:
                row = s.get(Contact, cid)
                assert row is not None
                row.custom = {**row.custom, "plan": "pro"}
    with session_scope(engine) as s:
        result = service.lift(s, service.get_workflow(s, "h"))
    assert result.treatment.n + result.control.n == 120
    assert result.control.n == len(held)
    assert result.conversion_diff is not None
    assert result.conversion_ci is not None
    assert result.conversion_diff == pytest.approx(result.treatment.rate - result.control.rate)
    assert result.conversion_ci[0] > 0  # a real effect of this size is clear at these counts


def test_a_failing_step_goes_dead_and_is_replayed(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        workflow(s, {"key": "bad", "name": "Bad template", "trigger": {"type": "event", "event": "Go"},
                     "steps": [{"id": "mail", "action": "send_email", "kind": "transactional",
                                "subject": "Hi {{ contact.nickname }}", "text": "x"}]})  # fmt: skip
        event(s, contact(s, "a@example.org"), "Go")
    run(engine)
    for _ in range(wf_engine.STEP_MAX_ATTEMPTS):
        advance(engine)
    [row] = enrolments(engine)
    assert row.status == "dead"
    assert "nickname" in (row.last_error or "")
    with session_scope(engine) as s:
        assert [r.id for r in service.dead_letters(s)] == [row.id]
        # Fix the definition, then replay.
        workflow(s, {"key": "bad", "name": "Bad template", "trigger": {"type": "event", "event": "Go"},
                     "steps": [{"id": "mail", "action": "send_email", "kind": "transactional",
                                "subject": "Hi {{ contact.first_name }}", "text": "x"}]})  # fmt: skip
        wf_engine.replay(s, row.id, actor=SYSTEM)
    run(engine)
    [row] = enrolments(engine)
    assert row.status == "completed"
    assert [m.message["Subject"] for m in smtp_server.received] == ["Hi Ada"]


def test_step_jobs_claimed_together_run_as_one_and_a_failing_one_alone(engine: Engine) -> None:
    """A worker runs the step jobs it claims in one transaction; one contact's failing step rolls that back, and
    each job then runs alone: the others complete once, the failing one retries on its own."""
    with session_scope(engine) as s:
        custom_field(s, "nick")
        workflow(s, {"key": "m", "name": "Merged", "reentry": "always", "trigger": {"type": "manual"},
                     "steps": [{"id": "t", "action": "create_task", "assignee": "ops@example.org",
                                "title": "Call {{ contact.custom.nick }}"},
                               {"id": "score", "action": "change_score", "by": 1}]})  # fmt: skip
        good = [contact(s, f"g{i}@example.org", custom={"nick": f"N{i}"}) for i in range(4)]
        bad = contact(s, "bad@example.org")  # no nick: the template fails (StrictUndefined)
        service.enrol_contacts(s, "m", [*good[:2], bad, *good[2:]], actor=SYSTEM)
    run_worker(engine, burst=True, poll_seconds=0.01)
    with session_scope(engine) as s:
        steps = select(Job.status, func.count()).where(Job.task == wf_engine.STEP_TASK).group_by(Job.status)
        assert dict(s.execute(steps).all()) == {"done": 4, "queued": 1}  # type: ignore[arg-type]
        titles = sorted(s.scalars(select(WorkflowTask.title)))
        assert titles == ["Call N0", "Call N1", "Call N2", "Call N3"]
        by_contact = {r.contact_id: r.status for r in s.scalars(select(WorkflowEnrolment))}
        assert by_contact == {**dict.fromkeys(good, "completed"), bad: "active"}
        assert all(s.get(Contact, c).custom.get("workflow_score") == 1 for c in good)  # type: ignore[union-attr]
        failed = s.scalars(select(Job).where(Job.status == "queued")).one()
        assert (failed.attempts, "nick" in (failed.last_error or "")) == (1, True)


def test_marketing_email_respects_consent_and_task_and_owner_notify(engine: Engine, smtp_server: SmtpServer) -> None:
    with session_scope(engine) as s:
        owner = SalesUser(name="Sam", email="sam@example.org")
        s.add(owner)
        s.flush()
        workflow(s, {"key": "m", "name": "M", "trigger": {"type": "event", "event": "Go"},
                     "steps": [
                         {"id": "promo", "action": "send_email", "purpose": "product_updates",
                          "subject": "News", "html": "<html><body><a href=\"https://x.example/p\">x</a></body></html>"},
                         {"id": "todo", "action": "create_task", "assignee": "owner",
                          "title": "Call {{ contact.email }}", "due_in": "2d"},
                         {"id": "tell", "action": "notify", "to": "owner", "subject": "Hot lead", "text": "Call them"},
                     ]})  # fmt: skip
        cid = contact(s, "a@example.org", owner_id=owner.id)
        event(s, cid, "Go")
    run(engine)
    with session_scope(engine) as s:
        messages = {m.template: m for m in s.scalars(select(Message))}
        # No consent was given: the marketing email is recorded as blocked, never sent.
        assert messages["workflow:m"].status == "blocked"
        task = s.scalar(select(WorkflowTask))
        assert task is not None
        assert (task.assignee, task.title) == ("sam@example.org", "Call a@example.org")
    assert [m.rcpt_tos for m in smtp_server.received] == [["sam@example.org"]]
    [row] = enrolments(engine)
    assert row.status == "completed"
    assert ("promo", "blocked") in log_of(engine, row.id)


def test_definitions_are_validated(session: Session) -> None:
    cases = [
        ({"steps": []}, "steps"),
        ({"steps": [{"id": "a", "action": "teleport"}]}, "action"),
        ({"steps": [{"id": "a", "action": "exit", "next": "zz"}]}, "does not exist"),
        ({"steps": [{"id": "a", "action": "wait"}]}, "exactly one"),
        ({"steps": [{"id": "a", "action": "wait", "condition": {"field": "country", "op": "eq", "value": "US"}}]},
         "timeout"),
        ({"trigger": {"type": "segment_entry"}}, "needs 'segment'"),
        ({"condition": {"field": "nope", "op": "eq", "value": 1}}, "nope"),
        ({"steps": [{"id": "a", "action": "send_email", "subject": "x", "text": "y"}]}, "consent purpose"),
        ({"steps": [{"id": "a", "action": "exit"}, {"id": "a", "action": "exit"}]}, "unique"),
        ({"steps": [{"id": "a", "action": "wait", "duration": "soon"}]}, "duration"),
    ]  # fmt: skip
    for override, message in cases:
        data = {"key": "x", "name": "X", "trigger": {"type": "event", "event": "E"},
                "steps": [{"id": "a", "action": "exit"}], **override}  # fmt: skip
        with pytest.raises(ValidationFailed, match=message):
            service.parse(session, data)
    spec = service.parse(session, {"key": "x", "name": "X", "trigger": {"type": "event", "event": "E"},
                                   "steps": [{"id": "a", "action": "add_to_segment", "segment": "ghost"}]})  # fmt: skip
    with pytest.raises(ValidationFailed, match="segment 'ghost' does not exist"):
        service.save_workflow(session, spec, actor=SYSTEM)


def test_stale_and_duplicate_step_jobs_do_nothing(engine: Engine) -> None:
    with session_scope(engine) as s:
        workflow(s, {"key": "d", "name": "D", "trigger": {"type": "event", "event": "Go"},
                     "steps": [{"id": "score", "action": "change_score", "by": 5}]})  # fmt: skip
        cid = contact(s, "a@example.org")
        event(s, cid, "Go")
    run(engine)
    [row] = enrolments(engine)
    # Running the (already done) job's payload again is a no-op: the enrolment's seq moved on.
    with session_scope(engine) as s:
        wf_engine.run_step_job(s, {"enrolment_id": row.id, "seq": 1})
        wf_engine.run_step_job(s, {"enrolment_id": row.id, "seq": row.seq})
    with session_scope(engine) as s:
        c = s.get(Contact, cid)
        assert c is not None
        assert c.custom["workflow_score"] == 5


def test_a_broken_workflow_does_not_hold_up_the_others(engine: Engine) -> None:
    with session_scope(engine) as s:
        custom_field(s, "plan")
        workflow(s, {"key": "fragile", "name": "F", "trigger": {"type": "event", "event": "Go"},
                     "condition": {"field": "custom.plan", "op": "eq", "value": "pro"},
                     "steps": [{"id": "a", "action": "exit"}]})  # fmt: skip
        workflow(s, {"key": "sturdy", "name": "S", "trigger": {"type": "event", "event": "Go"},
                     "steps": [{"id": "a", "action": "exit"}]})  # fmt: skip
        # The custom field disappears: the fragile workflow's condition no longer validates.
        s.query(CustomFieldDefinition).delete()
        wf_engine._CACHE.clear()
        event(s, contact(s, "a@example.org"), "Go")
    run(engine)
    with session_scope(engine) as s:
        keys = [k for (k,) in s.execute(select(service.Workflow.key).join(WorkflowEnrolment))]
        retry = s.scalar(select(Job).where(Job.task == "workflows.triggers"))
        assert keys == ["sturdy"]
        assert retry is not None
        assert "plan" in (retry.last_error or "")  # retried visibly, not dropped


def test_field_lifecycle_segment_and_date_triggers(engine: Engine) -> None:
    from pitboard.models import LifecycleStageChange
    from pitboard.workflows import triggers

    with session_scope(engine) as s:
        old = contact(s, "old@example.org", title="Engineer")  # exists before the workflows
        segments.create_segment(s, segments.parse_spec(s, {"key": "vip", "name": "VIP", "kind": "static"}),
                                actor=SYSTEM)  # fmt: skip
    with session_scope(engine) as s:
        for key, trigger in (
            ("title", {"type": "field_change", "field": "title", "to": "CTO"}),
            ("mql", {"type": "lifecycle_change", "to": "mql"}),
            ("vip-in", {"type": "segment_entry", "segment": "vip"}),
            ("birthday", {"type": "date", "field": "created_at", "offset_days": 0}),
        ):
            workflow(s, {"key": key, "name": key, "reentry": "always", "trigger": trigger,
                         "steps": [{"id": "a", "action": "exit"}]})  # fmt: skip
    with session_scope(engine) as s:
        row = s.get(Contact, old)
        assert row is not None
        row.title = "Manager"  # a change, but not to CTO
        contacts_changed(s, [old], reason="edit")
    run(engine)
    assert enrolments(engine) == []
    with session_scope(engine) as s:
        row = s.get(Contact, old)
        assert row is not None
        row.title = "CTO"
        s.add(LifecycleStageChange(contact_id=old, from_stage="lead", to_stage="mql", changed_at=utcnow(),
                                   source="test"))  # fmt: skip
        segments.add_members(s, "vip", ids=[old], actor=SYSTEM)
        contacts_changed(s, [old], reason="edit")
    run(engine)
    with session_scope(engine) as s:
        keys = sorted(k for (k,) in s.execute(select(service.Workflow.key).join(WorkflowEnrolment)))
        assert keys == ["mql", "title", "vip-in"]
        # Date triggers come from the hourly task: contacts created today (offset 0) enrol once for the day.
        assert triggers.dates(s) == 1
        assert triggers.dates(s) == 0
        # The sweep finds nothing new: the listener saw these changes already.
        assert triggers.sweep(s) == 0
        # A list edit with no contacts.changed after it (the UI, say) is caught by the sweep.
        other = contact(s, "other@example.org")
        segments.add_members(s, "vip", ids=[other], actor=SYSTEM)
        assert triggers.sweep(s) == 1
