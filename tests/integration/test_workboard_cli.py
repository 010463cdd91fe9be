"""``pitboard board`` end to end against a real database, and campaign_ops.yml through check / apply."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.cli.workboard import workboard_app
from pitboard.kit.actor import SYSTEM
from pitboard.models import Campaign
from pitboard.project import apply as project_apply
from pitboard.project.loader import load_project, scaffold
from pitboard.workboard import board
from tests.integration.test_workboard_service import audience, configure

runner = CliRunner()

BRIEF = """name_parts: {year: "2026", region: emea, channel: webinar, topic: data-day}
campaign_type: webinar
channel: webinar
objective: Fill the data day webinar with 300 buyers
audience_segment: buyers
consent_purpose: product_updates
start_date: 2026-12-01
end_date: 2026-12-20
budget: 5000
success_metrics: [{metric: registrations, target: 300}]
owner_email: owner@example.com
"""

OPS_YML = """naming:
  separator: "-"
  fields:
    - {name: quarter, pattern: "^q[1-4]$"}
    - {name: topic, values: [launch, webinar]}
  utm:
    source: [google]
    medium: [cpc]
board:
  columns:
    - {key: inbox, name: Inbox, kind: queue}
    - {key: doing, name: Doing, wip_limit: 2}
    - {key: shipped, name: Shipped, kind: done}
  tiers:
    standard: {name: Standard, sla_hours: 48}
"""


def _run(engine: Engine, *args: str, code: int = 0) -> str:
    result = runner.invoke(workboard_app, [*args, "--database-url", engine.url.render_as_string(hide_password=False)])
    assert result.exit_code == code, result.output
    return result.output


def test_board_commands(engine: Engine, session: Session) -> None:
    assert "#1 added to requested" in _run(engine, "add", "Q3 report", "--type", "report", "--priority", "high")
    _run(engine, "add", "Fix countries", "--type", "data_fix")
    assert "#1 is in in_progress" in _run(engine, "move", "1", "in_progress")
    assert "blocked" in _run(engine, "block", "2", "waiting for the CRM export")
    shown = _run(engine, "show")
    assert "BLOCKED: waiting for the CRM export" in shown
    assert "In progress (in_progress) 1/8" in shown
    assert "column must be one of" in _run(engine, "move", "1", "limbo", code=1)
    _run(engine, "move", "1", "done")
    flow = _run(engine, "flow", "--days", "7")
    assert "lead time" in flow
    assert "throughput: 1 finished" in flow
    assert '"lead_time_days"' in _run(engine, "flow", "--json")


def test_intake_checklist_approvals_and_budget(engine: Engine, session: Session, tmp_path: Path) -> None:
    configure(session)
    audience(session)
    session.commit()
    path = tmp_path / "brief.yml"
    path.write_text(BRIEF.replace("budget: 5000", "budget: -1"))
    assert "brief.yml:9: budget" in _run(engine, "intake", str(path), code=1)
    path.write_text(BRIEF)
    assert "stage in_review" in _run(engine, "intake", str(path))
    cid = session.scalar(select(Campaign.id))
    session.rollback()
    assert "not ready: checklist: creative_review" in _run(engine, "ops", str(cid))
    assert "cannot go live yet" in _run(engine, "go-live", str(cid), code=1)
    for key in ("creative_review", "legal", "tracking_test"):
        _run(engine, "check", str(cid), key, "done")
    assert "3 members, 2 may be emailed" in _run(engine, "run-check", str(cid), "audience_qa")
    _run(engine, "run-check", str(cid), "utm_verified")
    assert "only approvers" in _run(engine, "decide", str(cid), "approve", "--as", "rev@example.com", code=1)
    _run(engine, "decide", str(cid), "approve", "--as", "brand@example.com")
    assert "legal: approved" in _run(engine, "decide", str(cid), "approve", "--as", "legal@example.com")
    assert "is live since" in _run(engine, "go-live", str(cid))
    assert "1,000.00" in _run(engine, "budget-set", str(cid), "webinar", "--committed", "1000")
    assert "must be a number" in _run(engine, "budget-set", str(cid), "webinar", "--planned", "lots", code=1)


def test_naming_commands(engine: Engine) -> None:
    assert "2026_emea_email_spring" in _run(engine, "name", "year=2026", "region=emea", "channel=email",
                                            "topic=spring")  # fmt: skip
    out = _run(engine, "name-check", "2026_emea_email_spring", "2026_Emea_mail_spring", code=2)
    assert "✓ 2026_emea_email_spring" in out
    assert "→ emea" in out
    assert "→ email" in out
    link = _run(engine, "utm-link", "https://acme.io", "--source", "google", "--medium", "cpc", "--campaign",
                "2026_emea_email_spring")  # fmt: skip
    assert link.strip() == "https://acme.io/?utm_source=google&utm_medium=cpc&utm_campaign=2026_emea_email_spring"
    assert "did you mean 'google'" in _run(engine, "utm-link", "https://acme.io", "--source", "gogle", "--medium",
                                           "cpc", "--campaign", "2026_emea_email_spring", code=1)  # fmt: skip


def test_campaign_ops_yml_checked_and_applied(session: Session, tmp_path: Path) -> None:
    root = tmp_path / "ops"
    scaffold(root, name="ops")
    (root / "campaign_ops.yml").write_text(OPS_YML.replace("wip_limit: 2", "wip_limit: 0"))
    problems = [str(p) for p in load_project(root).problems]
    assert any("campaign_ops.yml:12: board.columns.1.wip_limit" in p for p in problems), problems
    (root / "campaign_ops.yml").write_text(OPS_YML)
    planned = project_apply.plan(session, load_project(root), actor=SYSTEM)
    assert planned.changes["campaign_ops"] == {"updated": ["naming", "board"]}
    assert board.current_spec(session).board.columns[0].key == "requested"  # the plan wrote nothing
    project_apply.apply(session, load_project(root), actor=SYSTEM)
    assert [c.key for c in board.current_spec(session).board.columns] == ["inbox", "doing", "shipped"]
    assert not project_apply.plan(session, load_project(root), actor=SYSTEM).changes.get("campaign_ops")
    (root / "campaign_ops.yml").unlink()
    assert project_apply.plan(session, load_project(root), actor=SYSTEM).changes["campaign_ops"]


def test_cli_check_reports_campaign_ops_lines(tmp_path: Path) -> None:
    root = tmp_path / "ops"
    scaffold(root, name="ops")
    (root / "campaign_ops.yml").write_text(OPS_YML.replace("kind: queue", "kind: backlog"))
    out = runner.invoke(cli, ["check", str(root)])
    assert out.exit_code == 1
    assert "campaign_ops.yml:11: board.columns.0.kind" in out.output
