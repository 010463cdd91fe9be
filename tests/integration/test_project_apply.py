"""pitboard plan / apply: plans change nothing, apply is one transaction and versioned."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app as cli
from pitboard.consent.purposes import load_purposes
from pitboard.kit.actor import SYSTEM
from pitboard.models import DataContract, ProjectVersion
from pitboard.project import apply as project_apply
from pitboard.project.loader import load_project, scaffold

CONTRACT = """name: web-signups
entity: contacts
fields:
  email: {required: true}
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    scaffold(root, name="ops")
    return root


def test_plan_changes_nothing_and_apply_versions_every_change(session: Session, tmp_path: Path) -> None:
    root = _project(tmp_path)
    load_purposes(session)  # a database in use already has the default purposes
    first = project_apply.plan(session, load_project(root), actor=SYSTEM)
    assert first.applied_version is None
    assert first.changes["privacy"] == {"policy version": ["unset → 1"]}
    assert session.scalar(select(func.count()).select_from(ProjectVersion)) == 0

    v1 = project_apply.apply(session, load_project(root), actor=SYSTEM, message="first")
    assert v1 is not None
    assert (v1.version, v1.message) == (1, "first")
    assert "privacy.yml" in v1.manifest
    assert project_apply.apply(session, load_project(root), actor=SYSTEM) is None  # nothing changed
    assert not project_apply.plan(session, load_project(root), actor=SYSTEM).has_changes

    text = (root / "privacy.yml").read_text().replace("label: Events", "label: Events and webinars")
    (root / "privacy.yml").write_text(text)
    (root / "contracts").mkdir()
    (root / "contracts" / "web.yml").write_text(CONTRACT)
    planned = project_apply.plan(session, load_project(root), actor=SYSTEM)
    assert planned.changes["privacy"] == {"purposes updated": ["events"]}
    assert planned.changes["contracts"] == {"created": ["web-signups"]}
    assert load_purposes(session)["events"].label == "Events"  # the plan wrote nothing
    assert session.scalar(select(func.count()).select_from(DataContract)) == 0
    v2 = project_apply.apply(session, load_project(root), actor=SYSTEM)
    assert v2 is not None
    assert v2.version == 2
    assert v2.changes == planned.changes  # apply did exactly what the plan said
    assert load_purposes(session)["events"].label == "Events and webinars"


def test_cli_plan_apply_versions_and_schema(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    root = _project(tmp_path)
    runner = CliRunner()
    planned = runner.invoke(cli, ["plan", str(root), "--json", "--database-url", url])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)["changes"]["privacy"]["policy version"] == ["unset → 1"]
    applied = runner.invoke(cli, ["apply", str(root), "-m", "initial", "--database-url", url])
    assert "applied as version 1" in applied.output, applied.output
    again = runner.invoke(cli, ["apply", str(root), "--database-url", url])
    assert "already matches the project" in again.output
    listed = runner.invoke(cli, ["versions", "--database-url", url])
    assert "initial" in listed.output
    (root / "privacy.yml").write_text("purposes: []\n")
    broken = runner.invoke(cli, ["apply", str(root), "--database-url", url])
    assert broken.exit_code == 1
    assert "privacy.yml" in broken.output
    out = tmp_path / "schemas"
    result = runner.invoke(cli, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    privacy = json.loads((out / "privacy.schema.json").read_text())
    assert "purposes" in privacy["properties"]


SCORING = """models:
  - key: default
    name: Default lead score
    fit:
      criteria:
        - {name: Decision maker, points: 15, condition: {field: seniority, op: in, value: [director, vp]}}
    engagement:
      decay: {half_life_days: 30}
      criteria:
        - {name: Demo requested, event: demo_requested, points: 30}
    thresholds:
      - {score: 40}
"""
SEGMENT = """name: German directors
condition:
  all:
    - {field: country, op: eq, value: DE}
    - {field: seniority, op: eq, value: director}
"""


def test_scoring_and_segments_plan_and_apply_with_the_rest(session: Session, tmp_path: Path) -> None:
    from pitboard.models import ScoringModel, Segment

    root = _project(tmp_path)
    (root / "scoring.yml").write_text(SCORING)
    (root / "segments").mkdir()
    (root / "segments" / "de-directors.yml").write_text(SEGMENT)
    project = load_project(root)
    assert project.ok, [str(p) for p in project.problems]
    planned = project_apply.plan(session, project, actor=SYSTEM)
    assert planned.changes["scoring"]
    assert planned.changes["segments"]
    assert session.scalar(select(func.count()).select_from(ScoringModel)) == 0
    assert session.scalar(select(func.count()).select_from(Segment)) == 0
    version = project_apply.apply(session, project, actor=SYSTEM)
    assert version is not None
    assert session.scalar(select(ScoringModel.key)) == "default"
    segment = session.scalar(select(Segment).where(Segment.key == "de-directors"))
    assert segment is not None
    assert segment.origin == "project"
    assert not project_apply.plan(session, load_project(root), actor=SYSTEM).has_changes


def test_plan_since_simulates_the_scoring_change(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    root = _project(tmp_path)
    (root / "scoring.yml").write_text(SCORING)
    result = CliRunner().invoke(cli, ["plan", str(root), "--since", "2026-01-01", "--json", "--database-url", url])
    assert result.exit_code == 0, result.output
    simulation = json.loads(result.output)["simulation"]["scoring"]
    assert simulation["months"][0] == "2026-01"
    assert len(simulation["proposed"]) == len(simulation["months"])
