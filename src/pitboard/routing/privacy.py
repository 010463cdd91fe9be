"""Routing in data-subject exports: the person's current routing state and every routing decision about them
(who was considered and why), under ``assignments``. Erasure needs no step: ``routing_leads`` and
``routing_decisions`` rows cascade with the contact."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.models.routing import RoutingDecision, RoutingLead
from pitboard.privacy.export import jsonable, register_section

SECTION = "assignments"


def export_assignments(session: Session, contact_id: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    lead = session.scalar(select(RoutingLead).where(RoutingLead.contact_id == contact_id))
    if lead is not None:
        out.append(jsonable({"kind": "routing_state", "status": lead.status, "owner_id": lead.owner_id,
                             "queue": lead.queue, "rule": lead.rule, "reason": lead.reason,
                             "routed_at": lead.routed_at, "first_touch_at": lead.first_touch_at,
                             "sla_status": lead.sla_status, "disposition": lead.disposition,
                             "disposition_reason": lead.disposition_reason}))  # fmt: skip
    for d in session.scalars(select(RoutingDecision).where(RoutingDecision.contact_id == contact_id)
                             .order_by(RoutingDecision.decided_at, RoutingDecision.id)):  # fmt: skip
        out.append(jsonable({"kind": "routing_decision", "decided_at": d.decided_at, "trigger": d.trigger,
                             "outcome": d.outcome, "rule": d.rule, "owner_id": d.owner_id, "queue": d.queue,
                             "reason": d.reason, "rules": d.rules, "candidates": d.candidates}))  # fmt: skip
    return out


register_section(SECTION, export_assignments)
