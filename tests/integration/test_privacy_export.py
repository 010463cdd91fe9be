"""Access requests: what an export holds, and the request lifecycle (open, complete, reject, overdue)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pitboard.consent import gate
from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import ContactCreate
from pitboard.kit.actor import SYSTEM, Actor
from pitboard.kit.errors import Forbidden, ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import AuditEntry, Contact, Event, PrivacyRequest, Suppression
from pitboard.privacy import export
from pitboard.privacy.export import document_bytes, export_person, register_section
from pitboard.privacy.requests import (
    complete_erasure,
    complete_export,
    is_overdue,
    list_requests,
    open_request,
    reject,
)
from pitboard.settings import Settings
from tests.integration.test_privacy_erasure import populate

EDITOR = Actor("ed@example.org", "api", "editor")


def test_the_export_holds_everything_about_the_person_and_nothing_about_others(
    session: Session, settings: Settings
) -> None:
    zq, yy = populate(session, settings)
    document = export_person(session, zq.contact_id)
    text = json.dumps(document)  # JSON-ready as it is: no datetimes, no decimals
    for needle in yy.needles:
        assert needle.lower() not in text.lower()

    contact = document["contact"]
    assert (contact["id"], contact["email"], contact["first_name"]) == (zq.contact_id, zq.email, "Zebulon")
    assert contact["custom"] == {"favourite_colour": "ultraviolet-zq"}
    assert contact["original_values"]["phone"] == "+49 30 98765432"
    assert {"field_sources", "seniority", "email_domain", "created_at", "last_activity_at"} <= set(contact)
    assert document["account"] == {"id": contact["account_id"], "name": "Acme Rockets", "domain": "acme-rockets.io"}
    assert {(i["kind"], i["value"]) for i in document["identities"]} == {
        ("email", zq.email), ("email", "zebulon@zq-old.io"), ("email", "zq.private@zqmail.io"),
        ("user_id", "zq-user-7781"), ("anonymous_id", "anon-zq-5521"), ("external:salesforce", "SF-ZQ-0042"),
    }  # fmt: skip
    # Their two events, the visit before they were identified and the login carrying only their user id.
    assert sorted(e["id"] for e in document["events"]) == sorted(zq.event_ids)
    form = next(e for e in document["events"] if e["name"] == "Form Submitted")
    assert form["context"]["ip"] == "198.51.100.77"
    assert form["properties"]["name"] == "Zebulon Quixwort"
    assert form["occurred_at"].endswith("+00:00")
    assert {(r["channel"], r["purpose"], r["ip_address"]) for r in document["consent_records"]} == {
        ("email", "product_updates", "198.51.100.77"), ("sms", "events", "198.51.100.77"),
    }  # fmt: skip
    assert {(s["channel"], s["status"]) for s in document["consent_states"]} == {
        ("email", "granted"), ("sms", "granted"),
    }  # fmt: skip
    # Found by the salted hash of an address of theirs, though it is linked to no contact.
    [bounce] = document["suppressions"]
    assert (bounce["reason"], bounce["contact_id"]) == ("hard_bounce", None)
    # Their own history, then the merged duplicate's (moved to the survivor by the merge).
    assert [c["to_stage"] for c in document["lifecycle_stage_changes"]] == ["subscriber", "mql", "subscriber"]
    [opportunity] = document["opportunities"]
    assert opportunity["amount"] == "12000.50"
    assert {m["to_address"] for m in document["messages"]} == {zq.email, "ZQ.PRIVATE@ZQMAIL.IO"}
    [merge] = document["merges"]
    assert (merge["merged_id"], merge["merged_snapshot"]["email"]) == (zq.merged_id, "zebulon@zq-old.io")
    actions = [(a["entity_id"], a["action"]) for a in document["audit"]]
    assert actions == [(str(zq.contact_id), "create"), (str(zq.contact_id), "update"),
                       (str(zq.merged_id), "create"), (str(zq.contact_id), "merge")]  # fmt: skip
    assert {q["entity"] for q in document["quarantine"]} == {"contacts", "events"}
    [request] = document["privacy_requests"]
    assert request["id"] == zq.request_id
    assert (document["scores"], document["assignments"]) == ([], [])


def test_events_are_read_in_chunks(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "EVENT_CHUNK", 3)
    contact = Contact(email="busy@busy-co.io", email_normalized="busy@busy-co.io")
    session.add(contact)
    session.flush()
    start = utcnow() - timedelta(days=10)
    session.add_all(
        Event(message_id=f"busy-{i}", event_type="track", name=f"step {i}", contact_id=contact.id,
              occurred_at=start + timedelta(hours=10 - i), received_at=start, properties={"i": i}, context={})
        for i in range(10)
    )  # fmt: skip
    session.flush()
    events = export_person(session, contact.id)["events"]
    assert [e["properties"]["i"] for e in events] == list(range(9, -1, -1))  # oldest first


def test_features_add_their_own_sections(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "_PROVIDERS", {"scores": [], "assignments": []})
    now = utcnow()

    def lead_scores(session: Session, contact_id: int) -> list[dict[str, Any]]:
        return [{"contact_id": contact_id, "model": "fit", "score": Decimal("0.82"), "at": now}]

    def enrolments(session: Session, contact_id: int) -> list[dict[str, Any]]:
        return [{"workflow": "onboarding", "contact_id": contact_id}]

    register_section("scores", lead_scores)
    register_section("scores", lead_scores)  # once only
    register_section("workflow_enrolments", enrolments)
    with pytest.raises(ValueError, match="built in"):
        register_section("events", enrolments)
    contact = contacts.create_contact(session, ContactCreate(email="scored@score-co.io"), actor=SYSTEM)
    document = export_person(session, contact.id)
    assert document["scores"] == [{"contact_id": contact.id, "model": "fit", "score": "0.82", "at": now.isoformat()}]
    assert document["workflow_enrolments"] == [{"workflow": "onboarding", "contact_id": contact.id}]
    assert document["assignments"] == []


def test_completing_an_export_records_the_file_hash_and_no_personal_data_in_the_audit(
    session: Session, settings: Settings
) -> None:
    zq, _ = populate(session, settings)
    request = open_request(session, kind="export", email="ZEBULON.quixwort@zq-corp.io", actor=EDITOR,
                           settings=settings)  # fmt: skip
    assert request.contact_id == zq.contact_id
    assert request.due_at - request.requested_at == timedelta(days=30)
    document = complete_export(session, request_id=request.id, actor=SYSTEM)
    assert [r["contact_id"] for r in document["records"]] == [zq.contact_id]
    assert document["no_data_held"] is False
    stored = session.get(PrivacyRequest, request.id)
    assert stored is not None
    assert stored.status == "completed"
    assert stored.completed_at is not None
    assert stored.result["sha256"] == hashlib.sha256(document_bytes(document)).hexdigest()
    assert stored.result["counts"]["events"] == 4
    assert stored.result["bytes"] == len(document_bytes(document))
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "privacy_request")).all()
    assert {e.action for e in entries} >= {"privacy_request.opened", "privacy_request.completed"}
    trail = json.dumps([e.changes for e in entries]).lower()
    assert "zq-corp" not in trail
    assert "zebulon" not in trail
    with pytest.raises(ValidationFailed, match="already completed"):
        complete_export(session, request_id=request.id, actor=SYSTEM)


def test_duplicates_holding_the_address_are_all_answered(session: Session, settings: Settings) -> None:
    first = contacts.create_contact(session, ContactCreate(email="twin@twin-co.io", first_name="Tess"), actor=SYSTEM)
    # A duplicate that never got the email identity (the identity belongs to the first record).
    second = Contact(email="Twin@Twin-co.io", email_normalized="twin@twin-co.io", first_name="T.")
    session.add(second)
    session.flush()
    request = open_request(session, kind="export", email="twin@twin-co.io", actor=SYSTEM, settings=settings)
    document = complete_export(session, request_id=request.id, actor=SYSTEM)
    assert [r["contact_id"] for r in document["records"]] == [first.id, second.id]


def test_an_unknown_address_is_recorded_and_answered_with_no_data_held(session: Session, settings: Settings) -> None:
    request = open_request(session, kind="export", email="nobody@nowhere-co.io", actor=SYSTEM, settings=settings)
    assert (request.status, request.contact_id) == ("received", None)
    document = complete_export(session, request_id=request.id, actor=SYSTEM)
    assert (document["no_data_held"], document["records"]) == (True, [])
    assert request.status == "completed"
    assert request.result["no_data_held"] is True


def test_erasure_of_an_unknown_address_still_suppresses_it(session: Session, settings: Settings) -> None:
    request = open_request(session, kind="erasure", email="Ghost@Nowhere-co.io", actor=SYSTEM, settings=settings)
    result = complete_erasure(session, request_id=request.id, actor=SYSTEM)
    assert (result.no_data_held, result.contact_ids, result.counts) == (True, [], {"suppressions_added": 1})
    stored = session.get(PrivacyRequest, request.id)
    assert stored is not None
    assert (stored.status, stored.subject_label) == ("completed", "g***@n***.io")
    later = contacts.create_contact(session, ContactCreate(email="ghost@nowhere-co.io"), actor=SYSTEM)
    verdict = gate.check(session, contact_id=later.id, channel="email", purpose="product_updates", kind="marketing")
    assert verdict.reason == "suppressed:erasure"
    assert session.scalars(select(Suppression.source)).all() == ["erasure"]


def test_a_request_follows_its_contact_through_a_change_of_address(session: Session, settings: Settings) -> None:
    contact = contacts.create_contact(session, ContactCreate(email="mover@old-co.io", first_name="Mo"), actor=SYSTEM)
    request = open_request(session, kind="erasure", email="mover@old-co.io", actor=SYSTEM, settings=settings)
    contact.email, contact.email_normalized = "mover@new-co.io", "mover@new-co.io"
    session.flush()
    result = complete_erasure(session, request_id=request.id, actor=SYSTEM)
    assert result.contact_ids == [contact.id]
    assert session.get(Contact, result.contact_ids[0]) is None


def test_rejecting_and_the_rules_of_the_lifecycle(session: Session, settings: Settings) -> None:
    with pytest.raises(Forbidden):
        open_request(session, kind="export", email="a@b-co.io", actor=Actor("v", "web", "viewer"), settings=settings)
    with pytest.raises(ValidationFailed, match="kind"):
        open_request(session, kind="rectification", email="a@b-co.io", actor=SYSTEM, settings=settings)
    with pytest.raises(ValidationFailed, match="not a valid email"):
        open_request(session, kind="export", email="not-an-address", actor=SYSTEM, settings=settings)
    with pytest.raises(ValidationFailed, match="future"):
        open_request(session, kind="export", email="a@b-co.io", actor=SYSTEM, settings=settings,
                     received_at=utcnow() + timedelta(days=1))  # fmt: skip
    request = open_request(session, kind="erasure", email="a@b-co.io", actor=SYSTEM, settings=settings)
    with pytest.raises(ValidationFailed, match="erasure request, not export"):
        complete_export(session, request_id=request.id, actor=SYSTEM)
    with pytest.raises(Forbidden):
        complete_erasure(session, request_id=request.id, actor=EDITOR)
    with pytest.raises(ValidationFailed, match="say why"):
        reject(session, request_id=request.id, reason="  ", actor=SYSTEM)
    rejected = reject(session, request_id=request.id, reason="identity not verified", actor=SYSTEM)
    assert (rejected.status, rejected.result) == ("rejected", {"rejected_reason": "identity not verified"})
    assert rejected.subject_label == "a@b-co.io"  # a refused request keeps who asked
    with pytest.raises(ValidationFailed, match="already rejected"):
        complete_erasure(session, request_id=request.id, actor=SYSTEM)


def test_overdue_requests(session: Session, settings: Settings) -> None:
    now = utcnow()
    late = open_request(session, kind="export", email="late@late-co.io", actor=SYSTEM, settings=settings,
                        received_at=now - timedelta(days=31))  # fmt: skip
    fresh = open_request(session, kind="erasure", email="fresh@fresh-co.io", actor=SYSTEM, settings=settings)
    answered = open_request(session, kind="export", email="done@done-co.io", actor=SYSTEM, settings=settings,
                            received_at=now - timedelta(days=40))  # fmt: skip
    complete_export(session, request_id=answered.id, actor=SYSTEM)
    assert (is_overdue(late), is_overdue(fresh), is_overdue(answered)) == (True, False, False)
    assert is_overdue(fresh, now + timedelta(days=31))
    assert [r.id for r in list_requests(session, overdue=True)] == [late.id]
    assert [r.id for r in list_requests(session, overdue=False)] == [fresh.id, answered.id]  # newest first
    assert [r.id for r in list_requests(session, kind="export")] == [late.id, answered.id]
    assert [r.id for r in list_requests(session, status="completed")] == [answered.id]
    with pytest.raises(ValidationFailed):
        list_requests(session, status="lost")
