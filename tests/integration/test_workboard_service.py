"""Campaign operations through the services: intake, board moves with WIP limits, checklist, approvals,
going live, budget against imported spend, and the settings from campaign_ops.yml."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.consent import ledger
from pitboard.consent.ledger import ConsentEntry
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import AuditEntry, Campaign, CampaignSpend, Event, SegmentMembership
from pitboard.models.workboard import CampaignApprovalDecision, WorkItem, WorkItemTransition
from pitboard.workboard import board, campaign_ops
from pitboard.workboard.campaign_ops import IntakeIn
from pitboard.workboard.config import DEFAULT, CampaignOpsFile
from tests.integration.test_segments_refresh import add_contact, create

EDITOR = Actor(name="ed@example.com", interface="api", role="editor")
LEGAL = Actor(name="legal@example.com", interface="web", role="viewer")
BRAND = Actor(name="brand@example.com", interface="web", role="viewer")
REVIEWER = Actor(name="rev@example.com", interface="web", role="viewer")

APPROVALS = {"default": [
    {"stage": "brand", "approvers": ["brand@example.com"], "reviewers": ["rev@example.com"], "sla_hours": 24},
    {"stage": "legal", "approvers": ["legal@example.com"], "sla_hours": 48},
]}  # fmt: skip


def configure(session: Session, **overrides: Any) -> CampaignOpsFile:
    spec = CampaignOpsFile.model_validate({**DEFAULT, "approvals": APPROVALS, **overrides})
    board.apply_spec(session, spec, actor=SYSTEM)
    return spec


def audience(session: Session, key: str = "buyers", *, members: int = 3, consented: int = 2) -> list[int]:
    """A static contact segment with members, ``consented`` of whom granted product_updates by email."""
    segment = create(session, key, kind="static")
    ids = []
    for n in range(members):
        c = add_contact(session, f"{key}{n}@acme.io")
        ids.append(c.id)
        session.add(SegmentMembership(segment_id=segment.id, member_id=c.id, entered_at=utcnow(), entered_by="manual"))
        if n < consented:
            entry = ConsentEntry(channel="email", purpose="product_updates", status="granted", source="form")  # type: ignore[call-arg]
            ledger.record(session, contact_id=c.id, entry=entry, actor=SYSTEM)
    session.flush()
    return ids


def brief(**overrides: Any) -> IntakeIn:
    data: dict[str, Any] = {
        "name_parts": {"year": "2026", "region": "emea", "channel": "webinar", "topic": "data-day"},
        "campaign_type": "webinar", "channel": "webinar", "objective": "Fill the data day webinar with 300 buyers",
        "audience_segment": "buyers", "consent_purpose": "product_updates",
        "start_date": date(2026, 12, 1), "end_date": date(2026, 12, 20), "budget": Decimal("5000"),
        "success_metrics": [{"metric": "registrations", "target": 300}], "owner_email": "Owner@Example.com",
    }  # fmt: skip
    data.update(overrides)
    return IntakeIn.model_validate(data)


def test_intake_creates_campaign_item_checklist_approvals_and_budget(session: Session) -> None:
    configure(session)
    audience(session)
    ops = campaign_ops.submit_intake(session, brief(), actor=EDITOR)
    campaign = session.get(Campaign, ops.campaign_id)
    assert campaign is not None
    assert (campaign.name, campaign.utm_campaign, campaign.status) == ("2026_emea_webinar_data-day",) * 2 + ("planned",)
    assert ops.owner_email == "owner@example.com"
    assert ops.stage == "in_review"  # the first approval stage opened at once
    item = session.get(WorkItem, ops.work_item_id)
    assert item is not None
    assert (item.item_type, item.column_key, item.campaign_id) == (
        "campaign",
        "requested",
        campaign.id,
    )
    assert [i.key for i in campaign_ops.checklist(session, campaign.id)] == [
        "creative_review", "legal", "utm_verified", "audience_qa", "tracking_test", "monitoring"]  # fmt: skip
    steps = campaign_ops.approval_steps(session, campaign.id)
    assert [(s.stage, s.status) for s in steps] == [("brand", "pending"), ("legal", "waiting")]
    assert steps[0].due_at is not None
    assert steps[0].opened_at is not None
    assert steps[0].due_at - steps[0].opened_at == timedelta(hours=24)
    [(cid, row)] = campaign_ops.budget(session, campaign.id)
    assert (cid, row.channel, row.planned, row.committed, row.actual) == (campaign.id, "webinar", 5000, 0, 0)
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "campaign")))
    assert {"create", "intake"} <= actions


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name_parts": None, "name": "2026_EMEA_webinars_data-day"}, "did you mean 'emea'"),
        ({"name_parts": {"year": "2026", "region": "mars", "channel": "webinar", "topic": "x1"}}, "region: 'mars'"),
        ({"audience_segment": "nobody"}, "no active segment with key 'nobody'"),
        ({"consent_purpose": "spam"}, "consent_purpose must be one of"),
    ],
)
def test_intake_refuses_incomplete_or_nonconforming_briefs(
    session: Session, overrides: dict[str, Any], message: str
) -> None:
    audience(session)
    with pytest.raises(ValidationFailed, match=message):
        campaign_ops.submit_intake(session, brief(**overrides), actor=EDITOR)
    assert session.scalar(select(Campaign.id)) is None


def test_intake_schema_requires_every_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as exc:
        IntakeIn.model_validate({"campaign_type": "webinar", "name": "x"})
    missing = {e["loc"][0] for e in exc.value.errors() if e["type"] == "missing"}
    assert {"objective", "audience_segment", "start_date", "end_date", "budget", "success_metrics", "owner_email",
            "channel"} <= missing  # fmt: skip
    with pytest.raises(ValidationError, match="end_date is before start_date"):
        brief(end_date=date(2026, 11, 1))


def test_wip_limit_is_enforced_and_an_override_is_recorded(session: Session) -> None:
    cols = [{"key": "todo", "name": "To do", "kind": "queue"}, {"key": "doing", "name": "Doing", "wip_limit": 1},
            {"key": "done", "name": "Done", "kind": "done"}]  # fmt: skip
    configure(session, board={**DEFAULT["board"], "columns": cols})
    a = board.create_item(session, title="Q3 report", item_type="report", actor=EDITOR)
    b = board.create_item(session, title="Fix country codes", item_type="data_fix", actor=EDITOR, priority="high")
    board.move_item(session, a.id, "doing", actor=EDITOR)
    with pytest.raises(Conflict, match=r"Doing is at its WIP limit \(1/1\)"):
        board.move_item(session, b.id, "doing", actor=EDITOR)
    with pytest.raises(ValidationFailed, match="needs a reason"):
        board.move_item(session, b.id, "doing", actor=EDITOR, override=True)
    board.move_item(session, b.id, "doing", actor=EDITOR, override=True, reason="prod data broken")
    last = board.transitions(session, b.id)[-1]
    assert (last.kind, last.from_column, last.to_column, last.wip_override, last.note) == (
        "moved", "todo", "doing", True, "prod data broken")  # fmt: skip
    assert b.started_at is not None
    assert b.finished_at is None
    board.move_item(session, b.id, "done", actor=EDITOR)
    assert b.finished_at is not None
    with pytest.raises(ValidationFailed, match="column must be one of todo, doing, done"):
        board.move_item(session, a.id, "nowhere", actor=EDITOR)
    with pytest.raises(NotFound):
        board.move_item(session, 999999, "done", actor=EDITOR)
    viewer = Actor(name="v", interface="api", role="viewer")
    with pytest.raises(Forbidden):
        board.move_item(session, a.id, "done", actor=viewer)


def test_blocking_is_recorded_and_needs_a_reason(session: Session) -> None:
    item = board.create_item(session, title="Lead form", item_type="tooling", actor=EDITOR)
    with pytest.raises(ValidationFailed, match="why"):
        board.set_blocked(session, item.id, True, actor=EDITOR)
    board.set_blocked(session, item.id, True, actor=EDITOR, reason="waiting for IT")
    board.set_blocked(session, item.id, True, actor=EDITOR, reason="again")  # no second transition
    board.set_blocked(session, item.id, False, actor=EDITOR)
    kinds = [t.kind for t in board.transitions(session, item.id)]
    assert kinds == ["created", "blocked", "unblocked"]
    assert not item.blocked
    assert item.blocked_reason is None


def test_board_view_orders_blocked_then_priority(session: Session) -> None:
    low = board.create_item(session, title="low", item_type="other", actor=EDITOR, priority="low")
    urgent = board.create_item(session, title="urgent", item_type="other", actor=EDITOR, priority="urgent")
    stuck = board.create_item(session, title="stuck", item_type="other", actor=EDITOR, priority="low")
    board.set_blocked(session, stuck.id, True, actor=EDITOR, reason="x")
    first = board.board_view(session)[0]
    assert [i.id for i in first.items] == [stuck.id, urgent.id, low.id]
    assert board.board_view(session, item_type="report")[0].items == []


def test_service_tier_sets_the_due_date(session: Session) -> None:
    std = board.create_item(session, title="s", item_type="report", actor=EDITOR, service_tier="standard")
    proj = board.create_item(session, title="p", item_type="report", actor=EDITOR, service_tier="project")
    assert std.due_at is not None
    assert std.due_at - std.created_at == timedelta(hours=120)
    assert proj.due_at is None
    with pytest.raises(ValidationFailed, match="service_tier must be one of"):
        board.create_item(session, title="x", item_type="report", actor=EDITOR, service_tier="gold")


def test_approvals_reviewers_comment_approvers_decide_and_all_is_recorded(session: Session) -> None:
    configure(session)
    audience(session)
    cid = campaign_ops.submit_intake(session, brief(), actor=EDITOR).campaign_id
    with pytest.raises(Forbidden, match="only approvers"):
        campaign_ops.decide(session, cid, "approve", actor=REVIEWER)
    campaign_ops.decide(session, cid, "comment", actor=REVIEWER, comment="Logo too small")
    with pytest.raises(Forbidden, match="neither an approver nor a reviewer"):
        campaign_ops.decide(session, cid, "approve", actor=LEGAL)  # legal is not on the brand stage
    with pytest.raises(ValidationFailed, match="rejection needs a comment"):
        campaign_ops.decide(session, cid, "reject", actor=BRAND)
    campaign_ops.decide(session, cid, "reject", actor=BRAND, comment="Fix the logo")
    with pytest.raises(Conflict, match="no approval stage is waiting"):
        campaign_ops.decide(session, cid, "approve", actor=BRAND)
    campaign_ops.resubmit(session, cid, actor=EDITOR, note="logo fixed")
    campaign_ops.decide(session, cid, "approve", actor=BRAND)
    steps = campaign_ops.approval_steps(session, cid)
    assert [(s.stage, s.status) for s in steps] == [("brand", "approved"), ("legal", "pending")]
    campaign_ops.decide(session, cid, "approve", actor=LEGAL, comment="ok")
    assert campaign_ops.get_ops(session, cid).stage == "approved"
    rows = session.scalars(select(CampaignApprovalDecision).order_by(CampaignApprovalDecision.id)).all()
    assert [(r.actor, r.role, r.decision) for r in rows] == [
        ("rev@example.com", "reviewer", "comment"), ("brand@example.com", "approver", "reject"),
        ("brand@example.com", "approver", "approve"), ("legal@example.com", "approver", "approve")]  # fmt: skip


def test_cannot_go_live_with_open_blocking_items(session: Session) -> None:
    configure(session)
    audience(session)
    cid = campaign_ops.submit_intake(session, brief(), actor=EDITOR).campaign_id
    with pytest.raises(Conflict) as exc:
        campaign_ops.go_live(session, cid, actor=EDITOR)
    assert "checklist: creative_review" in exc.value.message
    assert "approval: brand" in exc.value.message
    assert "monitoring" not in exc.value.message  # not blocking
    for key in ("creative_review", "legal", "tracking_test"):
        campaign_ops.set_check(session, cid, key, "done", actor=EDITOR)
    with pytest.raises(ValidationFailed, match="needs a note"):
        campaign_ops.set_check(session, cid, "legal", "waived", actor=EDITOR)
    assert campaign_ops.run_check(session, cid, "utm_verified", actor=EDITOR).status == "done"
    qa = campaign_ops.run_check(session, cid, "audience_qa", actor=EDITOR)
    assert qa.status == "done"
    assert qa.evidence is not None
    assert (qa.evidence["members"], qa.evidence["allowed"]) == (3, 2)
    with pytest.raises(ValidationFailed, match="manual check"):
        campaign_ops.run_check(session, cid, "legal", actor=EDITOR)
    campaign_ops.decide(session, cid, "approve", actor=BRAND)
    with pytest.raises(Conflict, match="approval: legal"):
        campaign_ops.go_live(session, cid, actor=EDITOR)
    campaign_ops.decide(session, cid, "approve", actor=LEGAL)
    ops = campaign_ops.go_live(session, cid, actor=EDITOR)
    assert ops.stage == "live"
    assert ops.live_at is not None
    campaign = session.get(Campaign, cid)
    assert campaign is not None
    assert campaign.status == "live"


def test_failed_automatic_checks_keep_evidence(session: Session) -> None:
    configure(session)
    audience(session, consented=0)
    cid = campaign_ops.submit_intake(session, brief(), actor=EDITOR).campaign_id
    now = utcnow()
    for n, (src, med) in enumerate([("google", "cpc"), ("Google", "ppc"), ("Google", "ppc")]):
        session.add(Event(message_id=f"utm-{n}", event_type="page", name="Page Viewed", occurred_at=now,
                          received_at=now, properties={}, context={}, utm_source=src, utm_medium=med,
                          utm_campaign="2026_emea_webinar_data-day"))  # fmt: skip
    session.flush()
    utm = campaign_ops.run_check(session, cid, "utm_verified", actor=EDITOR)
    assert utm.status == "failed"
    assert utm.evidence is not None
    problems = {(p["field"], p["suggestion"], p["events"]) for p in utm.evidence["problems"]}
    assert ("utm_source", "google", 2) in problems
    qa = campaign_ops.run_check(session, cid, "audience_qa", actor=EDITOR)
    assert qa.status == "failed"
    assert qa.evidence is not None
    assert qa.evidence["allowed"] == 0


def test_budget_planned_committed_and_actual_from_spend(session: Session) -> None:
    configure(session)
    audience(session)
    cid = campaign_ops.submit_intake(session, brief(), actor=EDITOR).campaign_id
    campaign_ops.set_budget(session, cid, "webinar", committed=Decimal("3000"), actor=EDITOR)
    campaign_ops.set_budget(session, cid, "paid-social", planned=Decimal("1000"), actor=EDITOR)
    now = utcnow()
    for day, channel, amount in [(1, "webinar", "1200.50"), (2, "webinar", "300"), (2, "paid-social", "1500")]:
        session.add(CampaignSpend(campaign_id=cid, spend_date=date(2026, 12, day), channel=channel,
                                  amount=Decimal(amount), currency="USD", source="import", created_at=now,
                                  updated_at=now))  # fmt: skip
    session.flush()
    rows = {r.channel: r for _, r in campaign_ops.budget(session, cid)}
    assert (rows["webinar"].planned, rows["webinar"].committed, rows["webinar"].actual) == (
        5000,
        3000,
        Decimal("1500.50"),
    )
    assert rows["paid-social"].over
    assert not rows["webinar"].over
    with pytest.raises(ValidationFailed, match="must not be negative"):
        campaign_ops.set_budget(session, cid, "webinar", planned=Decimal("-1"), actor=EDITOR)


def test_apply_spec_is_idempotent_and_protects_columns_in_use(session: Session) -> None:
    assert configure(session) is not None
    spec = CampaignOpsFile.model_validate({**DEFAULT, "approvals": APPROVALS})
    assert board.apply_spec(session, spec, actor=SYSTEM) == {}
    board.create_item(session, title="x", item_type="other", actor=EDITOR)
    cols = [{"key": "inbox", "name": "Inbox", "kind": "queue"}, {"key": "done", "name": "Done", "kind": "done"}]
    other = CampaignOpsFile.model_validate({**DEFAULT, "board": {**DEFAULT["board"], "columns": cols}})
    with pytest.raises(ValidationFailed, match=r"requested \(1 items\)"):
        board.apply_spec(session, other, actor=SYSTEM)
    assert session.scalar(select(WorkItemTransition.kind)) == "created"


def test_approval_requests_and_overdue_reminders_are_sent_once(session: Session) -> None:
    from pitboard.models import Message
    from pitboard.workboard.reminders import MAX_REMINDERS, send_reminders

    configure(session)
    audience(session)
    cid = campaign_ops.submit_intake(session, brief(), actor=EDITOR).campaign_id

    def to(address: str) -> list[str]:
        return list(session.scalars(select(Message.subject).where(Message.to_address == address).order_by(Message.id)))

    assert to("brand@example.com") == ["Please approve: 2026_emea_webinar_data-day (brand)"]
    assert to("rev@example.com") == ["Please review: 2026_emea_webinar_data-day (brand)"]
    assert to("legal@example.com") == []  # its stage is not open yet
    now = utcnow()
    assert send_reminders(session, now=now + timedelta(hours=23)) == 0  # not due yet
    assert send_reminders(session, now=now + timedelta(hours=25)) == 1
    assert send_reminders(session, now=now + timedelta(hours=26)) == 0  # one a day
    assert send_reminders(session, now=now + timedelta(hours=50)) == 1
    assert send_reminders(session, now=now + timedelta(hours=80)) == 1
    assert send_reminders(session, now=now + timedelta(hours=200)) == 0  # at most MAX_REMINDERS
    assert len(to("brand@example.com")) == 1 + MAX_REMINDERS
    assert to("brand@example.com")[1].startswith("Overdue approval: 2026_emea_webinar_data-day (brand)")
    campaign_ops.decide(session, cid, "approve", actor=BRAND)
    assert to("legal@example.com") == ["Please approve: 2026_emea_webinar_data-day (legal)"]


def test_utm_audit_flags_events_and_spend_with_suggested_fixes(session: Session) -> None:
    from pitboard.campaigns.schemas import CampaignCreate
    from pitboard.campaigns.service import create_campaign
    from pitboard.workboard import utm_audit

    now = utcnow()
    tags = [("google", "cpc", "2026_emea_email_spring", 3), ("LinkedIn", "paid_social", "2026_emea_email_spring", 2),
            ("google", "cpc", "Spring Launch", 1)]  # fmt: skip
    n = 0
    for source, medium, campaign, count in tags:
        for _ in range(count):
            n += 1
            session.add(Event(message_id=f"audit-{n}", event_type="page", name="Page Viewed", occurred_at=now,
                              received_at=now, properties={}, context={}, utm_source=source, utm_medium=medium,
                              utm_campaign=campaign))  # fmt: skip
    old = now - timedelta(days=90)
    session.add(Event(message_id="audit-old", event_type="page", name="Page Viewed", occurred_at=old, received_at=old,
                      properties={}, context={}, utm_source="gogle", utm_medium="cpc", utm_campaign="x"))  # fmt: skip
    good = create_campaign(session, CampaignCreate(name="2026_emea_email_spring", campaign_type="email",
                                                   utm_campaign="2026_emea_email_spring"), actor=SYSTEM)  # fmt: skip
    bad = create_campaign(session, CampaignCreate(name="EMEA Spring Email", campaign_type="email"), actor=SYSTEM)
    for campaign in (good, bad):
        session.add(CampaignSpend(campaign_id=campaign.id, spend_date=date(2026, 11, 1), channel="email",
                                  amount=Decimal("100"), currency="USD", source="import", created_at=now,
                                  updated_at=now))  # fmt: skip
    session.flush()
    events = utm_audit.audit_events(session, days=30)
    assert [(f.tags["utm_source"], f.rows) for f in events] == [("LinkedIn", 2), ("google", 1)]  # old one not read
    fixes = {i["field"]: i["suggestion"] for i in events[0].issues}
    assert fixes == {"utm_source": "linkedin", "utm_medium": "paid-social"}
    assert events[1].issues[0]["field"] == "utm_campaign"
    assert "has 1 parts" in events[1].issues[0]["message"]
    [spend] = utm_audit.audit_spend(session)
    assert (spend.campaign_id, spend.rows, spend.amount) == (bad.id, 1, Decimal("100"))
    assert spend.issues[0]["field"] == "campaign"


def test_spend_csv_import_lands_as_actual(engine: Engine, tmp_path: Path) -> None:
    from pitboard.imports.service import import_file
    from pitboard.kit.db import session_scope

    with session_scope(engine) as s:
        configure(s)
        audience(s)
        cid = campaign_ops.submit_intake(s, brief(), actor=EDITOR).campaign_id
    path = tmp_path / "spend.csv"
    path.write_text("campaign,date,channel,amount,currency\n"
                    "2026_emea_webinar_data-day,2026-12-01,webinar,1200.50,USD\n"
                    "2026_emea_webinar_data-day,2026-12-02,webinar,300,USD\n"
                    "2026_emea_webinar_data-day,2026-12-02,paid-social,99,USD\n"
                    "no_such_campaign,2026-12-02,webinar,5,USD\n")  # fmt: skip
    summary = import_file(engine, "campaign_spend", path, actor=SYSTEM)
    assert (summary.created, summary.quarantined) == (3, 1)
    import_file(engine, "campaign_spend", path, actor=SYSTEM)  # a re-import changes nothing
    with session_scope(engine) as s:
        rows = {r.channel: r for _, r in campaign_ops.budget(s, cid)}
    assert (rows["webinar"].planned, rows["webinar"].actual) == (5000, Decimal("1500.50"))
    assert (rows["paid-social"].planned, rows["paid-social"].actual, rows["paid-social"].over) == (0, 99, True)


def test_concurrent_moves_cannot_both_take_the_last_wip_slot(engine: Engine) -> None:
    import threading
    import time

    from pitboard.kit.db import session_factory, session_scope

    cols = [{"key": "todo", "name": "To do", "kind": "queue"}, {"key": "doing", "name": "Doing", "wip_limit": 1},
            {"key": "done", "name": "Done", "kind": "done"}]  # fmt: skip
    with session_scope(engine) as s:
        configure(s, board={**DEFAULT["board"], "columns": cols})
        ids = [board.create_item(s, title=f"t{n}", item_type="other", actor=EDITOR).id for n in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def mover(item_id: int) -> None:
        session = session_factory(engine)()
        try:
            start.wait()
            board.move_item(session, item_id, "doing", actor=EDITOR)
            time.sleep(0.3)  # hold the transaction open: the other move must wait for it, then see the card
            session.commit()
            outcomes.append("moved")
        except Conflict:
            session.rollback()
            outcomes.append("refused")
        finally:
            session.close()

    threads = [threading.Thread(target=mover, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["moved", "refused"]
    with session_scope(engine) as s:
        assert board.column_count(s, "doing") == 1
