"""``pitboard scoring rescore / explain`` and ``pitboard lifecycle funnel`` against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.scoring import lifecycle_app, scoring_app
from pitboard.models import LifecycleStageChange
from tests.integration.test_scoring_engine import add_contact, add_event, install, stage_of, stored, today_midnight

runner = CliRunner()


def _run(engine: Engine, app: object, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--database-url", engine.url.render_as_string(hide_password=False)])  # type: ignore[arg-type]
    assert result.exit_code == code, result.output
    return result.output


def test_rescore_every_model_then_explain_a_contact(engine: Engine, session: Session) -> None:
    install(session)
    contact_id = add_contact(session, email="ada@example.org", seniority="vp", lifecycle_stage="lead")
    add_event(session, contact_id, "demo_requested", today_midnight())
    session.commit()
    output = _run(engine, scoring_app, "rescore")
    for key in ("default", "windowed", "forever"):
        assert f"✓ {key} v1:" in output
    assert "1 stage moves" in output
    assert stored(session, "default")[contact_id][0] == 35.0
    assert stage_of(session, contact_id) == "mql"
    session.rollback()
    explained = _run(engine, scoring_app, "explain", "ADA@example.org", "--model", "default")
    assert "total 35 = fit 15 + engagement 20" in explained
    assert "Senior" in explained
    assert "Demos" in explained
    assert "half-life 10 days" in explained
    everything = _run(engine, scoring_app, "explain", "ada@example.org")
    assert "Windowed" in everything
    assert "No decay" in everything


def test_rescore_and_explain_report_problems(engine: Engine, session: Session) -> None:
    assert "no active scoring model" in _run(engine, scoring_app, "rescore", code=1)
    install(session)
    assert "scoring model 'nope' does not exist" in _run(engine, scoring_app, "rescore", "nope", code=1)
    assert "no contact has the email" in _run(engine, scoring_app, "explain", "who@example.org", code=1)


def test_lifecycle_funnel(engine: Engine, session: Session) -> None:
    contact_id = add_contact(session)
    day = datetime(2025, 5, 1, tzinfo=UTC)
    for from_stage, to_stage, offset in ((None, "lead", 0), ("lead", "mql", 3)):
        session.add(LifecycleStageChange(contact_id=contact_id, from_stage=from_stage, to_stage=to_stage,
                                         changed_at=day + timedelta(days=offset), source="test"))  # fmt: skip
    session.commit()
    output = _run(engine, lifecycle_app, "funnel", "--since", "2025-05-01", "--until", "2025-05-31")
    assert "Funnel 2025-05-01 to 2025-05-31" in output
    lead_line = next(line for line in output.splitlines() if "Lead" in line and "Marketing" not in line)
    assert "100.0%" in lead_line
    assert "3.0 (1)" in lead_line
    assert "--since is after --until" in _run(engine, lifecycle_app, "funnel", "--since", "2025-06-01",
                                              "--until", "2025-05-01", code=1)  # fmt: skip
