"""``generate_demo``: build the reference tables, then stream contacts and events chunk by chunk.

Memory stays bounded by the chunk size (10,000 contacts and their ~200,000 events), whatever the
total: nothing but the reference tables and the set of claimed e-mail addresses outlives a chunk.
"""

from __future__ import annotations

import gc
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text

from pitboard.demo import vocab
from pitboard.demo.common import Row, Window
from pitboard.demo.contacts import (
    ContactChunk,
    DirtyLabel,
    EmailRegistry,
    Reference,
    RunningIds,
    generate_contact_chunk,
)
from pitboard.demo.events import EventCatalog, build_catalog, generate_event_block
from pitboard.demo.reference import (
    account_count,
    generate_accounts,
    generate_campaigns,
    generate_sales_team,
    sales_user_count,
)
from pitboard.demo.timefmt import format_us
from pitboard.demo.writer import TABLES, BulkWriter, open_writer
from pitboard.kit.errors import Conflict, ValidationFailed
from pitboard.kit.time import ensure_utc, utcnow

Progress = Callable[[str, int, int], None]

CHUNK_CONTACTS = 10_000
EVENT_BATCH = 50_000


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote: rows per table, how long it took, and where the time went."""

    counts: dict[str, int]
    elapsed_seconds: float
    dirty_records: int
    seed: int
    now: datetime
    backend: str
    write_seconds: dict[str, float] = field(default_factory=dict)  # inside the database driver, per table
    generate_seconds: dict[str, float] = field(default_factory=dict)  # building rows in Python / numpy

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def _check_arguments(contacts: int, seed: int, events_per_contact: float) -> None:
    if contacts < 1:
        raise ValidationFailed("contacts must be at least 1")
    if seed < 0:
        raise ValidationFailed("seed must be zero or positive")
    if not math.isfinite(events_per_contact) or events_per_contact < 0:
        raise ValidationFailed("events_per_contact must be a finite number ≥ 0")


def _id_bases(engine: Engine) -> dict[str, int]:
    """The highest id per table: generated rows get ids above it, so they never collide with existing rows."""
    with engine.connect() as conn:
        existing = conn.execute(text("SELECT count(*) FROM contacts")).scalar_one()
        if existing:
            raise Conflict(
                f"the database already has {existing:,} contacts; the demo generator needs an empty contacts table",
                details={"contacts": existing},
            )
        return {t: int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()) for t in TABLES}


def _custom_field_rows(engine: Engine, base: int, created: str) -> list[Row]:
    """Definitions for the custom fields the demo fills, unless someone defined them already."""
    wanted = [
        ("contact", "product_interest", "Product interest", "enum", list(vocab.PRODUCT_INTERESTS)),
        ("contact", "employees_band", "Employees (band)", "enum", [label for _, label in vocab.EMPLOYEE_BANDS]),
        ("contact", "newsletter_opt_in", "Newsletter opt-in", "boolean", None),
        ("account", "tier", "Account tier", "enum", list(vocab.TIER_OPTIONS)),
        ("account", "employees_band", "Employees (band)", "enum", [label for _, label in vocab.EMPLOYEE_BANDS]),
    ]
    with engine.connect() as conn:
        existing = {(r.entity, r.name) for r in conn.execute(text("SELECT entity, name FROM custom_field_definitions"))}
    rows: list[Row] = []
    for entity, name, label, field_type, options in wanted:
        if (entity, name) in existing:
            continue
        rows.append((base + len(rows) + 1, entity, name, label, field_type,
                     None if options is None else json.dumps(options), False, "Filled by the demo data generator",
                     created, created))  # fmt: skip
    return rows


class _GroundTruth:
    """Labels of the planted dirty records, as JSON Lines; written to a temporary file, renamed on success."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._tmp = path.with_name(path.name + ".tmp") if path else None
        self._file: IO[str] | None = None
        if self._tmp is not None:
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._tmp.open("w", encoding="utf-8")

    def write(self, labels: list[DirtyLabel]) -> None:
        self.count += len(labels)
        if self._file is not None:
            self._file.writelines(label.to_json() + "\n" for label in labels)

    def commit(self) -> None:
        if self._file is not None and self._tmp is not None and self.path is not None:
            self._file.close()
            os.replace(self._tmp, self.path)

    def discard(self) -> None:
        if self._file is not None and self._tmp is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)


