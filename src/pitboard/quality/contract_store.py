"""Applied data contracts: ``pitboard contracts apply`` stores them; ingestion and import read them."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pitboard.audit import service as audit
from pitboard.kit.actor import Actor
from pitboard.kit.time import utcnow
from pitboard.models import DataContract
from pitboard.quality.contracts import Contract, applies, violations

_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[Any, ...], list[Contract]]] = {}


def active_contracts(session: Session) -> list[Contract]:
    """Active contracts, parsed once per change (one cheap query tells whether anything changed)."""
    stamp = tuple(
        session.execute(select(func.count(), func.max(DataContract.applied_at)).where(DataContract.active)).one()
    )
    key = str(session.get_bind().engine.url)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
    rows = session.scalars(select(DataContract).where(DataContract.active).order_by(DataContract.name))
    contracts = [Contract.model_validate(r.definition) for r in rows]
    with _cache_lock:
        _cache[key] = (stamp, contracts)
    return contracts


@dataclass(frozen=True)
class ContractChecker:
    contracts: list[Contract]

    def check(
        self, record: dict[str, Any], *, entity: str, source: str | None, now: datetime, event_name: str | None = None
    ) -> list[str]:
        problems: list[str] = []
        for contract in self.contracts:
            if applies(contract, entity=entity, source=source, event_name=event_name):
                problems.extend(violations(contract, record, now=now))
        return problems


def checker(session: Session) -> ContractChecker:
    return ContractChecker(active_contracts(session))


@dataclass(frozen=True)
class ApplyResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deactivated: list[str]


def _checksum(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def apply_contracts(session: Session, contracts: list[Contract], *, actor: Actor, dry_run: bool = False) -> ApplyResult:
    """Make the stored contracts equal to ``contracts``: new ones added, changed ones versioned,
    missing ones deactivated (kept, so old quarantine reasons stay explainable)."""
    actor.require("admin")
    existing = {c.name: c for c in session.scalars(select(DataContract))}
    created, updated, unchanged = [], [], []
    now = utcnow()
    for contract in contracts:
        definition = contract.model_dump(mode="json", exclude_none=True)
        checksum = _checksum(definition)
        row = existing.pop(contract.name, None)
        if row is None:
            created.append(contract.name)
            if not dry_run:
                session.add(DataContract(name=contract.name, entity=contract.entity, source=contract.source,
                                         definition=definition, checksum=checksum, version=1, active=True,
                                         applied_at=now))  # fmt: skip
        elif row.checksum != checksum or not row.active:
            updated.append(contract.name)
            if not dry_run:
                row.definition, row.checksum, row.entity, row.source = (
                    definition,
                    checksum,
                    contract.entity,
                    contract.source,
                )
                row.version, row.active, row.applied_at = row.version + 1, True, now
        else:
            unchanged.append(contract.name)
    deactivated = [name for name, row in existing.items() if row.active]
    if not dry_run:
        for name in deactivated:
            existing[name].active = False
            existing[name].applied_at = now
        if created or updated or deactivated:
            audit.record(session, actor=actor, action="apply", entity_type="data_contracts", entity_id="*",
                         changes={"created": [None, created], "updated": [None, updated],
                                  "deactivated": [None, deactivated]})  # fmt: skip
        session.flush()
    return ApplyResult(created, updated, unchanged, deactivated)
