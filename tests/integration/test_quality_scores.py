"""Data-quality snapshots on SQLite and PostgreSQL: exact stored values, one set per day, the trend, the
queued task and the /quality page with its CSRF- and role-guarded "Take snapshot now" form.

Dirty values are written with the ORM directly: the API and the import would normalise or refuse them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.api.app import create_app
from pitboard.auth import service as auth
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Account, Contact, QualitySnapshot
from pitboard.quality import scores
from pitboard.settings import Settings
from pitboard.worker import queue
from tests.integration.conftest import csrf_from, login

NOW = utcnow()
TODAY = NOW.date()
FRESH = NOW - timedelta(days=1)
STALE = NOW - timedelta(days=400)

# Expected scores of the data that seed() writes (worked out by hand; see the comments there).
CONTACT_OVERALL = (7 / 12 + 4 / 7 + 1 / 3 + 2 / 3) / 4
ACCOUNT_OVERALL = (0.8 + 0.5 + 1.0 + 0.5) / 4


def seed(session: Session) -> dict[str, int]:
    a1 = Account(name="Acme", domain="acme.com", industry="Software", employee_count=100, country="US",
                 updated_at=FRESH)  # fmt: skip
    a2 = Account(name="Beta", domain="not a domain", country="de", updated_at=STALE)
    session.add_all([a1, a2])
    session.flush()
    c1 = Contact(email="ann@acme.com", first_name="Ann", last_name="Lee", title="CMO", company_name="Acme",
                 country="US", phone="+14155552671", account_id=a1.id, updated_at=FRESH)  # fmt: skip
    # Same mailbox as c1, an unknown country code, a phone far too short, not touched for 400 days.
    c2 = Contact(email="ann+x@acme.com", first_name="Ann", company_name="Acme", country="XX", phone="12",
                 updated_at=STALE)  # fmt: skip
    c3 = Contact(email="bad@", updated_at=FRESH)
    session.add_all([c1, c2, c3])
    session.commit()
    return {"a1": a1.id, "a2": a2.id, "c1": c1.id, "c2": c2.id, "c3": c3.id}


def stored(session: Session, day: date) -> dict[tuple[str, str, str], tuple[Any, int]]:
    """(entity, field, metric) -> (value, records) of one day; values typed Any to compare with approx."""
    q = QualitySnapshot
    rows = session.execute(select(q.entity, q.field, q.metric, q.value, q.records).where(q.taken_on == day))
    return {(r.entity, r.field, r.metric): (r.value, r.records) for r in rows}


# --- snapshots -----------------------------------------------------------------------------------


def test_snapshot_stores_exact_values(session: Session) -> None:
    seed(session)
    snap = scores.take_snapshot(session, today=TODAY)
    session.commit()
    assert snap.rows_written == 28  # contacts 5 + 8 + 3, accounts 5 + 5 + 2
    values = stored(session, TODAY)
    assert len(values) == 28
    assert values["contact", "", "completeness"] == (pytest.approx(14 / 24), 3)
    assert values["contact", "", "validity"] == (pytest.approx(4 / 7), 3)
    assert values["contact", "", "uniqueness"] == (pytest.approx(1 / 3), 3)
    assert values["contact", "", "freshness"] == (pytest.approx(2 / 3), 3)
    assert values["contact", "", "overall"] == (pytest.approx(CONTACT_OVERALL), 3)
    assert values["contact", "email", "validity"] == (pytest.approx(2 / 3), 3)
    assert values["contact", "country", "validity"] == (pytest.approx(0.5), 2)
    assert values["contact", "phone", "completeness"] == (pytest.approx(2 / 3), 3)
    assert values["contact", "account_id", "completeness"] == (pytest.approx(1 / 3), 3)
    assert values["account", "", "completeness"] == (pytest.approx(0.8), 2)
    assert values["account", "", "validity"] == (pytest.approx(0.5), 2)
    assert values["account", "", "uniqueness"] == (pytest.approx(1.0), 2)
    assert values["account", "", "overall"] == (pytest.approx(ACCOUNT_OVERALL), 2)
    assert values["account", "domain", "validity"] == (pytest.approx(0.5), 2)
    assert ("contact", "title", "validity") not in values


def test_small_batches_give_the_same_scores(session: Session) -> None:
    seed(session)
    one = scores.take_snapshot(session, today=TODAY, batch_size=1)
    many = scores.take_snapshot(session, today=TODAY)
    assert one.entities == many.entities


def test_rerunning_the_same_day_replaces_its_values(session: Session) -> None:
    ids = seed(session)
    scores.take_snapshot(session, today=TODAY)
    session.commit()
    c3 = session.get(Contact, ids["c3"])
    assert c3 is not None
    c3.email = "carol@globex.com"
    session.commit()
    scores.take_snapshot(session, today=TODAY)
    session.commit()
    count = session.scalar(select(func.count()).select_from(QualitySnapshot).where(QualitySnapshot.taken_on == TODAY))
    assert count == 28
    assert stored(session, TODAY)["contact", "email", "validity"] == (pytest.approx(1.0), 3)


def test_trend_returns_days_in_order_within_the_window(session: Session) -> None:
    seed(session)
    for offset in (2, 0, 1, 100):  # taken out of order, one outside the 90-day window
        scores.take_snapshot(session, today=TODAY - timedelta(days=offset))
    session.commit()
    points = scores.trend(session, "contact", "overall", days=90, today=TODAY)
    assert [p.day for p in points] == [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]
    assert all(p.records == 3 for p in points)
    assert points[-1].value == pytest.approx(CONTACT_OVERALL)
    assert [p.day for p in scores.trend(session, "account", "validity", days=2, today=TODAY)] == [
        TODAY - timedelta(days=1),
        TODAY,
    ]


def test_worst_records(session: Session) -> None:
    ids = seed(session)
    worst = scores.worst_records(session, "contact", limit=2, today=TODAY)
    assert [(w.id, w.score) for w in worst] == [(ids["c3"], 0.0), (ids["c2"], 0.375)]
    assert worst[1].url == f"/contacts/{ids['c2']}"
    assert "shares its email with 1 other contact" in worst[1].problems
    accounts = scores.worst_records(session, "account", today=TODAY)
    assert [(w.id, w.score) for w in accounts] == [(ids["a2"], 0.2)]
    with pytest.raises(ValueError, match="unknown entity"):
        scores.worst_records(session, "campaign")


def test_snapshot_runs_as_a_queued_task(engine: Engine, session: Session) -> None:
    seed(session)
    with session_scope(engine) as s:
        queue.enqueue(s, "quality.snapshot", {"today": TODAY.isoformat(), "fresh_days": 365})
    [job] = queue.claim(engine, "test-worker")
    assert queue.run_claimed(engine, job, "test-worker") == "done"
    values = stored(session, TODAY)
    assert values["contact", "", "freshness"] == (pytest.approx(2 / 3), 3)  # 400 days is stale at 365 too
    assert values["account", "", "overall"] == (pytest.approx(ACCOUNT_OVERALL), 2)


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture
def quality_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c


def add_user(engine: Engine, role: str) -> tuple[str, str]:
    email, password = f"{role}@example.com", "correct-horse-battery"
    with session_scope(engine) as s:
        auth.create_user(s, email=email, name=role.title(), password=password, role=role, actor=SYSTEM)
    return email, password


def test_page_needs_login(quality_client: TestClient) -> None:
    r = quality_client.get("/quality", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


def test_page_shows_scores_fields_and_worst_records(
    quality_client: TestClient, engine: Engine, session: Session
) -> None:
    ids = seed(session)
    session.rollback()
    login(quality_client, *add_user(engine, "editor"))
    r = quality_client.get("/quality")
    assert r.status_code == 200
    html = r.text
    assert f'data-metric="contact-overall">{CONTACT_OVERALL * 100:.1f}%<' in html  # 53.9%
    assert 'data-metric="account-overall">70.0%<' in html
    assert 'data-metric="contact-uniqueness">33.3%<' in html
    assert 'data-field="contact-phone"' in html
    assert f'href="/contacts/{ids["c3"]}"' in html
    assert f'href="/accounts/{ids["a2"]}"' in html
    assert "phone &#39;12&#39; is" in html  # problems are escaped text
    assert "No snapshots yet" in html  # empty trend chart
    assert "Take snapshot now" in html


def test_take_snapshot_now_with_csrf(quality_client: TestClient, engine: Engine, session: Session) -> None:
    seed(session)
    session.rollback()
    login(quality_client, *add_user(engine, "admin"))
    page = quality_client.get("/quality")
    r = quality_client.post("/quality/snapshot", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/quality?notice=")
    after = quality_client.get(r.headers["location"])
    assert "Snapshot for " in after.text
    assert "No snapshots yet" not in after.text  # the trend now has today's bar
    assert f"{CONTACT_OVERALL * 100:.1f}%" in after.text
    today = utcnow().date()
    assert stored(session, today)["contact", "", "overall"] == (pytest.approx(CONTACT_OVERALL), 3)


def test_take_snapshot_refused_without_csrf(quality_client: TestClient, engine: Engine, session: Session) -> None:
    seed(session)
    session.rollback()
    login(quality_client, *add_user(engine, "admin"))
    r = quality_client.post("/quality/snapshot", data={}, follow_redirects=False)
    assert r.status_code == 403
    wrong = quality_client.post("/quality/snapshot", data={"csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert session.scalar(select(func.count()).select_from(QualitySnapshot)) == 0


def test_viewer_sees_the_page_but_cannot_take_a_snapshot(
    quality_client: TestClient, engine: Engine, session: Session
) -> None:
    seed(session)
    session.rollback()
    login(quality_client, *add_user(engine, "viewer"))
    page = quality_client.get("/quality")
    assert page.status_code == 200
    assert "Take snapshot now" not in page.text
    r = quality_client.post("/quality/snapshot", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 403
    assert session.scalar(select(func.count()).select_from(QualitySnapshot)) == 0


def test_page_with_no_data(quality_client: TestClient, engine: Engine) -> None:
    login(quality_client, *add_user(engine, "viewer"))
    r = quality_client.get("/quality")
    assert r.status_code == 200
    assert 'data-metric="contact-overall">—<' in r.text
