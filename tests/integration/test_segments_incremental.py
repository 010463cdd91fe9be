"""Segments follow changes through the real worker path: a write (tracking call, contact API, import) queues a
``contacts.changed`` job, ``run_worker`` runs the listeners, and the segments listener opens and closes stays.

The ``session`` fixture is committed before the app or the worker runs (on SQLite an open transaction holds
the write lock they would wait for).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from pitboard.contacts.changes import listeners
from pitboard.contacts.service import delete_contact
from pitboard.events import sources
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Event, Identity, Job, Segment
from pitboard.segments import service
from pitboard.segments.tasks import REFRESH_ALL
from pitboard.worker.queue import enqueue
from pitboard.worker.runner import run_worker
from tests.integration.test_segments_refresh import (
    add_account,
    add_contact,
    add_event,
    create,
    open_members,
    spec,
    stays,
)


def _drain(engine: Engine, session: Session) -> Counter[str]:
    session.commit()
    outcomes = run_worker(engine, burst=True)
    assert "dead" not in outcomes, outcomes
    assert "queued" not in outcomes, outcomes
    return outcomes


def test_segments_listen_after_scores_and_stages() -> None:
    assert "segments" in listeners()


def test_a_tracked_event_enters_the_contact_through_the_worker(
    engine: Engine, session: Session, client: TestClient
) -> None:
    with session_scope(engine) as s:
        write_key = sources.create_source(s, name="website", kind="website", actor=SYSTEM).write_key
    create(session, "demo-requesters", {"event": "Demo Requested", "within_days": 30})
    create(session, "requested-twice", {"event": "Demo Requested", "min_count": 2, "within_days": 30})
    _drain(engine, session)
    headers = {"X-Write-Key": write_key}
    for n in (1, 2):
        session.commit()  # release SQLite's write lock before the app writes
        r = client.post("/v1/track", json={"userId": "u-42", "event": "Demo Requested", "messageId": f"t{n}",
                                           "properties": {"plan": "pro"}}, headers=headers)  # fmt: skip
        assert r.status_code == 200, r.text
        if n == 1:
            _drain(engine, session)
            contact_id = session.scalar(select(Identity.contact_id).where(Identity.value == "u-42"))
            assert contact_id is not None
            assert open_members(session, "demo-requesters") == {contact_id}
            assert open_members(session, "requested-twice") == set()
    _drain(engine, session)
    assert open_members(session, "requested-twice") == {contact_id}
    assert stays(session, "demo-requesters", contact_id)[0].entered_by == "rule"
    counts = dict(session.execute(select(Segment.key, Segment.member_count)).all())
    assert counts == {"demo-requesters": 1, "requested-twice": 1}


def test_a_contact_update_through_the_api_moves_it_between_segments(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    ann = add_contact(session, "ann@acme.io", country="US").id
    bob = add_contact(session, "bob@acme.io", country="DE").id
    create(session, "us", {"field": "country", "op": "eq", "value": "US"})
    create(session, "germany", {"field": "country", "op": "eq", "value": "DE"})
    create(session, "us-leads", {"all": [{"in_segment": "us"}, {"field": "lifecycle_stage", "op": "eq",
                                                                 "value": "lead"}]})  # fmt: skip
    _drain(engine, session)  # the creations were queued: the listener puts everyone in place
    assert (open_members(session, "us"), open_members(session, "germany")) == ({ann}, {bob})
    assert open_members(session, "us-leads") == set()

    session.commit()
    r = client.patch(f"/api/v1/contacts/{ann}", json={"country": "DE", "lifecycle_stage": "lead"},
                     headers=admin_headers)  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.patch(f"/api/v1/contacts/{bob}", json={"country": "US", "lifecycle_stage": "lead"},
                     headers=admin_headers)  # fmt: skip
    assert r.status_code == 200, r.text
    _drain(engine, session)
    assert (open_members(session, "us"), open_members(session, "germany")) == ({bob}, {ann})
    # us-leads tests us: bob entered us and us-leads in the same pass, in dependency order.
    assert open_members(session, "us-leads") == {bob}
    [ann_in_us] = stays(session, "us", ann)
    assert ann_in_us.exit_reason == "no_longer_matches"
    assert ann_in_us.exited_at is not None


def test_account_segments_follow_their_contacts(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    acme = add_account(session, "Acme")
    people = [add_contact(session, f"p{i}@acme.io", account_id=acme, lifecycle_stage="lead").id for i in range(2)]
    create(session, "mql-accounts", {"field": "lifecycle_stage", "op": "eq", "value": "mql"}, entity="account",
           min_contacts=2)  # fmt: skip
    create(session, "people-at-mql-accounts", {"in_segment": "mql-accounts"})
    _drain(engine, session)
    assert open_members(session, "mql-accounts") == set()
    for i, person in enumerate(people):
        session.commit()
        assert client.patch(f"/api/v1/contacts/{person}", json={"lifecycle_stage": "mql"},
                            headers=admin_headers).status_code == 200  # fmt: skip
        _drain(engine, session)
        assert open_members(session, "mql-accounts") == ({acme} if i == 1 else set())
    # Both people are at the account that just entered: the contact segment that tests it follows.
    assert open_members(session, "people-at-mql-accounts") == set(people)


def test_an_account_change_moves_its_contacts_between_segments(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    acme = add_account(session, "Acme")
    people = {add_contact(session, f"p{i}@acme.io", account_id=acme).id for i in range(3)}
    loner = add_contact(session, "loner@else.io").id
    create(session, "at-software", {"field": "account.industry", "op": "eq", "value": "Software"})
    _drain(engine, session)
    assert open_members(session, "at-software") == set()
    session.commit()
    r = client.patch(f"/api/v1/accounts/{acme}", json={"industry": "Software"}, headers=admin_headers)
    assert r.status_code == 200, r.text
    _drain(engine, session)
    assert open_members(session, "at-software") == people
    assert loner not in open_members(session, "at-software")
    session.commit()
    r = client.delete(f"/api/v1/accounts/{acme}", headers=admin_headers)
    assert r.status_code in (200, 204), r.text
    _drain(engine, session)
    assert open_members(session, "at-software") == set()


def test_a_contact_deleted_before_its_job_runs_leaves_every_contact_segment(engine: Engine, session: Session) -> None:
    gone = add_contact(session, "gone@acme.io", country="US").id
    create(session, "us", {"field": "country", "op": "eq", "value": "US"})
    create(session, "vips", kind="static")
    service.add_members(session, "vips", ids=[gone], actor=SYSTEM)
    _drain(engine, session)
    assert gone in open_members(session, "us")
    delete_contact(session, gone, actor=SYSTEM)  # queues contacts.changed for the deleted id itself
    _drain(engine, session)
    assert open_members(session, "us") == open_members(session, "vips") == set()
    assert stays(session, "vips", gone)[0].exit_reason == "member_deleted"
    assert dict(session.execute(select(Segment.key, Segment.member_count)).all()) == {"us": 0, "vips": 0}


def test_a_new_or_changed_definition_is_refreshed_by_a_queued_job(engine: Engine, session: Session) -> None:
    us = add_contact(session, "us@acme.io", country="US").id
    de = add_contact(session, "de@acme.io", country="DE").id
    _drain(engine, session)
    service.create_segment(session, spec(session, "here", {"field": "country", "op": "eq", "value": "US"}),
                           actor=SYSTEM)  # fmt: skip
    service.create_segment(session, spec(session, "not-here", {"not": {"in_segment": "here"}}), actor=SYSTEM)
    assert session.scalar(select(Job.task).where(Job.status == "queued")) == "segments.refresh"
    _drain(engine, session)
    assert (open_members(session, "here"), open_members(session, "not-here")) == ({us}, {de})
    service.update_segment(session, "here", spec(session, "here", {"field": "country", "op": "eq", "value": "DE"}),
                           actor=SYSTEM)  # fmt: skip
    _drain(engine, session)
    # The job refreshed the changed segment and, after it, the one testing it.
    assert (open_members(session, "here"), open_members(session, "not-here")) == ({de}, {us})


def test_the_daily_refresh_task_catches_relative_dates_up(engine: Engine, session: Session) -> None:
    ann = add_contact(session, "ann@acme.io").id
    add_event(session, ann, "Page Viewed", utcnow() - timedelta(days=20))
    create(session, "viewed-this-month", {"event": "Page Viewed", "within_days": 30})
    _drain(engine, session)
    assert open_members(session, "viewed-this-month") == {ann}
    # Time passes: the view is now 40 days old, and no write queued anything (moving the event back in time
    # stands in for the clock moving forward). The daily job, its date in the idempotency key, notices.
    session.execute(update(Event).where(Event.contact_id == ann).values(occurred_at=utcnow() - timedelta(days=40)))
    session.commit()
    with session_scope(engine) as s:
        today = utcnow().date().isoformat()
        enqueue(s, REFRESH_ALL, {"today": today}, idempotency_key=f"{REFRESH_ALL}:{today}")
        enqueue(s, REFRESH_ALL, {"today": today}, idempotency_key=f"{REFRESH_ALL}:{today}")
    assert run_worker(engine, burst=True) == Counter({"done": 1})
    assert open_members(session, "viewed-this-month") == set()


def test_with_only_lists_a_change_just_closes_the_stays_of_deleted_contacts(session: Session) -> None:
    from pitboard.segments.refresh import update_contacts

    keep = add_contact(session, "keep@acme.io").id
    gone = add_contact(session, "gone@acme.io").id
    create(session, "vips", kind="static")
    service.add_members(session, "vips", ids=[keep, gone], actor=SYSTEM)
    delete_contact(session, gone, actor=SYSTEM)
    result = update_contacts(session, [keep, gone])
    assert result.exited == {"vips": 1}
    assert open_members(session, "vips") == {keep}
