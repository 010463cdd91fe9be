"""Background tasks for workflows; registered with ``@task`` / ``@periodic`` from ``worker.queue``.

``workflows.step`` and ``workflows.approval_sla`` are in ``engine``; the ``contacts.changed`` listener that
notices triggers is in ``triggers``; ``notify.deliver`` is in ``notify.tasks``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pitboard.notify import tasks as notify_tasks  # noqa: F401  (registers notify.deliver)
from pitboard.worker.queue import periodic
from pitboard.workflows import (
    engine,  # noqa: F401  (registers workflows.step and workflows.approval_sla)
    triggers,
)


@periodic("workflows.sweep", every_seconds=60)
def run_sweep(session: Session, payload: dict[str, Any]) -> None:
    triggers.sweep(session)


@periodic("workflows.dates", every_seconds=3600)
def run_dates(session: Session, payload: dict[str, Any]) -> None:
    triggers.dates(session)
