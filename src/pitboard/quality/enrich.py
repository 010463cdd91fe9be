"""Enrichment: fill in firmographics from a provider without ever overwriting a better value.

Every value an account holds can carry its source in ``field_sources`` ({field: {"source", "at"}}).
Sources are ranked (a person's own entry beats a CRM import, which beats a provider, which beats what a
tracking call implied); a provider may fill an empty field or replace a value from a lower-ranked
source, and never replaces a value with an empty one. Providers plug in through :class:`Provider`;
:class:`FileProvider` reads a local firmographics file, so enrichment works offline.
"""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import Account
from pitboard.quality.normalize import normalize_country
from pitboard.quality.normalize.domains import registered_domain

FIELDS = ("name", "industry", "employee_count", "annual_revenue", "country")
# Higher wins. Unknown sources (rows from before sources were recorded) rank with imports.
SOURCE_RANK = {"web": 100, "api": 90, "cli": 90, "import": 70, "enrichment": 50, "tracking": 30}
UNKNOWN_RANK = 70


def source_rank(source: str | None) -> int:
    if not source:
        return UNKNOWN_RANK
    return SOURCE_RANK.get(source.split(":", 1)[0], UNKNOWN_RANK)


def stamp(field_sources: dict[str, Any], fields: Iterable[str], source: str) -> dict[str, Any]:
    """``field_sources`` with ``fields`` now coming from ``source``."""
    at = utcnow().isoformat()
    return {**field_sources, **{f: {"source": source, "at": at} for f in fields}}


@dataclass(frozen=True)
class Firmographics:
    name: str | None = None
    industry: str | None = None
    employee_count: int | None = None
    annual_revenue: Decimal | None = None
    country: str | None = None


class Provider(ABC):
    """One source of firmographics, looked up by registered web domain."""

    name: str

    @abstractmethod
    def lookup(self, domains: list[str]) -> dict[str, Firmographics]: ...


class FileProvider(Provider):
    """A CSV with columns domain, name, industry, employee_count, annual_revenue, country."""

    def __init__(self, path: Path, name: str = "file") -> None:
        self.name = name
        self._rows = self._load(path)

    @staticmethod
    def _load(path: Path) -> dict[str, Firmographics]:
        try:
            handle = path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ValidationFailed(f"cannot read firmographics file {path}: {exc}") from exc
        rows: dict[str, Firmographics] = {}
        with handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "domain" not in reader.fieldnames:
                raise ValidationFailed(f"{path} needs a 'domain' column")
            for row in reader:
                domain = registered_domain(row.get("domain"))
                if domain:
                    rows[domain] = Firmographics(
                        name=(row.get("name") or "").strip() or None,
                        industry=(row.get("industry") or "").strip() or None,
                        employee_count=_int(row.get("employee_count")),
                        annual_revenue=_decimal(row.get("annual_revenue")),
                        country=normalize_country(row.get("country") or ""),
                    )
        return rows

    def lookup(self, domains: list[str]) -> dict[str, Firmographics]:
        return {d: self._rows[d] for d in domains if d in self._rows}


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).replace(",", "").strip()) if text and str(text).strip() else None
    except ValueError:
        return None


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(str(text).replace(",", "").strip()) if text and str(text).strip() else None
    except InvalidOperation:
        return None


@dataclass
class EnrichSummary:
    accounts_seen: int = 0
    accounts_found: int = 0
    fields_filled: Counter[str] = field(default_factory=Counter)
    fields_kept: Counter[str] = field(default_factory=Counter)  # provider had a value; ours ranked higher


def enrich_account(account: Account, facts: Firmographics, provider: str) -> tuple[list[str], list[str]]:
    """Apply ``facts`` where the provider outranks what the account has; returns (filled, kept)."""
    source = f"enrichment:{provider}"
    filled, kept = [], []
    sources = account.field_sources or {}
    for name in FIELDS:
        new = getattr(facts, name)
        if new is None:
            continue
        current = getattr(account, name)
        current_source = (sources.get(name) or {}).get("source")
        if current in (None, "") or source_rank(source) > source_rank(current_source):
            if current != new:
                setattr(account, name, new)
                filled.append(name)
        elif current != new:
            kept.append(name)
    if filled:
        account.field_sources = stamp(sources, filled, source)
    return filled, kept


def enrich_accounts(session: Session, provider: Provider, *, actor: Actor, batch: int = 1_000) -> EnrichSummary:
    actor.require("editor")
    summary = EnrichSummary()
    after = 0
    while True:
        accounts = list(session.scalars(select(Account).where(Account.id > after).order_by(Account.id).limit(batch)))
        if not accounts:
            break
        domains = {a.id: registered_domain(a.registered_domain or a.domain) for a in accounts}
        found = provider.lookup(sorted({d for d in domains.values() if d}))
        for account in accounts:
            summary.accounts_seen += 1
            facts = found.get(domains[account.id] or "")
            if facts is None:
                continue
            summary.accounts_found += 1
            filled, kept = enrich_account(account, facts, provider.name)
            summary.fields_filled.update(filled)
            summary.fields_kept.update(kept)
            if filled:
                audit.record(session, actor=actor, action="enrich", entity_type="account", entity_id=account.id,
                             changes={f: [None, str(getattr(account, f))] for f in filled})  # fmt: skip
        session.flush()
        after = accounts[-1].id
    return summary
