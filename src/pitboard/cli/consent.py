"""``pitboard consent``, ``pitboard suppressions`` and ``pitboard audience``: the consent ledger, the
suppression list and consent-checked exports from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.cli.common import CLI_ACTOR, DatabaseOpt, _fail, console, progress_bar, unit_of_work
from pitboard.consent import audience, gate, importer, ledger, suppression
from pitboard.consent.ledger import ConsentEntry
from pitboard.contacts.identities import contact_id_for_email
from pitboard.kit.emails import InvalidEmail
from pitboard.models import Contact, Suppression

consent_app = typer.Typer(help="The consent ledger: show, record, check, verify.", no_args_is_help=True)
suppressions_app = typer.Typer(help="Addresses we must not contact: add, import, list, lift.", no_args_is_help=True)
audience_app = typer.Typer(help="Consent-checked audience exports.", no_args_is_help=True)


def find_contact(session: Session, email: str) -> Contact:
    try:
        contact_id = contact_id_for_email(session, email)
    except InvalidEmail as exc:
        raise _fail(f"{email!r} is not an email address: {exc}") from exc
    contact = session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        raise _fail(f"no contact has the address {email}")
    return contact


@consent_app.command("show")
def consent_show(email: Annotated[str, typer.Argument()], database_url: DatabaseOpt = None) -> None:
    """A contact's current consent and its full ledger history."""
    with unit_of_work(database_url) as session:
        contact = find_contact(session, email)
        states = Table("channel", "purpose", "status", "basis", "source", "since", title=f"Consent of {email}")
        for s in ledger.states(session, contact.id):
            states.add_row(s.channel, s.purpose, s.status, s.lawful_basis, s.source, s.changed_at.isoformat())
        console.print(states)
        history = Table("when", "channel", "purpose", "status", "source", "policy", "ip", "wording", title="Ledger")
        for r in ledger.history(session, contact.id):
            history.add_row(r.occurred_at.isoformat(timespec="seconds"), r.channel, r.purpose, r.status, r.source,
                            r.policy_version or "", r.ip_address or "", (r.consent_text or "")[:60])  # fmt: skip
        console.print(history)


@consent_app.command("record")
def consent_record(
    email: Annotated[str, typer.Argument()],
    purpose: Annotated[str, typer.Option(help="Purpose key (see privacy.yml)")],
    status: Annotated[str, typer.Option(help="granted, denied or withdrawn")],
    channel: Annotated[str, typer.Option()] = "email",
    source: Annotated[str, typer.Option()] = "admin",
    basis: Annotated[str, typer.Option("--lawful-basis")] = "consent",
    text: Annotated[str | None, typer.Option("--text", help="The exact wording the person agreed to")] = None,
    policy_version: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Append one entry to a contact's consent ledger (for consent given on paper, by phone, at an event)."""
    with unit_of_work(database_url) as session:
        contact = find_contact(session, email)
        entry = ConsentEntry(channel=channel, purpose=purpose, status=status, source=source, lawful_basis=basis,
                             consent_text=text, policy_version=policy_version)  # fmt: skip
        rec = ledger.record(session, contact_id=contact.id, entry=entry, actor=CLI_ACTOR)
        console.print(f"recorded #{rec.id}: {channel}/{purpose} {status} for {email}")


@consent_app.command("import")
def consent_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: email, purpose, status, occurred_at")],
    database_url: DatabaseOpt = None,
) -> None:
    """Import consent history from another system; rows that cannot be recorded are quarantined with reasons."""
    rows = importer.read_rows(path)
    with unit_of_work(database_url) as session, progress_bar() as bar:
        task = bar.add_task("consent", total=len(rows))
        summary = importer.import_rows(session, rows, actor=CLI_ACTOR, filename=path.name,
                                       on_row=lambda: bar.advance(task))  # fmt: skip
    console.print(
        f"{summary.rows} rows: {summary.recorded} recorded, {summary.already} already in the ledger, "
        f"{summary.quarantined} quarantined (see `pitboard quarantine list --entity consent`)"
    )


@consent_app.command("check")
def consent_check(
    email: Annotated[str, typer.Argument()],
    purpose: Annotated[str | None, typer.Option()] = None,
    channel: Annotated[str, typer.Option()] = "email",
    kind: Annotated[str, typer.Option(help="marketing or transactional")] = "marketing",
    database_url: DatabaseOpt = None,
) -> None:
    """Would pitboard send this person this message? Exit 0 if yes, 3 if not (scriptable)."""
    with unit_of_work(database_url) as session:
        contact = find_contact(session, email)
        verdict = gate.check(session, contact_id=contact.id, channel=channel, purpose=purpose, kind=kind)
    console.print(("[green]allowed[/]" if verdict.allowed else "[red]blocked[/]") + f": {verdict.reason}")
    if not verdict.allowed:
        raise typer.Exit(3)