class _Clock:
    """Seconds spent per phase, accumulated."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: generated rows have no cycles (reference counting frees them),
    and the collector would otherwise rescan millions of fresh tuples, ~15% of the generation time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _noop(_phase: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class _Chunk:
    """A generated chunk, ready to write."""

    contacts: ContactChunk
    contact_rows: list[Row]
    event_batches: list[list[Row]]


@dataclass
class _Run:
    """One generation run: parameters, reference data and the running state between chunks."""

    engine: Engine
    contacts: int
    seed: int
    events_per_contact: float
    window: Window
    progress: Progress
    id_bases: dict[str, int]
    clock: _Clock = field(default_factory=_Clock)

    def execute(self, writer: BulkWriter, truth: _GroundTruth) -> None:
        ref = self._reference(writer)
        with self.clock.measure("prepare"):
            writer.prepare()
        with self.clock.measure("generate_reference"):
            catalog = build_catalog(ref.campaigns)
        b = self.id_bases
        running = RunningIds(b["identities"], b["lifecycle_stage_changes"], b["opportunities"], b["events"])
        registry = EmailRegistry()
        # One chunk at a time, in order: generate, write, commit. (Generating the next chunk on a thread
        # while writing was measured slower on two cores: every row of an executemany re-acquires the
        # GIL, and the generator thread holds it most of the time.)
        for no, first in enumerate(range(0, self.contacts, CHUNK_CONTACTS)):
            n = min(CHUNK_CONTACTS, self.contacts - first)
            current = self._generate(ref, catalog, running, registry, no, first, n)
            self._write_contacts(writer, current, first + n)
            self._write_events(writer, current)
            truth.write(current.contacts.labels)
            writer.checkpoint()
        self.progress("events", writer.counts["events"], writer.counts["events"])

    def _generate(self, ref: Reference, catalog: EventCatalog, running: RunningIds, registry: EmailRegistry,
                  no: int, first: int, n: int) -> _Chunk:  # fmt: skip
        with self.clock.measure("generate_contacts"):
            chunk = generate_contact_chunk(ref, no, first, n, running, registry)
        with self.clock.measure("generate_events"):
            block = generate_event_block(catalog, chunk, self.window, self.events_per_contact, running, self.seed, no)
            return _Chunk(chunk, chunk.contact_rows(block.last_activity), block.batches(EVENT_BATCH))

    def _write_contacts(self, writer: BulkWriter, current: _Chunk, contacts_done: int) -> None:
        chunk = current.contacts
        writer.write("contacts", current.contact_rows)
        writer.write("identities", chunk.identities)
        writer.write("lifecycle_stage_changes", chunk.stage_changes)
        writer.write("opportunities", chunk.opportunities)
        self.progress("contacts", contacts_done, self.contacts)

    def _write_events(self, writer: BulkWriter, current: _Chunk) -> None:
        expected = round(self.contacts * self.events_per_contact)
        for batch in current.event_batches:
            writer.write("events", batch)
            done = writer.counts["events"]
            self.progress("events", done, max(expected, done))

    def _reference(self, writer: BulkWriter) -> Reference:
        b, window = self.id_bases, self.window
        with self.clock.measure("generate_reference"):
            team = generate_sales_team(sales_user_count(self.contacts), self.seed, window, b["sales_users"])
            accounts = generate_accounts(account_count(self.contacts), self.seed, window, team, b["accounts"])
            campaigns = generate_campaigns(self.seed, window, b["campaigns"])
            fields = _custom_field_rows(self.engine, b["custom_field_definitions"], format_us(window.start_us))
        total = len(team.rows) + len(accounts.rows) + len(campaigns.rows) + len(fields)
        done = 0
        for table, rows in (("sales_users", team.rows), ("accounts", accounts.rows), ("campaigns", campaigns.rows),
                            ("custom_field_definitions", fields)):  # fmt: skip
            writer.write(table, rows)
            done += len(rows)
            self.progress("reference data", done, total)
        writer.checkpoint()
        return Reference(self.seed, window, team, accounts, campaigns, b["contacts"])


def generate_demo(
    engine: Engine,
    *,
    contacts: int = 20_000,
    seed: int = 42,
    events_per_contact: float = 20.0,
    ground_truth_path: Path | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill a migrated database with a realistic, deterministic B2B data set spanning the year before ``now``.

    Same ``seed`` and ``now`` (and sizes) give identical rows on an empty database. About 7% of the
    contacts are planted dirty records (duplicates, bad e-mails, missing countries); their labels go to
    ``ground_truth_path`` as JSON Lines. Raises :class:`Conflict` when the database already has contacts.
    ``progress(phase, done, total)`` is called as rows are written (the events total is an estimate
    until the last call).
    """
    _check_arguments(contacts, seed, events_per_contact)
    started = time.perf_counter()
    at = ensure_utc(now) if now is not None else utcnow()
    run = _Run(engine, contacts, seed, events_per_contact, Window(at), progress or _noop, _id_bases(engine))
    with _no_cyclic_gc(), open_writer(engine) as writer:
        truth = _GroundTruth(ground_truth_path)
        try:
            run.execute(writer, truth)
            with run.clock.measure("finish"):
                run.progress("finalize", 0, 1)
                writer.finish()
                run.progress("finalize", 1, 1)
        except BaseException:
            truth.discard()
            writer.abort(run.id_bases)
            raise
        truth.commit()
    # Later features seed their own tables on top of the core data set (each returns its row counts).
    feature_counts: dict[str, int] = {}
    from pitboard.demo.measurement import generate_measurement  # spend, alert history, a report draft

    feature_counts.update(generate_measurement(engine, now=at, seed=seed))
    from pitboard.demo.workboard import generate_workboard  # the board's history and campaigns in operation

    feature_counts.update(generate_workboard(engine, now=at, seed=seed))
    from pitboard.demo.routing import generate_routing  # a routing flow and the last 30 days of leads routed

    feature_counts.update(generate_routing(engine, now=at, seed=seed))
    from pitboard.demo.workflows import generate_workflows  # the standard workflows and 30 days of their history

    feature_counts.update(generate_workflows(engine, now=at, seed=seed))
    from pitboard.demo.scoring import generate_scoring  # a lead scoring model, every contact scored

    feature_counts.update(generate_scoring(engine, now=at))
    return DemoSummary(
        counts={**writer.counts, **feature_counts},
        elapsed_seconds=time.perf_counter() - started,
        dirty_records=truth.count,
        seed=seed,
        now=at,
        backend=engine.dialect.name,
        write_seconds=dict(writer.seconds),
        generate_seconds=dict(run.clock.seconds),
    )
