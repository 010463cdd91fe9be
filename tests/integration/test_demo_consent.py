"""The demo's consent history: consistent with the ledger rules and varied enough to show every verdict."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pitboard.consent import gate, ledger
from pitboard.demo import generate_demo
from pitboard.demo.consent import generate_consent
from pitboard.models import Contact

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_demo_consent_matches_the_ledger_and_covers_every_verdict(engine: Engine, session: Session) -> None:
    summary = generate_demo(engine, contacts=600, seed=7, now=NOW)
    counts = generate_consent(engine, seed=7, now=summary.now)
    assert counts["consent_records"] > 600
    assert counts["suppressions"] > 0
    assert ledger.verify_states(session) == []
    verdicts = gate.iter_verdicts(session, select(Contact.id), channel="email", purpose="newsletter", kind="marketing")
    reasons = Counter(v.reason for _, v in verdicts)
    assert {"ok", "no_consent", "pending_double_opt_in", "withdrawn", "suppressed:hard_bounce"} <= set(reasons)
    assert 0.3 < reasons["ok"] / sum(reasons.values()) < 0.6