@consent_app.command("verify")
def consent_verify(
    repair: Annotated[bool, typer.Option(help="Rebuild the states of contacts that disagree")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Check that every current consent state is what the ledger says (exit 1 if not)."""
    with unit_of_work(database_url) as session:
        problems = ledger.verify_states(session)
        for line in problems[:50]:
            console.print(line)
        if problems and repair:
            ids = {int(p.split()[1]) for p in problems}
            ledger.rebuild_states(session, ids)
            console.print(f"rebuilt the states of {len(ids)} contacts from the ledger")
            return
    if problems:
        raise _fail(f"{len(problems)} states disagree with the ledger (run with --repair)")
    console.print("✓ every consent state matches the ledger")


@suppressions_app.command("add")
def suppressions_add(
    address: Annotated[str, typer.Argument(help="Email address or phone number")],
    reason: Annotated[str, typer.Option(help="hard_bounce, complaint, unsubscribe, manual, invalid")] = "manual",
    channel: Annotated[str, typer.Option()] = "email",
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        row = suppression.suppress(session, channel=channel, reason=reason, source="cli", actor=CLI_ACTOR,
                                   address=address, note=note)  # fmt: skip
        console.print(f"suppressed on {channel} (#{row.id}, {row.reason})")


@suppressions_app.command("import")
def suppressions_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="One address per line, or a CSV")],
    reason: Annotated[str, typer.Option()] = "hard_bounce",
    channel: Annotated[str, typer.Option()] = "email",
    column: Annotated[str, typer.Option(help="CSV column holding the address")] = "email",
    database_url: DatabaseOpt = None,
) -> None:
    """Import a bounce, complaint or do-not-contact list (e.g. from your previous email platform)."""
    addresses = _read_addresses(path, column)
    added = 0
    with unit_of_work(database_url) as session, progress_bar() as bar:
        task = bar.add_task("suppressing", total=len(addresses))
        for address in addresses:
            key = suppression.hash_for(session, channel, address)
            if not suppression.active_for(session, [key], channel):
                suppression.suppress(session, channel=channel, reason=reason, source=f"import:{path.name}",
                                     actor=CLI_ACTOR, hashed=key)  # fmt: skip
                added += 1
            bar.advance(task)
    console.print(f"{added} new suppressions, {len(addresses) - added} already suppressed")


def _read_addresses(path: Path, column: str) -> list[str]:
    import csv

    lines = path.read_text(encoding="utf-8-sig").splitlines()
    if lines and "," in lines[0]:
        rows = csv.DictReader(lines)
        if column not in (rows.fieldnames or []):
            raise _fail(f"{path} has no column {column!r} (columns: {', '.join(rows.fieldnames or [])})")
        return [r[column].strip() for r in rows if r.get(column, "").strip()]
    return [line.strip() for line in lines if line.strip() and line.strip().lower() != column]


@suppressions_app.command("list")
def suppressions_list(
    channel: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        query = select(Suppression).where(Suppression.lifted_at.is_(None)).order_by(Suppression.id.desc()).limit(limit)
        if channel:
            query = query.where(Suppression.channel == channel)
        if reason:
            query = query.where(Suppression.reason == reason)
        table = Table("id", "channel", "reason", "source", "contact", "since", "hash")
        for s in session.scalars(query):
            table.add_row(str(s.id), s.channel, s.reason, s.source, str(s.contact_id or ""),
                          s.created_at.isoformat(timespec="seconds"), s.subject_hash[:12] + "…")  # fmt: skip
        console.print(table)


@suppressions_app.command("lift")
def suppressions_lift(
    suppression_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why it no longer applies")],
    database_url: DatabaseOpt = None,
) -> None:
    with unit_of_work(database_url) as session:
        suppression.lift(session, suppression_id=suppression_id, reason=reason, actor=CLI_ACTOR)
        console.print(f"lifted suppression #{suppression_id}")


@audience_app.command("export")
def audience_export(
    purpose: Annotated[str, typer.Option()],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write")],
    channel: Annotated[str, typer.Option()] = "email",
    lifecycle_stage: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Write the contacts we may contact for a purpose to CSV; who was left out, and why, is printed."""
    with unit_of_work(database_url) as session, output.open("w", newline="", encoding="utf-8") as out:
        contacts = audience.selection(lifecycle_stage=lifecycle_stage, country=country)
        summary = audience.write_csv(session, out, contacts=contacts, channel=channel, purpose=purpose,
                                     actor=CLI_ACTOR, label=str(output.name))  # fmt: skip
    console.print(f"{summary.included} contacts written to {output}; {summary.excluded_total} left out")
    if summary.excluded:
        console.print(json.dumps(dict(summary.excluded.most_common()), indent=2))
