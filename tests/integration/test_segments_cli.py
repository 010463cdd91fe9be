"""``pitboard segments`` end to end against a real database."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.segments import segments_app
from pitboard.consent import ledger
from pitboard.consent.ledger import ConsentEntry
from pitboard.kit.actor import SYSTEM
from pitboard.segments import service
from tests.integration.test_segments_refresh import add_contact, create, open_members

runner = CliRunner()


def _run(engine: Engine, *args: str, code: int = 0) -> str:
    result = runner.invoke(segments_app, [*args, "--database-url", engine.url.render_as_string(hide_password=False)])
    assert result.exit_code == code, result.output
    return result.output


def test_list_show_refresh_and_members(engine: Engine, session: Session) -> None:
    ann = add_contact(session, "ann@acme.io", country="US", first_name="Ann").id
    add_contact(session, "bob@acme.io", country="DE")
    create(session, "us", {"field": "country", "op": "eq", "value": "US"}, description="Americans")
    create(session, "us-again", {"in_segment": "us"})
    session.commit()

    listed = _run(engine, "list")
    assert "us-again" in listed
    assert "never" in listed  # not refreshed yet
    refreshed = _run(engine, "refresh", "us-again")
    assert refreshed.index("│ us ") < refreshed.index("│ us-again")  # the dependency first
    assert open_members(session, "us-again") == {ann}
    session.rollback()
    assert "us-again" in _run(engine, "refresh", "--all")
    assert "name a segment, or pass --all" in _run(engine, "refresh", code=1)
    assert "no segment nope" in _run(engine, "refresh", "nope", code=1).replace("\n", " ")

    shown = _run(engine, "show", "us")
    assert "field: country" in shown
    assert "1 members" in shown
    members = _run(engine, "members", "us")
    assert "Ann" in members
    assert "1 of 1 members shown" in members
    assert "0 of 0 members shown" in _run(engine, "members", "us", "--at", "2000-01-01T00:00:00")


def test_preview_a_file_and_report_problems_with_their_line(engine: Engine, session: Session, tmp_path: Path) -> None:
    for i in range(3):
        add_contact(session, f"p{i}@acme.io", country="FR")
    session.commit()
    good = tmp_path / "french.yml"
    good.write_text("key: french\nname: French contacts\ncondition:\n  field: country\n  op: eq\n  value: FR\n")
    output = _run(engine, "preview", str(good))
    assert "french: 3 matching contacts" in output
    assert "p2@acme.io" in output
    bad = tmp_path / "bad.yml"
    bad.write_text("key: bad\nname: Bad\ncondition:\n  all:\n    - {field: contry, op: eq, value: FR}\n")
    output = _run(engine, "preview", str(bad), code=1)
    assert f"{bad}:5: condition.all[0].field: unknown field 'contry'; did you mean country?" in output.replace("\n", "")
    broken = tmp_path / "broken.yml"
    broken.write_text("key: [\n")
    assert "not valid YAML" in _run(engine, "preview", str(broken), code=1)


def test_import_a_list_and_export_through_the_consent_gate(engine: Engine, session: Session, tmp_path: Path) -> None:
    yes = add_contact(session, "yes@acme.io").id
    add_contact(session, "silent@acme.io")
    ledger.record(session, contact_id=yes, entry=ConsentEntry(channel="email", purpose="events", status="granted",
                                                                source="form"), actor=SYSTEM)  # fmt: skip
    service.create_segment(session, service.parse_spec(session, {"key": "vips", "name": "VIPs", "kind": "static"}),
                           actor=SYSTEM)  # fmt: skip
    session.commit()
    listing = tmp_path / "vips.csv"
    listing.write_text("email\nyes@acme.io\nsilent@acme.io\nghost@acme.io\n")
    output = _run(engine, "import", "vips", str(listing))
    assert "2 added, 0 already members, 1 not found" in output
    assert "ghost@acme.io" in output
    out = tmp_path / "export.csv"
    output = _run(engine, "export", "vips", "--purpose", "events", "-o", str(out))
    assert "1 contacts written" in output
    assert '"no_consent": 1' in output
    with out.open() as written:
        assert [row["email"] for row in csv.DictReader(written)] == ["yes@acme.io"]
