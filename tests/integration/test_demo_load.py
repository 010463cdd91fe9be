"""Load a small demo into fresh SQLite and PostgreSQL databases and check it like an application would.

PostgreSQL tests create a uniquely named database (dropped at the end) on the server at
``PITBOARD_TEST_POSTGRES_URL`` (default: postgres@127.0.0.1:5432) and skip only if it does not answer.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import JSON, Boolean, Engine, Numeric, func, inspect, select, text
from sqlalchemy.engine import make_url

import pitboard.demo.runner as runner
from pitboard.demo import DemoSummary, generate_demo
from pitboard.demo.writer import BULK_TABLES, TABLE_COLUMNS, TABLES, BulkWriter
from pitboard.kit.db import UTCDateTime, make_engine, session_scope
from pitboard.kit.errors import Conflict
from pitboard.kit.migrate import upgrade
from pitboard.models import (
    Account,
    Base,
    Campaign,
    Contact,
    Event,
    Identity,
    LifecycleStageChange,
    Opportunity,
    SalesUser,
)

PG_ADMIN_URL = os.environ.get("PITBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CONTACTS = 500
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
RECORDED_ROWS = 40  # rows per table kept from the writer to compare with what the ORM reads back


# --- fixtures ------------------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection[Any] | None:
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    try:
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        return None


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[Engine]:
    """A migrated, empty database that disappears afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
        return
    admin = _pg_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL does not answer at {PG_ADMIN_URL}")
    name = f"pb_demo_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        engine = make_engine(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Loaded:
    backend: str
    engine: Engine
    summary: DemoSummary
    truth_path: Path
    progress: list[tuple[str, int, int]]
    written: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    @property
    def truth(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.truth_path.read_text().splitlines()]


@contextmanager
def recording_writes(written: dict[str, list[tuple[Any, ...]]]) -> Iterator[None]:
    """Keep the first rows the generator writes per table, to compare with what the ORM reads back."""
    original = runner.open_writer

    @contextmanager
    def open_recording(engine: Engine) -> Iterator[BulkWriter]:
        with original(engine) as writer:
            write = writer.write

            def record(table: str, rows: Sequence[tuple[Any, ...]]) -> None:
                kept = written.setdefault(table, [])
                kept.extend(rows[: RECORDED_ROWS - len(kept)])
                write(table, rows)

            writer.write = record  # type: ignore[method-assign]
            yield writer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "open_writer", open_recording)
        yield


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    folder = tmp_path_factory.mktemp(request.param)
    with fresh_database(request.param, folder) as engine:
        progress: list[tuple[str, int, int]] = []
        written: dict[str, list[tuple[Any, ...]]] = {}
        truth_path = folder / "truth" / "ground_truth.jsonl"
        with recording_writes(written):
            summary = generate_demo(
                engine,
                contacts=CONTACTS,
                seed=7,
                now=NOW,
                ground_truth_path=truth_path,
                progress=lambda *args: progress.append(args),
            )
        yield Loaded(request.param, engine, summary, truth_path, progress, written)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# --- the load ------------------------------------------------------------------------------------


def test_counts_match_the_summary(loaded: Loaded) -> None:
    counts = loaded.summary.counts
    assert counts["contacts"] == CONTACTS
    assert counts["sales_users"] == 6
    assert counts["accounts"] == round(CONTACTS / 8)
    assert 25 <= counts["campaigns"] <= 35
    assert 0.7 * CONTACTS * 20 < counts["events"] < 1.3 * CONTACTS * 20
    assert counts["identities"] > CONTACTS
    assert counts["lifecycle_stage_changes"] >= CONTACTS
    assert counts["opportunities"] > 0
    for table, expected in counts.items():
        assert _count(loaded.engine, table) == expected, table
    assert loaded.summary.total_rows == sum(counts.values())
    assert loaded.summary.backend == loaded.backend
    assert loaded.summary.elapsed_seconds > 0


def test_progress_is_reported_up_to_the_totals(loaded: Loaded) -> None:
    last: dict[str, tuple[int, int]] = {}
    for phase, done, total in loaded.progress:
        assert 0 <= done <= total
        last[phase] = (done, total)
    assert last["contacts"] == (CONTACTS, CONTACTS)
    assert last["events"] == (loaded.summary.counts["events"],) * 2
    assert last["finalize"] == (1, 1)
    assert "reference data" in last


def test_foreign_keys_hold(loaded: Loaded) -> None:
    with loaded.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                child, parent = fk.parent, fk.column
                orphans = conn.execute(
                    text(
                        f"SELECT count(*) FROM {table.name} c WHERE c.{child.name} IS NOT NULL AND NOT EXISTS "
                        f"(SELECT 1 FROM {parent.table.name} p WHERE p.{parent.name} = c.{child.name})"
                    )
                ).scalar_one()
                assert orphans == 0, f"{table.name}.{child.name}"
        if loaded.backend == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        else:
            invalid = conn.execute(text("SELECT count(*) FROM pg_constraint WHERE NOT convalidated")).scalar_one()
            assert invalid == 0


