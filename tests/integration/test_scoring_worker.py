"""Scores follow events through the real worker path: a tracked event queues ``contacts.changed``, the worker
runs the scoring listener (order 10, then lifecycle at 20), the score and its explanation are written, a
threshold moves the stage; a model change queues a bulk rescore job that the worker runs."""

from __future__ import annotations

from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.contacts.changes import listeners
from pitboard.events import sources
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.lifecycle import tasks as _lifecycle_tasks  # noqa: F401  (registers the lifecycle listener)
from pitboard.models import Contact, ContactScore, Identity, Job, LifecycleStageChange
from pitboard.scoring import engine as scoring
from pitboard.scoring import tasks as _scoring_tasks  # noqa: F401  (registers the scoring listener and jobs)
from pitboard.scoring.definitions import RESCORE_MODEL
from pitboard.worker.runner import run_worker
from tests.integration.test_scoring_engine import MODELS, add_contact, install, stage_of, stored


def _drain(engine: Engine, session: Session) -> Counter[str]:
    session.commit()  # SQLite: the worker must not wait for this session's write lock
    outcomes = run_worker(engine, burst=True)
    assert not outcomes["dead"], outcomes
    assert not outcomes["queued"], outcomes
    return outcomes


def test_scoring_listens_before_lifecycle() -> None:
    order = listeners()
    assert order.index("scoring") < order.index("lifecycle")


def test_a_tracked_event_rescores_the_contact_and_crosses_the_threshold(
    engine: Engine, session: Session, client: TestClient
) -> None:
    install(session)
    _drain(engine, session)  # the bulk rescore jobs apply queued: nobody to score yet
    with session_scope(engine) as s:
        write_key = sources.create_source(s, name="website", kind="website", actor=SYSTEM).write_key
    headers = {"X-Write-Key": write_key}
    identify = {"userId": "u-7", "messageId": "i1", "traits": {"email": "ceo@bigco.example", "title": "VP Sales"}}
    assert client.post("/v1/identify", json=identify, headers=headers).status_code == 200
    _drain(engine, session)
    contact_id = session.scalar(select(Identity.contact_id).where(Identity.value == "u-7"))
    assert contact_id is not None
    contact = session.get(Contact, contact_id)
    assert contact is not None
    assert (contact.title, contact.seniority) == ("VP Sales", "vp")
    session.rollback()
    assert stage_of(session, contact_id) == "subscriber"
    before = stored(session, "default").get(contact_id)
    session.rollback()
    track = {"userId": "u-7", "event": "demo_requested", "messageId": "t1"}
    assert client.post("/v1/track", json=track, headers=headers).status_code == 200
    outcomes = _drain(engine, session)
    assert outcomes["done"] == 1
    score = stored(session, "default")[contact_id]
    assert score[0] > (before[0] if before else 0)
    demo = next(entry for entry in score[1] if entry[0] == "Demos")
    assert demo[2:] == ["engagement", 20.0, 20.0, None, 1]
    assert score[0] >= 25  # the VP title (15) and the demo (20) cross the mql threshold
    assert stage_of(session, contact_id) == "mql"
    change = session.scalar(select(LifecycleStageChange).where(LifecycleStageChange.to_stage == "mql"))
    assert change is not None
    assert (change.source, change.reason) == ("scoring", "score default reached 25")
    # The same numbers as a bulk rescore of everyone.
    session.rollback()
    with session_scope(engine) as s:
        scoring.rescore_model(s, "default", now=utcnow())
    assert stored(session, "default")[contact_id][0] == score[0]


def test_a_model_change_queues_a_bulk_rescore_the_worker_runs(engine: Engine, session: Session) -> None:
    install(session)
    people = [add_contact(session, seniority="vp") for _ in range(3)]
    _drain(engine, session)
    assert set(stored(session, "default")) == set(people)
    session.rollback()
    install(
        session, MODELS.replace("points: 15, condition: {field: seniority", "points: 12, condition: {field: seniority")
    )
    job = session.scalar(select(Job).where(Job.task == RESCORE_MODEL, Job.status == "queued"))
    assert job is not None
    assert job.payload == {"key": "default", "version": 2}
    _drain(engine, session)
    assert {total for total, _ in stored(session, "default").values()} == {12.0}
    versions = set(session.scalars(select(ContactScore.model_version).where(ContactScore.model_key == "default")))
    assert versions == {2}
