"""Deduplication against the database: auto-merge the sure pairs, queue the rest, decide through the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Contact, ContactMerge, DedupeCandidate

PEOPLE = [
    ("Ann", "Lee", "Acme"), ("Bob", "Ray", "Globex"), ("Cyra", "Patel", "Initech"), ("Dev", "Okafor", "Umbrella"),
    ("Eli", "Schmidt", "Hooli"), ("Fay", "Rossi", "Stark"), ("Gus", "Kim", "Wayne"), ("Hana", "Silva", "Wonka"),
    ("Ivo", "Novak", "Cyberdyne"), ("Jun", "Haddad", "Tyrell"), ("Kai", "Berg", "Soylent"), ("Lea", "Ito", "Vandelay"),
]  # fmt: skip


def _add(s: Session, first: str, last: str, company: str, email: str, phone: str | None = None) -> int:
    now = utcnow()
    c = Contact(first_name=first, last_name=last, company_name=company, email=email, email_normalized=email.lower(),
                phone=phone, lifecycle_stage="lead", custom={}, created_at=now, updated_at=now)  # fmt: skip
    s.add(c)
    s.flush()
    return c.id


def test_run_merges_sure_pairs_and_queues_the_rest(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    from pitboard.quality.dedupe_service import run_dedupe

    with session_scope(engine) as s:
        for i in range(20):
            for first, last, company in PEOPLE:
                _add(
                    s,
                    first,
                    f"{last}{i}",
                    f"{company}{i}",
                    f"{first.lower()}.{last.lower()}{i}@{company.lower()}{i}.com",
                )
        original = _add(s, "Robert", "Langley", "Quantum Ltd", "robert.langley@quantum.io", "+14155550100")
        twin = _add(s, "Bob", "Langley", "Quantum", "Robert.Langley+news@quantum.io", "+14155550100")
    with session_scope(engine) as s:
        summary = run_dedupe(s, actor=SYSTEM)
    assert summary.merged >= 1
    assert session.get(Contact, twin) is None
    kept = session.get(Contact, original)
    assert kept is not None
    merge = session.scalars(select(ContactMerge)).one()
    assert (merge.survivor_id, merge.merged_id) == (original, twin)
    row = session.scalars(select(DedupeCandidate).where(DedupeCandidate.left_id == original)).one()
    assert (row.status, row.merge_id) == ("merged", merge.id)
    assert any("email" in line for line in row.explanation)
    session.rollback()
    # Distinct people were not merged.
    assert session.scalar(select(func.count()).select_from(Contact)) == 20 * len(PEOPLE) + 1
    session.rollback()


def test_review_decisions_through_the_api_are_remembered(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    from pitboard.quality.dedupe_service import run_dedupe

    with session_scope(engine) as s:
        a = _add(s, "Maria", "Gonzalez", "Acme", "maria@acme.io")
        b = _add(s, "Maria", "Gonzales", "Acme", "m.gonzales@gmail.com")
        now = utcnow()
        s.add(
            DedupeCandidate(
                entity="contact", left_id=a, right_id=b, probability=0.8, match_weight=3.0, band="review",
                explanation=["name: one letter off"], status="open", created_at=now,
            )
        )  # fmt: skip
    queue = client.get("/api/v1/dedupe/candidates", headers=admin_headers).json()
    assert [(q["left_id"], q["right_id"]) for q in queue] == [(a, b)]
    r = client.post(f"/api/v1/dedupe/candidates/{queue[0]['id']}/reject", headers=admin_headers)
    assert r.json()["status"] == "rejected"
    again = client.post(f"/api/v1/dedupe/candidates/{queue[0]['id']}/merge", headers=admin_headers)
    assert again.status_code == 422
    with session_scope(engine) as s:
        run_dedupe(s, actor=SYSTEM)
    assert session.get(Contact, b) is not None  # a rejected pair is never merged by a later run
    statuses = session.scalars(select(DedupeCandidate.status).where(DedupeCandidate.left_id == a)).all()
    assert statuses == ["rejected"]


def test_review_page_merges_and_rejects(logged_in: TestClient, engine: Engine, session: Session) -> None:
    from tests.integration.conftest import csrf_from

    with session_scope(engine) as s:
        a = _add(s, "Maria", "Gonzalez", "Acme", "maria@acme.io")
        b = _add(s, "Maria", "Gonzales", "Acme", "m.gonzales@gmail.com")
        c = _add(s, "Mario", "Gonzalez", "Acme", "mario@acme.io")
        now = utcnow()
        for right in (b, c):
            s.add(
                DedupeCandidate(
                    entity="contact", left_id=a, right_id=right, probability=0.8, match_weight=3.0, band="review",
                    explanation=["last name: one letter off (+3.0)"], status="open", created_at=now,
                )
            )  # fmt: skip
    ids = session.scalars(select(DedupeCandidate.id).order_by(DedupeCandidate.right_id)).all()
    session.rollback()
    page = logged_in.get("/quality/duplicates")
    assert page.status_code == 200
    assert "80% likely the same" in page.text
    assert "m.gonzales@gmail.com" in page.text
    token = csrf_from(page.text)
    logged_in.post(f"/quality/duplicates/{ids[0]}", data={"decision": "merge", "csrf_token": token})
    logged_in.post(f"/quality/duplicates/{ids[1]}", data={"decision": "reject", "csrf_token": token})
    assert session.get(Contact, b) is None
    assert session.get(Contact, c) is not None
    session.rollback()
    assert "No pairs wait for review" in logged_in.get("/quality/duplicates").text


def test_account_pairs_are_queued_merged_on_approval_and_undone(
    engine: Engine, session: Session, client: TestClient, admin_headers: dict[str, str]
) -> None:
    from pitboard.contacts import service as contacts
    from pitboard.contacts.schemas import AccountCreate, ContactCreate
    from pitboard.models import Account, AccountMerge
    from pitboard.quality.dedupe_service import run_dedupe

    with session_scope(engine) as s:
        old = contacts.create_account(s, AccountCreate(name="Acme", domain="acme.io", country="DE"), actor=SYSTEM)
        new = contacts.create_account(s, AccountCreate(name="Acme GmbH", domain="shop.acme.io", industry="Software"),
                                      actor=SYSTEM)  # fmt: skip
        person = contacts.create_contact(s, ContactCreate(email="x@acme.io", account_id=new.id), actor=SYSTEM)
        old_id, new_id, person_id = old.id, new.id, person.id
    with session_scope(engine) as s:
        summary = run_dedupe(s, actor=SYSTEM)
    assert summary.account_pairs == 1
    queue = client.get("/api/v1/dedupe/candidates", params={"entity": "account"}, headers=admin_headers).json()
    assert [(q["left_id"], q["right_id"]) for q in queue] == [(old_id, new_id)]
    assert any("acme.io" in line for line in queue[0]["explanation"])
    merged = client.post(f"/api/v1/dedupe/candidates/{queue[0]['id']}/merge", headers=admin_headers).json()
    assert merged["status"] == "merged"
    kept = session.get(Account, old_id)
    assert kept is not None
    assert (kept.name, kept.industry, kept.country) == ("Acme GmbH", "Software", "DE")  # most complete, filled gaps
    assert session.get(Account, new_id) is None
    assert session.get(Contact, person_id).account_id == old_id  # type: ignore[union-attr]
    merge_id = session.scalars(select(AccountMerge.id)).one()
    session.rollback()
    undone = client.post(f"/api/v1/account-merges/{merge_id}/undo", headers=admin_headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["id"] == new_id
    assert session.get(Contact, person_id).account_id == new_id  # type: ignore[union-attr]
    back = session.get(Account, old_id)
    assert back is not None
    assert (back.name, back.industry) == ("Acme", None)
