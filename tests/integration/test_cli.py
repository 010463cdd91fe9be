"""The CLI end to end: each command against a real database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app
from pitboard.kit import migrate
from pitboard.models import ApiKey, Contact, QuarantinedRecord, User

runner = CliRunner()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_init_scaffolds_a_valid_project_and_migrates(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = runner.invoke(app, ["init", str(tmp_path / "acme-ops"), "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert "schema: empty → " in result.output
    assert (tmp_path / "acme-ops" / "pitboard.yml").read_text().count("name: acme-ops") == 1
    check = runner.invoke(app, ["check", str(tmp_path / "acme-ops")])
    assert check.exit_code == 0, check.output
    assert "lifecycle.yml, pitboard.yml, privacy.yml valid" in check.output


def test_check_reports_file_line_and_field(tmp_path: Path) -> None:
    runner.invoke(app, ["init", str(tmp_path), "--skip-migrate", "--name", "acme"])
    (tmp_path / "pitboard.yml").write_text("name: acme\ntimezone: Mars/Olympus\ncurrancy: EUR\n")
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert "pitboard.yml:2: timezone: unknown time zone 'Mars/Olympus'" in result.output
    assert "pitboard.yml:3: currancy: unknown key" in result.output


def test_migrate_downgrade_and_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert runner.invoke(app, ["migrate", "--database-url", url]).exit_code == 0
    down = runner.invoke(app, ["migrate", "--database-url", url, "--downgrade", "base"])
    assert down.exit_code == 0
    assert "→ empty" in down.output


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["apikeys", "create", "--name", "x", "--database-url", f"sqlite:///{tmp_path / 'e.db'}"]
    )
    assert result.exit_code == 1
    assert "run `pitboard migrate` first" in result.output


def test_import_contacts_upserts_and_quarantines_bad_rows(engine: Engine, session: Session, tmp_path: Path) -> None:
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text(
        "email,first_name,last_name,country,lifecycle_stage\n"
        "ann@acme.de,Ann,Lee,DE,lead\n"
        "not-an-email,Bad,Row,US,lead\n"
        "bob@globex.com,Bob,Ray,Atlantis,lead\n"
        "cy@initech.com,Cy,Po,,mql\n"
    )
    result = runner.invoke(app, ["import", "contacts", str(csv_path), "--database-url", _url(engine)])
    assert result.exit_code == 2, result.output  # some rows were quarantined
    assert "4 rows: 2 created, 0 updated, 0 unchanged, 2 quarantined" in result.output
    held = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
    assert [q.payload["row"] for q in held] == [2, 3]
    assert "not valid" in held[0].reasons[0]
    assert held[1].payload["original"]["country"] == "Atlantis"  # the original row is kept whole, to fix and replay
    session.rollback()

    csv_path.write_text("email,first_name,title\nANN@acme.de,Ann,CMO\ncy@initech.com,Cy,\n")
    again = runner.invoke(app, ["import", "contacts", str(csv_path), "--database-url", _url(engine)])
    assert again.exit_code == 0, again.output
    assert "2 rows: 0 created, 1 updated, 1 unchanged, 0 quarantined" in again.output
    assert session.scalar(select(func.count()).select_from(Contact)) == 2
    ann = session.scalars(select(Contact).where(Contact.email_normalized == "ann@acme.de")).one()
    assert (ann.title, ann.last_name, ann.country) == ("CMO", "Lee", "DE")  # empty cells never blank out values


def test_import_refuses_unknown_columns_up_front(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("name,domian\nAcme,acme.com\n")
    result = runner.invoke(app, ["import", "accounts", str(path), "--database-url", _url(engine)])
    assert result.exit_code == 1
    assert "domian" in result.output


def test_import_jsonl_accounts_with_a_broken_line(engine: Engine, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    path.write_text('{"name": "Acme", "domain": "acme.com", "employee_count": 120}\n{broken\n[1, 2]\n')
    result = runner.invoke(app, ["import", "accounts", str(path), "--database-url", _url(engine)])
    assert result.exit_code == 2
    assert "3 rows: 1 created, 0 updated, 0 unchanged, 2 quarantined" in result.output
    reasons = [q.reasons[0] for q in session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id))]
    assert reasons == [
        "line 2 is not valid JSON: Expecting property name enclosed in double quotes",
        "line 3 is not a JSON object",
    ]


def test_api_keys_and_users(engine: Engine, session: Session) -> None:
    url = _url(engine)
    created = runner.invoke(app, ["apikeys", "create", "--name", "zapier", "--role", "editor", "--database-url", url])
    assert created.exit_code == 0, created.output
    secret = created.output.strip()
    assert secret.startswith("pb_")
    key = session.scalars(select(ApiKey)).one()
    assert secret not in key.key_hash  # only the hash is stored
    key_id = key.id
    session.rollback()
    listed = runner.invoke(app, ["apikeys", "list", "--database-url", url])
    assert "zapier" in listed.output
    assert secret not in listed.output
    assert runner.invoke(app, ["apikeys", "revoke", str(key_id), "--database-url", url]).exit_code == 0

    bad_role = runner.invoke(app, ["apikeys", "create", "--name", "x", "--role", "root", "--database-url", url])
    assert bad_role.exit_code == 1
    assert "role must be one of" in bad_role.output

    made = runner.invoke(
        app,
        ["users", "create", "--email", "Mo@Example.com", "--name", "Mo", "--role", "editor", "--database-url", url],
        input="long-enough-pw\nlong-enough-pw\n",
    )
    assert made.exit_code == 0, made.output
    assert session.scalars(select(User.email)).one() == "mo@example.com"


def test_head_revision_matches_the_migrations_folder() -> None:
    assert migrate.head_revision() is not None
