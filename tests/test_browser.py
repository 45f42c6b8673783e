"""The browser machinery: headless Chromium loads a portal page and htmx works in it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_loads_its_status_panel_through_htmx(live_server, page: Page):
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "/")

    expect(page).to_have_title("Home · Pulsetracker & Pulsoid")
    # The panel arrives by an htmx GET after load: seeing the database state proves htmx runs.
    expect(page.get_by_test_id("database-status")).to_contain_text("answering")
    assert page.evaluate("window.htmx.version").startswith("2.")

    with page.expect_response(lambda r: r.url.endswith("/status/")) as refreshed:
        page.get_by_role("button", name="Refresh").click()
    assert refreshed.value.status == 200
    expect(page.get_by_test_id("database-status")).to_contain_text("answering")
    assert console_errors == []
