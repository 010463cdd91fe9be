"""The work board in a real browser: a card dragged to another column is moved (board.js submits the card's
own move form under the page's CSP), and the move is in the card's history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, USER_EMAIL, USER_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


def test_drag_a_card_to_another_column(live_server: LiveServer, artifacts: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.goto(f"{live_server.url}/login?next=/board")
            page.get_by_label("Email").fill(USER_EMAIL)
            page.get_by_label("Password").fill(USER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{live_server.url}/board")

            page.get_by_text("Add a request").click()
            page.locator("input#new-title").fill("Quarterly pipeline report")
            page.get_by_role("button", name="Add", exact=True).click()
            card = page.locator(".board-card", has_text="Quarterly pipeline report")
            expect(page.locator('[data-column="requested"] .board-card')).to_have_count(1)

            card.drag_to(page.locator('[data-column="in_progress"]'))
            expect(page).to_have_url(re.compile(r"/board\?notice=.*moved"))
            expect(page.locator('[data-column="in_progress"] .board-card')).to_have_count(1)
            expect(page.locator('[data-column="requested"] .board-card')).to_have_count(0)
            page.screenshot(path=str(artifacts / "e2e-board.png"), full_page=True)

            page.locator('[data-column="in_progress"] .board-card-title').click()
            expect(page.locator("table.data")).to_contain_text("in_progress")
            assert problems == []
        finally:
            browser.close()
