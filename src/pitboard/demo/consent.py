"""Consent history and suppressions for the demo contacts, so the consent pages and the gate have
something real to show: double opt-ins (most confirmed, some left pending), later unsubscribes,
product-update and event grants, a few sales-outreach grants with phone, hard bounces and complaints.

Deterministic per seed and contact id. Rows go in with bulk inserts (the services would record the same
rows one at a time, which takes minutes at 1M contacts); ``consent_states`` is derived from the
generated records by the same rule the ledger uses, and ``pitboard consent verify`` checks it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from pitboard.consent.hashing import address_kind, salt, subject_hash
from pitboard.consent.purposes import load_purposes
from pitboard.kit.db import insert_returning_ids, session_scope
from pitboard.models import ConsentRecord, ConsentState, Contact, Suppression

CHUNK = 5_000
POLICY_VERSIONS = ("2024-06", "2025-09")
_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/129.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
)
_DEMO_ACTOR = "demo"


def generate_consent(
    engine: Engine, *, seed: int, now: datetime, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Add consent records, states and suppressions for every contact that has none yet."""
    counts = {"consent_records": 0, "consent_states": 0, "suppressions": 0}
    with session_scope(engine) as session:
        texts = {k: p.consent_text for k, p in load_purposes(session).items()}
        key = salt(session)
        total = session.scalar(select(func.count()).select_from(Contact)) or 0
    done, after = 0, 0
    suppressed: set[str] = set()  # duplicate demo contacts share addresses; one suppression per address
    while True:
        with session_scope(engine) as session:
            rows = session.execute(
                select(Contact.id, Contact.email, Contact.phone, Contact.created_at)
                .where(Contact.id > after)
                .order_by(Contact.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            after = rows[-1][0]
            records: list[dict[str, Any]] = []
            suppressions: list[dict[str, Any]] = []
            for cid, email, phone, created in rows:
                rng = random.Random(seed * 1_000_003 + cid)
                records.extend(_person(rng, cid, bool(phone), created, now, texts))
                if email:
                    suppressions.extend(_suppressions(rng, cid, email, key, now, suppressed))
            _write(session, records, suppressions, counts)
            done += len(rows)
        if progress:
            progress(done, total)
    return counts


def _write(
    session: Session, records: list[dict[str, Any]], suppressions: list[dict[str, Any]], counts: dict[str, int]
) -> None:
    ids = insert_returning_ids(session, ConsentRecord, records)
    latest: dict[tuple[int, str, str], dict[str, Any]] = {}
    for rid, rec in zip(ids, records, strict=True):
        rec["id"] = rid
        k = (rec["contact_id"], rec["channel"], rec["purpose"])
        held = latest.get(k)
        if held is None or (rec["occurred_at"], rid) > (held["occurred_at"], held["id"]):
            latest[k] = rec
    states = [
        {"contact_id": r["contact_id"], "channel": r["channel"], "purpose": r["purpose"], "status": r["status"],
         "lawful_basis": r["lawful_basis"], "source": r["source"], "record_id": r["id"], "changed_at": r["occurred_at"]}
        for r in latest.values()
    ]  # fmt: skip
    if states:
        session.execute(insert(ConsentState), states)
    if suppressions:
        session.execute(insert(Suppression), suppressions)
    counts["consent_records"] += len(records)
    counts["consent_states"] += len(states)
    counts["suppressions"] += len(suppressions)


def _record(
    cid: int, channel: str, purpose: str, status: str, source: str, at: datetime, text: str | None,
    rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    web = source in ("form", "double_opt_in", "preference_page", "unsubscribe")
    return {
        "contact_id": cid, "channel": channel, "purpose": purpose, "status": status, "lawful_basis": "consent",
        "source": source, "consent_text": text if status in ("granted", "pending") else None,
        "policy_version": POLICY_VERSIONS[0] if at.year < 2025 or at.month < 9 else POLICY_VERSIONS[1],
        "ip_address": f"198.51.100.{rng.randrange(1, 255)}" if web else None,
        "user_agent": rng.choice(_AGENTS) if web else None, "occurred_at": at, "recorded_at": at,
        "actor": _DEMO_ACTOR, "evidence": {"demo": True},
        "idempotency_key": None,
    }  # fmt: skip


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))


def _person(
    rng: random.Random, cid: int, has_phone: bool, created: datetime, now: datetime, texts: dict[str, str | None]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    signup = created
    roll = rng.random()
    if roll < 0.60:  # asked for the newsletter on a form: double opt-in
        out.append(_record(cid, "email", "newsletter", "pending", "form", signup, texts.get("newsletter"), rng))
        if roll < 0.54:  # most confirm within a day
            confirmed = signup + timedelta(minutes=rng.uniform(1, 1440))
            out.append(_record(cid, "email", "newsletter", "granted", "double_opt_in", confirmed,
                               texts.get("newsletter"), rng))  # fmt: skip
            if rng.random() < 0.12:
                out.append(_record(cid, "email", "newsletter", "withdrawn", "unsubscribe",
                                   _between(rng, confirmed, now), None, rng))  # fmt: skip
    if rng.random() < 0.35:
        out.append(
            _record(cid, "email", "product_updates", "granted", "form", signup, texts.get("product_updates"), rng)
        )
    if rng.random() < 0.22:
        at = _between(rng, signup, now)
        out.append(_record(cid, "email", "events", "granted", "form", at, texts.get("events"), rng))
        if rng.random() < 0.1:
            out.append(
                _record(cid, "email", "events", "withdrawn", "preference_page", _between(rng, at, now), None, rng)
            )
    if rng.random() < 0.08:
        at = _between(rng, signup, now)
        out.append(_record(cid, "email", "sales_outreach", "granted", "import", at, texts.get("sales_outreach"), rng))
        if has_phone:
            out.append(
                _record(cid, "phone", "sales_outreach", "granted", "import", at, texts.get("sales_outreach"), rng)
            )
    return out


def _suppressions(
    rng: random.Random, cid: int, email: str, key: bytes, now: datetime, suppressed: set[str]
) -> list[dict[str, Any]]:
    roll = rng.random()
    reason = "hard_bounce" if roll < 0.015 else "complaint" if roll < 0.018 else None
    hashed = subject_hash(key, address_kind("email"), email)
    if reason is None or hashed in suppressed:
        return []
    suppressed.add(hashed)
    return [{
        "subject_hash": hashed, "channel": "email", "reason": reason,
        "source": "demo:esp-feed", "note": None, "contact_id": cid,
        "created_at": now - timedelta(days=rng.uniform(1, 300)), "created_by": _DEMO_ACTOR,
    }]  # fmt: skip
