"""The preference centre in a real browser: an editor records consent, the person opens their link (no
login, no cookies) and unticks it, and the contact's consent history shows the change."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, USER_EMAIL, USER_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


def _log_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(USER_EMAIL)
    page.get_by_label("Password").fill(USER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/")


def test_a_person_unticks_a_purpose_in_the_preference_centre(live_server: LiveServer, artifacts: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            admin = browser.new_page(viewport={"width": 1360, "height": 900})
            errors: list[str] = []
            admin.on("pageerror", lambda exc: errors.append(str(exc)))
            _log_in(admin, live_server)

            # The editor records the newsletter consent given on a call, and copies the preference link.
            admin.goto(f"{live_server.url}/contacts/{live_server.contact_id}")
            consent = admin.locator("#consent")
            consent.get_by_text("Record consent").click()
            consent.get_by_label("Purpose").select_option("newsletter")
            consent.get_by_label("Wording they agreed to").fill("Yes, send me the newsletter.")
            consent.get_by_role("button", name="Record").click()
            expect(admin.get_by_role("status")).to_have_text("Recorded newsletter by email: granted.")
            consent.get_by_text("Copy preference-centre link").click()
            link = admin.get_by_label("Preference-centre link").input_value()
            path = urlsplit(link).path
            assert re.fullmatch(r"/preferences/[\w.-]+", path)

            # The person opens it in their own browser: no login, no cookies, no app menu.
            person_context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
            person = person_context.new_page()
            person.on("pageerror", lambda exc: errors.append(str(exc)))
            person.goto(f"{live_server.url}{path}")
            expect(person.get_by_role("heading", level=1)).to_have_text("Your preferences")
            expect(person.get_by_role("navigation", name="Main")).to_have_count(0)
            newsletter = person.locator("fieldset").first.get_by_label("Newsletter")
            expect(newsletter).to_be_checked()
            newsletter.uncheck()
            person.get_by_role("button", name="Save my choices").click()
            expect(person.get_by_role("status")).to_contain_text("Newsletter (Email): unsubscribed")
            expect(person.locator("fieldset").first.get_by_label("Newsletter")).not_to_be_checked()
            person.screenshot(path=str(artifacts / "e2e-preferences.png"), full_page=True)
            assert person_context.cookies() == []
            person_context.close()

            # The contact page shows the withdrawal at the top of the consent history.
            admin.reload()
            first_row = admin.locator(".consent-history tbody tr").first
            expect(first_row).to_contain_text("withdrawn")
            expect(first_row).to_contain_text("preference page")
            admin.locator("#consent").screenshot(path=str(artifacts / "e2e-contact-consent.png"))
            assert errors == []
        finally:
            browser.close()
