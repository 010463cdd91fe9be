"""Fixtures and helpers for the integration tests: web login, a real SMTP server, a real HTTP receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pitboard.settings import get_settings
from tests.integration.smtp_fixture import SmtpServer, point_settings_at
from tests.integration.test_workflows_helpers import Receiver

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def login(client: TestClient, email: str, password: str, next_path: str = "/") -> str:
    """Log in through the form; returns the Location the app redirected to."""
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]


@pytest.fixture
def logged_in(client: TestClient, web_user: tuple[str, str]) -> TestClient:
    login(client, *web_user)
    return client


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 that the app's settings point at."""
    with SmtpServer() as server:
        point_settings_at(server, monkeypatch)
        yield server
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records what webhooks and Slack messages it receives."""
    with Receiver() as r:
        yield r
