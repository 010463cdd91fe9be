"""Built-in background tasks. Domains register their own with ``@task`` in their ``tasks.py``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from pitboard import segments  # noqa: F401  (registers the segments listener, refresh tasks, privacy steps)
from pitboard.contacts import changes  # noqa: F401  (registers contacts.changed)
from pitboard.kit.time import utcnow
from pitboard.lifecycle import tasks as lifecycle_tasks  # noqa: F401  (lifecycle listener, advance_all)
from pitboard.measurement import tasks as measurement_tasks  # noqa: F401
from pitboard.messaging import tasks as messaging_tasks  # noqa: F401  (registers messaging.deliver)
from pitboard.models import Contact, Event, Job
from pitboard.privacy import retention  # noqa: F401  (registers privacy.retention)
from pitboard.quality import scores  # noqa: F401  (registers quality.snapshot)
from pitboard.routing import tasks as routing_tasks  # noqa: F401
from pitboard.scoring import tasks as scoring_tasks  # noqa: F401  (scoring listener, rescore jobs)
from pitboard.workboard import tasks as workboard_tasks  # noqa: F401
from pitboard.worker.queue import task
from pitboard.workflows import tasks as workflow_tasks  # noqa: F401


@task("contacts.refresh_last_activity")
def refresh_last_activity(session: Session, payload: dict[str, Any]) -> None:
    """Set ``last_activity_at`` from the contact's newest event (after imports or merges)."""
    ids = [int(i) for i in payload.get("contact_ids", [])]
    for contact_id in ids:
        newest = select(func.max(Event.occurred_at)).where(Event.contact_id == contact_id).scalar_subquery()
        session.execute(update(Contact).where(Contact.id == contact_id).values(last_activity_at=newest))


# Done jobs are kept this long for looking into what ran; dead ones stay until replayed or removed by hand.
KEEP_DONE_JOBS = timedelta(days=14)


@task("worker.prune_jobs")
def prune_jobs(session: Session, payload: dict[str, Any]) -> None:
    """Daily: delete done jobs older than two weeks. The periodic tasks alone make about 3,000 a day."""
    del payload  # the daily job carries its date only for its idempotency key
    cutoff = utcnow() - KEEP_DONE_JOBS
    session.execute(delete(Job).where(Job.status == "done", Job.finished_at < cutoff))
