"""The consent ledger, suppression and the consent gate, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pitboard.consent import gate, ledger, suppression
from pitboard.consent.ledger import ConsentEntry
from pitboard.consent.purposes import PurposeSpec, apply_purposes, load_purposes
from pitboard.contacts.merge import merge_contacts, undo_merge
from pitboard.kit.actor import SYSTEM
from pitboard.kit.errors import ValidationFailed
from pitboard.kit.time import utcnow
from pitboard.models import ConsentRecord, ConsentState, Contact, Identity


def _contact(session: Session, email: str | None = "ada@example.org", phone: str | None = None) -> Contact:
    contact = Contact(email=email, email_normalized=email and email.lower(), phone=phone, first_name="Ada")
    session.add(contact)
    session.flush()
    return contact


def _grant(purpose: str = "product_updates", **kw: object) -> ConsentEntry:
    return ConsentEntry(channel="email", purpose=purpose, status="granted", source="form", **kw)  # type: ignore[arg-type]


def test_default_purposes_are_seeded_on_first_use(session: Session) -> None:
    purposes = load_purposes(session)
    assert {"newsletter", "product_updates", "events", "sales_outreach"} <= set(purposes)
    assert purposes["newsletter"].double_opt_in


def test_record_keeps_the_proof_and_derives_the_state(session: Session) -> None:
    c = _contact(session)
    rec = ledger.record(session, contact_id=c.id, entry=_grant(ip_address="203.0.113.9", user_agent="Firefox",
                        consent_text="Send me updates", policy_version="2026-01"), actor=SYSTEM)  # fmt: skip
    assert (rec.status, rec.ip_address, rec.consent_text, rec.policy_version) == (
        "granted", "203.0.113.9", "Send me updates", "2026-01",
    )  # fmt: skip
    [state] = ledger.states(session, c.id)
    assert (state.status, state.record_id) == ("granted", rec.id)
    withdrawn = ledger.record(session, contact_id=c.id, entry=ConsentEntry(
        channel="email", purpose="product_updates", status="withdrawn", source="api"), actor=SYSTEM)  # fmt: skip
    [state] = ledger.states(session, c.id)
    assert (state.status, state.record_id) == ("withdrawn", withdrawn.id)
    assert [r.status for r in ledger.history(session, c.id)] == ["withdrawn", "granted"]
    assert ledger.verify_states(session) == []


def test_missing_wording_falls_back_to_the_purpose_and_says_so(session: Session) -> None:
    c = _contact(session)
    rec = ledger.record(session, contact_id=c.id, entry=_grant(), actor=SYSTEM)
    assert rec.consent_text == load_purposes(session)["product_updates"].consent_text
    assert rec.evidence["consent_text_from"] == "purpose"


def test_an_older_record_arriving_late_does_not_overturn_a_newer_one(session: Session) -> None:
    c = _contact(session)
    now = utcnow()
    ledger.record(session, contact_id=c.id, entry=ConsentEntry(channel="email", purpose="events",
                  status="withdrawn", source="api", occurred_at=now), actor=SYSTEM)  # fmt: skip
    old_grant = ConsentEntry(channel="email", purpose="events", status="granted", source="import",
                             occurred_at=now - timedelta(days=400))  # fmt: skip
    ledger.record(session, contact_id=c.id, entry=old_grant, actor=SYSTEM)
    [state] = ledger.states(session, c.id)
    assert state.status == "withdrawn"
    assert ledger.verify_states(session) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (ConsentEntry(channel="sms", purpose="newsletter", status="granted", source="form"), "is for email"),
        (ConsentEntry(channel="email", purpose="nope", status="granted", source="form"), "unknown consent purpose"),
        (ConsentEntry(channel="email", purpose="events", status="maybe", source="form"), "status must be"),
        (ConsentEntry(channel="email", purpose="events", status="granted", source="x"), "source must be"),
        (ConsentEntry(channel="email", purpose="events", status="granted", source="form", lawful_basis="vibes"),
         "lawful_basis"),
        (ConsentEntry(channel="email", purpose="events", status="granted", source="form",
                      occurred_at=utcnow() + timedelta(days=2)), "in the future"),
    ],
)  # fmt: skip
def test_bad_entries_are_refused_with_the_reason(session: Session, entry: ConsentEntry, message: str) -> None:
    c = _contact(session)
    with pytest.raises(ValidationFailed, match=message):
        ledger.record(session, contact_id=c.id, entry=entry, actor=SYSTEM)


def test_idempotency_key_makes_retries_append_nothing(session: Session) -> None:
    c = _contact(session)
    first = ledger.record(session, contact_id=c.id, entry=_grant(idempotency_key="form-123"), actor=SYSTEM)
    again = ledger.record(session, contact_id=c.id, entry=_grant(idempotency_key="form-123"), actor=SYSTEM)
    assert first.id == again.id
    assert session.scalar(select(ConsentRecord.id).where(ConsentRecord.id != first.id)) is None


def test_the_ledger_refuses_updates_in_the_database(engine: Engine, session: Session) -> None:
    c = _contact(session)
    rec = ledger.record(session, contact_id=c.id, entry=_grant(), actor=SYSTEM)
    session.commit()
    rec_id = rec.id
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(ConsentRecord).where(ConsentRecord.id == rec_id).values(status="withdrawn"))
    session.rollback()
    with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):  # raw SQL too, not only the ORM
        conn.execute(text("UPDATE consent_records SET consent_text = 'edited' WHERE id = :id"), {"id": rec_id})


def test_purposes_from_the_project_replace_and_deactivate(session: Session) -> None:
    load_purposes(session)
    changes = apply_purposes(session, [
        PurposeSpec("newsletter", "The Weekly", ("email",), double_opt_in=True, consent_text="Weekly, please"),
        PurposeSpec("partner_offers", "Partner offers", ("email",), regime="opt_out"),
    ])  # fmt: skip
    assert changes == {"created": ["partner_offers"], "updated": ["newsletter"],
                       "deactivated": ["product_updates", "events", "sales_outreach"]}  # fmt: skip
    c = _contact(session)
    with pytest.raises(ValidationFailed, match="no longer active"):
        ledger.record(session, contact_id=c.id, entry=_grant("events"), actor=SYSTEM)
    # Withdrawing from an inactive purpose is always allowed.
    ledger.record(session, contact_id=c.id, entry=ConsentEntry(channel="email", purpose="events",
                  status="withdrawn", source="api"), actor=SYSTEM)  # fmt: skip


def test_gate_decides_by_consent_regime_and_suppression(session: Session) -> None:
    apply_purposes(session, [
        PurposeSpec("newsletter", "Newsletter", ("email",), double_opt_in=True, consent_text="Yes"),
        PurposeSpec("b2b_updates", "B2B updates", ("email",), regime="opt_out", consent_text="ok"),
    ])  # fmt: skip
    granted, silent, withdrawn, bounced, complained, nomail = (_contact(session, f"p{i}@example.org") for i in range(6))
    nomail.email = nomail.email_normalized = None
    for c in (granted, bounced, complained):
        ledger.record(session, contact_id=c.id, entry=_grant("newsletter"), actor=SYSTEM)
    ledger.record(session, contact_id=withdrawn.id, entry=ConsentEntry(channel="email", purpose="b2b_updates",
                  status="withdrawn", source="unsubscribe"), actor=SYSTEM)  # fmt: skip
    suppression.suppress(session, channel="email", reason="hard_bounce", source="smtp", actor=SYSTEM,
                         address="P3@Example.org")  # fmt: skip
    suppression.suppress(session, channel="email", reason="complaint", source="fbl", actor=SYSTEM,
                         address="p4@example.org")  # fmt: skip
    session.flush()

    def verdicts(purpose: str | None, kind: str) -> dict[int, str]:
        got = gate.check_many(session, [granted.id, silent.id, withdrawn.id, bounced.id, complained.id, nomail.id],
                              channel="email", purpose=purpose, kind=kind)  # fmt: skip
        return {cid: v.reason for cid, v in got.items()}

    assert verdicts("newsletter", "marketing") == {
        granted.id: "ok", silent.id: "no_consent", withdrawn.id: "no_consent", bounced.id: "suppressed:hard_bounce",
        complained.id: "suppressed:complaint", nomail.id: "no_address",
    }  # fmt: skip
    assert verdicts("b2b_updates", "marketing") == {
        granted.id: "ok", silent.id: "ok", withdrawn.id: "withdrawn", bounced.id: "suppressed:hard_bounce",
        complained.id: "suppressed:complaint", nomail.id: "no_address",
    }  # fmt: skip
    # Transactional mail: only deliverability blocks it.
    assert verdicts(None, "transactional") == {
        granted.id: "ok", silent.id: "ok", withdrawn.id: "ok", bounced.id: "suppressed:hard_bounce",
        complained.id: "ok", nomail.id: "no_address",
    }  # fmt: skip
    with pytest.raises(ValidationFailed, match="needs a consent purpose"):
        gate.check(session, contact_id=granted.id, channel="email", purpose=None, kind="marketing")
    # The streaming form (audience exports) agrees with the per-contact form.
    streamed = dict(gate.iter_verdicts(session, select(Contact.id), channel="email", purpose="newsletter",
                                       kind="marketing"))  # fmt: skip
    assert {cid: v.reason for cid, v in streamed.items()} == verdicts("newsletter", "marketing")


def test_a_reimported_address_stays_suppressed(session: Session) -> None:
    first = _contact(session, "gone@example.org")
    ledger.record(session, contact_id=first.id, entry=_grant(), actor=SYSTEM)
    suppression.suppress(session, channel="email", reason="unsubscribe", source="test", actor=SYSTEM,
                         address="gone@example.org", contact_id=first.id)  # fmt: skip
    session.delete(first)
    session.flush()
    again = _contact(session, "Gone@Example.org ")
    ledger.record(session, contact_id=again.id, entry=ConsentEntry(channel="email", purpose="product_updates",
                  status="granted", source="import"), actor=SYSTEM)  # fmt: skip
    verdict = gate.check(session, contact_id=again.id, channel="email", purpose="product_updates", kind="marketing")
    assert verdict == gate.Verdict(False, "suppressed:unsubscribe")


def test_suppression_is_idempotent_and_lifting_is_recorded(session: Session) -> None:
    a = suppression.suppress(session, channel="email", reason="complaint", source="fbl", actor=SYSTEM,
                             address="x@example.org")  # fmt: skip
    b = suppression.suppress(session, channel="email", reason="hard_bounce", source="smtp", actor=SYSTEM,
                             address="X@example.org")  # fmt: skip
    assert a.id == b.id
    assert a.subject_hash != "x@example.org"
    assert len(a.subject_hash) == 64
    with pytest.raises(ValidationFailed, match="say why"):
        suppression.lift(session, suppression_id=a.id, reason=" ", actor=SYSTEM)
    suppression.lift(session, suppression_id=a.id, reason="customer asked support to resubscribe", actor=SYSTEM)
    c = suppression.suppress(session, channel="email", reason="hard_bounce", source="smtp", actor=SYSTEM,
                             address="x@example.org")  # fmt: skip
    assert c.id != a.id
    assert c.reason == "hard_bounce"


def test_an_old_address_of_a_merged_contact_keeps_blocking(session: Session) -> None:
    keep = _contact(session, "new@example.org")
    old = _contact(session, "old@example.org")
    session.add(Identity(contact_id=old.id, kind="email", value="old@example.org", created_at=utcnow()))
    ledger.record(session, contact_id=keep.id, entry=_grant(), actor=SYSTEM)
    rec_old = ledger.record(session, contact_id=old.id, entry=_grant("events"), actor=SYSTEM)
    suppression.suppress(session, channel="email", reason="complaint", source="fbl", actor=SYSTEM,
                         address="old@example.org")  # fmt: skip
    merge = merge_contacts(session, survivor_id=keep.id, merged_id=old.id, reason="same person", actor=SYSTEM)
    # The ledger moved with the merge and the survivor's states were derived again from it.
    assert {(s.purpose, s.status) for s in ledger.states(session, keep.id)} == {
        ("product_updates", "granted"), ("events", "granted")}  # fmt: skip
    assert session.get(ConsentRecord, rec_old.id).contact_id == keep.id  # type: ignore[union-attr]
    verdict = gate.check(session, contact_id=keep.id, channel="email", purpose="product_updates", kind="marketing")
    assert verdict.reason == "suppressed:complaint"
    undo_merge(session, merge_id=merge.id, actor=SYSTEM)
    assert {s.purpose for s in ledger.states(session, keep.id)} == {"product_updates"}
    assert {s.purpose for s in ledger.states(session, old.id)} == {"events"}
    assert session.scalar(select(ConsentState.id).where(ConsentState.contact_id == -1)) is None
    assert ledger.verify_states(session) == []
