"""Fair counters under parallel load: many routers in their own sessions and threads at once.

On PostgreSQL the routers really run in parallel and meet at the row locks on the contacts, the pool and its
members' sales users; on SQLite the write lock serialises them. Either way the rotation must be exact, caps
must hold, and no contact may be assigned twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, func, select

from pitboard.kit.db import session_scope
from pitboard.models.routing import RoutingDecision, RoutingLead, RoutingPool, RoutingPoolMember
from pitboard.routing.engine import route_contacts
from tests.integration.test_routing_engine import NOW, add_lead, add_rep, apply_routing

FLOW = """
pools:
  - key: sdr
    members: [{user: ana@salesco.com}, {user: bo@salesco.com, weight: 2}, {user: cy@salesco.com}]
    CAPS
rules:
  - {name: all, to: "pool:sdr"}
"""


def _setup(engine: Engine, tmp_path: Path, leads: int, caps: str = "") -> tuple[list[int], list[int]]:
    with session_scope(engine) as s:
        reps = [add_rep(s, n) for n in ("Ana", "Bo", "Cy")]
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, FLOW.replace("CAPS", caps))
    with session_scope(engine) as s:
        ids = [add_lead(s) for _ in range(leads)]
    return reps, ids


def _run_parallel(engine: Engine, batches: list[list[int]]) -> list[BaseException]:
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def work(batch: list[int]) -> None:
        try:
            barrier.wait(timeout=30)
            for contact_id in batch:  # one transaction per lead, as leads arrive
                with session_scope(engine) as s:
                    route_contacts(s, [contact_id], trigger="test", now=NOW, notify=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_parallel_routers_keep_the_weighted_rotation_exact(engine: Engine, tmp_path: Path) -> None:
    (ana, bo, cy), ids = _setup(engine, tmp_path, 80)
    errors = _run_parallel(engine, [ids[i::8] for i in range(8)])
    assert errors == []
    with session_scope(engine) as s:
        got = Counter(s.scalars(select(RoutingLead.owner_id)))
        counters = dict(s.execute(select(RoutingPoolMember.sales_user_id, RoutingPoolMember.assigned_count)).all())
        total = s.scalar(select(RoutingPool.assigned_total))
        decisions = s.scalar(select(func.count()).select_from(RoutingDecision))
    assert got == {ana: 20, bo: 40, cy: 20}  # weight 2 gets twice the share, exactly
    assert counters == {ana: 20, bo: 40, cy: 20}
    assert total == 80
    assert decisions == 80


def test_parallel_routers_of_the_same_leads_assign_each_once(engine: Engine, tmp_path: Path) -> None:
    (ana, bo, cy), ids = _setup(engine, tmp_path, 30)
    errors = _run_parallel(engine, [list(ids) for _ in range(4)])  # four routers race for every lead
    assert errors == []
    with session_scope(engine) as s:
        per_contact = Counter(
            s.scalars(select(RoutingDecision.contact_id).where(RoutingDecision.outcome == "assigned"))
        )
        got = Counter(s.scalars(select(RoutingLead.owner_id)))
        counters = dict(s.execute(select(RoutingPoolMember.sales_user_id, RoutingPoolMember.assigned_count)).all())
    assert len(per_contact) == 30
    assert set(per_contact.values()) == {1}
    # 30 leads through weights 1, 2, 1 in list order: 7 full rounds of four, then Ana and Bo.
    assert got == {ana: 8, bo: 15, cy: 7}
    assert counters == {ana: 8, bo: 15, cy: 7}


def test_caps_hold_under_parallel_load(engine: Engine, tmp_path: Path) -> None:
    (ana, bo, cy), ids = _setup(engine, tmp_path, 40, caps="caps: {hour: 9}")
    errors = _run_parallel(engine, [ids[i::6] for i in range(6)])
    assert errors == []
    with session_scope(engine) as s:
        got = Counter(s.scalars(select(RoutingLead.owner_id).where(RoutingLead.status == "assigned")))
        unassigned = s.scalar(select(func.count()).select_from(RoutingLead).where(RoutingLead.status == "unassigned"))
    assert got == {ana: 9, bo: 9, cy: 9}
    assert unassigned == 13
