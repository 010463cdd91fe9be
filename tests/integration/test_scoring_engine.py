"""Scoring end to end on SQLite and PostgreSQL: the bulk (SQL) and incremental (in-memory) interpreters give
the same scores and explanations on random data; rescores write only what changed; thresholds move stages
forward only; explanations and the privacy export.

Helpers here are shared by the other scoring and lifecycle integration tests.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Integer, delete, func, literal, select, text, update
from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.lifecycle.schemas import SpecInvalid
from pitboard.models import (
    Account,
    Contact,
    ContactScore,
    CustomFieldDefinition,
    Event,
    Job,
    LifecycleStageChange,
    ScoringModel,
)
from pitboard.privacy.export import export_person
from pitboard.scoring import bulk, codec, incremental, reading, store
from pitboard.scoring import engine as scoring
from pitboard.scoring import privacy as _scoring_privacy  # noqa: F401  (registers the export section)
from pitboard.scoring.calc import Renderer, compute
from pitboard.scoring.definitions import RESCORE_MODEL, apply_models, diff_models
from pitboard.scoring.model import CompiledModel, compiled
from pitboard.scoring.schemas import ScoringModelSpec, validate_scoring

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

MODELS = """
models:
  - key: default
    name: Default
    fit:
      cap: 30
      criteria:
        - {name: Senior, group: title, points: 15, condition: {field: seniority, op: in, value: [director, vp]}}
        - {name: Pro plan, points: 7.5, condition: {field: custom.plan, op: eq, value: pro}}
        - {name: Big company, points: 10, condition: {field: account.employee_count, op: gte, value: 200}}
        - {name: Free mail, points: -5.5, condition: {field: is_free_mail, op: eq, value: true}}
        - {name: Recent form, points: 4, condition: {event: form_submitted, within_days: 30}}
    engagement:
      decay: {half_life_days: 10}
      cap: 40
      criteria:
        - {name: Pricing views, group: web, event: page_viewed, points: 3, max_occurrences: 3,
           where: [{property: path, op: starts_with, value: /pricing}]}
        - {name: Big orders, group: web, event: page_viewed, points: 2,
           where: [{property: amount, op: gte, value: 100}]}
        - {name: Forms, group: forms, event: form_submitted, points: 10, max_occurrences: 2}
        - {name: Demos, group: forms, event: demo_requested, points: 20}
    group_caps: {forms: 25, web: 9}
    total_cap: 60
    thresholds: [{score: 25}, {score: 45, stage: sql}]
  - key: windowed
    name: Windowed
    engagement:
      decay: {window_days: 14}
      criteria:
        - {name: Forms, event: form_submitted, points: 5, max_occurrences: 2}
        - {name: Views, event: page_viewed, points: 1}
  - key: forever
    name: No decay
    fit:
      criteria:
        - {name: Has account, points: 1, condition: {field: account_id, op: is_set}}
    engagement:
      criteria:
        - {name: Demos, event: demo_requested, points: 2.25}