def _schema(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    return {
        table: (
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)),
            sorted(str(u["name"]) for u in inspector.get_unique_constraints(table)),
            sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)),
        )
        for table in TABLES
    }


def test_indexes_and_constraints_are_rebuilt(loaded: Loaded, tmp_path: Path) -> None:
    """The loader drops secondary indexes (and PostgreSQL constraints) for speed: all must be back."""
    with fresh_database(loaded.backend, tmp_path) as reference:
        expected = _schema(reference)
    actual = _schema(loaded.engine)
    assert actual == expected
    for table in BULK_TABLES:
        declared = {ix.name for ix in Base.metadata.tables[table].indexes}
        assert declared <= {name for name, _, _ in actual[table][0]}, table


def test_ground_truth_points_to_the_right_rows(loaded: Loaded) -> None:
    truth = loaded.truth
    assert len(truth) == loaded.summary.dirty_records
    assert 0.04 * CONTACTS < len(truth) < 0.11 * CONTACTS
    assert not loaded.truth_path.with_name(loaded.truth_path.name + ".tmp").exists()
    with session_scope(loaded.engine) as s:
        contacts = {c.id: c for c in s.scalars(select(Contact))}
        email_owners = {i.contact_id for i in s.scalars(select(Identity).where(Identity.kind == "email"))}
    kinds = {label["kind"] for label in truth}
    assert kinds == {"duplicate", "bad_email", "missing_country"}
    for label in truth:
        contact = contacts[label["contact_id"]]
        if label["kind"] == "duplicate":
            original = contacts[label["duplicate_of"]]
            assert original.id < contact.id
            assert original.account_id == contact.account_id
            variations = set(label["variations"])
            same_person = contact.last_name == original.last_name or "typo_last_name" in variations
            assert same_person
            if "email_case" in variations:
                assert contact.email != original.email
                assert contact.email_normalized == original.email_normalized
                assert contact.id not in email_owners, "the pair (email, value) belongs to the original"
            if not variations & {"nickname", "typo_first_name"}:
                assert contact.first_name == original.first_name
        elif label["kind"] == "bad_email":
            assert contact.email == label["email"]
            assert contact.email_normalized is None
            assert contact.id not in email_owners
        else:
            assert contact.country is None
    clean = set(contacts) - {label["contact_id"] for label in truth}
    assert all(contacts[cid].country is not None for cid in clean)


def _expected(column: Any, value: Any) -> Any:
    """What the ORM should return for a value the bulk writer wrote."""
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(column.type, JSON):
        return json.loads(value)
    if isinstance(column.type, Numeric):
        return Decimal(value)
    if isinstance(column.type, Boolean):
        return bool(value)
    return value


@pytest.mark.parametrize(
    "model", [SalesUser, Account, Campaign, Contact, Identity, LifecycleStageChange, Opportunity, Event]
)
def test_rows_round_trip_through_the_orm(loaded: Loaded, model: type[Base]) -> None:
    table = model.__table__
    written = loaded.written[table.name]
    assert written
    order = TABLE_COLUMNS[table.name]
    with session_scope(loaded.engine) as s:
        for row in written:
            values = dict(zip(order, row, strict=True))
            obj = s.get(model, values["id"])
            assert obj is not None
            for column in (table.columns[name] for name in order):
                got = getattr(obj, column.key)
                want = _expected(column, values[column.name])
                assert got == want, (table.name, column.name, got, want)
                if isinstance(got, datetime):
                    assert got.utcoffset() is not None
                    assert got.utcoffset().total_seconds() == 0
                if isinstance(column.type, Boolean):
                    assert isinstance(got, bool)
                if isinstance(column.type, Numeric) and got is not None:
                    assert isinstance(got, Decimal)
                    assert got == got.quantize(Decimal("0.01"))


