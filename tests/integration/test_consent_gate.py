"""Proof that no path sends to someone who may not be contacted.

Every combination of consent state, purpose regime and suppression reason gets a contact; every way pitboard
sends (marketing and transactional email, double opt-in confirmations, audience exports) is tried for all of
them, with consent withdrawn or an address suppressed between queueing and delivery for some; a real SMTP
server records who actually received mail. The expected recipients come from the rules written out here as
a truth table, not from the gate itself, so a gate that lets too much or too little through fails.
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import pitboard
from pitboard.consent import audience, choices, ledger, suppression
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import PurposeSpec, apply_purposes
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.messaging.outbox import enqueue_email
from pitboard.models import Contact, Identity
from pitboard.settings import Settings
from pitboard.worker.runner import run_worker
from tests.integration.smtp_fixture import SmtpServer

STATES = (None, "granted", "pending", "withdrawn", "denied")
SUPPRESSIONS = (None, "hard_bounce", "invalid", "complaint", "unsubscribe", "manual", "erasure")
PURPOSES = {"newsletter": "opt_in", "partner_news": "opt_out"}
DELIVERABILITY = {"hard_bounce", "invalid"}


def may_market(state: str | None, regime: str, suppressed: str | None, *, has_email: bool) -> bool:
    if not has_email or suppressed is not None:
        return False
    return state == "granted" or (state is None and regime == "opt_out")


def may_transact(suppressed: str | None, *, has_email: bool) -> bool:
    return has_email and suppressed not in DELIVERABILITY


def _population(session: Session) -> dict[str, tuple[str | None, str | None, str | None]]:
    """email → (state per purpose (same for both), suppression reason, how it is suppressed)."""
    apply_purposes(session, [
        PurposeSpec("newsletter", "Newsletter", ("email",), double_opt_in=True, consent_text="Yes please"),
        PurposeSpec("partner_news", "Partner news", ("email",), regime="opt_out", consent_text="ok"),
    ])  # fmt: skip
    people: dict[str, tuple[str | None, str | None, str | None]] = {}
    for n, (state, reason) in enumerate(itertools.product(STATES, SUPPRESSIONS)):
        # Half the suppressed people are suppressed under an old address of theirs, not the current one.
        via_old = reason is not None and n % 2 == 0
        email = f"p{n}@example.org"
        contact = Contact(email=email, email_normalized=email, first_name=f"P{n}")
        session.add(contact)
        session.flush()
        if state is not None:
            for purpose in PURPOSES:
                entry = ConsentEntry(channel="email", purpose=purpose, status=state, source="import")
                ledger.record(session, contact_id=contact.id, entry=entry, actor=SYSTEM)
        if reason is not None:
            address = f"old{n}@example.org" if via_old else email.upper()
            if via_old:
                session.add(Identity(contact_id=contact.id, kind="email", value=address, created_at=contact.created_at))
            suppression.suppress(session, channel="email", reason=reason, source="test", actor=SYSTEM, address=address)
        people[email] = (state, reason, "old" if via_old else None)
    return people


def test_no_path_sends_to_anyone_the_rules_forbid(engine: Engine, smtp_server: SmtpServer, settings: Settings) -> None:
    with session_scope(engine) as s:
        people = _population(s)
        nobody = Contact(email=None, first_name="No Mail")
        s.add(nobody)
        s.flush()
        ids = {c.email or "": c.id for c in s.scalars(select(Contact))}
        for email, cid in ids.items():
            for purpose in PURPOSES:
                enqueue_email(s, contact_id=cid, kind="marketing", purpose=purpose, template=None,
                              subject=f"M:{purpose}:{email}", text="Hello")  # fmt: skip
            enqueue_email(s, contact_id=cid, kind="transactional", purpose=None, template=None,
                          subject=f"T:{email}", text="Your receipt")  # fmt: skip
        # Double opt-in: everybody asks for the newsletter on a form; the confirmation is a (transactional) send.
        for cid in ids.values():
            entry = ConsentEntry(channel="email", purpose="newsletter", status="granted", source="form")
            choices.give(s, contact_id=cid, entries=[entry], actor=SYSTEM, settings=settings)
    asked_to_confirm = {email for email, (state, _, _) in people.items() if state != "granted"}

    # Changes between queueing and delivery: the gate is asked again when the worker delivers.
    late_withdraw, late_bounce = "p7@example.org", "p0@example.org"  # (granted, -) and (no record, -)
    assert people[late_withdraw] == ("granted", None, None)
    assert people[late_bounce] == (None, None, None)
    with session_scope(engine) as s:
        for purpose in PURPOSES:
            entry = ConsentEntry(channel="email", purpose=purpose, status="withdrawn", source="api")
            ledger.record(s, contact_id=ids[late_withdraw], entry=entry, actor=SYSTEM)
        suppression.suppress(s, channel="email", reason="hard_bounce", source="test", actor=SYSTEM, address=late_bounce)
    people[late_withdraw] = ("withdrawn", None, None)
    people[late_bounce] = (None, "hard_bounce", None)

    run_worker(engine, burst=True)

    received = [(m.message["Subject"], m.rcpt_tos[0]) for m in smtp_server.received]
    marketing = {(subj.split(":", 2)[1], rcpt) for subj, rcpt in received if subj.startswith("M:")}
    transactional = {rcpt for subj, rcpt in received if subj.startswith("T:")}
    confirmations = {rcpt for subj, rcpt in received if not subj.startswith(("M:", "T:"))}
    assert len(received) == len(marketing) + len(transactional) + len(confirmations)  # nobody got anything twice

    # A form grant of the newsletter leaves "pending" until confirmed: under the opt-in regime still a no.
    expected_marketing = {
        (purpose, email) for email, (state, reason, _) in people.items() for purpose, regime in PURPOSES.items()
        if may_market(state, regime, reason, has_email=True)
    }  # fmt: skip
    expected_transactional = {e for e, (_, reason, _) in people.items() if may_transact(reason, has_email=True)}
    expected_confirmations = asked_to_confirm & expected_transactional
    assert marketing == expected_marketing
    assert transactional == expected_transactional
    assert confirmations == expected_confirmations
    assert "" not in transactional  # the contact without an address got nothing
    # And the audience export agrees with the rules.
    with session_scope(engine) as s:
        for purpose, regime in PURPOSES.items():
            out = io.StringIO()
            audience.write_csv(s, out, contacts=audience.selection(), channel="email", purpose=purpose, actor=SYSTEM)
            exported = {row["email"] for row in csv.DictReader(io.StringIO(out.getvalue()))}
            assert exported == {e for e, (st, r, _) in people.items() if may_market(st, regime, r, has_email=True)}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_messaging_package_talks_smtp() -> None:
    """The delivery task, which asks the gate before every send, is the only caller of the SMTP client."""
    root = Path(pitboard.__file__).parent
    users_of_smtplib, users_of_sender = set(), set()
    for path in root.rglob("*.py"):
        names = _imports(path)
        rel = path.relative_to(root).as_posix()
        if "smtplib" in names:
            users_of_smtplib.add(rel)
        if "pitboard.messaging.smtp" in names:
            users_of_sender.add(rel)
    assert users_of_smtplib == {"messaging/smtp.py"}
    assert users_of_sender == {"messaging/tasks.py"}
