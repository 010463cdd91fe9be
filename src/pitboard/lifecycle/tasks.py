"""Background work for lifecycle stages: the ``contacts.changed`` listener and the pass over every contact.

Stages listen second (order 20): after scores (thresholds have moved stages by then, and entry rules may read
scores' effects), before segments (which may test stages).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pitboard.contacts.changes import on_contacts_changed
from pitboard.kit.time import utcnow
from pitboard.lifecycle.definitions import ADVANCE_ALL, current_spec
from pitboard.lifecycle.engine import WORKER, advance
from pitboard.logging import get_logger
from pitboard.worker.queue import task

log = get_logger(__name__)


@on_contacts_changed("lifecycle", order=20)
def contacts_changed(session: Session, contact_ids: list[int], reason: str) -> None:
    result = advance(session, contact_ids, spec=current_spec(session), now=utcnow(), actor=WORKER,
                     reason=f"contacts changed: {reason}")  # fmt: skip
    if result.moves:
        log.info("lifecycle stages moved", reason=reason, contacts=len(contact_ids), moved=result.moved)


@task(ADVANCE_ALL)
def run_advance_all(session: Session, payload: dict[str, Any]) -> None:
    """Every contact against the rules: after a definition change, and daily for time-based rules (recycle
    after 90 days without activity: nothing changes on the contact when the 90th day passes)."""
    reason = str(payload.get("reason") or "daily check")
    result = advance(session, None, spec=current_spec(session), now=utcnow(), actor=WORKER, reason=reason)
    log.info("lifecycle rules applied to every contact", checked=result.checked, moved=result.moved)
