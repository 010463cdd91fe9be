"""Routing leads: evaluate the flow's rules, pick the owner under the pools' locks, record the decision.

Concurrency (the part that has to be right): every router takes its locks in one global order — the
contacts it routes (by id), then the pools it needs (by id), then the sales users of those pools (by id) —
all at once, before deciding. On PostgreSQL these are ``SELECT ... FOR UPDATE`` row locks, so two routers
that need the same pool run one after the other and the second sees the first one's counters; ordering the
locks means they can wait for each other but never deadlock. Locking the contact rows and re-reading their
routing state after the lock is what makes a double assignment impossible (``routing_leads.contact_id`` is
also unique). SQLite needs none of it: every transaction holds the single write lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from pitboard.conditions import CompileContext, Condition, FieldCondition, compile_condition, load_field_registry
from pitboard.conditions.facts import walk
from pitboard.kit.actor import Actor
from pitboard.kit.time import ensure_utc, utcnow
from pitboard.logging import get_logger
from pitboard.models import Account, Contact, ProjectVersion, SalesUser
from pitboard.models.routing import (
    RoutingDecision,
    RoutingLead,
    RoutingOutOfOffice,
    RoutingPool,
    RoutingPoolMember,
)
from pitboard.routing.decide import WINDOWS, Member, Rep, choose, record_assignment, rep_label, unavailable
from pitboard.routing.schemas import PoolSpec, RoutingFile, RuleSpec, validate_flow

log = get_logger(__name__)

WORKER = Actor(name="routing", interface="worker", role="admin")
MANIFEST_KEY = "routing.yml"
# Routing states that automatic routing leaves alone; "unassigned" leads are retried when they change.
SETTLED = ("assigned", "queued", "rejected")
OPEN_LEAD = and_(RoutingLead.status == "assigned", RoutingLead.disposition.is_(None))
BATCH = 1000


@dataclass(frozen=True)
class Flow:
    spec: RoutingFile
    checksum: str
    version: int | None


@dataclass
class Outcome:
    contact_id: int
    outcome: str  # assigned, queued, unassigned, skipped
    reason: str
    owner_id: int | None = None
    queue: str | None = None
    rule: str | None = None
    pool_key: str | None = None


# --- the applied flow ---------------------------------------------------------------------------------

_cache: dict[tuple[Any, ...], Flow | None] = {}
_lock = threading.Lock()


def current_flow(session: Session) -> Flow | None:
    """The applied ``routing.yml`` (latest project version), parsed once per version; None without one."""
    row = session.execute(
        select(ProjectVersion.id, ProjectVersion.checksum, ProjectVersion.version)
        .order_by(ProjectVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    registry = load_field_registry(session)
    key = (str(session.get_bind().engine.url), int(row[0]), str(row[1]),
           tuple(sorted(registry.contact_custom.items())), tuple(sorted(registry.account_custom.items())))  # fmt: skip
    with _lock:
        if key in _cache:
            return _cache[key]
    manifest = session.scalar(select(ProjectVersion.manifest).where(ProjectVersion.id == row[0])) or {}
    data = manifest.get(MANIFEST_KEY)
    flow: Flow | None = None
    if data is not None:
        try:
            flow = Flow(validate_flow(data, registry), str(row[1]), int(row[2]))
        except Exception as exc:  # a stale flow must not make contact writes fail
            log.warning("the applied routing flow no longer validates; routing is paused", error=str(exc))
    with _lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = flow
    return flow


# --- routing ------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    contact_id: int
    rules: list[dict[str, Any]] = field(default_factory=list)
    rule: RuleSpec | None = None
    owner_id: int | None = None  # account owner
    note: str = ""


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _matching(session: Session, condition: Condition | None, ids: list[int], now: datetime) -> set[int]:
    if condition is None or not ids:
        return set(ids)
    expr = compile_condition(condition, CompileContext.for_session(session, now=now))
    return set(session.scalars(select(Contact.id).where(Contact.id.in_(ids), expr)))


def _referenced_fields(flow: RoutingFile) -> list[str]:
    out: list[str] = []
    for rule in flow.rules:
        if rule.when is None:
            continue
        for node in walk(rule.when):
            if isinstance(node, FieldCondition) and node.field not in out:
                out.append(node.field)
    return out


def _missing_fields(session: Session, flow: RoutingFile, ids: list[int]) -> dict[int, list[str]]:
    """For the "no rule matched" reason: which fields the rules read are empty on each contact."""
    fields = [f for f in _referenced_fields(flow) if "." not in f and hasattr(Contact, f)]
    account_fields = [f.removeprefix("account.") for f in _referenced_fields(flow) if f.startswith("account.")]
    account_fields = [f for f in account_fields if "." not in f and hasattr(Account, f)]
    if not ids or not (fields or account_fields):
        return {}
    columns = [getattr(Contact, f) for f in fields] + [getattr(Account, f) for f in account_fields]
    stmt = select(Contact.id, *columns).outerjoin(Account, Account.id == Contact.account_id)
    out: dict[int, list[str]] = {}
    names = fields + [f"account.{f}" for f in account_fields]
    for row in session.execute(stmt.where(Contact.id.in_(ids))):
        out[int(row[0])] = [name for name, value in zip(names, row[1:], strict=True) if value is None or value == ""]
    return out


def _match_accounts(session: Session, contacts: dict[int, Any], *, write: bool = True) -> dict[int, tuple[int, str]]:
    """Lead-to-account matching for contacts without an account (by email domain, as the importer's
    matcher does): contact id → (account id, reason). Writes the match onto the contact."""
    from pitboard.quality.account_match import AccountIndex, match_one
    from pitboard.quality.normalize.domains import registered_domain

    wanted = {
        cid: registered_domain(c.email_domain) for cid, c in contacts.items() if c.email_domain and not c.is_free_mail
    }
    domains = {d for d in wanted.values() if d}
    if not domains:
        return {}
    rows = session.execute(
        select(
            Account.id, Account.name, func.coalesce(Account.registered_domain, Account.domain), Account.country
        ).where(func.coalesce(Account.registered_domain, Account.domain).in_(domains))
    ).all()
    if not rows:
        return {}
    index = AccountIndex((r[0], r[1], r[2], r[3], 0) for r in rows)
    out: dict[int, tuple[int, str]] = {}
    for cid in wanted:
        c = contacts[cid]
        m = match_one(index, email=c.email_normalized, company=None, country=c.country)
        if m.account_id is not None:
            out[cid] = (m.account_id, m.reason)
    if out and write:
        stmt = update(Contact).where(Contact.id == bindparam("cid")).values(
            account_id=bindparam("aid"), account_match="domain", account_match_reason=bindparam("why"))  # fmt: skip
        session.connection().execute(
            stmt.execution_options(synchronize_session=False),
            [{"cid": cid, "aid": aid, "why": why[:300]} for cid, (aid, why) in out.items()],
        )
    return out


def route_contacts(
    session: Session,
    contact_ids: Iterable[int],
    *,
    trigger: str,
    actor: Actor = WORKER,
    now: datetime | None = None,
    force: bool = False,
    exclude_owner: bool = False,
    notify: bool = True,
    flow: Flow | None = None,
    write_contacts: bool = True,
) -> list[Outcome]:
    """Route these contacts with the applied flow (or ``flow``); returns one outcome per contact.

    Without ``force`` only contacts that need routing are routed: never routed, or unassigned before, with
    no owner from elsewhere, matching ``routable``. ``force`` re-routes whatever their state (``exclude_owner``
    keeps the current owner out of the candidates: the SLA's re-route step). ``write_contacts=False`` leaves
    contacts' owner and account as they are (only the demo history uses it).
    """
    now = ensure_utc(now) if now is not None else utcnow()
    flow = flow or current_flow(session)
    ids = sorted({int(i) for i in contact_ids})
    if flow is None or not ids:
        return [Outcome(cid, "skipped", "no routing flow is applied") for cid in ids]
    spec = flow.spec
    pg = _is_pg(session)

    # 1. Lock the contacts and read their routing state after the lock.
    columns = (Contact.id, Contact.owner_id, Contact.account_id, Contact.email_normalized, Contact.email_domain,
               Contact.is_free_mail, Contact.country, Contact.lead_source)  # fmt: skip
    q = select(*columns).where(Contact.id.in_(ids)).order_by(Contact.id)
    if pg:
        q = q.with_for_update(of=Contact)
    contacts = {int(r.id): r for r in session.execute(q)}
    leads = {
        lead.contact_id: lead for lead in session.scalars(select(RoutingLead).where(RoutingLead.contact_id.in_(ids)))
    }
    outcomes: dict[int, Outcome] = {}
    todo: list[int] = []
    for cid in ids:
        c = contacts.get(cid)
        lead = leads.get(cid)
        if c is None:
            outcomes[cid] = Outcome(cid, "skipped", "no such contact")
        elif not force and lead is not None and lead.status in SETTLED:
            outcomes[cid] = Outcome(cid, "skipped", f"already routed ({lead.status})", owner_id=lead.owner_id)
        elif not force and lead is None and c.owner_id is not None:
            outcomes[cid] = Outcome(cid, "skipped", "already has an owner", owner_id=c.owner_id)
        else:
            todo.append(cid)
    if not force and spec.routable is not None and todo:
        routable = _matching(session, spec.routable, todo, now)
        for cid in todo:
            if cid not in routable:
                outcomes[cid] = Outcome(cid, "skipped", "not routable: the flow's routable condition does not match")
        todo = [cid for cid in todo if cid in routable]
    if not todo:
        return [outcomes[cid] for cid in ids]

    # 2. Rules, in order (SQL, one query per rule over the batch); account owners for account_owner rules.
    matches = {rule.name: _matching(session, rule.when, todo, now) for rule in spec.rules}
    account_rules = any(rule.action[0] == "account_owner" for rule in spec.rules)
    matched_accounts: dict[int, tuple[int, str]] = {}
    owners: dict[int, int | None] = {}
    account_of: dict[int, int | None] = {cid: contacts[cid].account_id for cid in todo}
    if account_rules:
        matched_accounts = _match_accounts(session, {cid: contacts[cid] for cid in todo if account_of[cid] is None},
                                           write=write_contacts)  # fmt: skip
        for cid, (aid, _why) in matched_accounts.items():
            account_of[cid] = aid
        wanted = {a for a in account_of.values() if a is not None}
        if wanted:
            rows = session.execute(select(Account.id, Account.owner_id).where(Account.id.in_(wanted)))
            owners = {int(a): o for a, o in rows}
    plans: dict[int, _Plan] = {}
    for cid in todo:
        plan = _Plan(cid)
        for rule in spec.rules:
            if cid not in matches[rule.name]:
                plan.rules.append({"rule": rule.name, "matched": False})
                continue
            kind, _arg = rule.action
            if kind == "account_owner":
                account_id = account_of[cid]
                owner = owners.get(account_id) if account_id is not None else None
                if account_id is None:
                    plan.rules.append({"rule": rule.name, "matched": True, "note": "no account: passed on"})
                    continue
                if owner is None:
                    plan.rules.append({"rule": rule.name, "matched": True,
                                       "note": f"account {account_id} has no owner: passed on"})  # fmt: skip
                    continue
                plan.owner_id = int(owner)
                how = matched_accounts.get(cid)
                plan.note = f"owner of account {account_id}" + (f" (matched now: {how[1]})" if how else "")
            plan.rules.append({"rule": rule.name, "matched": True})
            plan.rule = rule
            break
        plans[cid] = plan

    # 3. Locks: the pools needed (by id), then their members' sales users (by id).
    pool_keys = sorted({k for p in plans.values() if p.rule is not None and (k := spec.rule_pool_key(p.rule))})
    pq = select(RoutingPool).where(RoutingPool.key.in_(pool_keys)).order_by(RoutingPool.id)
    pools = {p.key: p for p in session.scalars(pq.with_for_update() if pg else pq)} if pool_keys else {}
    members_by_pool = _load_members(session, spec, pools, now)
    rep_ids: set[int] = {m.rep.id for ms in members_by_pool.values() for m in ms}
    named = {arg for p in plans.values() if p.rule is not None for kind, arg in [p.rule.action] if kind == "user"}
    fallbacks = {spec.pool(k).fallback for k in pool_keys if k in pools} - {None}
    by_email: dict[str, int] = {}
    if named or fallbacks:
        emails = {e for e in (named | fallbacks) if e}
        by_email = {str(e).lower(): int(i) for i, e in session.execute(select(SalesUser.id, SalesUser.email).where(
            func.lower(SalesUser.email).in_(emails)))}  # fmt: skip
    rep_ids |= set(by_email.values()) | {p.owner_id for p in plans.values() if p.owner_id is not None}
    windows = {name for k in pool_keys for name, _c, _l in spec.pool(k).caps.windows()}
    reps = _load_reps(session, sorted(rep_ids), now, windows, lock=pg)
    for ms in members_by_pool.values():
        for m in ms:
            m.rep = reps[m.rep.id]

    # 4. Decide, contact by contact, updating the counters in memory.
    decisions: list[dict[str, Any]] = []
    touched: dict[int, Member] = {}
    pool_totals: dict[str, int] = defaultdict(int)
    for cid in todo:
        plan = plans[cid]
        lead = leads.get(cid)
        current_owner = lead.owner_id if lead is not None else contacts[cid].owner_id
        exclude = frozenset({current_owner}) if exclude_owner and current_owner is not None else frozenset()
        candidates: list[dict[str, object]] = []
        out = _decide(spec, plan, pools, members_by_pool, reps, by_email, now, exclude, candidates, touched,
                      pool_totals)  # fmt: skip
        outcomes[cid] = out
        decisions.append({"cid": cid, "out": out, "plan": plan, "candidates": candidates, "prev": current_owner})
    unmatched = [d["cid"] for d in decisions if d["plan"].rule is None]
    if unmatched:
        missing = _missing_fields(session, spec, unmatched)
        for cid in unmatched:
            fields = missing.get(cid) or []
            if fields:
                outcomes[cid].reason = f"no rule matched; missing: {', '.join(fields)}"

    # 5. Write: decisions, routing state, contact owners, counters.
    _write(session, flow, decisions, leads, contacts, trigger=trigger, actor=actor, now=now, owners=write_contacts)
    for member in touched.values():
        if member.member_id is not None:
            session.execute(update(RoutingPoolMember).where(RoutingPoolMember.id == member.member_id).values(
                assigned_count=member.assigned_count, last_assigned_at=now).execution_options(
                synchronize_session=False))  # fmt: skip
    for key, n in pool_totals.items():
        session.execute(update(RoutingPool).where(RoutingPool.id == pools[key].id).values(
            assigned_total=RoutingPool.assigned_total + n).execution_options(synchronize_session=False))  # fmt: skip
    if notify:
        _notify_assigned(session, decisions, reps, now)
    session.flush()
    return [outcomes[cid] for cid in ids]


def _decide(
    spec: RoutingFile, plan: _Plan, pools: dict[str, RoutingPool], members_by_pool: dict[str, list[Member]],
    reps: dict[int, Rep], by_email: dict[str, int], now: datetime, exclude: frozenset[int],
    candidates: list[dict[str, object]], touched: dict[int, Member], pool_totals: dict[str, int],
) -> Outcome:  # fmt: skip
    cid = plan.contact_id
    rule = plan.rule
    if rule is None:
        return Outcome(cid, "unassigned", "no rule matched")
    kind, arg = rule.action
    if kind == "queue":
        return Outcome(cid, "queued", f"rule {rule.name}: to queue {arg}", queue=arg, rule=rule.name)
    if kind == "account_owner":
        assert plan.owner_id is not None
        rep = reps.get(plan.owner_id)
        if rep is not None and rep.id not in exclude:
            record_assignment(None, rep)
            return Outcome(cid, "assigned", f"rule {rule.name}: {plan.note}: {rep_label(rep)}", owner_id=rep.id,
                           rule=rule.name)  # fmt: skip
        return Outcome(cid, "unassigned", f"rule {rule.name}: the account owner was excluded (re-route)",
                       rule=rule.name)  # fmt: skip
    if kind == "user":
        uid = by_email.get(arg)
        rep = reps.get(uid) if uid is not None else None
        if rep is None:
            return Outcome(cid, "unassigned", f"rule {rule.name}: {arg} is not a sales user", rule=rule.name)
        why = None if rep.active else "inactive"
        for start, end in rep.out_of_office:
            if start <= now < end:
                why = f"out of office until {end:%Y-%m-%d %H:%M} UTC"
        if why is None and rep.id in exclude:
            why = "the current owner (re-route)"
        candidates.append({"user_id": rep.id, "name": rep.name, "chosen": why is None, "why": why or "named user"})
        if why is not None:
            return Outcome(cid, "unassigned", f"rule {rule.name}: {rep_label(rep)} is {why}", rule=rule.name)
        record_assignment(None, rep)
        return Outcome(cid, "assigned", f"rule {rule.name}: named user {rep_label(rep)}", owner_id=rep.id,
                       rule=rule.name)  # fmt: skip
    key = spec.rule_pool_key(rule)
    assert key is not None
    if key not in pools:
        return Outcome(cid, "unassigned", f"rule {rule.name}: pool {key} is not stored; run pitboard apply",
                       rule=rule.name, pool_key=key)  # fmt: skip
    pool = spec.pool(key)
    members = members_by_pool.get(key, [])
    winner, considered, reason = choose(pool, key, members, now, spec.holidays, exclude=exclude)
    candidates.extend(considered)
    if winner is not None:
        record_assignment(winner, winner.rep)
        touched[id(winner)] = winner
        pool_totals[key] += 1
        return Outcome(cid, "assigned", f"rule {rule.name}: {reason}", owner_id=winner.rep.id, rule=rule.name,
                       pool_key=key)  # fmt: skip
    if pool.fallback:
        uid = by_email.get(pool.fallback)
        rep = reps.get(uid) if uid is not None else None
        if rep is not None and rep.id not in exclude:
            why = unavailable(rep, now, PoolSpec(key="fallback", members=[], team="-", working_hours=False,
                                                 respect_capacity=False), spec.holidays)  # fmt: skip
            if why is None or why.startswith("holiday"):
                record_assignment(None, rep)
                candidates.append({"user_id": rep.id, "name": rep.name, "chosen": True, "why": "pool fallback"})
                return Outcome(cid, "assigned", f"rule {rule.name}: {reason}; fallback owner {rep_label(rep)}",
                               owner_id=rep.id, rule=rule.name, pool_key=key)  # fmt: skip
            reason += f"; the fallback {pool.fallback} is {why}"
        else:
            reason += f"; the fallback {pool.fallback} is not an available sales user"
    return Outcome(cid, "unassigned", f"rule {rule.name}: {reason}", rule=rule.name, pool_key=key)


def _load_members(
    session: Session, spec: RoutingFile, pools: dict[str, RoutingPool], now: datetime
) -> dict[str, list[Member]]:
    """Each locked pool's members with their counters; members of team/territory pools are synced first
    (under the pool's lock), a newcomer starting level with the least-served member so it gets no burst.
    Plain column reads, not ORM objects: a territory pool can have hundreds of members."""
    m = RoutingPoolMember
    out: dict[str, list[Member]] = {}
    for key, pool_row in pools.items():
        pool = spec.pool(key)
        cols = (m.sales_user_id, m.id, m.weight, m.position, m.assigned_count, m.active)
        stored = {int(r[0]): r for r in session.execute(select(*cols).where(m.pool_id == pool_row.id))}
        if not pool.members:
            q = select(SalesUser.id).order_by(SalesUser.id)
            if pool.team:
                q = q.where(SalesUser.team == pool.team)
            if pool.territory:
                q = q.where(SalesUser.territory == pool.territory)
            wanted = [int(i) for i in session.scalars(q)]
            active = [r for r in stored.values() if r.active]
            base = int(min((r.assigned_count / max(r.weight, 1) for r in active), default=0.0))
            missing = [uid for uid in wanted if uid not in stored]
            revived = [uid for uid in wanted if uid in stored and not stored[uid].active]
            gone = [uid for uid, r in stored.items() if r.active and uid not in set(wanted)]
            if missing:
                session.execute(insert(m), [{"pool_id": pool_row.id, "sales_user_id": uid, "weight": 1,
                                             "position": wanted.index(uid), "assigned_count": base, "active": True}
                                            for uid in missing])  # fmt: skip
            for uid in revived:
                count = max(stored[uid].assigned_count, base)
                session.execute(update(m).where(m.id == stored[uid].id).values(active=True, assigned_count=count))
            if gone:
                session.execute(update(m).where(m.pool_id == pool_row.id, m.sales_user_id.in_(gone)).values(
                    active=False))  # fmt: skip
            if missing or revived or gone:
                stored = {int(r[0]): r for r in session.execute(select(*cols).where(m.pool_id == pool_row.id))}
        out[key] = [Member(rep=Rep(id=uid, name="", email=""), weight=r.weight, position=r.position,
                           assigned_count=r.assigned_count, member_id=r.id)
                    for uid, r in stored.items() if r.active]  # fmt: skip
    return out


def _load_reps(session: Session, ids: list[int], now: datetime, windows: set[str], *, lock: bool) -> dict[int, Rep]:
    """The sales users with their open leads, absences and (for the cap ``windows`` in use) recent counts."""
    if not ids:
        return {}
    u = SalesUser
    q = select(u.id, u.name, u.email, u.active, u.team, u.territory, u.manager_id, u.capacity, u.timezone,
               u.working_hours).where(u.id.in_(ids)).order_by(u.id)  # fmt: skip
    reps = {
        int(r.id): Rep(id=int(r.id), name=r.name, email=r.email, active=bool(r.active), team=r.team,
                       territory=r.territory, manager_id=r.manager_id, capacity=r.capacity,
                       timezone=r.timezone or "UTC", working_hours=dict(r.working_hours or {}))
        for r in session.execute(q.with_for_update(of=u) if lock else q)
    }  # fmt: skip
    for owner, n in session.execute(
        select(RoutingLead.owner_id, func.count()).where(RoutingLead.owner_id.in_(ids), OPEN_LEAD)
        .group_by(RoutingLead.owner_id)
    ):  # fmt: skip
        if owner in reps:
            reps[owner].open_leads = int(n)
    for uid, start, end in session.execute(
        select(RoutingOutOfOffice.sales_user_id, RoutingOutOfOffice.starts_at, RoutingOutOfOffice.ends_at).where(
            RoutingOutOfOffice.sales_user_id.in_(ids), RoutingOutOfOffice.ends_at > now)
    ):  # fmt: skip
        reps[uid].out_of_office.append((ensure_utc(start), ensure_utc(end)))
    for name, length in WINDOWS.items():
        if name not in windows:
            continue
        for owner, n in session.execute(
            select(RoutingDecision.owner_id, func.count()).where(
                RoutingDecision.owner_id.in_(ids), RoutingDecision.outcome == "assigned",
                RoutingDecision.decided_at > now - length).group_by(RoutingDecision.owner_id)
        ):  # fmt: skip
            if owner in reps:
                reps[owner].recent[name] = int(n)
    return reps


def _table(model: type[Any]) -> Table:
    """The Core table: its executemany INSERT is one multi-row statement per batch on PostgreSQL (the ORM's
    bulk insert sent one statement per row here)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _write(
    session: Session, flow: Flow, decisions: list[dict[str, Any]], leads: dict[int, RoutingLead],
    contacts: dict[int, Any], *, trigger: str, actor: Actor, now: datetime, owners: bool = True,
) -> None:  # fmt: skip
    spec = flow.spec
    rows = []
    owner_updates = []
    new_leads: list[dict[str, Any]] = []
    changed_leads: list[dict[str, Any]] = []
    for d in decisions:
        out: Outcome = d["out"]
        plan: _Plan = d["plan"]
        rule = plan.rule
        rows.append({
            "contact_id": out.contact_id, "decided_at": now, "trigger": trigger, "outcome": out.outcome,
            "rule": out.rule, "action": rule.to if rule else None, "owner_id": out.owner_id,
            "previous_owner_id": d["prev"], "pool_key": out.pool_key, "queue": out.queue, "reason": out.reason,
            "rules": plan.rules, "candidates": d["candidates"], "flow_checksum": flow.checksum, "actor": actor.name,
        })  # fmt: skip
        sla = rule.sla if rule is not None and out.outcome == "assigned" else None
        state = {
            "status": out.outcome, "owner_id": out.owner_id, "queue": out.queue, "reason": out.reason[:500],
            "rule": out.rule, "pool_key": out.pool_key, "source": contacts[out.contact_id].lead_source,
            "routed_at": now, "sla_minutes": sla.first_touch if sla else None,
            "sla_due_at": now + timedelta(minutes=sla.first_touch) if sla else None,
            "sla_status": "pending" if sla else None, "first_touch_at": None, "first_touch_kind": None,
            "escalation_level": 0, "escalated_at": None, "disposition": None, "disposition_reason": None,
            "disposition_at": None, "disposition_by": None,
        }  # fmt: skip
        lead = leads.get(out.contact_id)
        if lead is None:
            new_leads.append({"contact_id": out.contact_id, "reroutes": 0, "created_at": now, "updated_at": now,
                              **state})  # fmt: skip
        else:
            moved = lead.status == "assigned" and out.owner_id != lead.owner_id
            changed_leads.append({"id": lead.id, "reroutes": lead.reroutes + (1 if moved else 0), "updated_at": now,
                                  **state})  # fmt: skip
        if out.owner_id != contacts[out.contact_id].owner_id:
            owner_updates.append({"cid": out.contact_id, "oid": out.owner_id})
    # Core/ORM bulk statements: one executemany each instead of a unit-of-work flush per row.
    if new_leads:
        session.connection().execute(insert(_table(RoutingLead)), new_leads)
    if changed_leads:
        session.execute(update(RoutingLead), changed_leads)
        for lead in leads.values():
            session.expire(lead)
    if rows:
        session.connection().execute(insert(_table(RoutingDecision)), rows)
    if owner_updates and owners:
        stmt = update(Contact).where(Contact.id == bindparam("cid")).values(owner_id=bindparam("oid"))
        session.connection().execute(stmt.execution_options(synchronize_session=False), owner_updates)
    del spec


def _notify_assigned(session: Session, decisions: list[dict[str, Any]], reps: dict[int, Rep], now: datetime) -> None:
    from pitboard.routing.notify import try_send

    for d in decisions:
        out: Outcome = d["out"]
        if out.outcome != "assigned" or out.owner_id is None or out.owner_id not in reps:
            continue
        rep = reps[out.owner_id]
        try_send(session, to_email=rep.email, subject=f"New lead for you (contact {out.contact_id})",
             text=f"A lead was routed to you.\n\nWhy: {out.reason}\n",
             link=f"/contacts/{out.contact_id}",
             key=f"routing:assigned:{out.contact_id}:{now.isoformat()}")  # fmt: skip


def reroute_matching(
    session: Session,
    *,
    condition: Condition | None,
    after_id: int = 0,
    limit: int = BATCH,
    actor: Actor,
    now: datetime | None = None,
    notify: bool = False,
) -> tuple[list[Outcome], int | None]:
    """Force re-routing of the next ``limit`` contacts matching ``condition`` with an id above ``after_id``;
    returns the outcomes and the cursor for the next batch (None when done)."""
    actor.require("editor")
    now = ensure_utc(now) if now is not None else utcnow()
    q = select(Contact.id).where(Contact.id > after_id)
    if condition is not None:
        q = q.where(compile_condition(condition, CompileContext.for_session(session, now=now)))
    ids = [int(i) for i in session.scalars(q.order_by(Contact.id).limit(limit))]
    if not ids:
        return [], None
    outcomes = route_contacts(session, ids, trigger="bulk", actor=actor, now=now, force=True, notify=notify)
    return outcomes, (ids[-1] if len(ids) == limit else None)