def test_orm_insert_after_the_load(loaded: Loaded) -> None:
    """Explicit ids must not leave the id sequences behind (PostgreSQL) or collide on SQLite."""
    before = {t: _max_id(loaded.engine, t) for t in ("contacts", "events", "identities", "opportunities")}
    with session_scope(loaded.engine) as s:
        contact = Contact(email="new.person@example.org", email_normalized="new.person@example.org",
                          lifecycle_stage="lead", custom={})  # fmt: skip
        s.add(contact)
        s.flush()
        s.add(Identity(contact_id=contact.id, kind="email", value="new.person@example.org", created_at=NOW))
        s.add(Event(message_id=f"test-{uuid.uuid4()}", event_type="track", name="form_submitted",
                    contact_id=contact.id, occurred_at=NOW, received_at=NOW, properties={}, context={}))  # fmt: skip
        s.add(Opportunity(name="New deal", contact_id=contact.id, amount=Decimal("1234.50"), stage="discovery",
                          opened_at=NOW))  # fmt: skip
        s.flush()
        ids = {"contacts": contact.id}
    with session_scope(loaded.engine) as s:
        new_event = s.scalars(select(Event).where(Event.contact_id == ids["contacts"])).one()
        new_opp = s.scalars(select(Opportunity).where(Opportunity.contact_id == ids["contacts"])).one()
        new_identity = s.scalars(select(Identity).where(Identity.contact_id == ids["contacts"])).one()
        assert ids["contacts"] > before["contacts"]
        assert new_event.id > before["events"]
        assert new_identity.id > before["identities"]
        assert new_opp.id > before["opportunities"]
        assert new_opp.amount == Decimal("1234.50")
        s.delete(s.get(Contact, ids["contacts"]))
        s.delete(new_event)
        s.delete(new_opp)


def _max_id(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT max(id) FROM {table}")).scalar_one())


def test_queries_an_application_makes(loaded: Loaded) -> None:
    with session_scope(loaded.engine) as s:
        contact = s.scalars(select(Contact).where(Contact.email_normalized.is_not(None)).limit(1)).one()
        found = s.scalars(select(Contact).where(Contact.email_normalized == contact.email_normalized)).first()
        assert found is not None
        timeline = s.scalars(
            select(Event).where(Event.contact_id == contact.id).order_by(Event.occurred_at.desc())
        ).all()
        assert all(a.occurred_at >= b.occurred_at for a, b in itertools.pairwise(timeline))
        by_channel = {row[0]: row[1] for row in s.execute(select(Event.channel, func.count()).group_by(Event.channel))}
        assert sum(by_channel.values()) == loaded.summary.counts["events"]
        recent = s.scalar(
            select(func.count()).select_from(Event).where(Event.occurred_at >= datetime(2025, 5, 1, tzinfo=UTC))
        )
        assert recent
        assert 0 < recent < loaded.summary.counts["events"]
        # JSON paths work on both backends (JSONB on PostgreSQL).
        banded = s.scalar(
            select(func.count()).select_from(Contact).where(Contact.custom["employees_band"].as_string() == "51-200")
        )
        assert banded
        assert banded > 0


def test_a_second_load_is_refused(loaded: Loaded) -> None:
    with pytest.raises(Conflict, match=f"already has {CONTACTS}"):
        generate_demo(loaded.engine, contacts=10, seed=1, now=NOW)
    assert _count(loaded.engine, "contacts") == CONTACTS


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_load_leaves_nothing_behind(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as engine:
        schema = _schema(engine)
        with session_scope(engine) as s:
            s.add(SalesUser(name="Existing Seller", email="existing@example.org", working_hours={}))
        truth = tmp_path / "truth.jsonl"

        def fail_during_events(phase: str, done: int, total: int) -> None:
            if phase == "events" and done > 1_000:
                raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError, match="interrupted"):
            generate_demo(engine, contacts=300, seed=3, now=NOW, ground_truth_path=truth, progress=fail_during_events)
        assert not truth.exists()
        assert not truth.with_name(truth.name + ".tmp").exists()
        for table in TABLES:
            assert _count(engine, table) == (1 if table == "sales_users" else 0), table
        assert _schema(engine) == schema
        # The database is usable again: a new load succeeds and its ids start after the existing row.
        summary = generate_demo(engine, contacts=50, seed=3, now=NOW)
        assert summary.counts["contacts"] == 50
        with session_scope(engine) as s:
            ids = sorted(s.scalars(select(SalesUser.id)))
        assert ids == list(range(1, 1 + 1 + summary.counts["sales_users"]))


def _contacts_digest(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as s:
        return [
            (c.id, c.email, c.first_name, c.last_name, c.phone, c.country, c.lifecycle_stage, c.created_at, c.custom)
            for c in s.scalars(select(Contact).order_by(Contact.id))
        ]


_digests: dict[str, list[tuple[Any, ...]]] = {}


def test_same_data_on_every_backend(loaded: Loaded) -> None:
    """Same seed and now: the rows read back are identical, whatever the database."""
    _digests[loaded.backend] = _contacts_digest(loaded.engine)
    if len(_digests) < 2:
        pytest.skip("compared when the second backend has loaded")
    first, second = _digests.values()
    assert first == second


def test_email_identity_values_are_normalized(loaded: Loaded) -> None:
    with session_scope(loaded.engine) as s:
        values = list(s.scalars(select(Identity.value).where(Identity.kind == "email")))
    assert values
    assert all(v == v.lower() and re.match(r"^[^@\s]+@[^@\s]+\.[a-z]+$", v) for v in values)
