"""Erasure leaves nothing behind: every text and JSON column of every table is scanned for the person's data.

``populate`` builds a richly recorded person (custom fields, identities of every kind, events with personal
data in properties and context, consent with IP and user agent, a suppression, a merge, quarantined input,
an audit trail, messages, an opportunity, an erasure request) and a second person who must stay untouched.
``find_leftovers`` walks ``Base.metadata``, so a table added later that stores one of these values fails the
scan until erasure learns about it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.orm import Session

from pitboard.consent import gate, ledger, suppression
from pitboard.consent.hashing import salt, subject_hash
from pitboard.consent.ledger import ConsentEntry
from pitboard.contacts import service as contacts
from pitboard.contacts.merge import merge_contacts, undo_merge
from pitboard.contacts.schemas import ContactCreate, ContactUpdate, CustomFieldCreate
from pitboard.imports.service import import_file
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Forbidden, NotFound, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import (
    Account,
    AuditEntry,
    Base,
    Campaign,
    ConsentRecord,
    ConsentState,
    Contact,
    ContactMerge,
    DedupeCandidate,
    ErasureTombstone,
    Event,
    Identity,
    Message,
    Opportunity,
    PrivacyRequest,
    QuarantinedRecord,
    Suppression,
)
from pitboard.privacy import erasure
from pitboard.privacy.erasure import erase_person
from pitboard.privacy.requests import complete_erasure, open_request
from pitboard.privacy.subject import Subject
from pitboard.quality import quarantine
from pitboard.settings import Settings

# Columns that may hold a person's salted address hash after erasure: that is how they stay suppressed.
HASH_COLUMNS = frozenset({
    ("suppressions", "subject_hash"), ("privacy_requests", "subject_hash"), ("erasure_tombstones", "subject_hash"),
})  # fmt: skip


def find_leftovers(
    session: Session, needles: list[str], *, allowed: frozenset[tuple[str, str]] = frozenset(),
    extra_tables: tuple[Table, ...] = (),
) -> list[tuple[str, str, str]]:  # fmt: skip
    """(table, column, needle) for every row whose text or JSON column contains a needle, case-insensitively."""
    lowered = [n.lower() for n in needles]
    hits: list[tuple[str, str, str]] = []
    for table in (*Base.metadata.sorted_tables, *extra_tables):
        columns = [c for c in table.columns if isinstance(c.type, String | JSON)]  # Text is a String
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is None or (table.name, column.name) in allowed:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                text = text.lower()
                hits.extend((table.name, column.name, needle) for needle in lowered if needle in text)
    session.rollback()  # release SQLite's write lock
    return hits


@dataclass
class Person:
    contact_id: int
    email: str
    needles: list[str]
    event_ids: list[int] = field(default_factory=list)
    merged_id: int | None = None
    request_id: int | None = None
    opportunity_id: int | None = None


UA_ZQ = "QuuxBrowser/9.1 (Zebulon build)"
UA_YY = "YarrowBrowser/2.0 (Yolanda build)"


def _event(contact_id: int | None, message_id: str, **kw: Any) -> Event:
    now = utcnow()
    values: dict[str, Any] = {
        "message_id": message_id, "event_type": "track", "name": "Form Submitted", "contact_id": contact_id,
        "occurred_at": now - timedelta(days=3), "received_at": now - timedelta(days=3), "properties": {},
        "context": {}, "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring",
        "channel": "Email", "source": "website",
    }  # fmt: skip
    values.update(kw)
    return Event(**values)


def populate(session: Session, settings: Settings) -> tuple[Person, Person]:
    """The person to erase (Zebulon Quixwort) and a bystander (Yolanda Yarrowby)."""
    contacts.create_custom_field(session, CustomFieldCreate(entity="contact", name="favourite_colour",
                                 label="Favourite colour", field_type="text"), actor=SYSTEM)  # fmt: skip
    account = Account(name="Acme Rockets", domain="acme-rockets.io")
    campaign = Campaign(name="Spring launch", campaign_type="email", utm_campaign="spring")
    session.add_all([account, campaign])
    session.flush()
    zq = _person(session, settings, account, campaign, email=" Zebulon.Quixwort@ZQ-Corp.io", first="Zebulon",
                 last="Quixwort", phone="+49 30 98765432", city="Quixhausen", colour="ultraviolet-zq",
                 user_id="zq-user-7781", anonymous_id="anon-zq-5521", external="SF-ZQ-0042",
                 private="zq.private@zqmail.io", old="zebulon@zq-old.io", ip="198.51.100.77", ua=UA_ZQ)  # fmt: skip
    yy = _person(session, settings, account, campaign, email="Yolanda.Yarrowby@yarrow-works.io", first="Yolanda",
                 last="Yarrowby", phone="+44 20 7946 0958", city="Yarrowfield", colour="infrared-yy",
                 user_id="yy-user-3310", anonymous_id="anon-yy-8812", external="SF-YY-0077",
                 private="yy.private@yymail.io", old="yolanda@yy-old.io", ip="203.0.113.44", ua=UA_YY)  # fmt: skip
    # A review pair between the two: it names the person to erase, so it goes; the bystander keeps the rest.
    session.add(DedupeCandidate(entity="contact", left_id=zq.contact_id, right_id=yy.contact_id, probability=0.6,
                                match_weight=2.0, band="review", status="open", created_at=utcnow(),
                                explanation=[{"field": "last_name", "left": "Quixwort", "score": 0.1}]))  # fmt: skip
    session.flush()
    return zq, yy


def _person(
    session: Session, settings: Settings, account: Account, campaign: Campaign, *, email: str, first: str,
    last: str, phone: str, city: str, colour: str, user_id: str, anonymous_id: str, external: str, private: str,
    old: str, ip: str, ua: str,
) -> Person:  # fmt: skip
    new = ContactCreate(email=email, first_name=first, last_name=last, title="Head of Zeppelins", phone=phone,
                        city=city, company_name="Acme Rockets", account_id=account.id,
                        custom={"favourite_colour": colour})  # fmt: skip
    contact = contacts.create_contact(session, new, actor=SYSTEM)
    contacts.update_contact(session, contact.id, ContactUpdate(title="Chief Zeppelin Officer", lifecycle_stage="mql"),
                            actor=SYSTEM)  # fmt: skip
    # An older record of the same person, merged in: the merge row keeps its snapshot for undo.
    duplicate = contacts.create_contact(session, ContactCreate(email=old, first_name=first, last_name=last),
                                        actor=SYSTEM)  # fmt: skip
    merged_id = duplicate.id
    merge_contacts(session, survivor_id=contact.id, merged_id=merged_id, reason="dedupe review", actor=SYSTEM)
    now = utcnow()
    for kind, value in (("user_id", user_id), ("anonymous_id", anonymous_id), ("external:salesforce", external),
                        ("email", private)):  # fmt: skip
        session.add(Identity(contact_id=contact.id, kind=kind, value=value, created_at=now))
    events = [
        _event(contact.id, f"{user_id}-form", anonymous_id=anonymous_id, user_id=user_id, campaign_id=campaign.id,
               properties={"email": email.strip(), "name": f"{first} {last}", "phone": phone},
               context={"ip": ip, "userAgent": ua, "traits": {"email": private, "firstName": first}}),
        _event(contact.id, f"{user_id}-page", event_type="page", name="Pricing", context={"ip": ip}),
        # Before they were identified, and one with only the user id: not linked to the contact.
        _event(None, f"{user_id}-anon", event_type="page", name="Home", anonymous_id=anonymous_id,
               context={"ip": ip, "page": {"url": f"https://acme-rockets.io/?ref={external}"}}),
        _event(None, f"{user_id}-user", name="Logged In", user_id=user_id, properties={"login": private}),
    ]  # fmt: skip
    session.add_all(events)
    session.flush()
    ledger.record(session, contact_id=contact.id, actor=SYSTEM, entry=ConsentEntry(
        channel="email", purpose="product_updates", status="granted", source="form", ip_address=ip, user_agent=ua,
        consent_text="Send me product updates.", evidence={"form": "pricing", "email": email.strip()}))  # fmt: skip
    ledger.record(session, contact_id=contact.id, actor=SYSTEM, entry=ConsentEntry(
        channel="sms", purpose="events", status="granted", source="form", ip_address=ip, user_agent=ua,
        consent_text="Invite me to events.", evidence={"phone": phone}))  # fmt: skip
    suppression.suppress(session, channel="email", reason="hard_bounce", source="bounce-feed", actor=SYSTEM,
                         address=private, note=f"bounced: {private}")  # fmt: skip
    record = quarantine.hold(session, channel="import", entity="contacts", reasons=["country is not a country"],
                             payload={"row": 3, "record": {"email": email.strip().upper(), "first_name": first},
                                      "original": {"Email": email.strip().upper(), "Country": "Nowhere"}})  # fmt: skip
    session.flush()
    quarantine.fix(session, record.id, {"email": email.strip().lower(), "first_name": first, "country": "DE"},
                   actor=SYSTEM)  # fmt: skip
    quarantine.hold(session, channel="tracking_api", entity="events", reasons=["timestamp is not a date"],
                    payload={"type": "page", "anonymousId": anonymous_id, "timestamp": "yesterday"})  # fmt: skip
    normalized = email.strip().lower()
    session.add_all([
        Message(contact_id=contact.id, channel="email", kind="marketing", purpose="product_updates",
                to_address=normalized, from_address="news@acme-rockets.io", subject=f"Hello {first}",
                body_text=f"Hi {first} {last}", body_html=f"<p>Hi {first}</p>", headers={"To": normalized},
                message_id_header=f"<{user_id}-1@pitboard>", status="sent", created_at=now),
        # Sent to a record deleted since (its contact link was set to NULL); the address still says whose it is.
        Message(contact_id=None, channel="email", kind="transactional", to_address=private.upper(),
                from_address="news@acme-rockets.io", subject="Please confirm", body_text="Confirm your address",
                headers={}, message_id_header=f"<{user_id}-2@pitboard>", status="sent", created_at=now),
    ])  # fmt: skip
    opportunity = Opportunity(name="Acme Rockets fleet", account_id=account.id, contact_id=contact.id,
                              amount=Decimal("12000.50"), stage="negotiation", opened_at=now)  # fmt: skip
    session.add(opportunity)
    request = open_request(session, kind="erasure", email=email, actor=SYSTEM, settings=settings,
                           notes=f"{first} {last} called from {phone} to confirm")  # fmt: skip
    session.flush()
    event_ids = [e.id for e in events]
    needles = [normalized, old, private, first, last, phone, "+" + "".join(ch for ch in phone if ch.isdigit()),
               user_id, anonymous_id, external, ip, ua, city, colour]  # fmt: skip
    return Person(contact.id, normalized, needles, event_ids, merged_id, request.id, opportunity.id)


def _hashes(session: Session, person: Person) -> list[str]:
    key = salt(session)
    emails = [n for n in person.needles if "@" in n]
    phones = [n for n in person.needles if n.startswith("+")]
    return [subject_hash(key, "email", e) for e in emails] + [subject_hash(key, "phone", p) for p in phones]


def _summary(hits: list[tuple[str, str, str]]) -> Counter[tuple[str, str, str]]:
    return Counter(hits)


def test_erasure_leaves_nothing_behind_and_spares_the_bystander(
    engine: Engine, session: Session, settings: Settings, tmp_path: Path
) -> None:
    zq, yy = populate(session, settings)
    session.commit()
    hashes = _hashes(session, zq)
    before = find_leftovers(session, zq.needles + hashes, allowed=HASH_COLUMNS)
    # The scan sees the person everywhere they were recorded (so an empty scan below means something).
    assert {t for t, _, _ in before} >= {
        "contacts", "identities", "events", "consent_records", "suppressions", "quarantine", "audit_log",
        "messages", "contact_merges", "privacy_requests", "dedupe_candidates",
    }  # fmt: skip
    bystander_before = _summary(find_leftovers(session, yy.needles))
    events_by_name = dict(session.execute(select(Event.name, func.count()).group_by(Event.name)).all())
    session.rollback()

    assert zq.request_id is not None
    result = complete_erasure(session, request_id=zq.request_id, actor=SYSTEM)
    session.commit()

    assert find_leftovers(session, zq.needles + hashes, allowed=HASH_COLUMNS) == []
    assert _summary(find_leftovers(session, yy.needles)) == bystander_before
    # Events stay for the aggregates, anonymised.
    assert dict(session.execute(select(Event.name, func.count()).group_by(Event.name)).all()) == events_by_name
    for event in session.scalars(select(Event).where(Event.id.in_(zq.event_ids))):
        assert (event.contact_id, event.anonymous_id, event.user_id, event.properties, event.context) == (
            None, None, None, {}, {},
        )  # fmt: skip
        assert (event.utm_campaign, event.channel, event.source) == ("spring", "Email", "website")
        assert event.message_id == f"erased:{event.id}"
    assert session.scalar(select(func.count()).where(Event.id.in_(zq.event_ids), Event.campaign_id.is_not(None))) == 1
    # Company data stays; the link to the person does not.
    opportunity = session.get(Opportunity, zq.opportunity_id)
    assert opportunity is not None
    assert (opportunity.contact_id, str(opportunity.amount)) == (None, "12000.50")
    assert session.scalar(select(func.count()).select_from(Account)) == 1
    for model in (Identity, ConsentRecord, ConsentState):
        assert session.scalar(select(func.count()).select_from(model).where(model.contact_id == zq.contact_id)) == 0
    assert session.get(Contact, zq.contact_id) is None
    assert session.scalar(select(func.count()).select_from(ContactMerge)) == 1  # the bystander's
    assert session.scalar(select(func.count()).select_from(DedupeCandidate)) == 0
    # The record that it happened: tombstone, audit entry, answered request with a masked label.
    [tombstone] = session.scalars(select(ErasureTombstone))
    request = session.get(PrivacyRequest, zq.request_id)
    assert request is not None
    assert (request.status, request.subject_label, request.contact_id) == ("completed", "z***@z***.io", None)
    assert request.notes == "[erased] [erased] called from [erased] to confirm"
    assert (tombstone.former_contact_id, tombstone.reason, tombstone.request_id) == (
        zq.contact_id,
        "request",
        request.id,
    )
    assert tombstone.subject_hash == request.subject_hash
    assert result.tombstone_ids == [tombstone.id]
    assert tombstone.counts == result.counts == request.result["counts"]
    counts = result.counts
    assert counts["events_anonymised"] == 4
    assert counts["identities"] == 6  # two addresses of the merged records, the private one, user, anonymous, CRM
    assert (counts["consent_records"], counts["consent_states"], counts["messages"], counts["quarantine"]) == (
        2,
        2,
        2,
        2,
    )
    assert (counts["contact_merges"], counts["dedupe_candidates"], counts["opportunities_detached"]) == (1, 1, 1)
    # Three addresses by email (one was bounced already: two new) and the phone on sms and on phone.
    assert counts["suppressions_added"] == 4
    erased = session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.erased")).one()
    assert erased.changes["counts"] == [None, counts]
    bounced = session.scalars(select(Suppression).where(Suppression.reason == "hard_bounce",
                                                        Suppression.note.like("%erased%"))).one()  # fmt: skip
    assert bounced.note == "bounced: [erased]"
    session.rollback()

    # A re-import of the address creates a new contact, but the suppression (a salted hash) still blocks it.
    path = tmp_path / "again.csv"
    path.write_text("email,first_name\nzebulon.quixwort@zq-corp.io,Zebulon\n")
    summary = import_file(engine, "contacts", path, actor=SYSTEM)
    assert summary.created == 1
    again = session.scalars(select(Contact).where(Contact.email_normalized == zq.email)).one()
    ledger.record(session, contact_id=again.id, actor=SYSTEM, entry=ConsentEntry(
        channel="email", purpose="product_updates", status="granted", source="import",
        consent_text="Send me product updates."))  # fmt: skip
    verdict = gate.check(session, contact_id=again.id, channel="email", purpose="product_updates", kind="marketing")
    assert (verdict.allowed, verdict.reason) == (False, "suppressed:erasure")
    # The bystander keeps only their own (bounce) suppression.
    reasons = {row.reason for row in session.scalars(select(Suppression).where(Suppression.subject_hash.in_(
        _hashes(session, yy))))}  # fmt: skip
    assert reasons == {"hard_bounce"}


def test_the_scan_finds_a_table_that_erasure_does_not_know(
    engine: Engine, session: Session, settings: Settings
) -> None:
    """What a future table storing an address without an erasure step would look like: the scan reports it."""
    probe = Table("privacy_scan_probe", MetaData(), Column("id", Integer, primary_key=True), Column("note", Text))
    probe.create(engine)
    try:
        zq, _ = populate(session, settings)
        session.execute(insert(probe).values(id=1, note=f"call back {zq.email}"))
        erase_person(session, contact_id=zq.contact_id, reason="request", actor=SYSTEM)
        session.commit()
        hits = find_leftovers(session, zq.needles, extra_tables=(probe,))
        assert sorted(hits) == [("privacy_scan_probe", "note", n) for n in sorted([zq.email, "quixwort", "zebulon"])]
    finally:
        session.rollback()
        probe.drop(engine)


def test_erasure_is_one_transaction(session: Session, settings: Settings) -> None:
    zq, _ = populate(session, settings)
    session.commit()
    erase_person(session, contact_id=zq.contact_id, reason="request", actor=SYSTEM)
    session.rollback()
    contact = session.get(Contact, zq.contact_id)
    assert contact is not None
    assert contact.first_name == "Zebulon"
    assert session.scalar(select(func.count()).select_from(ErasureTombstone)) == 0
    assert session.scalar(select(func.count()).select_from(Suppression).where(Suppression.reason == "erasure")) == 0
    first = session.get(Event, zq.event_ids[0])
    assert first is not None
    assert first.context["ip"] == "198.51.100.77"


def test_big_sets_are_changed_in_chunks(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erasure, "CHUNK", 2)
    contact = Contact(email="chunky@chunk-co.io", email_normalized="chunky@chunk-co.io", first_name="Chunky")
    session.add(contact)
    session.flush()
    session.add_all(_event(contact.id, f"chunk-{i}", properties={"i": i}) for i in range(7))
    session.add_all(Identity(contact_id=contact.id, kind="anonymous_id", value=f"anon-chunk-{i}", created_at=utcnow())
                    for i in range(5))  # fmt: skip
    session.add_all(_event(None, f"chunk-anon-{i}", anonymous_id=f"anon-chunk-{i}") for i in range(5))
    session.flush()
    result = erase_person(session, contact_id=contact.id, reason="retention", actor=SYSTEM)
    assert (result.counts["events_anonymised"], result.counts["identities"]) == (12, 5)
    assert session.scalar(select(func.count()).select_from(Event).where(Event.properties != {})) == 0
    assert session.scalar(select(func.count()).select_from(Event).where(Event.anonymous_id.is_not(None))) == 0


def test_retention_erasure_without_a_request_is_found_by_the_address(session: Session) -> None:
    contact = contacts.create_contact(session, ContactCreate(email="Quiet@Dormant-Co.io", first_name="Quinn"),
                                      actor=SYSTEM)  # fmt: skip
    result = erase_person(session, contact_id=contact.id, reason="retention", actor=SYSTEM)
    tombstone = session.get(ErasureTombstone, result.tombstone_ids[0])
    assert tombstone is not None
    assert (tombstone.reason, tombstone.request_id) == ("retention", None)
    assert tombstone.subject_hash == subject_hash(salt(session), "email", "quiet@dormant-co.io")
    assert result.counts["suppressions_added"] == 1


def test_a_phone_only_person_is_suppressed_on_sms_and_phone(session: Session) -> None:
    contact = contacts.create_contact(session, ContactCreate(phone="+1 415 555 0134", first_name="Pia"), actor=SYSTEM)
    result = erase_person(session, contact_id=contact.id, reason="request", actor=SYSTEM)
    assert result.counts["suppressions_added"] == 2
    again = contacts.create_contact(session, ContactCreate(phone="(415) 555-0134", country="US"), actor=SYSTEM)
    for channel in ("sms", "phone"):
        verdict = gate.check(session, contact_id=again.id, channel=channel, purpose="sales_outreach", kind="marketing")
        assert verdict.reason == "suppressed:erasure"


def test_anonymous_contacts_get_distinct_salted_hashes(session: Session) -> None:
    hashes = []
    # Both exist before either is erased: SQLite would hand an erased highest id to the next new contact.
    anonymous = [Contact(), Contact()]
    session.add_all(anonymous)
    session.flush()
    ids = [c.id for c in anonymous]
    for n, contact_id in enumerate(ids):
        session.add(Identity(contact_id=contact_id, kind="anonymous_id", value=f"anon-lonely-{n}", created_at=utcnow()))
        result = erase_person(session, contact_id=contact_id, reason="retention", actor=SYSTEM)
        assert result.counts["suppressions_added"] == 0
        tombstone = session.get(ErasureTombstone, result.tombstone_ids[0])
        assert tombstone is not None
        hashes.append(tombstone.subject_hash)
    assert len(set(hashes)) == 2
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


def test_an_undone_merge_that_held_the_person_goes_and_the_survivor_stays(session: Session) -> None:
    keeper = contacts.create_contact(
        session, ContactCreate(email="keeper@keep-co.io", first_name="Kim"), actor=SYSTEM
    ).id
    leaver = contacts.create_contact(
        session, ContactCreate(email="leaver@leave-co.io", first_name="Lee"), actor=SYSTEM
    ).id
    merge_id = merge_contacts(session, survivor_id=keeper, merged_id=leaver, reason="looked alike", actor=SYSTEM).id
    undo_merge(session, merge_id=merge_id, actor=SYSTEM)
    result = erase_person(session, contact_id=leaver, reason="request", actor=SYSTEM)
    assert result.counts["contact_merges"] == 1
    assert session.get(ContactMerge, merge_id) is None
    kept = session.get(Contact, keeper)
    assert kept is not None
    assert kept.email == "keeper@keep-co.io"
    assert session.scalar(select(func.count()).select_from(Identity).where(Identity.contact_id == keeper)) == 1


def test_the_survivor_of_an_undone_merge_takes_nothing_of_the_restored_contact_with_it(session: Session) -> None:
    keeper = contacts.create_contact(
        session, ContactCreate(email="keeper@keep-co.io", first_name="Kim"), actor=SYSTEM
    ).id
    other = contacts.create_contact(session, ContactCreate(email="other@other-co.io", first_name="Oz"), actor=SYSTEM).id
    merge_id = merge_contacts(session, survivor_id=keeper, merged_id=other, reason="looked alike", actor=SYSTEM).id
    undo_merge(session, merge_id=merge_id, actor=SYSTEM)
    held = quarantine.hold(session, channel="import", entity="contacts", payload={"email": "other@other-co.io"},
                           reasons=["x"])  # fmt: skip
    session.flush()
    held_id = held.id
    result = erase_person(session, contact_id=keeper, reason="request", actor=SYSTEM)
    assert (result.counts["contact_merges"], result.counts["suppressions_added"], result.counts["quarantine"]) == (
        1, 1, 0,
    )  # fmt: skip
    restored = session.get(Contact, other)
    assert restored is not None
    verdict = gate.check(session, contact_id=other, channel="email", purpose="product_updates", kind="marketing")
    assert verdict.reason == "no_consent"  # not suppressed: they were not the one erased
    assert session.get(QuarantinedRecord, held_id) is not None


def test_registered_steps_run_and_are_counted(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erasure, "_STEPS", {})
    seen: list[Subject] = []

    def forget_scores(session: Session, subject: Subject, actor: Actor) -> int:
        seen.append(subject)
        return 3

    erasure.register_erasure_step("lead_scores", forget_scores)
    erasure.register_erasure_step("lead_scores", forget_scores)  # idempotent
    with pytest.raises(ValueError, match="twice"):
        erasure.register_erasure_step("lead_scores", lambda s, subj, a: 0)
    contact_id = contacts.create_contact(session, ContactCreate(email="scored@score-co.io"), actor=SYSTEM).id
    result = erase_person(session, contact_id=contact_id, reason="request", actor=SYSTEM)
    assert result.counts["lead_scores"] == 3
    assert [s.contact_id for s in seen] == [contact_id]
    assert "scored@score-co.io" in seen[0].emails


def test_erasure_needs_an_admin_a_known_contact_and_a_known_reason(session: Session) -> None:
    contact = contacts.create_contact(session, ContactCreate(email="guarded@guard-co.io"), actor=SYSTEM)
    with pytest.raises(Forbidden):
        erase_person(session, contact_id=contact.id, reason="request", actor=Actor("ed", "api", "editor"))
    with pytest.raises(ValidationFailed, match="reason"):
        erase_person(session, contact_id=contact.id, reason="because", actor=SYSTEM)
    with pytest.raises(NotFound):
        erase_person(session, contact_id=contact.id + 999, reason="request", actor=SYSTEM)
    with pytest.raises(ValidationFailed, match="privacy request"):
        erase_person(session, contact_id=contact.id, reason="request", actor=SYSTEM, request_id=424242)
