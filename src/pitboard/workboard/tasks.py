"""Background tasks for campaign operations and the work board.

* ``workboard.approval_reminders`` (every 15 minutes): remind approvers of stages past their SLA.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pitboard.logging import get_logger
from pitboard.workboard.reminders import send_reminders
from pitboard.worker.queue import periodic

log = get_logger(__name__)
REMINDERS = "workboard.approval_reminders"


@periodic(REMINDERS, every_seconds=900)
def run_reminders(session: Session, payload: dict[str, Any]) -> None:
    sent = send_reminders(session)
    if sent:
        log.info("approval reminders queued", messages=sent)
