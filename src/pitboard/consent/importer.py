"""Import consent history from another system (a CSV exported from Marketo, HubSpot, a form tool).

One row per consent event: ``email, purpose, status, occurred_at`` and optionally ``channel``,
``lawful_basis``, ``consent_text``, ``policy_version``, ``ip_address``, ``user_agent``. Each row becomes a
ledger entry with source ``import``; a row's content hash is its idempotency key, so importing the same
file twice appends nothing. Rows that cannot be recorded (unknown address, unknown purpose, no date) are
quarantined with every reason and can be fixed and replayed like any other quarantined record.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.consent import ledger
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import load_purposes
from pitboard.contacts.identities import contact_id_for_email
from pitboard.kit.actor import Actor
from pitboard.kit.emails import InvalidEmail
from pitboard.kit.errors import PitboardError
from pitboard.models import ConsentRecord, QuarantinedRecord
from pitboard.quality import quarantine

CHANNEL = "consent_import"
# What other systems write for "yes" and "no".
_STATUS_WORDS = {
    "granted": "granted", "true": "granted", "yes": "granted", "opted_in": "granted", "subscribed": "granted",
    "opt-in": "granted", "denied": "denied", "no": "denied", "false": "denied", "withdrawn": "withdrawn",
    "opted_out": "withdrawn", "unsubscribed": "withdrawn", "opt-out": "withdrawn",
}  # fmt: skip


@dataclass
class ConsentImportSummary:
    rows: int = 0
    recorded: int = 0
    already: int = 0
    quarantined: int = 0


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def import_rows(
    session: Session, rows: Iterable[dict[str, str]], *, actor: Actor, filename: str,
    on_row: Callable[[], None] | None = None,
) -> ConsentImportSummary:  # fmt: skip
    summary = ConsentImportSummary()
    for row in rows:
        summary.rows += 1
        outcome, reasons = record_row(session, row, actor=actor, filename=filename)
        if reasons:
            quarantine.hold(session, channel=CHANNEL, entity="consent", payload={"row": row, "file": filename},
                            reasons=reasons)  # fmt: skip
            summary.quarantined += 1
        elif outcome == "already":
            summary.already += 1
        else:
            summary.recorded += 1
        if on_row:
            on_row()
    return summary


def record_row(session: Session, row: dict[str, str], *, actor: Actor, filename: str) -> tuple[str, list[str]]:
    """Record one row; returns ("recorded" | "already", []) or ("", reasons)."""
    reasons: list[str] = []
    contact_id = _contact_for(session, row.get("email", ""), reasons)
    status = _STATUS_WORDS.get(row.get("status", "").lower())
    if status is None:
        reasons.append(f"status {row.get('status')!r} is not one of granted, denied, withdrawn (or yes/no)")
    purpose = row.get("purpose", "")
    if purpose not in load_purposes(session):
        reasons.append(f"purpose {purpose!r} is not defined in privacy.yml")
    occurred = _when(row.get("occurred_at", ""), reasons)
    if reasons or contact_id is None or status is None or occurred is None:
        return "", reasons
    key = (
        "import:"
        + hashlib.sha256(
            "|".join(
                [row.get("email", "").lower(), purpose, row.get("channel") or "email", status, occurred.isoformat()]
            ).encode()
        ).hexdigest()[:40]
    )
    if session.scalar(select(ConsentRecord.id).where(ConsentRecord.idempotency_key == key)) is not None:
        return "already", []
    entry = ConsentEntry(
        channel=row.get("channel") or "email", purpose=purpose, status=status, source="import",
        lawful_basis=row.get("lawful_basis") or "consent", consent_text=row.get("consent_text") or None,
        policy_version=row.get("policy_version") or None, ip_address=row.get("ip_address") or None,
        user_agent=row.get("user_agent") or None, occurred_at=occurred,
        evidence={"file": filename}, idempotency_key=key,
    )  # fmt: skip
    try:
        with session.begin_nested():
            ledger.record(session, contact_id=contact_id, entry=entry, actor=actor)
    except PitboardError as exc:
        return "", [exc.message]
    return "recorded", []


def _contact_for(session: Session, email: str, reasons: list[str]) -> int | None:
    try:
        found = contact_id_for_email(session, email)
    except InvalidEmail as exc:
        reasons.append(f"email {email!r} is not valid: {exc}")
        return None
    if found is None:
        reasons.append(f"no contact has the address {email.strip().lower()} (import contacts first, then replay)")
    return found


def _when(text: str, reasons: list[str]) -> datetime | None:
    if not text:
        reasons.append("occurred_at is required: when consent was given is part of the proof")
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        reasons.append(f"occurred_at {text!r} is not an ISO 8601 date/time")
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay_consent_record(session: Session, record: QuarantinedRecord, *, actor: Actor) -> list[str]:
    payload: dict[str, Any] = record.payload
    _outcome, reasons = record_row(session, dict(payload.get("row") or {}), actor=actor,
                                   filename=str(payload.get("file", "")))  # fmt: skip
    return reasons
