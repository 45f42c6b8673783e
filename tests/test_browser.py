"""The browser machinery: headless Chromium loads a portal page and htmx works in it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitors_sign_in_from_the_home_page_and_land_on_the_dashboard(
    live_server, page: Page, bob
):
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "/")
    expect(
        page.get_by_text("one place for a team to work with Pulsetracker and Pulsoid")
    ).to_be_visible()
    assert page.evaluate("window.htmx.version").startswith("2.")
    page.get_by_label("Email").fill(bob.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Dashboard of"))).to_be_visible()
    assert console_errors == []


def test_a_dashboard_painted_from_its_last_fetch_refreshes_itself_in_place(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings, settings
):
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(bob.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    card = page.get_by_test_id("credential-card")
    expect(card).to_contain_text("Apps30")
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)  # past the cache window
    sandbox_settings.pulsetracker.add_app(sandbox_settings.seed.pulsetracker_paid_token, "New")

    # The page paints the stored copy, labelled, then htmx asks for the fresh one and swaps it in.
    with page.expect_response(lambda r: "fresh=1" in r.url) as refreshed:
        page.reload()
    assert refreshed.value.status == 200
    expect(card).to_contain_text("Apps31")
    expect(page.get_by_test_id("freshness")).to_have_count(0)
    assert console_errors == []
