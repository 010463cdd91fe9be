"""Lifecycle stages on SQLite and PostgreSQL: the applied definition, entry and recycle rules (in SQL and in
memory, with the same result), one history row per move, stage validation on writes, the funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.kit.actor import SYSTEM
from pitboard.kit.time import utcnow
from pitboard.lifecycle import engine as lifecycle
from pitboard.lifecycle import tasks as lifecycle_tasks  # noqa: F401  (registers the listener and the job)
from pitboard.lifecycle.definitions import ADVANCE_ALL, apply_lifecycle, current_spec, diff_lifecycle, stage_names
from pitboard.lifecycle.schemas import LifecycleSpec, default_spec, validate_lifecycle
from pitboard.models import Contact, Job, LifecycleStageChange, ProjectVersion
from pitboard.project.apply import checksum_of
from pitboard.worker.runner import run_worker
from tests.integration.test_scoring_engine import add_contact, add_event, define_plan_field, stage_of

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

RULES = """
stages:
  - {name: subscriber, label: Subscriber}
  - name: lead
    label: Lead
    entry: {field: email, op: ends_with, value: .com}
  - name: mql
    label: MQL
    entry: {event: form_submitted, within_days: 30}
  - {name: sal, label: SAL}
  - name: sql
    label: SQL
    entry: {field: custom.plan, op: eq, value: pro}
  - {name: customer, label: Customer}
off_ladder:
  - name: disqualified
    label: Disqualified
    entry: {field: email_domain, op: eq, value: competitor.example}
  - {name: recycled, label: Recycled, resume: true}
recycle:
  - name: stale
    from: [disqualified, sql]
    to: recycled
    when: {field: last_activity_at, op: more_than_ago, value: 90d}
