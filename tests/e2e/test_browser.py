"""A person's first minutes with pitboard, in a real browser against a real server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, EVENT_NAMES, USER_EMAIL, USER_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


def _log_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/contacts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcontacts$"))
    page.get_by_label("Email").fill(USER_EMAIL)
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/contacts")  # back where the login interrupted


def test_log_in_search_and_read_a_contact_timeline(live_server: LiveServer, artifacts: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # A wrong password keeps us on the form with a message.
            page.goto(f"{live_server.url}/login")
            page.get_by_label("Email").fill(USER_EMAIL)
            page.get_by_label("Password").fill("not-the-password")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_have_text("That email and password do not match.")

            _log_in(page, live_server)
            nav = page.get_by_role("navigation", name="Main")

            # The dashboard: real numbers and two server-rendered charts.
            nav.get_by_role("link", name="Home").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Marketing overview")
            expect(page.locator('[data-metric="contacts"]')).to_have_text("2")
            expect(page.locator('[data-metric="mqls"]')).to_have_text("1")
            expect(page.locator("svg.chart")).to_have_count(2)
            expect(page.locator("svg.chart .chart-bars rect").first).to_be_visible()
            page.screenshot(path=str(artifacts / "e2e-dashboard.png"), full_page=True)

            # Search contacts by name and open the one found.
            nav.get_by_role("link", name="Contacts").click()
            page.get_by_label("Search").fill("hopper")
            page.get_by_role("button", name="Filter").click()
            rows = page.locator("table.data tbody tr")
            expect(rows).to_have_count(1)
            rows.get_by_role("link", name=live_server.contact_name).click()

            # The contact page and its timeline, newest first.
            expect(page).to_have_url(f"{live_server.url}/contacts/{live_server.contact_id}")
            expect(page.get_by_role("heading", level=1)).to_contain_text(live_server.contact_name)
            expect(page.get_by_role("link", name="Hopper Labs").first).to_be_visible()
            titles = page.locator(".timeline .event-title strong")
            expect(titles).to_have_text(list(reversed(EVENT_NAMES)))
            expect(page.locator(".timeline")).to_contain_text("e2e_campaign")
            page.screenshot(path=str(artifacts / "e2e-contact.png"), full_page=True)

            # Logging out ends the session.
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(f"{live_server.url}/login")
            page.goto(f"{live_server.url}/")
            expect(page).to_have_url(re.compile(r"/login$"))

            assert errors == []
        finally:
            browser.close()
