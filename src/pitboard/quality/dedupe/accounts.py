"""Account deduplication: the same company entered twice.

* Deterministic: the same registered domain ("www.acme.com", "acme.com/about", "shop.acme.com" all
  belong to acme.com) is one company. Sub-domains count as the same company here: for dedupe a
  reviewer would rather see uk.acme.com next to acme.com than miss it; the pair says which rule fired.
* Fuzzy: the same company match key ("Acme Inc." = "ACME, Inc" = "acme") in the same country, or a
  key within Jaro-Winkler ≥ 0.95 of it (a typo) in the same country, goes to review unless the
  domains say otherwise: two accounts with *different* registered domains are only flagged, never
  auto-merged, because "Acme" in Ohio and "Acme" in Texas are often two companies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models.contacts import Account
from pitboard.quality.dedupe.cluster import UnionFind
from pitboard.quality.dedupe.engine import Band
from pitboard.quality.dedupe.strings import jaro_winkler
from pitboard.quality.normalize import company_match_key, normalize_domain

__all__ = ["AccountPair", "AccountRow", "dedupe_accounts", "load_accounts"]

AccountRow = tuple[int, str | None, str | None, str | None]  # (id, name, domain, country)
_MAX_BLOCK = 200  # a key shared by more accounts than this ("consulting") is no evidence; skipped
_SIMILAR = 0.95


@dataclass(frozen=True)
class AccountPair:
    left_id: int
    right_id: int
    band: Band
    explanation: tuple[str, ...]


@dataclass(frozen=True)
class _Account:
    id: int
    name: str
    key: str
    domain: str | None
    country: str | None


def load_accounts(session: Session, *, batch: int = 50_000) -> list[AccountRow]:
    rows: list[AccountRow] = []
    last_id = 0
    while True:
        chunk = session.execute(
            select(Account.id, Account.name, Account.domain, Account.country)
            .where(Account.id > last_id)
            .order_by(Account.id)
            .limit(batch)
        ).all()
        if not chunk:
            return rows
        rows.extend((r[0], r[1], r[2], r[3]) for r in chunk)
        last_id = chunk[-1][0]


def _prepare(rows: Iterable[AccountRow]) -> list[_Account]:
    out: list[_Account] = []
    for account_id, name, domain, country in rows:
        registered = normalize_domain(domain).registered_domain if domain else None
        out.append(_Account(account_id, name or "", company_match_key(name) if name else "", registered, country))
    return out


def _explain_domain(a: _Account, b: _Account) -> tuple[str, ...]:
    return (f"domain: same registered domain {a.domain}", f"name: {a.name!r} / {b.name!r}")


def _explain_name(a: _Account, b: _Account, similarity: float) -> tuple[str, ...]:
    name = "same after normalisation" if a.key == b.key else f"{a.key}~{b.key} similar ({similarity:.2f})"
    if a.domain and b.domain:
        domain = f"different registered domains {a.domain} / {b.domain}" if a.domain != b.domain else "same"
    else:
        domain = "missing on one side"
    return (f"name: {name}", f"country: {a.country or 'missing'}", f"domain: {domain}")


def _domain_pairs(accounts: Sequence[_Account]) -> dict[tuple[int, int], AccountPair]:
    by_domain: dict[str, list[_Account]] = {}
    for account in accounts:
        if account.domain:
            by_domain.setdefault(account.domain, []).append(account)
    out: dict[tuple[int, int], AccountPair] = {}
    for group in by_domain.values():
        for a, b in combinations(group, 2):
            out[(a.id, b.id)] = AccountPair(a.id, b.id, "auto_merge", _explain_domain(a, b))
    return out


def _name_pairs(accounts: Sequence[_Account]) -> dict[tuple[int, int], AccountPair]:
    # Block on (country, first 3 letters of the key): typos after the third letter stay in the block.
    blocks: dict[tuple[str, str], list[_Account]] = {}
    for account in accounts:
        if account.key and account.country:
            blocks.setdefault((account.country, account.key[:3]), []).append(account)
    out: dict[tuple[int, int], AccountPair] = {}
    for group in blocks.values():
        if len(group) > _MAX_BLOCK:
            continue
        for a, b in combinations(group, 2):
            similarity = 1.0 if a.key == b.key else jaro_winkler(a.key, b.key)
            if similarity < _SIMILAR:
                continue
            conflicting_domains = bool(a.domain and b.domain and a.domain != b.domain)
            band: Band = "auto_merge" if a.key == b.key and not conflicting_domains else "review"
            out[(a.id, b.id)] = AccountPair(a.id, b.id, band, _explain_name(a, b, similarity))
    return out


def dedupe_accounts(rows: Iterable[AccountRow]) -> tuple[list[AccountPair], list[list[int]]]:
    """Pairs of duplicate accounts (domain rule first) and clusters of their auto-merge band."""
    accounts = sorted(_prepare(rows), key=lambda a: a.id)
    pairs = _name_pairs(accounts)
    pairs.update(_domain_pairs(accounts))  # the deterministic rule wins where both fire
    index = {a.id: i for i, a in enumerate(accounts)}
    sets = UnionFind(len(accounts))
    for pair in pairs.values():
        if pair.band == "auto_merge":
            sets.union(index[pair.left_id], index[pair.right_id])
    groups: dict[int, list[int]] = {}
    for account in accounts:
        groups.setdefault(sets.find(index[account.id]), []).append(account.id)
    clusters = [g for g in groups.values() if len(g) > 1]
    return sorted(pairs.values(), key=lambda p: (p.left_id, p.right_id)), clusters
