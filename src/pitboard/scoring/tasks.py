"""Background work for scoring: the ``contacts.changed`` listener and the bulk rescore jobs.

Scores listen first (order 10): lifecycle rules (order 20) and segments (order 30) may read them, and a
threshold crossing moves a stage before the lifecycle rules look.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.contacts.changes import on_contacts_changed
from pitboard.logging import get_logger
from pitboard.models import ScoringModel
from pitboard.scoring import privacy  # noqa: F401  (registers the "scores" section of data-subject exports)
from pitboard.scoring.definitions import RESCORE_ALL, RESCORE_MODEL
from pitboard.scoring.engine import rescore_contacts, rescore_model
from pitboard.worker.queue import task

log = get_logger(__name__)


@on_contacts_changed("scoring", order=10)
def contacts_changed(session: Session, contact_ids: list[int], reason: str) -> None:
    results = rescore_contacts(session, contact_ids)
    moved = sum(len(r.crossings) for r in results.values())
    if results:
        log.debug("contacts rescored", reason=reason, contacts=len(contact_ids), models=len(results), crossings=moved)


@task(RESCORE_MODEL)
def run_rescore_model(session: Session, payload: dict[str, Any]) -> None:
    key = str(payload["key"])
    row = session.scalar(select(ScoringModel).where(ScoringModel.key == key))
    if row is None or not row.active:
        return  # deleted or deactivated after the job was queued: nothing to score
    if int(payload.get("version", row.version)) < row.version:
        return  # a newer definition was applied since; its own job rescores
    rescore_model(session, key)


@task(RESCORE_ALL)
def run_rescore_all(session: Session, payload: dict[str, Any]) -> None:
    """Daily: decayed engagement loses weight with every day, also for contacts who did nothing."""
    del payload  # the daily job carries its date only for its idempotency key
    for key in session.scalars(
        select(ScoringModel.key).where(ScoringModel.active.is_(True)).order_by(ScoringModel.key)
    ):
        rescore_model(session, key)
