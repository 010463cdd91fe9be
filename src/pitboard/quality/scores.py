"""Data-quality scores for contacts and accounts: per field, per dataset and per record, tracked daily.

Four measures, each a share between 0 and 1 (docs/data-quality.md has the formulas):

- **completeness**: records with a non-empty value, per field and pooled over the fields that matter;
- **validity**: non-empty values that pass the field's validator (email, phone, country, domain);
  fields without a validator are not scored for validity;
- **uniqueness**: 1 - the share of records that share their match key with another record;
- **freshness**: records updated within ``fresh_days`` (180 by default).

The dataset's overall score is the mean of the four. Every record also gets a score of its own (the
share of its important fields that are present and valid) and a list of problems, so the worst
offenders can be shown and fixed.

The scoring layer (:func:`score_contacts`, :func:`score_accounts`) is pure: it takes an iterable of
rows and keeps only counters, a hash per record for uniqueness and a bounded heap of the worst records,
so a million contacts never become a million ORM objects. The database layer streams just the needed
columns in batches and feeds the scorers; :func:`take_snapshot` stores the results as
:class:`~pitboard.models.QualitySnapshot` rows, one set per day.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from pitboard.kit.time import ensure_utc, utcnow
from pitboard.models import Account, Contact, QualitySnapshot
from pitboard.quality.normalize import (
    EmailInfo,
    company_match_key,
    country_name,
    email_info,
    normalize_domain,
    normalize_phone,
)
from pitboard.quality.normalize._text import fold
from pitboard.worker.queue import task

__all__ = [
    "ACCOUNT_FIELDS",
    "CONTACT_FIELDS",
    "DEFAULT_FRESH_DAYS",
    "ENTITIES",
    "METRICS",
    "AccountRow",
    "ContactRow",
    "EntityScores",
    "FieldScore",
    "QualityReport",
    "RecordIssue",
    "Snapshot",
    "TrendPoint",
    "render_report",
    "report",
    "score_accounts",
    "score_contacts",
    "snapshot_task",
    "take_snapshot",
    "trend",
    "worst_records",
]

DEFAULT_FRESH_DAYS = 180
BATCH_SIZE = 10_000  # rows per fetch: large enough to amortise round trips, small enough to stay flat in memory
WORST_LIMIT = 50
METRICS = ("completeness", "validity", "uniqueness", "freshness")
ENTITIES = ("contact", "account")
CONTACT_FIELDS = ("email", "first_name", "last_name", "title", "company_name", "country", "phone", "account_id")
ACCOUNT_FIELDS = ("name", "domain", "industry", "employee_count", "country")
VALIDATED_FIELDS = {"contact": ("email", "country", "phone"), "account": ("domain", "country")}

# Per-field status codes, kept as small ints so a record's check is a tuple and costs no allocation of strings.
MISSING, OK, INVALID = 0, 1, 2


class ContactRow(NamedTuple):
    """The columns a contact's score needs, in the order they are selected."""

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    company_name: str | None
    country: str | None
    phone: str | None
    account_id: int | None
    updated_at: datetime | None


class AccountRow(NamedTuple):
    id: int
    name: str | None
    domain: str | None
    industry: str | None
    employee_count: int | None
    country: str | None
    updated_at: datetime | None


# --- results -------------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    """A share, or None when nothing was measured (no records, no values to validate)."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class FieldScore:
    field: str
    records: int
    present: int  # records with a non-empty value
    checked: int  # non-empty values a validator looked at (0 for fields without one)
    valid: int
    has_validator: bool

    @property
    def completeness(self) -> float | None:
        return _share(self.present, self.records)

    @property
    def validity(self) -> float | None:
        return _share(self.valid, self.checked) if self.has_validator else None


@dataclass(frozen=True, slots=True)
class RecordIssue:
    """One of the worst records: its own score and what is wrong with it."""

    entity: str
    id: int
    label: str
    score: float
    problems: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"/{self.entity}s/{self.id}"


