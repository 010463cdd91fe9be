"""Contacts whose data or activity changed, handed to whatever keeps state derived from them fresh.

Write paths (tracking ingest, the contacts API, imports, merges) call :func:`contacts_changed` in their
own transaction; it queues one durable ``contacts.changed`` job per few hundred contacts, so the write
answers fast and the follow-up work survives a crash. The worker then calls every registered listener in
``order``: lead scores first, then lifecycle stages (score thresholds move stages), then segment
membership (segments may test stages and scores).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from pitboard.worker.queue import enqueue, task

Listener = Callable[[Session, list[int], str], None]
TASK = "contacts.changed"
_CHUNK = 500
_LISTENERS: list[tuple[int, str, Listener]] = []


def on_contacts_changed(name: str, *, order: int) -> Callable[[Listener], Listener]:
    """Register ``fn(session, contact_ids, reason)``; lower ``order`` runs first."""

    def register(fn: Listener) -> Listener:
        if any(existing == name for _, existing, _ in _LISTENERS):
            raise ValueError(f"listener {name!r} is registered twice")
        _LISTENERS.append((order, name, fn))
        _LISTENERS.sort(key=lambda item: (item[0], item[1]))
        return fn

    return register


def listeners() -> list[str]:
    return [name for _, name, _ in _LISTENERS]


def contacts_changed(session: Session, contact_ids: Iterable[int | None], *, reason: str) -> None:
    """Queue the follow-up work for these contacts in the caller's transaction."""
    ids = sorted({int(c) for c in contact_ids if c is not None})
    for start in range(0, len(ids), _CHUNK):
        enqueue(session, TASK, {"contact_ids": ids[start : start + _CHUNK], "reason": reason})


_MERGE_LIMIT = 2000  # contacts in one merged job: bounded transactions and IN lists


def merge_payloads(payloads: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Several queued jobs as one: the union of their contacts (each listener is idempotent per contact and reads
    the current state, so running once for a contact named twice is the same as running twice)."""
    ids = sorted({int(c) for p in payloads for c in p.get("contact_ids", [])})
    if len(ids) > _MERGE_LIMIT:
        return None
    reasons = sorted({str(p.get("reason", "")) for p in payloads})
    return {"contact_ids": ids, "reason": ", ".join(reasons)}


@task(TASK, merge=merge_payloads)
def run_listeners(session: Session, payload: dict[str, Any]) -> None:
    ids = [int(i) for i in payload.get("contact_ids", [])]
    reason = str(payload.get("reason", ""))
    for _, _name, fn in list(_LISTENERS):
        fn(session, ids, reason)
