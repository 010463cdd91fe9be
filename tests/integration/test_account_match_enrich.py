"""Lead-to-account matching and enrichment against a real database, through the CLI and the API."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pitboard.cli.main import app
from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import AccountCreate, AccountUpdate, ContactCreate
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.db import session_scope
from pitboard.models import Account, Contact

runner = CliRunner()
WEB = Actor(name="ops@acme.io", interface="web", role="admin")


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_match_accounts_command_and_unmatched_filter(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    with session_scope(engine) as s:
        acme = contacts.create_account(s, AccountCreate(name="Acme GmbH", domain="acme.de", country="DE"), actor=SYSTEM)
        contacts.create_account(s, AccountCreate(name="Globex", domain="globex.com", country="US"), actor=SYSTEM)
        for email, company in (("ann@acme.de", None), ("bob@gmail.com", "Globex Inc."), ("cy@yahoo.com", None)):
            contacts.create_contact(s, ContactCreate(email=email, company_name=company), actor=SYSTEM)
        acme_id = acme.id
    result = runner.invoke(app, ["quality", "match-accounts", "--database-url", _url(engine)])
    assert result.exit_code == 0, result.output
    assert "3 contacts examined" in result.output
    rows = {c.email: (c.account_id, c.account_match, c.account_match_reason) for c in session.scalars(select(Contact))}
    session.rollback()
    assert rows["ann@acme.de"][:2] == (acme_id, "domain")
    assert rows["bob@gmail.com"][1] == "name"
    assert rows["cy@yahoo.com"] == (None, "unmatched", "free-mail address and no company name to match on")
    listed = client.get("/api/v1/contacts", params={"account_match": "unmatched"}, headers=admin_headers).json()
    assert [c["email"] for c in listed["items"]] == ["cy@yahoo.com"]
    assert listed["items"][0]["account_match_reason"].startswith("free-mail")


def test_enrichment_fills_gaps_and_never_overwrites_a_better_source(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    with session_scope(engine) as s:
        a = contacts.create_account(s, AccountCreate(name="Acme", domain="www.acme.io"), actor=SYSTEM)
        b = contacts.create_account(s, AccountCreate(name="Globex", domain="globex.com"), actor=SYSTEM)
        contacts.update_account(s, b.id, AccountUpdate(industry="Aerospace"), actor=WEB)  # a person typed it
        ids = (a.id, b.id)
    firmographics = tmp_path / "firmographics.csv"
    firmographics.write_text(
        "domain,name,industry,employee_count,annual_revenue,country\n"
        "acme.io,Acme Corporation,Software,250,12000000,Germany\n"
        "globex.com,Globex,Manufacturing,1200,,US\n"
    )
    result = runner.invoke(app, ["quality", "enrich", "--file", str(firmographics), "--database-url", _url(engine)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 accounts found" in result.output
    assert "industry: 1 filled, 1 kept (better source)" in result.output
    acme, globex = session.get(Account, ids[0]), session.get(Account, ids[1])
    assert acme is not None
    assert globex is not None
    assert (acme.industry, acme.employee_count, acme.annual_revenue, acme.country) == (
        "Software", 250, Decimal("12000000.00"), "DE",
    )  # fmt: skip
    assert acme.name == "Acme"  # entered before by a higher-ranked source: the provider does not replace it
    assert acme.field_sources["industry"]["source"] == "enrichment:file"
    assert globex.industry == "Aerospace"
    assert globex.field_sources["industry"]["source"] == "web"
    assert globex.employee_count == 1200