@dataclass(frozen=True, slots=True)
class EntityScores:
    entity: str
    records: int
    fields: tuple[FieldScore, ...]
    duplicates: int  # records whose match key another record shares
    fresh: int  # records updated within fresh_days
    fresh_days: int
    worst: tuple[RecordIssue, ...] = ()

    @property
    def completeness(self) -> float | None:
        # Pooled over fields, which for a fixed field list is the mean of the per-field completeness.
        return _share(sum(f.present for f in self.fields), self.records * len(self.fields))

    @property
    def validity(self) -> float | None:
        # Pooled over the values checked: a field with few values weighs less than one with many.
        return _share(sum(f.valid for f in self.fields), sum(f.checked for f in self.fields))

    @property
    def uniqueness(self) -> float | None:
        return None if not self.records else 1 - self.duplicates / self.records

    @property
    def freshness(self) -> float | None:
        return _share(self.fresh, self.records)

    @property
    def overall(self) -> float | None:
        """The mean of the dataset measures that could be measured."""
        values = [v for v in (self.completeness, self.validity, self.uniqueness, self.freshness) if v is not None]
        return sum(values) / len(values) if values else None

    def metrics(self) -> dict[str, float | None]:
        return {
            "completeness": self.completeness,
            "validity": self.validity,
            "uniqueness": self.uniqueness,
            "freshness": self.freshness,
            "overall": self.overall,
        }

    def field(self, name: str) -> FieldScore:
        return next(f for f in self.fields if f.field == name)


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_on: date
    entities: tuple[EntityScores, ...]
    rows_written: int
    seconds: float

    def entity(self, name: str) -> EntityScores:
        return next(e for e in self.entities if e.entity == name)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: date
    value: float
    records: int


@dataclass(frozen=True, slots=True)
class QualityReport:
    """What the CLI and the /quality page show: current scores, the daily trend and the worst records."""

    computed_at: datetime
    today: date
    entities: tuple[EntityScores, ...]
    trends: dict[str, list[TrendPoint]] = field(default_factory=dict)  # entity -> overall score per day
    last_snapshot_on: date | None = None
    seconds: float = 0.0

    def entity(self, name: str) -> EntityScores:
        return next(e for e in self.entities if e.entity == name)


# --- validators ----------------------------------------------------------------------------------


