"""Lead-to-account matching: attach each contact to the company it works for.

1. By web domain: the registered domain of the contact's email (free-mail excluded) equals an
   account's registered domain.
2. Else by company name: the contact's company match key (legal forms, case and punctuation removed)
   equals an account's, or differs by one edit (a typo), preferring the same country.
3. Ties (several accounts fit) are broken by: same country as the contact, then the account with the
   most contacts already, then the oldest account; the reason says which rule decided.

A contact that cannot be matched keeps no account and says why (``account_match = 'unmatched'`` and a
reason), so the unassigned are visible and fixable rather than silently dropped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from pitboard.models import Account, Contact
from pitboard.quality.normalize import company_match_key, email_info
from pitboard.quality.normalize.domains import registered_domain

BATCH = 5_000


@dataclass(frozen=True)
class AccountRef:
    id: int
    name: str
    country: str | None
    contacts: int


@dataclass(frozen=True)
class Match:
    account_id: int | None
    method: str  # domain, name, fuzzy_name, unmatched
    reason: str


@dataclass
class MatchSummary:
    examined: int = 0
    by_method: Counter[str] = field(default_factory=Counter)


def _deletions(key: str) -> Iterator[str]:
    """The key with each single character removed: two keys one edit apart share one of these."""
    for i in range(len(key)):
        yield key[:i] + key[i + 1 :]


class AccountIndex:
    """Accounts by registered domain, by company key, and by one-deletion neighbours of the key."""

    def __init__(self, accounts: Iterable[tuple[int, str, str | None, str | None, int]]) -> None:
        self.by_domain: dict[str, list[AccountRef]] = defaultdict(list)
        self.by_key: dict[str, list[AccountRef]] = defaultdict(list)
        self.by_deletion: dict[str, list[tuple[str, AccountRef]]] = defaultdict(list)
        for account_id, name, domain, country, contacts in accounts:
            ref = AccountRef(account_id, name, country, contacts)
            reg = registered_domain(domain) if domain else None
            if reg:
                self.by_domain[reg].append(ref)
            key = company_match_key(name)
            if key:
                self.by_key[key].append(ref)
                if len(key) >= 5:  # short names one edit apart are usually different companies
                    for d in {key, *_deletions(key)}:
                        self.by_deletion[d].append((key, ref))

    def fuzzy(self, key: str) -> list[AccountRef]:
        if len(key) < 5:
            return []
        found: dict[int, AccountRef] = {}
        for d in {key, *_deletions(key)}:
            for other_key, ref in self.by_deletion.get(d, []):
                if other_key != key and _one_edit(key, other_key):
                    found[ref.id] = ref
        return list(found.values())


def _one_edit(a: str, b: str) -> bool:
    """Levenshtein distance exactly one, or one swap of neighbouring letters."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _choose(candidates: list[AccountRef], country: str | None, what: str, method: str) -> Match:
    if len(candidates) == 1:
        return Match(candidates[0].id, method, f"{what} fits account {candidates[0].id} ({candidates[0].name})")
    same_country = [c for c in candidates if country and c.country == country]
    if len(same_country) == 1:
        chosen = same_country[0]
        return Match(chosen.id, method, f"{what} fits {len(candidates)} accounts; {chosen.name} is in {country}")
    pool = same_country or candidates
    chosen = sorted(pool, key=lambda c: (-c.contacts, c.id))[0]
    return Match(
        chosen.id, method,
        f"{what} fits {len(candidates)} accounts; chose {chosen.name} ({chosen.id}) with the most contacts, "
        "oldest first — these accounts may be duplicates",
    )  # fmt: skip


def match_one(index: AccountIndex, *, email: str | None, company: str | None, country: str | None) -> Match:
    """Pure: the account for one contact's email, company name and country, with the reason."""
    info = email_info(email) if email else None
    domain = info.registered_domain if info and info.valid and not info.is_free_mail else None
    if domain and index.by_domain.get(domain):
        return _choose(index.by_domain[domain], country, f"email domain {domain}", "domain")
    key = company_match_key(company)
    if key and index.by_key.get(key):
        return _choose(index.by_key[key], country, f"company name {company!r}", "name")
    if key:
        near = index.fuzzy(key)
        if near and country:
            near = [c for c in near if c.country in (country, None)] or []
        if near:
            return _choose(near, country, f"company name {company!r} (one letter off)", "fuzzy_name")
    return Match(None, "unmatched", _why_not(info, domain, company))


def _why_not(info: Any, domain: str | None, company: str | None) -> str:
    if info is not None and info.valid and info.is_free_mail and not company:
        return "free-mail address and no company name to match on"
    if not company and not domain:
        return "no business email domain and no company name to match on"
    parts = []
    if domain:
        parts.append(f"no account has the domain {domain}")
    if company:
        parts.append(f"no account is named like {company!r}")
    return "; ".join(parts)


def load_index(session: Session) -> AccountIndex:
    counts = select(Contact.account_id, func.count().label("n")).where(Contact.account_id.is_not(None))
    counts_sub = counts.group_by(Contact.account_id).subquery()
    rows = session.execute(
        select(Account.id, Account.name, func.coalesce(Account.registered_domain, Account.domain), Account.country,
               func.coalesce(counts_sub.c.n, 0)).outerjoin(counts_sub, counts_sub.c.account_id == Account.id)
    )  # fmt: skip
    return AccountIndex((r[0], r[1], r[2], r[3], int(r[4])) for r in rows)


def match_contacts(session: Session, *, rematch: bool = False) -> MatchSummary:
    """Match contacts without an account (all contacts with ``rematch``), writing account and reason."""
    index = load_index(session)
    summary = MatchSummary()
    after = 0
    stmt = update(Contact).where(Contact.id == bindparam("cid")).values(
        account_id=bindparam("aid"), account_match=bindparam("method"), account_match_reason=bindparam("reason")
    ).execution_options(synchronize_session=False)  # fmt: skip
    while True:
        q = select(Contact.id, Contact.email_normalized, Contact.company_name, Contact.country).where(
            Contact.id > after
        )
        if not rematch:
            q = q.where(Contact.account_id.is_(None))
        rows = session.execute(q.order_by(Contact.id).limit(BATCH)).all()
        if not rows:
            return summary
        params = []
        for cid, email, company, country in rows:
            m = match_one(index, email=email, company=company, country=country)
            params.append({"cid": cid, "aid": m.account_id, "method": m.method, "reason": m.reason[:300]})
            summary.by_method[m.method] += 1
        session.connection().execute(stmt, params)
        summary.examined += len(rows)
        after = rows[-1][0]