"""


def specs(text: str = MODELS) -> list[ScoringModelSpec]:
    return validate_scoring(yaml.safe_load(text), load_registry_stub()).models


def load_registry_stub() -> Any:
    from pitboard.conditions import FieldRegistry
    from pitboard.contacts.custom_fields import FieldSpec

    return FieldRegistry(contact_custom={"plan": FieldSpec("plan", "enum", ("free", "pro"))})


def define_plan_field(session: Session) -> None:
    if session.scalar(select(CustomFieldDefinition.id).where(CustomFieldDefinition.name == "plan")) is None:
        session.add(CustomFieldDefinition(entity="contact", name="plan", label="Plan", field_type="enum",
                                          options=["free", "pro"]))  # fmt: skip
        session.flush()


def install(session: Session, text: str = MODELS) -> dict[str, list[str]]:
    define_plan_field(session)
    changes = apply_models(session, specs(text), actor=SYSTEM)
    session.commit()
    return changes


def add_contact(session: Session, **fields: Any) -> int:
    email = fields.pop("email", f"{uuid.uuid4().hex[:10]}@example.org")
    contact = Contact(email=email, email_normalized=email, custom=fields.pop("custom", {}), **fields)
    session.add(contact)
    session.flush()
    return contact.id


def add_event(session: Session, contact_id: int, name: str, at: datetime, **properties: Any) -> None:
    session.add(Event(message_id=uuid.uuid4().hex, event_type="track", name=name, contact_id=contact_id,
                      occurred_at=at, received_at=at, properties=properties, context={}))  # fmt: skip
    session.flush()


def model(session: Session, key: str) -> CompiledModel:
    row = session.scalar(select(ScoringModel).where(ScoringModel.key == key))
    assert row is not None
    return compiled(row, load_field_registry(session))


def stored(session: Session, key: str) -> dict[int, tuple[float, list[Any]]]:
    """Each stored row's total and explanation, rendered from its facts (as every reader renders it)."""
    compiled_model = model(session, key)
    rows = session.execute(
        select(ContactScore.contact_id, ContactScore.total, ContactScore.facts).where(ContactScore.model_key == key)
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    texts = Renderer(codec.decode(compiled_model, ids, [bytes(r[2]) for r in rows])).texts() if rows else []
    return {int(cid): (float(total), orjson.loads(text)) for (cid, total, _), text in zip(rows, texts, strict=True)}


def in_memory(session: Session, key: str, ids: list[int], now: datetime = NOW) -> dict[int, tuple[float, list[Any]]]:
    """What the incremental path computes for these contacts, in the shape of :func:`stored`."""
    scores = scoring.score_contacts(session, ids, [model(session, key)], now=now)[key]
    texts = Renderer(scores).texts()
    return {
        int(cid): (int(scores.total[i]) / 10_000, orjson.loads(texts[i]))
        for i, cid in enumerate(scores.contact_ids.tolist())
        if scores.present[i]
    }


def today_midnight() -> datetime:
    """The start of today (UTC): an event then is 0 days old all day, so decay does not depend on when a test
    runs (an hour ago is yesterday just after midnight)."""
    return datetime.combine(utcnow().date(), time(), tzinfo=UTC)


def stage_of(session: Session, contact_id: int) -> str:
    return str(session.scalar(select(Contact.lifecycle_stage).where(Contact.id == contact_id)))


# --- bulk and incremental agree ------------------------------------------------------------------

OFFSETS = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-7, minutes=-30))]
instants = st.builds(
    lambda days, seconds, micro, tz: (NOW + timedelta(days=days, seconds=seconds, microseconds=micro)).astimezone(tz),
    st.integers(min_value=-60, max_value=2),
    st.sampled_from([0, 1, -1, 41_760, -43_200, 43_199]),  # around midnight UTC (NOW is noon)
    st.sampled_from([0, 1, -1, 999_999]),
    st.sampled_from(OFFSETS),
)
event_rows = st.tuples(
    st.sampled_from(["page_viewed", "form_submitted", "demo_requested", "email_opened"]),
    instants,
    st.fixed_dictionaries(
        {},
        optional={
            "path": st.sampled_from(["/pricing", "/pricing/enterprise", "/Pricing", "/blog", "", 5]),
            "amount": st.sampled_from([99, 100, 100.5, "150", None, True]),
        },
    ),
)
contact_rows = st.tuples(
    st.sampled_from([None, "vp", "director", "VP", "staff", ""]),
    st.sampled_from([None, "pro", "free", "Pro", 7]),
    st.sampled_from([None, True, False]),
    st.sampled_from([None, 50, 200, 5000]),  # the account's employees; None: no account
    st.lists(event_rows, max_size=8),
)


def _store(session: Session, rows: list[Any]) -> list[int]:
    ids = []
    for seniority, plan, free_mail, employees, events in rows:
        account_id = None
        if employees is not None:
            account = Account(name=f"Acme {uuid.uuid4().hex[:6]}", employee_count=employees, custom={})
            session.add(account)
            session.flush()
            account_id = account.id
        custom = {} if plan is None else {"plan": plan}
        contact_id = add_contact(session, seniority=seniority, is_free_mail=free_mail, account_id=account_id,
                                 custom=custom)  # fmt: skip
        for name, at, properties in events:
            add_event(session, contact_id, name, at, **properties)
        ids.append(contact_id)
    session.commit()
    return ids


