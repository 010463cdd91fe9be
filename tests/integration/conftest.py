"""Fixtures and helpers for the web UI tests."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

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
