"""The segment builder in a real browser: the count follows the condition as it is typed (the debounced
fetch of builder.js under the page's CSP), an example fills the editor, and saving shows the members."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, USER_EMAIL, USER_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


def test_live_count_while_typing_then_save(live_server: LiveServer, artifacts: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
            page.goto(f"{live_server.url}/login?next=/segments/new")
            page.get_by_label("Email").fill(USER_EMAIL)
            page.get_by_label("Password").fill(USER_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(f"{live_server.url}/segments/new")

            count = page.locator("#preview [data-count]")
            editor = page.locator("textarea#condition")
            editor.fill("field: country\nop: eq\nvalue: US\n")
            expect(count).to_have_attribute("data-count", "1")  # Grace; nothing was submitted
            expect(page.locator("#preview")).to_contain_text("Grace Hopper")
            editor.fill("field: contry\nop: eq\nvalue: US\n")
            expect(page.locator('#preview [data-preview="invalid"]')).to_contain_text("did you mean country?")
            editor.fill("{field: email, op: is_set}")
            expect(count).to_have_attribute("data-count", "2")

            page.get_by_text("Examples", exact=True).click()
            page.locator("button[data-snippet]").first.click()
            expect(editor).to_have_value(re.compile(r"^all:"))
            expect(count).to_have_attribute("data-count", "1")  # Grace: a US MQL
            page.screenshot(path=str(artifacts / "e2e-segment-builder.png"), full_page=True)

            editor.fill("{field: lifecycle_stage, op: eq, value: mql}")
            page.locator("input#name").fill("MQLs")
            page.locator("input#key").fill("mqls")
            page.get_by_role("button", name="Save segment").click()
            expect(page).to_have_url(re.compile(r"/segments/mqls\?notice="))
            expect(page.locator('[data-metric="members"]')).to_have_text("1")
            expect(page.get_by_role("link", name="Grace Hopper")).to_be_visible()
            page.screenshot(path=str(artifacts / "e2e-segment-detail.png"), full_page=True)
            assert problems == []
        finally:
            browser.close()