def _clean(session: Session) -> None:
    session.rollback()
    for table in (ContactScore, Event, Contact, Account):
        session.execute(delete(table))
    session.commit()
    session.expunge_all()


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rows=st.lists(contact_rows, min_size=1, max_size=12))
def test_bulk_and_incremental_agree(session: Session, rows: list[Any]) -> None:
    if session.scalar(select(func.count()).select_from(ScoringModel)) == 0:
        install(session)
    try:
        ids = _store(session, rows)
        for key in ("default", "windowed", "forever"):
            compiled_model = model(session, key)
            session.rollback()
            facts = bulk.gather(session, compiled_model, now=NOW, parallel=False)
            scores = compute(compiled_model, facts)
            texts = Renderer(scores).texts()
            from_sql = {
                int(cid): (int(scores.total[i]) / 10_000, orjson.loads(texts[i]))
                for i, cid in enumerate(scores.contact_ids.tolist())
                if scores.present[i]
            }
            memory = in_memory(session, key, ids)
            assert from_sql == memory, f"{key}: SQL {from_sql}\nmemory {memory}"
            session.rollback()
    finally:
        _clean(session)


def test_parallel_readers_and_the_stored_scores_agree_with_memory(engine: Engine, session: Session) -> None:
    install(session)
    a = add_contact(session, seniority="vp", custom={"plan": "pro"})
    b = add_contact(session, is_free_mail=True)
    for day in range(12):
        add_event(session, a, "page_viewed", NOW - timedelta(days=day, hours=3), path="/pricing")
        add_event(session, b, "form_submitted", NOW - timedelta(days=2 * day))
    add_event(session, b, "demo_requested", NOW + timedelta(hours=1))  # after now: never counts
    session.commit()
    for key in ("default", "windowed", "forever"):
        compiled_model = model(session, key)
        session.rollback()
        sequential = bulk.gather(session, compiled_model, now=NOW, parallel=False)
        parallel = bulk.gather(session, compiled_model, now=NOW, parallel=True)
        for name in ("contact_ids", "matched", "weight", "occurrences"):
            assert np.array_equal(getattr(sequential, name), getattr(parallel, name)), (key, name)
        result = rescore(engine, session, key)
        assert result.scored == len(stored(session, key))
        assert stored(session, key) == in_memory(session, key, [a, b])
        session.rollback()


def test_parallel_readers_take_statements_in_turn_and_report_a_failure(session: Session) -> None:
    """More statements than readers: each reader takes the next one when it is done, results come back in
    the order given. A statement that fails stops the read with the database's message, without hanging."""
    ids = [add_contact(session, seniority="vp") for _ in range(3)]
    session.commit()
    statements = [select(Contact.id, literal(n, Integer)).where(Contact.id >= ids[n % 3]) for n in range(7)]
    arrays = reading.read_all(session, statements, parallel=True)
    assert [a[:, 1].tolist() for a in arrays] == [[n] * (3 - n % 3) for n in range(7)]
    assert [a[:, 0].tolist() for a in arrays] == [ids[n % 3 :] for n in range(7)]
    broken = [*statements[:3], select(func.no_such_function(Contact.id)), *statements[3:]]
    with pytest.raises(Exception, match="no_such_function"):
        reading.read_all(session, broken, parallel=True)


ACCOUNT_MODEL = """
models:
  - key: accounts
    name: Accounts
    fit:
      criteria:
        - {name: Not software, points: 3, condition: {not: {field: account.industry, op: eq, value: software}}}
        - {name: No size, points: 2, condition: {field: account.employee_count, op: is_not_set}}
        - {name: Small and known, points: 1,
           condition: {all: [{field: account.industry, op: is_set},
                             {field: account.employee_count, op: lt, value: 50}]}}
        - {name: Big or senior, points: 5,
           condition: {any: [{field: account.employee_count, op: gte, value: 200},
                             {field: seniority, op: eq, value: vp}]}}
        - {name: Senior, points: 7, condition: {field: seniority, op: in, value: [vp, director]}}
    engagement:
      decay: {half_life_days: 10}
      criteria:
        - {name: Demo, group: intent, event: demo_requested, points: 20}
        - {name: Demo seen, event: demo_requested, points: 1}
        - {name: Forms, event: form_submitted, points: 4, max_occurrences: 2}
"""


