"""Bulk import end to end: presets, mapping files, every entity, contracts, quarantine, replay, idempotency."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.imports.service import ImportRefused, import_file
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.db import session_scope
from pitboard.models import (
    Account,
    Campaign,
    CampaignSpend,
    Contact,
    Event,
    Identity,
    ImportRun,
    LifecycleStageChange,
    Opportunity,
    QuarantinedRecord,
)
from pitboard.project.loader import load_project
from pitboard.quality import quarantine
from pitboard.quality.contract_store import apply_contracts

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _count(session: Session, model: type) -> int:
    session.rollback()
    n = session.scalar(select(func.count()).select_from(model)) or 0
    session.rollback()
    return n


def test_hubspot_contacts_preset(engine: Engine, session: Session) -> None:
    summary = import_file(engine, "contacts", FIXTURES / "hubspot_contacts.csv", actor=SYSTEM, preset="hubspot")
    assert (summary.rows, summary.created, summary.quarantined) == (4, 3, 1)
    assert set(summary.ignored_columns) == {"Marketing contact status", "Last Activity Date"}
    ann = session.scalars(select(Contact).where(Contact.email_normalized == "ann.lee@acme.io")).one()
    assert (ann.first_name, ann.title, ann.country, ann.lifecycle_stage, ann.lead_source) == (
        "Ann", "CMO", "DE", "mql", "ORGANIC_SEARCH",
    )  # fmt: skip
    assert ann.created_at.year == 2026 and ann.created_at.month == 3  # noqa: PT018
    ids = {(i.kind, i.value) for i in session.scalars(select(Identity).where(Identity.contact_id == ann.id))}
    assert ids == {("email", "ann.lee@acme.io"), ("external:hubspot", "1001")}
    stages = session.scalars(select(LifecycleStageChange.to_stage).where(LifecycleStageChange.contact_id == ann.id))
    assert list(stages) == ["mql"]
    reasons = sorted(r for q in session.scalars(select(QuarantinedRecord)) for r in q.reasons)
    assert reasons == ["email 'cy@initech' is not valid: the domain name must have a dot, as in example.com"]
    di = session.scalars(select(Contact).where(Contact.email_normalized == "di@umbrella.com")).one()
    assert (di.country, di.original_values["country"], di.seniority) == ("GB", "United Kingdom", "director")
    run = session.get(ImportRun, summary.run_id)
    assert run is not None
    assert (run.status, run.created, run.quarantined, run.mapping) == ("completed", 3, 1, "hubspot")


def test_reimport_is_idempotent_and_matches_on_external_id(engine: Engine, session: Session, tmp_path: Path) -> None:
    first = import_file(engine, "contacts", FIXTURES / "hubspot_contacts.csv", actor=SYSTEM, preset="hubspot")
    again = import_file(engine, "contacts", FIXTURES / "hubspot_contacts.csv", actor=SYSTEM, preset="hubspot")
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    # The same HubSpot record with a new email: matched by its Record ID, the email identity follows.
    moved = tmp_path / "moved.csv"
    moved.write_text("Record ID,Email,Job Title\n1001,ann@acme-new.io,CEO\n")
    summary = import_file(engine, "contacts", moved, actor=SYSTEM, preset="hubspot")
    assert (summary.created, summary.updated) == (0, 1)
    assert _count(session, Contact) == first.created
    ann = session.scalars(select(Contact).where(Contact.email_normalized == "ann@acme-new.io")).one()
    assert ann.title == "CEO"


def test_rows_with_one_key_fold_together_within_a_file(engine: Engine, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text("email,first_name,title\nx@acme.io,Xi,\nX@Acme.io,,Engineer\n")
    summary = import_file(engine, "contacts", path, actor=SYSTEM)
    assert summary.created == 1
    contact = session.scalars(select(Contact)).one()
    assert (contact.first_name, contact.title) == ("Xi", "Engineer")


def test_conflicting_keys_are_quarantined_not_guessed(engine: Engine, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("email,external_id\na@acme.io,1\nb@acme.io,2\n")
    import_file(engine, "contacts", path, actor=SYSTEM)
    clash = tmp_path / "b.csv"
    clash.write_text("email,external_id\na@acme.io,2\n")
    summary = import_file(engine, "contacts", clash, actor=SYSTEM)
    assert summary.quarantined == 1
    held = session.scalars(select(QuarantinedRecord)).one()
    assert "belong to different contacts" in held.reasons[0]


def test_salesforce_accounts_then_opportunities(engine: Engine, session: Session) -> None:
    accounts = import_file(engine, "accounts", FIXTURES / "salesforce_accounts.csv", actor=SYSTEM, preset="salesforce")
    assert (accounts.created, accounts.quarantined) == (2, 0)
    acme = session.scalars(select(Account).where(Account.domain == "acme.io")).one()
    assert (acme.employee_count, acme.annual_revenue, acme.country) == (250, Decimal("12000000.00"), "DE")
    globex = session.scalars(select(Account).where(Account.domain == "globex.com")).one()
    assert globex.employee_count == 1200
    session.rollback()

    opps = import_file(engine, "opportunities", FIXTURES / "salesforce_opportunities.csv", actor=SYSTEM,
                       preset="salesforce")  # fmt: skip
    assert (opps.created, opps.quarantined) == (2, 2)
    won = session.scalars(select(Opportunity).where(Opportunity.external_id == "006A2")).one()
    assert (won.stage, won.is_won, won.is_closed, won.amount, won.currency) == (
        "closed_won", True, True, Decimal("12500.00"), "EUR",
    )  # fmt: skip
    assert won.account_id == acme.id
    reasons = sorted(r for q in session.scalars(select(QuarantinedRecord)) for r in q.reasons)
    assert any("no account with external:salesforce id 001ZZ" in r for r in reasons)
    assert any("amount must be zero or more" in r for r in reasons)


def test_user_mapping_file_with_value_map(engine: Engine, session: Session, tmp_path: Path) -> None:
    mapping = tmp_path / "marketo.yml"
    mapping.write_text(
        "entity: contacts\nsystem: marketo\ncolumns:\n  E-mail Address: email\n  Lead Status: lifecycle_stage\n"
        "  Marketo ID: external_id\nvalues:\n  lifecycle_stage:\n    Hot: mql\n    Cold: lead\n"
    )
    data = tmp_path / "leads.csv"
    data.write_text("Marketo ID,E-mail Address,Lead Status,Score\n77,hot@lead.io,Hot,90\n78,cold@lead.io,Cold,5\n")
    summary = import_file(engine, "contacts", data, actor=SYSTEM, mapping_file=mapping)
    assert summary.created == 2
    assert summary.ignored_columns == ("Score",)
    stages = dict(session.execute(select(Contact.email, Contact.lifecycle_stage)).all())
    assert stages == {"hot@lead.io": "mql", "cold@lead.io": "lead"}
    assert session.scalar(select(Identity.value).where(Identity.kind == "external:marketo", Identity.value == "77"))


def test_bad_mapping_inputs_are_refused_with_reasons(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("email\na@b.io\n")
    with pytest.raises(ImportRefused, match="unknown preset"):
        import_file(engine, "contacts", path, actor=SYSTEM, preset="pipedrive")
    bad = tmp_path / "m.yml"
    bad.write_text("entity: contacts\ncolumns:\n  email: emial\n")
    with pytest.raises(ImportRefused, match="unknown fields: emial"):
        import_file(engine, "contacts", path, actor=SYSTEM, mapping_file=bad)
    with pytest.raises(Exception, match="editor role"):
        import_file(engine, "contacts", path, actor=Actor("v", "cli", "viewer"))


def test_campaign_spend_upserts_per_day_and_channel(engine: Engine, session: Session, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        s.add(Campaign(name="Q4 Webinar", campaign_type="webinar", status="live", utm_campaign="q4-webinar"))
    path = tmp_path / "spend.csv"
    path.write_text(
        "campaign,date,channel,amount,currency\nq4-webinar,2026-11-01,Paid Social,120.50,USD\n"
        "Q4 Webinar,2026-11-02,Paid Social,99,USD\nNo Such,2026-11-02,Email,5,USD\nq4-webinar,11/03/2026,x,1,USD\n"
    )
    first = import_file(engine, "campaign_spend", path, actor=SYSTEM)
    assert (first.created, first.quarantined) == (2, 2)
    path.write_text("campaign,date,channel,amount\nq4-webinar,2026-11-01,Paid Social,130\n")
    second = import_file(engine, "campaign_spend", path, actor=SYSTEM)
    assert second.updated == 1
    total = session.scalar(select(func.sum(CampaignSpend.amount)))
    assert total == Decimal("229.00")


def test_events_import_resolves_people_and_dedupes(engine: Engine, session: Session, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "message_id,event,email,timestamp,utm_source,utm_medium,utm_campaign,properties.plan\n"
        "e1,Webinar Attended,ann@acme.io,2026-10-01T10:00:00Z,linkedin,paid_social,q4-webinar,pro\n"
        "e2,Demo Requested,ann@acme.io,2026-10-03T10:00:00Z,,,,\n"
        "e3,,ann@acme.io,2026-10-03T10:00:00Z,,,,\n"
    )
    summary = import_file(engine, "events", path, actor=SYSTEM, source_name="webinar-platform")
    assert (summary.created, summary.quarantined) == (2, 1)
    again = import_file(engine, "events", path, actor=SYSTEM, source_name="webinar-platform")
    assert (again.created, again.unchanged) == (0, 2)
    events = session.scalars(select(Event).order_by(Event.occurred_at)).all()
    assert len(events) == 2
    assert events[0].channel == "Paid Social"
    assert events[0].properties["plan"] == "pro"
    assert events[0].source == "webinar-platform"
    contact = session.scalars(select(Contact)).one()
    assert {e.contact_id for e in events} == {contact.id}


def test_contracts_quarantine_then_fix_and_replay(engine: Engine, session: Session, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "contracts").mkdir(parents=True)
    (project / "pitboard.yml").write_text("name: acme\n")
    (project / "contracts" / "crm.yml").write_text(
        "name: crm-contacts\nentity: contacts\nfields:\n  country: {required: true, format: iso_country}\n"
        "  title: {max_length: 20}\n"
    )
    loaded = load_project(project)
    assert loaded.ok, loaded.problems
    with session_scope(engine) as s:
        apply_contracts(s, loaded.contracts, actor=SYSTEM)
    path = tmp_path / "c.csv"
    path.write_text("email,country,title\nok@acme.io,DE,CMO\nnocountry@acme.io,,Chief Everything Officer of All\n")
    summary = import_file(engine, "contacts", path, actor=SYSTEM)
    assert (summary.created, summary.quarantined) == (1, 1)
    held = session.scalars(select(QuarantinedRecord)).one()
    assert held.reasons == [
        "[crm-contacts] country is required",
        "[crm-contacts] title is longer than 20 characters",
    ]
    held_id = held.id
    session.rollback()

    with session_scope(engine) as s:
        still = quarantine.replay(s, held_id, actor=SYSTEM)
        assert still.status == "open"
        quarantine.fix(s, held_id, {"email": "nocountry@acme.io", "country": "FR", "title": "CEO"}, actor=SYSTEM)
        done = quarantine.replay(s, held_id, actor=SYSTEM)
        assert done.status == "replayed"
    assert _count(session, Contact) == 2


def test_quarantine_api_lists_fixes_and_replays(
    engine: Engine, client: TestClient, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text("email,country\nbad-email,DE\n")
    import_file(engine, "contacts", path, actor=SYSTEM)
    listed = client.get("/api/v1/quarantine", headers=admin_headers).json()["items"]
    assert len(listed) == 1
    record = listed[0]
    assert record["entity"] == "contacts"
    assert record["payload"]["original"] == {"email": "bad-email", "country": "DE"}
    r = client.post(f"/api/v1/quarantine/{record['id']}/replay", headers=admin_headers)
    assert r.json()["status"] == "open"
    r = client.patch(f"/api/v1/quarantine/{record['id']}", json={"payload": {"email": "good@acme.io", "country": "DE"}},
                     headers=admin_headers)  # fmt: skip
    assert r.status_code == 200
    assert (
        client.post(f"/api/v1/quarantine/{record['id']}/replay", headers=admin_headers).json()["status"] == "replayed"
    )
    assert client.get("/api/v1/quarantine", headers=admin_headers).json()["items"] == []
    runs = client.get("/api/v1/imports", headers=admin_headers).json()
    assert runs[0]["quarantined"] == 1
    r = client.post(f"/api/v1/quarantine/{record['id']}/discard", json={"reason": "x"}, headers=admin_headers)
    assert r.status_code == 422  # already replayed
