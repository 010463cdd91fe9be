"""Background tasks for lead routing.

* ``contacts.changed`` listener ``routing`` (order 25: after scores 10 and stages 20, whose results rules may
  read, before segments 30): records first touches, then routes the contacts that became routable.
* ``routing.sla_check`` (every minute): breaches, reminders, escalations, SLA re-routes.
* ``routing.reroute``: a bulk re-route, one batch per job, each job queueing the next (one short
  transaction per batch, so a 100k re-route never holds the pools' locks for long).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pitboard.conditions import load_field_registry, parse_condition
from pitboard.contacts.changes import on_contacts_changed
from pitboard.kit.actor import Actor
from pitboard.logging import get_logger
from pitboard.routing.engine import BATCH, WORKER, current_flow, reroute_matching, route_contacts
from pitboard.routing.sla import check_slas, detect_first_touch
from pitboard.worker.queue import enqueue, periodic, task

log = get_logger(__name__)
SLA_CHECK = "routing.sla_check"
REROUTE = "routing.reroute"


@on_contacts_changed("routing", order=25)
def contacts_changed(session: Session, contact_ids: list[int], reason: str) -> None:
    flow = current_flow(session)
    if flow is None:
        return
    detect_first_touch(session, contact_ids, flow=flow)
    outcomes = route_contacts(session, contact_ids, trigger="changed", actor=WORKER, flow=flow)
    routed = [o for o in outcomes if o.outcome != "skipped"]
    if routed:
        log.info("leads routed", reason=reason, routed=len(routed),
                 assigned=sum(1 for o in routed if o.outcome == "assigned"))  # fmt: skip


@periodic(SLA_CHECK, every_seconds=60)
def run_sla_check(session: Session, payload: dict[str, Any]) -> None:
    counts = check_slas(session)
    if any(counts.values()):
        log.info("routing SLAs checked", **counts)


@task(REROUTE)
def run_reroute(session: Session, payload: dict[str, Any]) -> None:
    condition = payload.get("condition")
    tree = parse_condition(condition, load_field_registry(session)) if condition is not None else None
    actor = Actor(name=str(payload.get("actor") or "routing"), interface="worker", role="admin")
    after = int(payload.get("after", 0))
    outcomes, cursor = reroute_matching(session, condition=tree, after_id=after, limit=BATCH, actor=actor,
                                        notify=bool(payload.get("notify", False)))  # fmt: skip
    log.info("bulk re-route batch", after=after, routed=len(outcomes), run=payload.get("run"))
    if cursor is not None:
        enqueue(
            session,
            REROUTE,
            {**payload, "after": cursor},
            idempotency_key=f"routing:reroute:{payload.get('run')}:{cursor}",
        )
