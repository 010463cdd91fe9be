"""The Segment-spec tracking API, driven by the real Segment and RudderStack Python clients over HTTP."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
import uvicorn
from fastapi.testclient import TestClient
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pitboard.api.app import create_app
from pitboard.contacts.merge import undo_merge
from pitboard.events import sources
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import session_scope
from pitboard.models import Account, Contact, ContactMerge, Event, Identity, QuarantinedRecord
from pitboard.settings import Settings


@pytest.fixture
def write_key(engine: Engine) -> str:
    with session_scope(engine) as s:
        return sources.create_source(s, name="website", kind="website", actor=SYSTEM).write_key


@pytest.fixture
def server_url(settings: Settings, engine: Engine) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1, so client libraries talk to it as they would in production."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _count(session: Session, model: type) -> int:
    """Count in a fresh transaction and end it (SQLite writers wait for open transactions)."""
    session.rollback()
    n = session.scalar(select(func.count()).select_from(model)) or 0
    session.rollback()
    return n


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_real_client_libraries_with_gzip(library: str, server_url: str, write_key: str, session: Session) -> None:
    errors: list[Exception] = []
    kwargs = {"host": server_url, "gzip": True, "sync_mode": True, "on_error": lambda e, _b: errors.append(e)}
    client = SegmentClient(write_key, **kwargs) if library == "segment" else RudderClient(write_key, **kwargs)
    client.page(
        anonymous_id="anon-1",
        name="Pricing",
        properties={"url": "https://acme.io/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand"},
    )
    client.track(anonymous_id="anon-1", event="Demo Requested", properties={"plan": "pro"}, message_id="m-1")
    client.identify(
        user_id="u-42",
        anonymous_id="anon-1",
        traits={"email": "Ann@Acme.io", "firstName": "Ann", "lastName": "Lee", "title": "CMO"},
    )
    client.group(user_id="u-42", group_id="acme", traits={"name": "Acme Inc", "industry": "Software", "employees": 120})
    client.track(user_id="u-42", event="Demo Requested", message_id="m-1")  # a retry of m-1: ignored
    client.flush()
    assert errors == []

    contact = session.scalars(select(Contact)).one()
    assert (contact.email, contact.first_name, contact.last_name, contact.title) == ("ann@acme.io", "Ann", "Lee", "CMO")
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert [e.event_type for e in events] == ["page", "track", "identify", "group"]
    assert all(e.contact_id == contact.id for e in events)  # anonymous history attached on identify
    page = events[0]
    assert (page.utm_source, page.utm_medium, page.utm_campaign, page.channel) == (
        "google",
        "cpc",
        "brand",
        "Paid Search",
    )
    account = session.scalars(select(Account)).one()
    assert (account.name, account.industry, account.employee_count) == ("Acme Inc", "Software", 120)
    assert contact.account_id == account.id
    kinds = sorted(session.scalars(select(Identity.kind)).all())
    assert kinds == ["anonymous_id", "email", "user_id"]


def test_write_key_by_header_body_or_basic_auth_and_errors(client: TestClient, write_key: str) -> None:
    msg = {"userId": "u1", "event": "Signed Up", "messageId": "a"}
    assert client.post("/v1/track", json=msg, headers={"X-Write-Key": write_key}).status_code == 200
    assert client.post("/v1/t", json={**msg, "messageId": "b", "writeKey": write_key}).status_code == 200
    assert client.post("/v1/track", json={**msg, "messageId": "c"}, auth=(write_key, "")).status_code == 200
    r = client.post("/v1/track", json=msg)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    r = client.post("/v1/track", json=msg, headers={"X-Write-Key": "nope"})
    assert r.status_code == 401


def test_raw_body_whatever_the_content_type(client: TestClient, write_key: str, session: Session) -> None:
    body = json.dumps({"anonymousId": "x", "name": "Home", "messageId": "p1", "writeKey": write_key})
    r = client.post("/v1/p", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert _count(session, Event) == 1


def test_bad_json_size_limits_and_gzip_errors(client: TestClient, write_key: str) -> None:
    h = {"X-Write-Key": write_key, "Content-Type": "application/json"}
    r = client.post("/v1/track", content=b"{nope", headers=h)
    assert r.status_code == 400
    assert r.json()["code"] == "bad_request"
    assert "not valid JSON" in r.json()["message"]
    r = client.post("/v1/track", content=b"not gzip", headers={**h, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    big = {"userId": "u", "event": "x", "properties": {"blob": "a" * 40_000}}
    r = client.post("/v1/track", json=big, headers=h)
    assert r.status_code == 400
    assert "limit" in r.json()["message"]
    huge = {"batch": [{"type": "track", "userId": "u", "event": "x", "properties": {"b": "a" * 20_000}}] * 30}
    r = client.post(
        "/v1/batch", content=gzip.compress(json.dumps(huge).encode()), headers={**h, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 400
    assert "500 KB" in r.json()["message"]


def test_invalid_messages_are_quarantined_not_dropped(client: TestClient, write_key: str, session: Session) -> None:
    batch = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "Good", "messageId": "ok-1"},
            {"type": "track", "event": "No identity", "messageId": "bad-1"},
            {"type": "track", "userId": "u1", "messageId": "bad-2"},
            "not an object",
        ]
    }
    r = client.post("/v1/batch", json=batch, headers={"X-Write-Key": write_key})
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["quarantined"]) == (1, 3)
    rows = session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
    assert [q.payload.get("messageId") for q in rows[:2]] == ["bad-1", "bad-2"]
    assert all(q.reasons for q in rows)
    session.rollback()
    single = client.post("/v1/track", json={"event": "x"}, headers={"X-Write-Key": write_key})
    assert single.status_code == 400
    assert single.json()["code"] == "invalid_message"
    assert _count(session, QuarantinedRecord) == 4


def test_batch_context_merge_clock_skew_and_nulls(client: TestClient, write_key: str, session: Session) -> None:
    sent = datetime.now(UTC)
    original = sent - timedelta(seconds=30)
    batch = {
        "sentAt": sent.isoformat(),
        "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "nov-digest"}, "locale": "de-DE"},
        "batch": [
            {
                "type": "track",
                "userId": "u9",
                "event": "Clicked",
                "messageId": "s1",
                "originalTimestamp": original.isoformat(),
                "context": {"locale": "en-GB"},
                "properties": {"gone": None},
            },
        ],
    }
    assert client.post("/v1/batch", json=batch, headers={"X-Write-Key": write_key}).status_code == 200
    event = session.scalars(select(Event)).one()
    assert event.context["locale"] == "en-GB"  # the item's own context wins
    assert (event.utm_source, event.utm_medium, event.utm_campaign, event.channel) == (
        "newsletter",
        "email",
        "nov-digest",
        "Email",
    )
    assert "gone" not in event.properties
    skew = (event.received_at - event.occurred_at).total_seconds()
    assert 29 <= skew <= 31  # occurred = received - (sentAt - originalTimestamp)


def test_alias_merges_two_known_contacts_and_the_merge_can_be_undone(
    client: TestClient, write_key: str, session: Session, engine: Engine
) -> None:
    h = {"X-Write-Key": write_key}
    client.post("/v1/identify", json={"userId": "old-id", "traits": {"email": "a@x.io"}, "messageId": "i1"}, headers=h)
    client.post(
        "/v1/identify",
        json={"userId": "new-id", "traits": {"email": "b@x.io", "title": "VP"}, "messageId": "i2"},
        headers=h,
    )
    assert _count(session, Contact) == 2
    r = client.post("/v1/alias", json={"previousId": "old-id", "userId": "new-id", "messageId": "al1"}, headers=h)
    assert r.status_code == 200, r.text
    assert _count(session, Contact) == 1
    merge = session.scalars(select(ContactMerge)).one()
    survivor = session.get(Contact, merge.survivor_id)
    assert survivor is not None
    assert {i.value for i in session.scalars(select(Identity).where(Identity.contact_id == survivor.id))} >= {
        "old-id",
        "new-id",
        "a@x.io",
        "b@x.io",
    }
    assert survivor.title == "VP"  # survivorship: the most recently updated title wins
    merge_id, merged_id, survivor_id = merge.id, merge.merged_id, survivor.id
    session.rollback()
    with session_scope(engine) as s:
        undo_merge(s, merge_id=merge_id, actor=SYSTEM)
    assert _count(session, Contact) == 2
    restored = session.get(Contact, merged_id)
    assert restored is not None
    assert restored.email in ("a@x.io", "b@x.io")
    owned = session.scalars(select(Event.message_id).where(Event.contact_id == merged_id)).all()
    assert owned  # its events went back with it
    back = session.get(Contact, survivor_id)
    assert back is not None
    assert back.title is None  # and the survivor has its own values again


def test_overload_answers_429_with_retry_after(
    client: TestClient, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pitboard.events import api

    monkeypatch.setattr(api.IN_FLIGHT, "count", 10_000)
    r = client.post("/v1/track", json={"userId": "u", "event": "x"}, headers={"X-Write-Key": write_key})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"


def test_concurrent_retries_of_one_message_store_it_once(server_url: str, write_key: str, session: Session) -> None:
    body = {
        "batch": [{"type": "track", "userId": "u-c", "event": "Paid", "messageId": f"dup-{i % 5}"} for i in range(50)]
    }

    statuses: list[int] = []

    def send() -> None:
        statuses.append(
            requests.post(f"{server_url}/v1/batch", json=body, auth=(write_key, ""), timeout=30).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4
    assert _count(session, Event) == 5
    assert _count(session, Contact) == 1


def test_chunked_gzip_upload(server_url: str, write_key: str, session: Session) -> None:
    messages = [{"type": "track", "userId": "u-ch", "event": "Chunked", "messageId": f"c{i}"} for i in range(50)]
    body = gzip.compress(json.dumps({"batch": messages}).encode())

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64):
            yield body[i : i + 64]

    r = requests.post(f"{server_url}/v1/batch", data=chunks(), auth=(write_key, ""),
                      headers={"Content-Encoding": "gzip"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 50
    assert _count(session, Event) == 50


def test_event_contracts_quarantine_violations(
    client: TestClient, write_key: str, session: Session, engine: Engine
) -> None:
    from pitboard.quality.contract_store import apply_contracts
    from pitboard.quality.contracts import Contract

    contract = Contract.model_validate({
        "name": "signups", "entity": "events", "source": "website", "event_names": ["Signed Up"],
        "fields": {"properties.plan": {"required": True, "allowed": ["free", "pro"]}},
    })  # fmt: skip
    with session_scope(engine) as s:
        apply_contracts(s, [contract], actor=SYSTEM)
    batch = {"batch": [
        {"type": "track", "userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}, "messageId": "ok"},
        {"type": "track", "userId": "u2", "event": "Signed Up", "properties": {"plan": "gold"}, "messageId": "bad"},
        {"type": "track", "userId": "u3", "event": "Clicked", "messageId": "other"},
    ]}  # fmt: skip
    r = client.post("/v1/batch", json=batch, headers={"X-Write-Key": write_key})
    assert (r.json()["accepted"], r.json()["quarantined"]) == (2, 1)
    held = session.scalars(select(QuarantinedRecord)).one()
    assert held.payload["messageId"] == "bad"
    assert held.reasons == ["[signups] properties.plan must be one of free, pro, got 'gold'"]
    held_id, payload = held.id, held.payload
    session.rollback()
    with session_scope(engine) as s:
        from pitboard.quality import quarantine

        quarantine.fix(s, held_id, {**payload, "properties": {"plan": "free"}}, actor=SYSTEM)
        assert quarantine.replay(s, held_id, actor=SYSTEM).status == "replayed"
    assert _count(session, Event) == 3
