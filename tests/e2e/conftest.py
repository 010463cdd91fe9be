"""A real pitboard server (uvicorn in a subprocess, fresh SQLite file) and a headless Debian chromium.

Playwright's own browser download cannot run here, so the tests drive /usr/bin/chromium; without it
they are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from pitboard.auth import service as auth
from pitboard.contacts import service as contacts
from pitboard.contacts.schemas import AccountCreate, ContactCreate
from pitboard.kit import migrate
from pitboard.kit.actor import SYSTEM
from pitboard.kit.db import make_engine, session_scope
from pitboard.kit.time import utcnow
from pitboard.models import Event

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
USER_EMAIL = "e2e@example.com"
USER_PASSWORD = "e2e-password-123"
EVENT_NAMES = ("Whitepaper Downloaded", "Webinar Attended", "Pricing Page Viewed")


@dataclass(frozen=True)
class LiveServer:
    url: str
    contact_id: int
    contact_name: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _seed(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with session_scope(engine) as s:
            auth.create_user(
                s, email=USER_EMAIL, name="Erin Endtoend", password=USER_PASSWORD, role="admin", actor=SYSTEM
            )
            account = contacts.create_account(
                s, AccountCreate(name="Hopper Labs", domain="hopper.example.com"), actor=SYSTEM
            )
            contact = contacts.create_contact(
                s,
                ContactCreate(
                    email="grace@hopper.example.com",
                    first_name="Grace",
                    last_name="Hopper",
                    title="Rear Admiral",
                    company_name="Hopper Labs",
                    country="US",
                    account_id=account.id,
                    lifecycle_stage="mql",
                ),
                actor=SYSTEM,
            )
            contacts.create_contact(s, ContactCreate(email="alan@turing.example.com", first_name="Alan"), actor=SYSTEM)
            now = utcnow()
            for i, name in enumerate(EVENT_NAMES):
                at = now - timedelta(days=3 - i)
                s.add(
                    Event(
                        message_id=f"e2e-{i}",
                        event_type="track",
                        name=name,
                        contact_id=contact.id,
                        occurred_at=at,
                        received_at=at,
                        properties={"step": i},
                        context={},
                        channel="Email" if i % 2 else "Organic Search",
                        utm_campaign="e2e_campaign",
                    )
                )
            return contact.id
    finally:
        engine.dispose()


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # noqa: S310 (our own local server)
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"the server did not answer /health within {timeout}s:\n{log.read_text()}")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    contact_id = _seed(database_url)
    port = _free_port()
    env = {
        **os.environ,
        "PITBOARD_DATABASE_URL": database_url,
        "PITBOARD_SECRET_KEY": "e2e-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "pitboard.api.app:create_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        yield LiveServer(url=url, contact_id=contact_id, contact_name="Grace Hopper")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