def test_account_criteria_are_evaluated_once_per_account_like_per_contact(engine: Engine, session: Session) -> None:
    """Criteria on the account alone are computed per account and handed to its contacts; contacts without
    an account get what the conditions say of a missing one (a NOT matches). A criterion mixing contact and
    account fields is evaluated on the contact scan. All of it agrees with the in-memory interpreter, read
    sequentially or in parallel. Two engagement criteria on one event both count it."""
    assert [bulk.account_only(c.condition) for c in specs(ACCOUNT_MODEL)[0].fit.criteria] == [  # type: ignore[union-attr]
        True, True, True, False, False
    ]  # fmt: skip
    install(session, ACCOUNT_MODEL)
    accounts = []
    for industry, employees in (("Software", 500), (None, None), ("Retail", 20), ("SOFTWARE", 10)):
        account = Account(name=f"Acme {uuid.uuid4().hex[:6]}", industry=industry, employee_count=employees, custom={})
        session.add(account)
        session.flush()
        accounts.append(account.id)
    ids = [add_contact(session, seniority=seniority, account_id=account_id)
           for account_id in [None, *accounts] for seniority in (None, "vp")]  # fmt: skip
    engaged = [add_contact(session) for _ in range(3)]
    for n, contact_id in enumerate(engaged):
        add_event(session, contact_id, "demo_requested", NOW - timedelta(days=n))
        for days in range(n + 2):
            add_event(session, contact_id, "form_submitted", NOW - timedelta(days=days * 3))
    session.commit()
    facts = {parallel: bulk.gather(session, model(session, "accounts"), now=NOW, parallel=parallel)
             for parallel in (False, True)}  # fmt: skip
    assert np.array_equal(facts[False].contact_ids, facts[True].contact_ids)
    assert np.array_equal(facts[False].matched, facts[True].matched)
    rescore(engine, session, "accounts")
    for name in ("weight", "occurrences"):
        assert np.array_equal(getattr(facts[False], name), getattr(facts[True], name))
    assert stored(session, "accounts") == in_memory(session, "accounts", ids + engaged)
    # Both criteria on demo_requested counted today's demo; forms counted the two most recent of two.
    assert [entry[3:5] for entry in stored(session, "accounts")[engaged[0]][1][2:]] == [[20.0, 20.0], [1.0, 1.0],
                                                                                        [7.249, 8.0]]  # fmt: skip
    totals = {contact_id: total for contact_id, (total, _entries) in stored(session, "accounts").items()}
    # No account: not software 3 + no size 2; Software/500: big 5; unknown: 3 + 2; Retail/20: 3 + 1; SOFTWARE/10: 1.
    assert [totals.get(contact_id, 0.0) for contact_id in ids[::2]] == [5.0, 5.0, 5.0, 4.0, 1.0]
    assert [totals.get(contact_id, 0.0) for contact_id in ids[1::2]] == [17.0, 12.0, 17.0, 16.0, 13.0]


# --- writing -------------------------------------------------------------------------------------


def test_a_rescore_writes_only_what_changed_and_removes_what_no_longer_scores(engine: Engine, session: Session) -> None:
    install(session)
    a = add_contact(session, seniority="vp")
    b = add_contact(session, seniority="director")
    c = add_contact(session)
    add_event(session, c, "demo_requested", NOW - timedelta(days=1))
    session.commit()
    first = rescore(engine, session, "default")
    assert (first.scored, first.written, first.removed) == (3, 3, 0)
    again = rescore(engine, session, "default")
    assert (again.scored, again.written, again.removed) == (3, 0, 0)
    session.execute(update(Contact).where(Contact.id == b).values(seniority="staff"))
    session.commit()
    changed = rescore(engine, session, "default")
    assert (changed.scored, changed.written, changed.removed) == (2, 0, 1)
    assert set(stored(session, "default")) == {a, c}
    # A day later the demo weighs less: only that contact's row changes.
    later = rescore(engine, session, "default", now=NOW + timedelta(days=1))
    assert later.written == 1
    session.rollback()
    computed = dict(session.execute(select(ContactScore.contact_id, ContactScore.computed_at)).all())
    assert computed[c] > computed[a]
    row = session.scalar(select(ScoringModel).where(ScoringModel.key == "default"))
    assert row is not None
    assert row.scored_at == NOW + timedelta(days=1)


