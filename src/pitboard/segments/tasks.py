"""Background work for segments: the ``contacts.changed`` listener and the refresh jobs.

Segments listen last (order 30, after scores and lifecycle stages), because conditions may test both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pitboard.contacts.changes import on_contacts_changed
from pitboard.logging import get_logger
from pitboard.segments.matching import active_segments
from pitboard.segments.refresh import refresh_all, refresh_segments, update_contacts
from pitboard.worker.queue import enqueue, task

log = get_logger(__name__)

REFRESH_ALL = "segments.refresh_all"
REFRESH = "segments.refresh"
UPDATE_CONTACTS = "segments.update_contacts"
_CHUNK = 500


@on_contacts_changed("segments", order=30)
def contacts_changed(session: Session, contact_ids: list[int], reason: str) -> None:
    _update(session, contact_ids, reason)


def _update(session: Session, contact_ids: list[int], reason: str) -> None:
    result = update_contacts(session, contact_ids)
    if result.entered or result.exited:
        log.info("segment memberships updated", reason=reason, contacts=result.contacts, entered=result.entered,
                 exited=result.exited)  # fmt: skip
    for start in range(0, len(result.follow_up), _CHUNK):
        enqueue(session, UPDATE_CONTACTS, {"contact_ids": result.follow_up[start : start + _CHUNK]})


@task(UPDATE_CONTACTS)
def run_update_contacts(session: Session, payload: dict[str, Any]) -> None:
    """Contacts at accounts that entered or left an account segment another segment tests: only segment
    memberships can have changed for them, so only segments look again (not the other contacts.changed
    listeners)."""
    _update(session, [int(i) for i in payload.get("contact_ids", [])], "account_segment")


@task(REFRESH_ALL)
def run_refresh_all(session: Session, payload: dict[str, Any]) -> None:
    del payload  # the daily job carries its date only for its idempotency key
    refresh_all(session)


@task(REFRESH)
def run_refresh(session: Session, payload: dict[str, Any]) -> None:
    """Refresh the given keys (and, after a definition change, the segments that test them)."""
    keys = [str(k) for k in payload.get("keys", [])]
    # A segment deleted or deactivated after the job was queued has nothing left to refresh.
    active = active_segments(session)
    live = [k for k in keys if k in active]
    if live:
        refresh_segments(session, live, dependents=bool(payload.get("dependents", True)))


def queue_refresh(session: Session, keys: list[str]) -> None:
    """Queue a refresh of ``keys`` and their dependents in the caller's transaction (rolled back with it)."""
    if keys:
        enqueue(session, REFRESH, {"keys": sorted(keys), "dependents": True})
