"""``pitboard plan --since``: replay the leads of the last N days through a proposed routing flow.

The replay runs the real router (``engine.route_contacts``) inside a savepoint that is rolled back: the
proposed pools are applied, the routing state written since ``since`` is removed (so counters, caps and
open leads start as they were then), and every lead created since is routed in the order it arrived, at
the time it arrived (working hours, holidays and caps as of then). What would have happened is compared
with what did happen (the lead's current owner or queue).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pitboard.kit.actor import Actor
from pitboard.kit.time import ensure_utc
from pitboard.models import Contact, SalesUser
from pitboard.models.routing import RoutingDecision, RoutingLead
from pitboard.routing.engine import Flow, route_contacts
from pitboard.routing.schemas import RoutingFile

SIMULATOR = Actor(name="routing-simulation", interface="system", role="admin")
MAX_LEADS = 5000


def _label(status: str | None, owner: str | None, queue: str | None) -> str:
    if status == "assigned" and owner:
        return owner
    if status == "queued":
        return f"queue:{queue}"
    if status in (None, ""):
        return "(not routed)"
    return status


def simulate(session: Session, spec: RoutingFile, *, since: date) -> dict[str, Any]:
    from pitboard.routing.service import apply_flow

    start = datetime.combine(since, time.min, tzinfo=UTC)
    leads = session.execute(select(Contact.id, Contact.created_at).where(Contact.created_at >= start)
                            .order_by(Contact.created_at, Contact.id).limit(MAX_LEADS + 1)).all()  # fmt: skip
    notes: list[str] = []
    if len(leads) > MAX_LEADS:
        notes.append(f"only the first {MAX_LEADS} leads since {since} were replayed")
        leads = leads[:MAX_LEADS]
    ids = [int(cid) for cid, _ in leads]
    names = {int(i): str(n) for i, n in session.execute(select(SalesUser.id, SalesUser.name))}
    actual: dict[int, str] = dict.fromkeys(ids, "(not routed)")
    for chunk in range(0, len(ids), 1000):
        part = ids[chunk : chunk + 1000]
        for cid, status, owner, queue in session.execute(
            select(RoutingLead.contact_id, RoutingLead.status, RoutingLead.owner_id, RoutingLead.queue).where(
                RoutingLead.contact_id.in_(part))
        ):  # fmt: skip
            actual[int(cid)] = _label(status, names.get(owner) if owner else None, queue)
    proposed: dict[int, str] = {}
    rules: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    savepoint = session.begin_nested()
    try:
        apply_flow(session, spec, actor=SIMULATOR)
        routed_since = select(RoutingLead.contact_id).where(RoutingLead.routed_at >= start)
        session.execute(update(Contact).where(Contact.id.in_(routed_since)).values(owner_id=None)
                        .execution_options(synchronize_session=False))  # fmt: skip
        session.execute(delete(RoutingDecision).where(RoutingDecision.decided_at >= start))
        session.execute(delete(RoutingLead).where(RoutingLead.routed_at >= start))
        flow = Flow(spec, "proposed", None)
        for cid, created in leads:
            out = route_contacts(session, [int(cid)], trigger="simulation", actor=SIMULATOR,
                                 now=ensure_utc(created), notify=False, flow=flow)[0]  # fmt: skip
            proposed[int(cid)] = (
                "(not routable)" if out.outcome == "skipped"
                else _label(out.outcome, names.get(out.owner_id) if out.owner_id else None, out.queue)
            )  # fmt: skip
            outcomes[out.outcome] += 1
            rules[out.rule or "(none)"] += 1
    finally:
        savepoint.rollback()
        session.expire_all()
    before = Counter(actual.values())
    after = Counter(proposed.values())
    changed = [cid for cid in ids if actual[cid] != proposed.get(cid)]
    who = sorted(set(before) | set(after), key=lambda k: -(after.get(k, 0) + before.get(k, 0)))
    return {
        "since": since.isoformat(),
        "leads": len(ids),
        "changed": len(changed),
        "outcomes": dict(outcomes),
        "by_rule": dict(rules.most_common()),
        "by_owner": [{"owner": k, "now": before.get(k, 0), "proposed": after.get(k, 0)} for k in who],
        "examples": [{"contact_id": cid, "now": actual[cid], "proposed": proposed.get(cid)} for cid in changed[:20]],
        "notes": notes,
    }