def rescore(db: Engine, session: Session, key: str, now: datetime = NOW) -> scoring.RescoreResult:
    """A full rescore in its own transaction; the test's session lets go of SQLite's write lock first."""
    session.rollback()
    with session_scope(db) as s:
        return scoring.rescore_model(s, key, now=now)


def test_a_new_version_rewrites_every_row(engine: Engine, session: Session) -> None:
    install(session)
    for _ in range(3):
        add_contact(session, seniority="vp")
    session.commit()
    rescore(engine, session, "default")
    install(
        session, MODELS.replace("points: 15, condition: {field: seniority", "points: 16, condition: {field: seniority")
    )
    result = rescore(engine, session, "default")
    assert (result.version, result.written) == (2, 3)
    assert {v for (_t, e) in stored(session, "default").values() for v in [e[0][3]]} == {16.0}
    session.rollback()
    assert set(session.scalars(select(ContactScore.model_version))) == {2}


def test_when_most_rows_change_they_are_all_replaced(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-life model a day later: every engaged contact's total moves, so the rows are loaded anew (on
    PostgreSQL into a fresh partition swapped in for the model's old one) instead of updated one by one."""
    monkeypatch.setattr(store, "REPLACE_MIN_ROWS", 0)
    monkeypatch.setattr(store, "_STREAM_ROWS", 3)  # SQLite's upsert in chunks of 3 rows: 4 rows make two
    install(session)
    ids = [add_contact(session, seniority="vp") for _ in range(4)]
    for contact_id in ids[:3]:
        add_event(session, contact_id, "demo_requested", NOW - timedelta(days=2))
    session.commit()
    first = rescore(engine, session, "default")
    assert (first.written, first.replaced) == (4, True)
    before = _partition(session)
    again = rescore(engine, session, "default")
    assert (again.written, again.replaced) == (0, False)
    later = rescore(engine, session, "default", now=NOW + timedelta(days=1))
    assert (later.scored, later.written, later.replaced) == (4, 4, True)  # 3 of 4 changed: all are written
    assert stored(session, "default") == in_memory(session, "default", ids, now=NOW + timedelta(days=1))
    if engine.dialect.name == "postgresql":
        after = _partition(session)
        assert before is not None
        assert after not in (None, before)  # a new partition; the old one is gone
        session.rollback()
        names = set(session.scalars(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'contact_scores%'")))
        assert before not in names
        # The foreign key holds on the new partition: erasing a contact takes its row with it.
        session.execute(delete(Contact).where(Contact.id == ids[0]))
        session.commit()
        assert ids[0] not in stored(session, "default")


def test_a_sampled_plan_writes_what_comparing_every_row_writes(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At scale a bulk write decides from a sample of stored rows whether it replaces them all, then reads only
    the rows of contacts that score nothing now and the old totals that a threshold needs. Here every write
    samples (two runs of two contacts): the rows, removals and stage moves must be those of a full comparison."""
    monkeypatch.setattr(store, "SAMPLE_FROM", 1)
    monkeypatch.setattr(store, "SAMPLE_RUNS", 2)
    monkeypatch.setattr(store, "SAMPLE_RUN", 2)
    monkeypatch.setattr(store, "_STREAM_ROWS", 4)
    monkeypatch.setattr(store, "REPLACE_MIN_ROWS", 0)
    install(session)
    first_one = add_contact(session, seniority="vp")  # loses its fit: below the scored ids
    engaged = [add_contact(session, seniority="director", lifecycle_stage="lead") for _ in range(6)]
    for contact_id in engaged:
        add_event(session, contact_id, "demo_requested", NOW - timedelta(days=2))  # 15 + 17.4: mql
    middle = add_contact(session, seniority="vp")  # loses its fit: in a gap of the scored ids
    rising = add_contact(session, seniority="vp", lifecycle_stage="lead")  # 15: below 25
    last_one = add_contact(session, seniority="vp")  # loses its fit: above the scored ids
    session.commit()
    first = rescore(engine, session, "default")
    assert (first.scored, first.written, first.replaced, first.moved) == (10, 10, True, 6)
    again = rescore(engine, session, "default")  # the sample finds nothing changed: compare every row
    assert (again.written, again.removed, again.replaced) == (0, 0, False)
    # Put one engaged contact back to lead by hand: its old total is above the threshold already, so only a
    # plan that wrongly read it as 0 would move it to mql again.
    session.execute(update(Contact).where(Contact.id == engaged[0]).values(lifecycle_stage="lead"))
    session.execute(update(Contact).where(Contact.id.in_([first_one, middle, last_one])).values(seniority="staff"))
    add_event(session, rising, "demo_requested", NOW)
    session.commit()
    later = rescore(engine, session, "default", now=NOW + timedelta(days=1))
    assert (later.scored, later.written, later.removed, later.replaced, later.moved) == (7, 7, 3, True, 1)
    assert stage_of(session, rising) == "mql"
    assert stage_of(session, engaged[0]) == "lead"
    assert stored(session, "default") == in_memory(session, "default", [*engaged, rising], now=NOW + timedelta(days=1))


def _partition(session: Session) -> str | None:
    session.rollback()
    if session.get_bind().dialect.name != "postgresql":
        return None
    return store.partitions(session.connection()).get("default")


def test_a_models_rows_in_the_default_partition_move_to_its_own(engine: Engine, session: Session) -> None:
    """apply_models gives each new model its partition; rows of a model without one (upgraded from before
    0011 by hand, say) wait in the default partition until the model's next full rescore moves them."""
    install(session)
    if engine.dialect.name == "postgresql":
        session.execute(text(f"DROP TABLE {_partition(session)}"))
        session.commit()
    early = add_contact(session, seniority="vp")
    session.commit()
    with session_scope(engine) as s:
        scoring.rescore_contacts(s, [early], now=NOW)  # no full rescore yet: the default partition takes it
    later = add_contact(session, seniority="director")
    session.commit()
    first = rescore(engine, session, "default")
    # PostgreSQL loads both rows into the model's new partition; SQLite writes the one that was missing.
    assert (first.written, first.replaced) == ((2, True) if engine.dialect.name == "postgresql" else (1, False))
    assert rescore(engine, session, "default").written == 0
    assert set(stored(session, "default")) == {early, later}
    if engine.dialect.name == "postgresql":
        session.rollback()
        assert session.scalar(text("SELECT count(*) FROM contact_scores_default WHERE model_key = 'default'")) == 0
        assert session.scalar(text(f"SELECT count(*) FROM {_partition(session)}")) == 2


# --- thresholds ----------------------------------------------------------------------------------


def test_crossing_a_threshold_moves_the_stage_forward_only(engine: Engine, session: Session) -> None:
    install(session)
    lead = add_contact(session, lifecycle_stage="lead", seniority="vp")  # 15 + demo 20 = 35 >= 25: mql
    sql = add_contact(session, lifecycle_stage="sql", seniority="vp")  # already past mql: stays
    gone = add_contact(session, lifecycle_stage="disqualified", seniority="vp")  # off the ladder: stays
    recycled = add_contact(session, lifecycle_stage="recycled", seniority="vp")  # resumes: mql
    hot = add_contact(session, lifecycle_stage="subscriber", seniority="vp", custom={"plan": "pro"})
    cold = add_contact(session, lifecycle_stage="lead")
    for contact_id in (lead, sql, gone, recycled, hot):
        add_event(session, contact_id, "demo_requested", NOW - timedelta(hours=1))
    add_event(session, hot, "form_submitted", NOW - timedelta(hours=1))  # 15+7.5+4 fit, 20+10 -> 25 intent: 51.5
    session.commit()
    result = rescore(engine, session, "default")
    assert result.moved == 3
    assert [stage_of(session, c) for c in (lead, sql, gone, recycled, hot, cold)] == [
        "mql", "sql", "disqualified", "mql", "sql", "lead"
    ]  # fmt: skip
    changes = session.scalars(
        select(LifecycleStageChange)
        .where(LifecycleStageChange.contact_id.in_([lead, hot]))
        .order_by(LifecycleStageChange.contact_id)
    ).all()
    assert [(c.from_stage, c.to_stage, c.reason, c.source) for c in changes] == [
        ("lead", "mql", "score default reached 25", "scoring"),
        ("subscriber", "sql", "score default reached 45", "scoring"),  # the highest threshold crossed: one jump
    ]
    # Still above the thresholds: nothing crosses again.
    assert rescore(engine, session, "default").moved == 0


def test_incremental_rescoring_leaves_out_contacts_that_do_not_exist(session: Session) -> None:
    """With fit criteria the contact's own load tells whether it exists; without (the windowed model), a
    look-up does. Either way a missing id gets no facts and no row."""
    install(session)
    real = add_contact(session, seniority="vp")
    add_event(session, real, "form_submitted", NOW - timedelta(days=1))
    session.commit()
    missing = real + 1000
    facts = incremental.gather(session, [model(session, "default"), model(session, "windowed")], [missing, real],
                               now=NOW)  # fmt: skip
    assert {key: f.contact_ids.tolist() for key, f in facts.items()} == {"default": [real], "windowed": [real]}
    written = scoring.rescore_contacts(session, [missing, real], now=NOW, keys=["default", "windowed"])
    assert {key: (w.scored, w.written) for key, w in written.items()} == {"default": (1, 1), "windowed": (1, 1)}
    assert set(session.scalars(select(ContactScore.contact_id))) == {real}


def test_incremental_rescoring_applies_thresholds_too(engine: Engine, session: Session) -> None:
    install(session)
    contact_id = add_contact(session, lifecycle_stage="lead", seniority="vp")
    session.commit()
    session.rollback()
    with session_scope(engine) as s:
        scoring.rescore_contacts(s, [contact_id], now=NOW)
    assert stage_of(session, contact_id) == "lead"
    session.rollback()
    add_event(session, contact_id, "demo_requested", NOW - timedelta(minutes=5))
    session.commit()
    with session_scope(engine) as s:
        written = scoring.rescore_contacts(s, [contact_id], now=NOW)
    assert written["default"].written == 1
    assert stage_of(session, contact_id) == "mql"
    assert stored(session, "default")[contact_id][0] == 35.0


# --- definitions ---------------------------------------------------------------------------------


def test_apply_and_diff_models(session: Session) -> None:
    define_plan_field(session)
    assert diff_models(session, specs()) == {
        "created": ["default", "windowed", "forever"],
        "rescore queued": ["default (version 1)", "windowed (version 1)", "forever (version 1)"],
    }
    assert apply_models(session, specs(), actor=SYSTEM)["created"] == ["default", "windowed", "forever"]
    jobs = session.scalars(select(Job.payload).where(Job.task == RESCORE_MODEL)).all()
    assert sorted(j["key"] for j in jobs) == ["default", "forever", "windowed"]
    assert diff_models(session, specs()) == {}
    assert apply_models(session, specs(), actor=SYSTEM) == {}
    text = MODELS.replace("name: Default\n", "name: Default score\n").replace("score: 25", "score: 30")
    text = text.replace("  - key: forever", "  - key: forever\n    active: false")
    changes = apply_models(session, specs(text)[:2] + specs(text)[2:], actor=SYSTEM)
    assert changes == {
        "updated": ["default: scoring definition (version 1 → 2), name"],
        "rescore queued": ["default (version 2)"],
        "deactivated": ["forever"],
    }
    rows = {r.key: r for r in session.scalars(select(ScoringModel))}
    assert (rows["default"].version, rows["default"].name, rows["forever"].active) == (2, "Default score", False)
    assert apply_models(session, specs(text)[:1], actor=SYSTEM) == {"deactivated": ["windowed (not in scoring.yml)"]}


def test_thresholds_must_name_a_stage_of_the_lifecycle(session: Session) -> None:
    define_plan_field(session)
    with pytest.raises(SpecInvalid) as caught:
        apply_models(session, specs(MODELS.replace("stage: sql", "stage: hot")), actor=SYSTEM)
    assert "models[0].thresholds[1].stage: 'hot' is not a lifecycle stage" in caught.value.message


def test_definitions_are_checked_against_this_databases_fields(session: Session) -> None:
    with pytest.raises(SpecInvalid) as caught:
        apply_models(session, specs(), actor=SYSTEM)  # custom.plan is not defined here
    assert "models[0].fit.criteria[1].condition.field: no custom field named 'plan'" in caught.value.message


# --- explanations, distribution, export ----------------------------------------------------------


def test_explain_export_and_distribution(engine: Engine, session: Session) -> None:
    install(session)
    contact_id = add_contact(session, seniority="vp", custom={"plan": "pro"})
    nobody = add_contact(session)
    add_event(session, contact_id, "demo_requested", NOW - timedelta(days=10))
    session.commit()
    rescore(engine, session, "default")
    explanation = scoring.explain(session, contact_id, "default")
    assert (explanation.fit, explanation.engagement, explanation.total) == (22.5, 10.0, 32.5)
    assert explanation.entries[-1] == {"criterion": "Demos", "group": "forms", "kind": "engagement", "points": 10.0,
                                       "raw": 20.0, "capped_by": None, "count": 1}  # fmt: skip
    assert explanation.as_of == NOW
    assert not explanation.stale
    assert "half-life 10 days" in explanation.decay
    assert explanation.caps == {"group forms": 25.0, "group web": 9.0, "fit": 30.0, "engagement": 40.0, "total": 60.0}
    empty = scoring.explain(session, nobody, "default")
    assert (empty.total, empty.entries, empty.computed_at) == (0.0, [], None)
    document = export_person(session, contact_id)
    scores = {row["model"]: row for row in document["scores"]}
    assert scores["default"]["total"] == 32.5
    assert scores["default"]["explanation"][0]["criterion"] == "Senior"
    found = scoring.distribution(session, "default", bins=4)
    assert (found.scored, found.unscored, sum(found.counts)) == (1, 1, 1)
    top = scoring.criterion_totals(session, "default")
    assert [(t["criterion"], t["points"], t["contacts"]) for t in top] == [
        ("Senior", 15.0, 1), ("Demos", 10.0, 1), ("Pro plan", 7.5, 1)
    ]  # fmt: skip


def test_a_stale_score_is_explained_with_the_version_it_was_computed_under(engine: Engine, session: Session) -> None:
    install(session)
    contact_id = add_contact(session, seniority="vp")
    session.commit()
    rescore(engine, session, "default")
    install(
        session, MODELS.replace("points: 15, condition: {field: seniority", "points: 16, condition: {field: seniority")
    )
    session.commit()
    explanation = scoring.explain(session, contact_id, "default")  # the rescore to version 2 has not run
    assert (explanation.stale, explanation.explained, explanation.model_version) == (True, True, 1)
    assert explanation.entries[0]["points"] == 15.0
    assert scoring.criterion_totals(session, "default") == []  # rows of version 1 wait for their rescore
    rescore(engine, session, "default")
    explanation = scoring.explain(session, contact_id, "default")
    assert (explanation.stale, explanation.entries[0]["points"]) == (False, 16.0)


def test_a_score_stored_without_facts_is_shown_unexplained_until_the_next_rescore(
    engine: Engine, session: Session
) -> None:
    """Rows migrated from before facts were stored (migration 0011) keep their numbers."""
    install(session)
    contact_id = add_contact(session, seniority="vp")
    session.commit()
    rescore(engine, session, "default")
    session.execute(update(ContactScore).values(facts=None, signature=None))
    session.commit()
    explanation = scoring.explain(session, contact_id, "default")
    assert (explanation.total, explanation.explained, explanation.entries) == (15.0, False, [])
    assert export_person(session, contact_id)["scores"][0]["explanation"] is None
    assert rescore(engine, session, "default").written == 1
    assert scoring.explain(session, contact_id, "default").explained


def test_a_contact_erased_during_a_rescore_is_left_out(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_STREAM_ROWS", 1)  # the row that fails is in a chunk of its own
    install(session)
    keep = add_contact(session, seniority="vp")
    gone = add_contact(session, seniority="vp")
    session.commit()

    def rescore_while_erasing(contact_id: int) -> store.Written:
        compiled_model = model(session, "default")
        session.rollback()
        scores = compute(compiled_model, bulk.gather(session, compiled_model, now=NOW, parallel=False))
        session.execute(delete(Contact).where(Contact.id == contact_id))  # erased meanwhile
        return store.write_bulk(session, scores, now=NOW)

    first = rescore_while_erasing(gone)  # no rows yet: the bulk load
    assert first.written == 1
    assert set(stored(session, "default")) == {keep}
    session.commit()
    late = add_contact(session, seniority="director")
    session.commit()
    second = rescore_while_erasing(late)  # rows of this version exist: only the differences are written
    assert second.written == 0
    assert set(stored(session, "default")) == {keep}