def _empty(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and not value.strip()


def _filled(value: str | None) -> str | None:
    """The value when it is not blank (whitespace-only text counts as empty), else None."""
    return value if value is not None and value.strip() else None


def is_country_code(value: str) -> bool:
    """A stored country must be an upper-case ISO 3166-1 alpha-2 code ("DE", not "de" or "Germany")."""
    return len(value) == 2 and value.isupper() and country_name(value) is not None


class _Validators:
    """Validator results cached for one run: switchboard numbers, shared role addresses and a company's
    few domains repeat a lot, and a dict look-up is far cheaper than a parse. The caches are per run so a
    long-lived worker does not keep yesterday's values."""

    def __init__(self, maxsize: int = 65_536) -> None:
        self.email: Callable[[str], EmailInfo] = lru_cache(maxsize=maxsize)(email_info)
        # normalize_phone and normalize_domain are already lru-cached by the normalize package.

    @staticmethod
    def phone_reason(value: str, country: str | None) -> str | None:
        result = normalize_phone(value, country)
        return None if result.valid else (result.reason or "not valid")

    @staticmethod
    def domain_reason(value: str) -> str | None:
        info = normalize_domain(value)
        return None if info.valid else (info.reason or "not valid")


# --- the scorers ---------------------------------------------------------------------------------


@dataclass
class _Accumulator:
    """Counters for one entity, fed one record at a time."""

    entity: str
    fields: Sequence[str]
    validated: frozenset[str]
    cutoff: datetime
    fresh_days: int
    worst_limit: int
    records: int = 0
    fresh: int = 0
    present: list[int] = field(default_factory=list)
    valid: list[int] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    # hash(match key) -> records with it. A 64-bit hash instead of the key keeps the map small at a million
    # records; the chance of two different keys colliding there is about 3 in 100 million.
    keys: dict[int, int] = field(default_factory=dict)
    # Max-heap (negated) of the worst records kept so far: (-score, -id, row, statuses, key hash).
    heap: list[tuple[float, int, Any, tuple[int, ...], int | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.fields)
        self.present, self.valid, self.checked = [0] * n, [0] * n, [0] * n

    def add(self, row: Any, statuses: tuple[int, ...], key: str | None, updated_at: datetime | None) -> None:
        self.records += 1
        ok = 0
        for i, status in enumerate(statuses):
            if status == MISSING:
                continue
            self.present[i] += 1
            if self.fields[i] in self.validated:
                self.checked[i] += 1
                if status == OK:
                    self.valid[i] += 1
            if status == OK:
                ok += 1
        if updated_at is not None and ensure_utc(updated_at) >= self.cutoff:
            self.fresh += 1
        key_hash = None
        if key is not None:
            key_hash = hash(key)
            self.keys[key_hash] = self.keys.get(key_hash, 0) + 1
        if ok == len(statuses) or self.worst_limit <= 0:
            return  # a record with every field present and valid is nobody's worst offender
        entry = (-ok / len(statuses), -row.id, row, statuses, key_hash)
        if len(self.heap) < self.worst_limit:
            heapq.heappush(self.heap, entry)
        elif entry[:2] > self.heap[0][:2]:  # lower score, or same score and older id: keep it instead
            heapq.heapreplace(self.heap, entry)

    def result(self, describe: Callable[[Any, tuple[int, ...], int], RecordIssue]) -> EntityScores:
        fields = tuple(
            FieldScore(
                name,
                self.records,
                self.present[i],
                self.checked[i],
                self.valid[i],
                name in self.validated,
            )
            for i, name in enumerate(self.fields)
        )
        duplicates = sum(count for count in self.keys.values() if count > 1)
        worst = sorted(self.heap, key=lambda e: (-e[0], -e[1]))
        issues = tuple(describe(row, statuses, self.keys.get(h, 0) - 1 if h is not None else 0)
                       for _, _, row, statuses, h in worst)  # fmt: skip
        return EntityScores(self.entity, self.records, fields, duplicates, self.fresh, self.fresh_days, issues)


def _cutoff(today: date, fresh_days: int) -> datetime:
    """Updated on or after this instant counts as fresh: the start (UTC) of the day ``fresh_days`` ago."""
    return datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=fresh_days)


def _contact_key(row: ContactRow, info: EmailInfo | None) -> str | None:
    """Who this contact is, for uniqueness: the email's match key, or without a valid email the folded
    name plus the company key. A name alone or a company alone says too little to call two records one."""
    if info is not None and info.match_key:
        return "e:" + info.match_key
    name = " ".join(fold(part) for part in (row.first_name, row.last_name) if part and part.strip())
    company = company_match_key(row.company_name) if row.company_name else ""
    if name and company:
        return f"n:{name}|{company}"
    return None


def _stale_problem(updated_at: datetime | None, cutoff: datetime, fresh_days: int) -> list[str]:
    if updated_at is None:
        return ["never updated"]
    if ensure_utc(updated_at) < cutoff:
        return [f"not updated in {fresh_days} days (last on {ensure_utc(updated_at).date().isoformat()})"]
    return []


def _field_problems(fields: Sequence[str], statuses: tuple[int, ...], reason: Callable[[str], str]) -> list[str]:
    out: list[str] = []
    for name, status in zip(fields, statuses, strict=True):
        if status == MISSING:
            out.append(f"{name} is missing")
        elif status == INVALID:
            out.append(reason(name))
    return out


def score_contacts(
    rows: Iterable[ContactRow],
    *,
    today: date,
    fresh_days: int = DEFAULT_FRESH_DAYS,
    worst_limit: int = WORST_LIMIT,
) -> EntityScores:
    """Scores of a stream of contacts (pure: no database, so tests hand it rows)."""
    v = _Validators()
    cutoff = _cutoff(today, fresh_days)
    acc = _Accumulator("contact", CONTACT_FIELDS, frozenset(VALIDATED_FIELDS["contact"]), cutoff, fresh_days,
                       worst_limit)  # fmt: skip
    for row in rows:
        info = None
        email, country, phone = _filled(row.email), _filled(row.country), _filled(row.phone)
        if email is None:
            s_email = MISSING
        else:
            info = v.email(email)
            s_email = OK if info.valid else INVALID
        s_country = MISSING if country is None else OK if is_country_code(country) else INVALID
        # A phone without a country code is read in the contact's country, as the write paths read it.
        s_phone = MISSING if phone is None else OK if v.phone_reason(phone, country) is None else INVALID
        statuses = (
            s_email,
            MISSING if _empty(row.first_name) else OK,
            MISSING if _empty(row.last_name) else OK,
            MISSING if _empty(row.title) else OK,
            MISSING if _empty(row.company_name) else OK,
            s_country,
            s_phone,
            MISSING if row.account_id is None else OK,
        )
        acc.add(row, statuses, _contact_key(row, info), row.updated_at)

    def reason(row: ContactRow) -> Callable[[str], str]:
        def why(name: str) -> str:
            if name == "email":
                return f"email {row.email!r} is not valid: {v.email(row.email or '').reason}"
            if name == "phone":
                return f"phone {row.phone!r} is {v.phone_reason(row.phone or '', _filled(row.country))}"
            return f"country {row.country!r} is not an ISO 3166-1 alpha-2 code"

        return why

    def describe(row: ContactRow, statuses: tuple[int, ...], others: int) -> RecordIssue:
        problems = _field_problems(CONTACT_FIELDS, statuses, reason(row))
        if others > 0:
            what = "email" if statuses[0] == OK else "name and company"
            problems.append(f"shares its {what} with {others} other contact{'s' if others > 1 else ''}")
        problems += _stale_problem(row.updated_at, cutoff, fresh_days)
        label = " ".join(p for p in (row.first_name, row.last_name) if p) or row.email or f"Contact {row.id}"
        score = sum(s == OK for s in statuses) / len(statuses)
        return RecordIssue("contact", row.id, label, score, tuple(problems))

    return acc.result(describe)


def score_accounts(
    rows: Iterable[AccountRow],
    *,
    today: date,
    fresh_days: int = DEFAULT_FRESH_DAYS,
    worst_limit: int = WORST_LIMIT,
) -> EntityScores:
    """Scores of a stream of accounts; two accounts are one company when they share a registered domain."""
    v = _Validators()
    cutoff = _cutoff(today, fresh_days)
    acc = _Accumulator("account", ACCOUNT_FIELDS, frozenset(VALIDATED_FIELDS["account"]), cutoff, fresh_days,
                       worst_limit)  # fmt: skip
    for row in rows:
        key = None
        domain, country = _filled(row.domain), _filled(row.country)
        if domain is None:
            s_domain = MISSING
        else:
            info = normalize_domain(domain)
            s_domain = OK if info.valid else INVALID
            key = info.registered_domain
        s_country = MISSING if country is None else OK if is_country_code(country) else INVALID
        statuses = (
            MISSING if _empty(row.name) else OK,
            s_domain,
            MISSING if _empty(row.industry) else OK,
            MISSING if row.employee_count is None else OK,
            s_country,
        )
        acc.add(row, statuses, key, row.updated_at)

    def describe(row: AccountRow, statuses: tuple[int, ...], others: int) -> RecordIssue:
        def why(name: str) -> str:
            if name == "domain":
                return f"domain {row.domain!r} is not valid: {v.domain_reason(row.domain or '')}"
            return f"country {row.country!r} is not an ISO 3166-1 alpha-2 code"

        problems = _field_problems(ACCOUNT_FIELDS, statuses, why)
        if others > 0:
            problems.append(f"shares its registered domain with {others} other account{'s' if others > 1 else ''}")
        problems += _stale_problem(row.updated_at, cutoff, fresh_days)
        label = row.name or row.domain or f"Account {row.id}"
        score = sum(s == OK for s in statuses) / len(statuses)
        return RecordIssue("account", row.id, label, score, tuple(problems))

    return acc.result(describe)


# --- reading the database ------------------------------------------------------------------------


def _stream(session: Session, model: Any, columns: Sequence[Any], batch_size: int) -> Iterator[Any]:
    """Rows of ``columns`` in id order, one keyset batch at a time.

    Keyset batches (``WHERE id > last ORDER BY id LIMIT n``) instead of one server-side cursor: each is a
    short index range scan, memory stays at one batch, and it behaves the same on SQLite and PostgreSQL.
    """
    last = 0
    while True:
        stmt = select(*columns).where(model.id > last).order_by(model.id).limit(batch_size)
        batch = session.execute(stmt).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def _contact_rows(session: Session, batch_size: int) -> Iterator[ContactRow]:
    c = Contact
    cols = (c.id, c.email, c.first_name, c.last_name, c.title, c.company_name, c.country, c.phone, c.account_id,
            c.updated_at)  # fmt: skip
    return (ContactRow(*r) for r in _stream(session, c, cols, batch_size))


def _account_rows(session: Session, batch_size: int) -> Iterator[AccountRow]:
    a = Account
    cols = (a.id, a.name, a.domain, a.industry, a.employee_count, a.country, a.updated_at)
    return (AccountRow(*r) for r in _stream(session, a, cols, batch_size))


def compute(
    session: Session,
    *,
    today: date,
    fresh_days: int = DEFAULT_FRESH_DAYS,
    worst_limit: int = WORST_LIMIT,
    batch_size: int = BATCH_SIZE,
) -> tuple[EntityScores, EntityScores]:
    """Contacts' and accounts' scores, read from the database without storing anything."""
    contacts = score_contacts(_contact_rows(session, batch_size), today=today, fresh_days=fresh_days,
                              worst_limit=worst_limit)  # fmt: skip
    accounts = score_accounts(_account_rows(session, batch_size), today=today, fresh_days=fresh_days,
                              worst_limit=worst_limit)  # fmt: skip
    return contacts, accounts


def snapshot_rows(scores: EntityScores, taken_on: date) -> list[dict[str, Any]]:
    """The ``quality_snapshots`` rows of one entity; measures that could not be taken are left out.

    ``records`` is each share's denominator: the records for dataset measures and completeness, the
    values checked for a field's validity.
    """
    rows: list[dict[str, Any]] = []

    def add(field_name: str, metric: str, value: float | None, records: int) -> None:
        if value is not None:
            rows.append({"taken_on": taken_on, "entity": scores.entity, "field": field_name, "metric": metric,
                         "value": value, "records": records})  # fmt: skip

    for metric, value in scores.metrics().items():
        add("", metric, value, scores.records)
    for f in scores.fields:
        add(f.field, "completeness", f.completeness, f.records)
        add(f.field, "validity", f.validity, f.checked)
    return rows


def take_snapshot(
    session: Session,
    *,
    today: date | None = None,
    fresh_days: int = DEFAULT_FRESH_DAYS,
    worst_limit: int = WORST_LIMIT,
    batch_size: int = BATCH_SIZE,
) -> Snapshot:
    """Compute every score and store today's values, replacing any taken earlier the same day.

    Replacing is a delete of the day's rows and an insert in the caller's transaction: the day ends up with
    exactly the measures of the last run (a measure that can no longer be taken disappears too), never
    duplicates, and a reader sees either the old set or the new one. The caller commits.
    """
    started = time.perf_counter()
    day = today or utcnow().date()
    entities = compute(session, today=day, fresh_days=fresh_days, worst_limit=worst_limit, batch_size=batch_size)
    rows = [row for scores in entities for row in snapshot_rows(scores, day)]
    session.execute(delete(QualitySnapshot).where(QualitySnapshot.taken_on == day))
    if rows:
        session.execute(insert(QualitySnapshot), rows)
    session.flush()
    return Snapshot(day, entities, len(rows), time.perf_counter() - started)


@task("quality.snapshot")
def snapshot_task(session: Session, payload: dict[str, Any]) -> None:
    """Queue handler, for a daily schedule: ``{"today": "2025-01-31", "fresh_days": 180}``, both optional."""
    today = date.fromisoformat(payload["today"]) if payload.get("today") else None
    take_snapshot(session, today=today, fresh_days=int(payload.get("fresh_days", DEFAULT_FRESH_DAYS)))


def trend(
    session: Session, entity: str, metric: str = "overall", days: int = 90, *, today: date | None = None
) -> list[TrendPoint]:
    """The dataset-level ``metric`` of ``entity`` per day over the last ``days`` days, oldest first."""
    end = today or utcnow().date()
    q = QualitySnapshot
    window = (q.taken_on > end - timedelta(days=days), q.taken_on <= end)
    stmt = select(q.taken_on, q.value, q.records).where(q.entity == entity, q.metric == metric, q.field == "", *window)
    stmt = stmt.order_by(q.taken_on)
    return [TrendPoint(r.taken_on, r.value, r.records) for r in session.execute(stmt)]


def worst_records(
    session: Session,
    entity: str,
    limit: int = WORST_LIMIT,
    *,
    today: date | None = None,
    fresh_days: int = DEFAULT_FRESH_DAYS,
) -> list[RecordIssue]:
    """The ``limit`` records with the lowest record scores (ties: lowest id first), with their problems."""
    day = today or utcnow().date()
    if entity == "contact":
        scores = score_contacts(_contact_rows(session, BATCH_SIZE), today=day, fresh_days=fresh_days,
                                worst_limit=limit)  # fmt: skip
    elif entity == "account":
        scores = score_accounts(_account_rows(session, BATCH_SIZE), today=day, fresh_days=fresh_days,
                                worst_limit=limit)  # fmt: skip
    else:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    return list(scores.worst)


def report(
    session: Session,
    *,
    snapshot: Snapshot | None = None,
    today: date | None = None,
    fresh_days: int = DEFAULT_FRESH_DAYS,
    worst_limit: int = 20,
    trend_days: int = 90,
) -> QualityReport:
    """Current scores (those of ``snapshot`` when given, so the CLI does not scan twice; otherwise computed
    now without storing), the overall score's daily trend per entity and the worst records."""
    started = time.perf_counter()
    day = snapshot.taken_on if snapshot else (today or utcnow().date())
    if snapshot is not None:
        entities = tuple(_trim_worst(e, worst_limit) for e in snapshot.entities)
    else:
        entities = compute(session, today=day, fresh_days=fresh_days, worst_limit=worst_limit)
    trends = {e: trend(session, e, "overall", trend_days, today=day) for e in ENTITIES}
    last = session.scalar(select(QualitySnapshot.taken_on).order_by(QualitySnapshot.taken_on.desc()).limit(1))
    return QualityReport(utcnow(), day, tuple(entities), trends, last, time.perf_counter() - started)


def _trim_worst(scores: EntityScores, limit: int) -> EntityScores:
    return EntityScores(scores.entity, scores.records, scores.fields, scores.duplicates, scores.fresh,
                        scores.fresh_days, scores.worst[:limit])  # fmt: skip


# --- the CLI's view ------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal; an em dash when it could not be measured."""
    return "—" if value is None else f"{value * 100:.1f}%"


def render_report(report: QualityReport, console: Console) -> None:
    """Print the report as Rich tables: dataset measures, per-field scores, worst offenders."""
    dataset = Table(title=f"Data quality on {report.today.isoformat()}", title_justify="left")
    dataset.add_column("Dataset")
    dataset.add_column("Records", justify="right")
    for metric in (*METRICS, "overall"):
        dataset.add_column(metric.capitalize(), justify="right")
    for e in report.entities:
        m = e.metrics()
        dataset.add_row(f"{e.entity}s", f"{e.records:,}", *(pct(m[k]) for k in (*METRICS, "overall")))
    console.print(dataset)

    for e in report.entities:
        fields = Table(title=f"{e.entity.capitalize()} fields", title_justify="left")
        fields.add_column("Field")
        fields.add_column("Filled", justify="right")
        fields.add_column("Completeness", justify="right")
        fields.add_column("Valid / checked", justify="right")
        fields.add_column("Validity", justify="right")
        for f in e.fields:
            checked = f"{f.valid:,} / {f.checked:,}" if f.has_validator else "not validated"
            fields.add_row(f.field, f"{f.present:,}", pct(f.completeness), checked, pct(f.validity))
        console.print(fields)

    for e in report.entities:
        if not e.worst:
            console.print(f"No {e.entity} has a missing or invalid important field.")
            continue
        worst = Table(title=f"Worst {e.entity}s", title_justify="left")
        worst.add_column("Id", justify="right")
        worst.add_column("Record")
        worst.add_column("Score", justify="right")
        worst.add_column("Problems")
        for issue in e.worst:
            worst.add_row(str(issue.id), issue.label, pct(issue.score), "; ".join(issue.problems))
        console.print(worst)
    if report.last_snapshot_on is None:
        console.print("No snapshot stored yet: these scores were computed now and not recorded.")
