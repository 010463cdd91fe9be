"""`pitboard routing` on SQLite and PostgreSQL, and routing.yml through `pitboard check`/`plan`/`apply`."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from pitboard.cli.routing import routing_app
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models.routing import RoutingLead
from pitboard.project.apply import plan
from pitboard.project.loader import load_project
from tests.integration.test_routing_engine import add_lead, add_rep, apply_routing

runner = CliRunner()

FLOW = """
pools:
  - key: sdr
    members: [{user: ana@salesco.com}, {user: bo@salesco.com}]
rules:
  - name: americas
    when: {field: country, op: in, value: [US, CA]}
    to: "pool:sdr"
"""


def cli(engine: Engine, *args: str) -> tuple[int, str]:
    result = runner.invoke(routing_app, [*args, "--database-url", engine.url.render_as_string(hide_password=False)])
    return result.exit_code, result.output


def test_route_explain_queue_reject_reroute_and_report(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        ana, bo = add_rep(s, "Ana"), add_rep(s, "Bo")
    with session_scope(engine) as s:
        apply_routing(s, tmp_path, FLOW)
        us, nowhere = add_lead(s, country="US"), add_lead(s)
    code, out = cli(engine, "route", str(us))
    assert code == 0, out
    assert "assigned" in out
    assert "→ Ana: next in the round robin" in out
    code, out = cli(engine, "route", str(nowhere))
    assert "no rule matched; missing: country" in out
    code, out = cli(engine, "queue")
    assert code == 0
    assert str(nowhere) in out
    assert "missing:" in out
    assert "country" in out
    code, out = cli(engine, "explain", str(us))
    assert code == 0
    assert "✓ rule americas" in out
    assert cli(engine, "explain", "424242")[0] == 1
    code, out = cli(engine, "reject", str(us), "--reason", "nope")
    assert code == 1
    assert "a rejection needs a reason" in out
    code, out = cli(engine, "reject", str(us), "--reason", "duplicate")
    assert code == 0, out
    code, out = cli(engine, "away", "bo@salesco.com", "--from", "2020-01-01", "--until", "2999-01-01")
    assert code == 0, out
    code, out = cli(engine, "availability")
    assert "out of office" in out
    code, out = cli(engine, "reroute", "--where", "{field: country, op: eq, value: US}")
    assert code == 0, out
    assert "re-routed 1 contacts" in out
    assert '"assigned": 1' in out
    with session_scope(engine) as s:
        assert s.scalar(select(RoutingLead.owner_id).where(RoutingLead.contact_id == us)) == ana  # Bo is away
    code, out = cli(engine, "reroute", "--where", "{field: nope, op: eq, value: 1}")
    assert code == 1
    assert "nope" in out
    code, out = cli(engine, "report", "--json")
    assert code == 0
    assert '"duplicate": 1' in out
    code, out = cli(engine, "sla", "--check")
    assert code == 0, out
    del bo


def test_check_reports_routing_errors_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "pitboard.yml").write_text("name: t\n", encoding="utf-8")
    (tmp_path / "routing.yml").write_text(
        "pools:\n  - key: sdr\n    members: [{user: ana@salesco.com}]\nrules:\n"
        '  - {name: a, to: "pool:nope"}\n  - {name: b, to: "somewhere"}\n',
        encoding="utf-8",
    )
    problems = [str(p) for p in load_project(tmp_path).problems]
    assert any("routing.yml:6: rules.1.to:" in p and "account_owner, pool:<key>" in p for p in problems), problems
    (tmp_path / "routing.yml").write_text(
        'pools:\n  - key: sdr\n    members: [{user: ana@salesco.com}]\nrules:\n  - {name: a, to: "pool:nope"}\n',
        encoding="utf-8",
    )
    problems = [str(p) for p in load_project(tmp_path).problems]
    assert any("no pool 'nope'" in p for p in problems), problems


def test_plan_simulates_the_last_days_of_leads_under_a_changed_flow(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        ana, bo = add_rep(s, "Ana"), add_rep(s, "Bo")
        add_rep(s, "Cy")
    with session_scope(engine) as s:
        apply_routing(s, tmp_path / "v1", FLOW)
        leads = [add_lead(s, country="US") for _ in range(4)] + [add_lead(s, country="DE")]
    from pitboard.routing.engine import route_contacts

    with session_scope(engine) as s:
        route_contacts(s, leads, trigger="test", notify=False)
    proposed = tmp_path / "v2"
    proposed.mkdir()
    (proposed / "pitboard.yml").write_text("name: t\n", encoding="utf-8")
    europe = '  - {name: europe, when: {field: country, op: eq, value: DE}, to: "queue:emea"}\n'
    text = FLOW.replace("{user: bo@salesco.com}", "{user: cy@salesco.com}") + europe
    (proposed / "routing.yml").write_text(text, encoding="utf-8")
    project = load_project(proposed)
    assert project.ok, project.problems
    with session_scope(engine) as s:
        result = plan(s, project, actor=SYSTEM, simulate_since=date.today() - timedelta(days=7))
        sim = result.simulation["routing"]
        changes = result.changes["routing"]
    cy = 3
    assert changes == {"changed": [f"pool sdr: member {cy} added", f"pool sdr: member {bo} removed"]}
    assert sim["leads"] == 5
    by_owner = {row["owner"]: (row["now"], row["proposed"]) for row in sim["by_owner"]}
    assert by_owner["Ana"] == (2, 2)
    assert by_owner["Bo"] == (2, 0)
    assert by_owner["Cy"] == (0, 2)
    assert by_owner["queue:emea"] == (0, 1)
    assert by_owner["unassigned"] == (1, 0)
    assert sim["changed"] == 3
    # Nothing was written: the leads keep their owners.
    with session_scope(engine) as s:
        owners = sorted(o for o in s.scalars(select(RoutingLead.owner_id)) if o is not None)
    assert owners == sorted([ana, bo, ana, bo])
