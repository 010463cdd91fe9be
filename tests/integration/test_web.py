"""The server-rendered web UI: login, sessions, CSRF, redirects and what the pages show.

Data is arranged with the services on the ``session`` fixture and committed before the app is called
(on SQLite an open transaction holds the write lock the app's request would wait for).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import AccountCreate, ContactCreate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.security import hash_password
from pitboard.kit.time import utcnow
from pitboard.models import Contact, Event, User
from pitboard.pipeline import service as pipeline
from pitboard.pipeline.schemas import OpportunityCreate
from pitboard.web.auth import safe_next
from tests.integration.conftest import csrf_from, login

# --- helpers -------------------------------------------------------------------------------------


def add_contact(session: Session, **fields: object) -> Contact:
    return contacts.create_contact(session, ContactCreate.model_validate(fields), actor=SYSTEM)


def add_event(session: Session, contact_id: int, name: str, **fields: object) -> Event:
    now = utcnow()
    values: dict[str, object] = {
        "message_id": f"{name}-{contact_id}-{fields.get('message_id', '')}{now.timestamp()}-{id(fields)}",
        "event_type": "track",
        "name": name,
        "contact_id": contact_id,
        "occurred_at": now,
        "received_at": now,
        "properties": {},
        "context": {},
    }
    values.update(fields)
    event = Event(**values)
    session.add(event)
    session.flush()
    return event


# --- login, sessions, redirects ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/contacts", "/contacts/1", "/accounts", "/accounts/1", "/campaigns"])
def test_pages_redirect_to_login_when_logged_out(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/login"


def test_login_redirect_remembers_the_page_and_its_query(client: TestClient) -> None:
    r = client.get("/contacts?q=ada&stage=mql", follow_redirects=False)
    location = urlsplit(r.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/contacts?q=ada&stage=mql"]


def test_static_files_and_login_form_need_no_login(client: TestClient) -> None:
    assert client.get("/static/pitboard.css", follow_redirects=False).status_code == 200
    r = client.get("/login")
    assert r.status_code == 200
    assert '<label for="email">' in r.text
    assert '<label for="password">' in r.text
    # The anonymous session already carries the CSRF token the form posts back.
    assert csrf_from(r.text)
    assert "pitboard_session=" in r.headers["set-cookie"]
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=lax" in r.headers["set-cookie"].lower()


def test_login_with_the_right_password_opens_the_app(client: TestClient, web_user: tuple[str, str]) -> None:
    assert login(client, *web_user, next_path="/contacts?q=x") == "/contacts?q=x"
    r = client.get("/")
    assert r.status_code == 200
    assert "Ada Admin" in r.text
    assert 'action="/logout"' in r.text


def test_login_rotates_the_session(client: TestClient, web_user: tuple[str, str]) -> None:
    before = csrf_from(client.get("/login").text)
    cookie_before = client.cookies.get("pitboard_session")
    login(client, *web_user)
    after = csrf_from(client.get("/").text)
    assert after != before
    assert client.cookies.get("pitboard_session") != cookie_before


@pytest.mark.parametrize(
    ("email", "password"),
    [("admin@example.com", "wrong-password"), ("nobody@example.com", "correct-horse-battery")],
)
def test_wrong_credentials_show_the_form_again_without_saying_which(
    client: TestClient, web_user: tuple[str, str], email: str, password: str
) -> None:
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 401
    assert "That email and password do not match." in r.text
    assert f'value="{email}"' in r.text  # the email is kept, the password is not
    assert password not in r.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(logged_in: TestClient) -> None:
    token = csrf_from(logged_in.get("/").text)
    r = logged_in.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert logged_in.get("/", follow_redirects=False).status_code == 303


def test_deactivated_user_is_logged_out(logged_in: TestClient, session: Session) -> None:
    session.execute(update(User).values(active=False))
    session.commit()
    assert logged_in.get("/", follow_redirects=False).status_code == 303


def test_password_change_ends_existing_sessions(logged_in: TestClient, session: Session) -> None:
    session.execute(update(User).values(password_hash=hash_password("a-brand-new-password")))
    session.commit()
    assert logged_in.get("/contacts", follow_redirects=False).status_code == 303


def test_pages_send_security_headers(logged_in: TestClient) -> None:
    r = logged_in.get("/")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_login_post_needs_the_csrf_token(client: TestClient, web_user: tuple[str, str], token: str | None) -> None:
    client.get("/login")  # the session has a token; the form below does not send it
    data = {"email": web_user[0], "password": web_user[1], "next": "/"}
    if token is not None:
        data["csrf_token"] = token
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert "did not come from pitboard" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_post_without_any_session_is_refused(client: TestClient, web_user: tuple[str, str]) -> None:
    data = {"email": web_user[0], "password": web_user[1], "csrf_token": "guessed"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 403


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_logout_post_needs_the_csrf_token(logged_in: TestClient, token: str | None) -> None:
    data = {} if token is None else {"csrf_token": token}
    r = logged_in.post("/logout", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert logged_in.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_every_form_carries_the_csrf_token(logged_in: TestClient) -> None:
    html = logged_in.get("/").text
    post_forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert post_forms
    assert all('name="csrf_token"' in form for form in post_forms)


# --- open redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nSet-Cookie: x=y",
    ],
)
def test_next_must_be_a_local_path(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/", "/contacts?q=ada&stage=mql", "/contacts/12#timeline"])
def test_local_next_is_kept(target: str) -> None:
    assert safe_next(target) == target


def test_open_redirect_after_login_is_ignored(client: TestClient, web_user: tuple[str, str]) -> None:
    form = client.get("/login", params={"next": "https://evil.example"}).text
    assert "evil.example" not in form
    assert login(client, *web_user, next_path="https://evil.example") == "/"


# --- contacts ------------------------------------------------------------------------------------


@pytest.fixture
def three_contacts(session: Session) -> dict[str, int]:
    account = contacts.create_account(session, AccountCreate(name="Initech", domain="initech.com"), actor=SYSTEM)
    grace = add_contact(
        session,
        email="grace.hopper@navy-example.com",
        first_name="Grace",
        last_name="Hopper",
        company_name="US Navy",
        country="US",
        lifecycle_stage="mql",
    )
    alan = add_contact(
        session,
        email="alan@turing-example.com",
        first_name="Alan",
        last_name="Turing",
        company_name="Bletchley",
        country="GB",
        account_id=account.id,
    )
    ada = add_contact(
        session, email="ada@engine-example.com", first_name="Ada", last_name="Lovelace", company_name="Analytical"
    )
    session.commit()
    return {"grace": grace.id, "alan": alan.id, "ada": ada.id, "account": account.id}


def contact_links(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<a href="/contacts/(\d+)">', html)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "grace.hopper@navy"}, {"grace"}),
        ({"q": "Alan Turing"}, {"alan"}),
        ({"q": "lovelace"}, {"ada"}),
        ({"q": "bletchley"}, {"alan"}),
        ({"q": "nobody-matches-this"}, set()),
        ({"stage": "mql"}, {"grace"}),
        ({"country": "gb"}, {"alan"}),
        ({}, {"grace", "alan", "ada"}),
    ],
)
def test_contact_search_and_filters(
    logged_in: TestClient, three_contacts: dict[str, int], query: dict[str, str], expected: set[str]
) -> None:
    r = logged_in.get("/contacts", params=query)
    assert r.status_code == 200
    assert contact_links(r.text) == {three_contacts[name] for name in expected}
    assert f"<span data-total>{len(expected)}</span>" in r.text


def test_contacts_of_an_account(logged_in: TestClient, three_contacts: dict[str, int]) -> None:
    r = logged_in.get("/contacts", params={"account_id": three_contacts["account"]})
    assert contact_links(r.text) == {three_contacts["alan"]}
    assert "Initech" in r.text


def test_contact_list_pages_with_a_cursor(logged_in: TestClient, session: Session) -> None:
    session.add_all(Contact(email=f"p{i}@example.com", first_name=f"Person{i}", custom={}) for i in range(53))
    session.commit()
    first = logged_in.get("/contacts")
    assert len(contact_links(first.text)) == 50
    assert "First page" not in first.text
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert next_url
    second = logged_in.get(next_url.group(1).replace("&amp;", "&"))
    assert len(contact_links(second.text)) == 3
    assert contact_links(first.text).isdisjoint(contact_links(second.text))
    assert "First page" in second.text
    assert 'rel="next"' not in second.text


def test_bad_cursor_is_a_readable_error(logged_in: TestClient) -> None:
    r = logged_in.get("/contacts", params={"cursor": "garbage!"})
    assert r.status_code == 400
    assert "text/html" in r.headers["content-type"]
    assert "first page" in r.text


def test_contact_page_shows_profile_and_timeline(
    logged_in: TestClient, session: Session, three_contacts: dict[str, int]
) -> None:
    alan_id = three_contacts["alan"]
    now = utcnow()
    add_event(
        session,
        alan_id,
        "Webinar Attended",
        occurred_at=now - timedelta(days=2),
        channel="Email",
        utm_campaign="spring_webinar",
        properties={"webinar": "Ops as code", "minutes": 42},
    )
    add_event(session, alan_id, "Pricing Viewed", event_type="page", occurred_at=now - timedelta(hours=1))
    add_event(session, alan_id, "Old Download", occurred_at=now - timedelta(days=90))
    add_event(session, three_contacts["grace"], "Not Alans Event", occurred_at=now)
    session.commit()

    r = logged_in.get(f"/contacts/{alan_id}")
    assert r.status_code == 200
    html = r.text
    assert "Alan Turing" in html
    assert f'href="/accounts/{three_contacts["account"]}"' in html
    assert "alan@turing-example.com" in html  # the email identity
    # newest first
    assert html.index("Pricing Viewed") < html.index("Webinar Attended") < html.index("Old Download")
    assert "Not Alans Event" not in html
    assert "spring_webinar" in html
    assert "Ops as code" in html
    assert ">Email<" in html  # channel tag
    assert "3 events" in html


def test_contact_timeline_pages_without_skipping_equal_timestamps(logged_in: TestClient, session: Session) -> None:
    contact = add_contact(session, email="busy@example.com")
    same_moment = utcnow() - timedelta(days=1)
    for i in range(57):  # more than a page, all at the same instant: only the id orders them
        add_event(session, contact.id, f"Event {i:02d}", occurred_at=same_moment, message_id=f"e{i}")
    session.commit()

    seen: list[str] = []
    url: str | None = f"/contacts/{contact.id}"
    pages = 0
    while url:
        html = logged_in.get(url).text
        seen += re.findall(r"<strong>(Event \d\d)</strong>", html)
        match = re.search(r'<a href="([^"]+)" rel="next">Older events', html)
        url = match.group(1).replace("&amp;", "&") if match else None
        pages += 1
    assert pages == 2
    assert sorted(seen) == [f"Event {i:02d}" for i in range(57)]
    assert seen == sorted(seen, reverse=True)


def test_event_properties_are_escaped(logged_in: TestClient, session: Session) -> None:
    contact = add_contact(session, email="x@example.com", first_name="<b>Bold</b>", title="<i>Chief</i>")
    add_event(session, contact.id, "<script>alert(1)</script>", properties={"<img>": "<svg onload=x>"})
    session.commit()
    html = logged_in.get(f"/contacts/{contact.id}").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<svg onload" not in html
    assert "<b>Bold</b>" not in html
    assert "<i>Chief</i>" not in html
    assert "&lt;i&gt;Chief&lt;/i&gt;" in html


def test_unknown_contact_is_a_404_page(logged_in: TestClient) -> None:
    r = logged_in.get("/contacts/987654")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    assert "Page not found" in r.text
    assert "Ada Admin" in r.text  # still inside the app's layout


def test_unknown_paths_get_an_html_404_but_the_api_keeps_json(logged_in: TestClient) -> None:
    r = logged_in.get("/no-such-page")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    assert "Page not found" in r.text
    api = logged_in.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"


# --- dashboard -----------------------------------------------------------------------------------


def metric(html: str, name: str) -> str:
    match = re.search(rf'data-metric="{name}">(.*?)</span>', html, flags=re.S)
    assert match, f"no metric {name}"
    return re.sub(r"\s+", " ", match.group(1)).strip()


def test_dashboard_shows_real_counts_and_charts(
    logged_in: TestClient, session: Session, three_contacts: dict[str, int]
) -> None:
    now = utcnow()
    contacts.create_account(session, AccountCreate(name="Globex"), actor=SYSTEM)
    for name, days, channel in [("a", 1, "Paid Search"), ("b", 3, "Email"), ("c", 10, "Email"), ("d", 45, None)]:
        add_event(session, three_contacts["ada"], name, occurred_at=now - timedelta(days=days), channel=channel)
    for name, stage, amount in [("Open deal", "proposal", "1500"), ("Other open", "discovery", "500.50")]:
        pipeline.create_opportunity(
            session, OpportunityCreate(name=name, stage=stage, amount=Decimal(amount)), actor=SYSTEM
        )
    pipeline.create_opportunity(
        session, OpportunityCreate(name="Won", stage="closed_won", amount=Decimal(2500)), actor=SYSTEM
    )
    pipeline.create_opportunity(
        session, OpportunityCreate(name="Lost", stage="closed_lost", amount=Decimal(9999)), actor=SYSTEM
    )
    session.commit()

    html = logged_in.get("/").text
    assert metric(html, "contacts") == "3"
    assert metric(html, "accounts") == "2"
    assert metric(html, "open-pipeline") == "$2k"
    assert metric(html, "won-quarter") == "$2.5k"
    assert metric(html, "events-30d") == "3"
    assert metric(html, "mqls") == "1"
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 2
    assert "Paid Search" in html  # a channel layer of the weekly chart
    assert "2 open opportunities" in html


def test_dashboard_on_an_empty_database(logged_in: TestClient) -> None:
    html = logged_in.get("/").text
    assert metric(html, "contacts") == "0"
    assert "No data for this period yet" in html


# --- other record pages --------------------------------------------------------------------------


def test_account_page_lists_its_contacts_and_opportunities(
    logged_in: TestClient, session: Session, three_contacts: dict[str, int]
) -> None:
    pipeline.create_opportunity(
        session,
        OpportunityCreate(
            name="Initech expansion", account_id=three_contacts["account"], contact_id=three_contacts["alan"]
        ),
        actor=SYSTEM,
    )
    session.commit()
    html = logged_in.get(f"/accounts/{three_contacts['account']}").text
    assert "<h1>Initech</h1>" in html
    assert contact_links(html) == {three_contacts["alan"]}
    assert "Initech expansion" in html
    assert logged_in.get("/accounts/424242").status_code == 404


def test_list_pages_render_their_rows(logged_in: TestClient, session: Session, three_contacts: dict[str, int]) -> None:
    pipeline.create_opportunity(
        session, OpportunityCreate(name="Big deal", account_id=three_contacts["account"]), actor=SYSTEM
    )
    session.commit()
    accounts = logged_in.get("/accounts", params={"q": "initech"}).text
    assert f'href="/accounts/{three_contacts["account"]}"' in accounts
    opportunities = logged_in.get("/opportunities", params={"status": "open"}).text
    assert "Big deal" in opportunities
    assert "Big deal" not in logged_in.get("/opportunities", params={"status": "won"}).text
    assert logged_in.get("/campaigns").status_code == 200


def test_dashboard_cache_keeps_only_slow_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from pitboard.web import dashboard

    made: list[object] = []

    def fake_load(session: Session, now: datetime) -> object:
        made.append(object())
        return made[-1]

    monkeypatch.setattr(dashboard, "load_dashboard", fake_load)
    now = utcnow()
    no_session = cast(Session, None)

    fast = dashboard.DashboardCache(ttl=60, slow=10)  # nothing here takes 10 s: always recomputed
    assert [fast.get(no_session, now) for _ in range(2)] == [(made[0], True), (made[1], True)]

    slow = dashboard.DashboardCache(ttl=60, slow=0)  # everything counts as slow: kept for a minute
    first, second = slow.get(no_session, now), slow.get(no_session, now)
    assert first == (made[2], True)
    assert second == (made[2], False)

    expired = dashboard.DashboardCache(ttl=0, slow=0)  # kept, but for no time at all
    expired.get(no_session, now)
    assert expired.get(no_session, now) == (made[4], True)
