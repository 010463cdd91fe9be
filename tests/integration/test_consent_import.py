"""Importing consent history from another system: recorded once, bad rows quarantined and replayable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.consent import ledger
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models import ConsentRecord, Contact, QuarantinedRecord
from pitboard.quality import quarantine

CSV = """email,purpose,status,occurred_at,consent_text,ip_address,policy_version
ada@example.org,newsletter,opted_in,2024-03-01T10:00:00Z,Sign me up,192.0.2.1,2024-01
ada@example.org,events,yes,2024-03-01T10:00:00,Invite me,,
ADA@example.org,newsletter,unsubscribed,2025-06-01T08:30:00+02:00,,,
late@example.org,events,granted,2024-05-05T00:00:00Z,Invite me,,
ada@example.org,fax_offers,granted,2024-05-05T00:00:00Z,x,,
ada@example.org,events,granted,yesterday,x,,
"""


def test_consent_history_imports_once_and_bad_rows_wait_in_quarantine(
    engine: Engine, tmp_path: Path, session: Session
) -> None:
    with session_scope(engine) as s:
        s.add(Contact(email="ada@example.org", email_normalized="ada@example.org"))
    path = tmp_path / "consent.csv"
    path.write_text(CSV, encoding="utf-8")
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["consent", "import", str(path), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "6 rows: 3 recorded, 0 already in the ledger, 3 quarantined" in result.output
    again = CliRunner().invoke(cli, ["consent", "import", str(path), "--database-url", url])
    assert "0 recorded, 3 already in the ledger" in again.output

    ada = session.scalar(select(Contact.id).where(Contact.email == "ada@example.org"))
    assert ada is not None
    states = {s.purpose: s.status for s in ledger.states(session, ada)}
    assert states == {"newsletter": "withdrawn", "events": "granted"}
    first = session.scalar(select(ConsentRecord).where(ConsentRecord.ip_address == "192.0.2.1"))
    assert first is not None
    assert (first.source, first.consent_text, first.policy_version) == ("import", "Sign me up", "2024-01")
    held = {q.reasons[0].split(" ")[0] for q in session.scalars(select(QuarantinedRecord))}
    assert held == {"no", "purpose", "occurred_at"}

    # The missing contact arrives; replaying its row records it.
    late = session.scalar(select(QuarantinedRecord).where(QuarantinedRecord.reasons.is_not(None)).order_by(
        QuarantinedRecord.id))  # fmt: skip
    assert late is not None
    assert "late@example.org" in late.reasons[0]
    session.add(Contact(email="late@example.org", email_normalized="late@example.org"))
    replayed = quarantine.replay(session, late.id, actor=SYSTEM)
    assert replayed.status == "replayed"
    assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 4