"""


def applied(session: Session, data: dict[str, Any], version: int = 1) -> LifecycleSpec:
    """Store ``data`` as the lifecycle.yml of a project version, as ``pitboard apply`` does."""
    define_plan_field(session)
    spec = validate_lifecycle(data, load_field_registry(session))
    manifest = {"lifecycle.yml": spec.definition(), "pitboard.yml": {"name": "t"}}
    # The checksum of the content, as apply computes it: applied definitions are cached per version checksum.
    session.add(ProjectVersion(version=version, applied_at=utcnow(), actor="test", checksum=checksum_of(manifest),
                               manifest=manifest, changes={}))  # fmt: skip
    session.commit()
    return spec


def _people(session: Session) -> dict[str, int]:
    ids = {
        "new": add_contact(session, email="new@shop.com"),  # subscriber -> lead (email) ... -> mql (form)
        "jumper": add_contact(session, email="jumper@x.org", custom={"plan": "pro"}),  # subscriber -> sql
        "behind": add_contact(session, email="b@x.com", lifecycle_stage="sal"),  # lead rule: never back
        "rival": add_contact(
            session,
            email="spy@competitor.example",
            email_domain="competitor.example",
            lifecycle_stage="mql",
            last_activity_at=NOW - timedelta(days=1),
        ),
        "stale": add_contact(
            session, email="old@x.org", lifecycle_stage="sql", last_activity_at=NOW - timedelta(days=120)
        ),
        "busy": add_contact(
            session, email="busy@x.org", lifecycle_stage="sql", last_activity_at=NOW - timedelta(days=10)
        ),
        "out": add_contact(
            session, email="out@x.org", lifecycle_stage="disqualified", last_activity_at=NOW - timedelta(days=100)
        ),
        "back": add_contact(session, email="back@x.org", lifecycle_stage="recycled", custom={"plan": "pro"}),
    }
    add_event(session, ids["new"], "form_submitted", NOW - timedelta(days=3))
    session.commit()
    return ids


EXPECTED = {
    "new": "mql",  # the highest matching stage: lead and mql match, one jump recorded
    "jumper": "sql",
    "behind": "sal",
    "rival": "disqualified",
    "stale": "recycled",
    "busy": "sql",
    "out": "recycled",  # recycle rules are the only way out of disqualified
    "back": "sql",  # recycled resumes
}


@pytest.mark.parametrize("in_memory_max", [0, 1000], ids=["sql", "memory"])
def test_rules_move_contacts_the_same_in_sql_and_in_memory(
    session: Session, monkeypatch: pytest.MonkeyPatch, in_memory_max: int
) -> None:
    spec = applied(session, yaml.safe_load(RULES))
    ids = _people(session)
    monkeypatch.setattr(lifecycle, "IN_MEMORY_MAX", in_memory_max)
    result = lifecycle.advance(session, ids.values(), spec=spec, now=NOW, actor=SYSTEM, reason="test")
    assert {name: stage_of(session, cid) for name, cid in ids.items()} == EXPECTED
    assert result.moved == 6
    history = {
        c.contact_id: (c.from_stage, c.to_stage, c.reason, c.source)
        for c in session.scalars(select(LifecycleStageChange))
    }
    assert history[ids["new"]] == ("subscriber", "mql", "entry rule of mql (test)", "lifecycle")
    assert history[ids["stale"]] == ("sql", "recycled", "recycle rule stale (test)", "lifecycle")
    assert history[ids["out"]] == ("disqualified", "recycled", "recycle rule stale (test)", "lifecycle")
    # A second pass has nothing left to do: every contact is where the rules put it.
    again = lifecycle.advance(session, ids.values(), spec=spec, now=NOW, actor=SYSTEM, reason="test")
    assert again.moves == []


def test_every_contact_in_bulk_equals_the_listed_ones(session: Session) -> None:
    spec = applied(session, yaml.safe_load(RULES))
    ids = _people(session)
    result = lifecycle.advance(session, None, spec=spec, now=NOW, actor=SYSTEM, reason="daily")
    assert result.moved == 6
    assert {name: stage_of(session, cid) for name, cid in ids.items()} == EXPECTED


def test_the_applied_definition_decides_which_stages_exist(
    session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert current_spec(session) == default_spec()
    data = yaml.safe_load(RULES)
    data["stages"].insert(2, {"name": "nurture", "label": "Nurture"})
    applied(session, data)
    assert current_spec(session).ladder[2] == "nurture"
    assert "nurture" in stage_names(session)
    assert "opportunity" not in stage_names(session)
    session.commit()
    ok = client.post("/api/v1/contacts", json={"email": "n@x.org", "lifecycle_stage": "nurture"}, headers=admin_headers)
    assert ok.status_code == 201, ok.text
    refused = client.post("/api/v1/contacts", json={"email": "o@x.org", "lifecycle_stage": "opportunity"},
                          headers=admin_headers)  # fmt: skip
    assert refused.status_code == 422
    assert "lifecycle_stage must be one of subscriber, lead, nurture" in refused.json()["message"]


def test_a_stored_rule_that_no_longer_validates_is_dropped_not_fatal(session: Session) -> None:
    applied(session, yaml.safe_load(RULES))
    from pitboard.models import CustomFieldDefinition

    session.query(CustomFieldDefinition).delete()
    session.commit()
    spec = current_spec(session)
    assert spec.ladder[4] == "sql"
    assert spec.recycle == []
    assert spec.stages[4].entry is None


def test_diff_and_apply_queue_a_pass_over_every_contact_when_rules_change(session: Session) -> None:
    define_plan_field(session)
    spec = validate_lifecycle(yaml.safe_load(RULES), load_field_registry(session))
    assert diff_lifecycle(session, default_spec()) == {}
    changes = diff_lifecycle(session, spec)
    assert "entry rule of lead" in changes["added"]
    assert "recycle rule stale" in changes["added"]
    assert "stage opportunity" in changes["removed"]
    applied_changes = apply_lifecycle(session, spec, actor=SYSTEM)
    assert applied_changes["queued"] == ["every contact checked against the new rules"]
    assert session.scalar(select(Job.task).where(Job.task == ADVANCE_ALL)) == ADVANCE_ALL
    session.rollback()
    relabelled = default_spec().definition()
    relabelled["stages"][0]["label"] = "Sub"
    assert "queued" not in apply_lifecycle(session, validate_lifecycle(relabelled), actor=SYSTEM)


def test_the_worker_moves_a_contact_after_a_tracked_event(engine: Engine, session: Session, client: TestClient) -> None:
    from pitboard.events import sources
    from pitboard.kit.db import session_scope

    applied(session, {"stages": [{"name": "subscriber", "label": "S"},
                                 {"name": "lead", "label": "L", "entry": {"event": "Signed Up"}}]})  # fmt: skip
    with session_scope(engine) as s:
        key = sources.create_source(s, name="web", kind="website", actor=SYSTEM).write_key
    r = client.post("/v1/track", json={"userId": "u-1", "event": "Signed Up", "messageId": "m1",
                                       "context": {"traits": {"email": "u1@x.org"}}},
                    headers={"X-Write-Key": key})  # fmt: skip
    assert r.status_code == 200, r.text
    outcomes = run_worker(engine, burst=True)
    assert outcomes["done"] >= 1
    assert not outcomes["dead"]
    contact_id = session.scalar(select(Contact.id).where(Contact.email_normalized == "u1@x.org"))
    assert contact_id is not None
    assert stage_of(session, contact_id) == "lead"
    assert list(lifecycle.stage_entry_times(session, contact_id)) == ["subscriber", "lead"]  # created, then moved


# --- history and the funnel ----------------------------------------------------------------------


def _history(session: Session, contact_id: int, *steps: tuple[str | None, str, datetime]) -> None:
    for from_stage, to_stage, at in steps:
        session.add(LifecycleStageChange(contact_id=contact_id, from_stage=from_stage, to_stage=to_stage,
                                         changed_at=at, source="test"))  # fmt: skip
    session.flush()


def test_stage_entry_times_and_the_funnel(session: Session) -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    a, b, c, d = (add_contact(session) for _ in range(4))
    _history(session, a, (None, "subscriber", day), ("subscriber", "lead", day + timedelta(days=2)),
             ("lead", "mql", day + timedelta(days=6)), ("mql", "sal", day + timedelta(days=9)))  # fmt: skip
    _history(session, b, (None, "lead", day + timedelta(days=1)), ("lead", "mql", day + timedelta(days=3)),
             ("mql", "recycled", day + timedelta(days=20)), ("recycled", "mql", day + timedelta(days=25)))  # fmt: skip
    _history(session, c, (None, "lead", day), ("lead", "sql", day + timedelta(days=4)))  # a jump past mql and sal
    _history(session, d, (None, "lead", day - timedelta(days=40)), ("lead", "mql", day + timedelta(days=10)))
    session.commit()
    times = lifecycle.stage_entry_times(session, b)
    assert times["mql"] == [day + timedelta(days=3), day + timedelta(days=25)]
    result = lifecycle.funnel(session, day, day + timedelta(days=30), spec=default_spec())
    stages = {s.name: s for s in result.stages}
    assert {n: stages[n].entered for n in ("subscriber", "lead", "mql", "sal", "sql", "recycled")} == {
        "subscriber": 1, "lead": 3, "mql": 3, "sal": 1, "sql": 1, "recycled": 1,
    }  # fmt: skip
    # Reached: the furthest ladder stage each contact entered in the period (c's jump passes mql and sal).
    assert [stages[n].reached for n in ("subscriber", "lead", "mql", "sal", "sql")] == [4, 4, 4, 2, 1]
    assert stages["mql"].conversion_to_next == 0.5
    # lead -> mql: a after 4 days, b after 2, d after 50 (its lead entry is before the period, still counted);
    # b's return to mql from recycled is no step from lead.
    assert (stages["lead"].median_days_to_next, stages["lead"].timed_to_next) == (4.0, 3)
    assert (stages["mql"].median_days_to_next, stages["mql"].timed_to_next) == (3.0, 1)
    assert stages["sal"].median_days_to_next is None  # c skipped sal: no time is made up
    assert stages["recycled"].reached is None
    assert not stages["recycled"].on_ladder
