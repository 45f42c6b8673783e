"""Pulsoid in a real browser: connect through OAuth, build a zoned widget, watch the preview."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_connect_create_a_two_zone_widget_reconfigure_it_and_see_the_heart_rate_change(
    live_server, page: Page, alice, sandbox_settings, settings
):
    settings.PULSOID_POLL_SECONDS = 1
    console_errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            console_errors.append(f"{m.location.get('url')}: {m.text}")
            if m.type == "error"
            else None
        ),
    )

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.goto(live_server.url + "/credentials/")

    # Connect through Pulsoid's consent page (the sandbox's) and come back linked.
    page.locator("#connect-label").fill("Streamer")
    page.get_by_role("button", name="Connect with Pulsoid").click()
    expect(page).to_have_url(
        re.compile(re.escape(sandbox_settings.pulsoid_oauth_url) + "/authorize")
    )
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Connected the Pulsoid account as “Streamer”.")).to_be_visible()
    row = page.get_by_test_id("credential-row").filter(has_text="Streamer")
    expect(row.get_by_test_id("credential-health")).to_contain_text("OK")
    expect(row).to_contain_text("connected with Pulsoid sign-in")

    # A new widget with two colour zones, added in place.
    page.goto(live_server.url + "/widgets/")
    page.get_by_role("link", name="New widget").click()
    page.get_by_label("Name").fill("Raid overlay")
    page.get_by_role("button", name="Add zone").click()
    expect(page.get_by_test_id("zone")).to_have_count(1)
    page.get_by_role("button", name="Add zone").click()
    expect(page.get_by_test_id("zone")).to_have_count(2)
    page.locator("#id_zones-1-color").fill("#0000ff")
    page.get_by_text("Advanced: the whole configuration as JSON").click()
    expect(page.get_by_label("Configuration (JSON)")).to_have_value(
        re.compile(r'"color": "#0000ff"')
    )
    expect(page.get_by_label("Name")).to_have_value("Raid overlay")
    page.get_by_role("button", name="Create widget").click()

    expect(page.get_by_text("Created the widget “Raid overlay”.")).to_be_visible()
    expect(page.get_by_role("heading", name="Reconfigure “Raid overlay”")).to_be_visible()
    expect(page.get_by_test_id("zone")).to_have_count(2)
    [widget] = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["name"] == "Raid overlay"
    ]
    assert len(widget["configuration"]["ranges"]) == 2, widget

    # Reconfigure: remove a zone, change the font, save the whole configuration.
    page.get_by_role("button", name="Remove zone").first.click()
    expect(page.get_by_test_id("zone")).to_have_count(1)
    page.get_by_label("Font").fill("Inter")
    page.get_by_role("button", name="Save configuration").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved the configuration of “Raid overlay”.")
    [widget] = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["id"] == widget["id"]
    ]
    assert widget["configuration"]["font"] == "Inter"
    assert len(widget["configuration"]["ranges"]) == 1

    # The preview: the viewer in its sandboxed frame, and the heart rate polled through the portal.
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.locator("body")).to_contain_text("BPM")
    sandbox_settings.pulsoid.add_heart_rate(sandbox_settings.seed.pulsoid_user_id, 111)
    expect(page.get_by_test_id("heart-rate")).to_contain_text("111")
    sandbox_settings.pulsoid.add_heart_rate(sandbox_settings.seed.pulsoid_user_id, 142)
    expect(page.get_by_test_id("heart-rate")).to_contain_text("142")
    assert sandbox_settings.seed.pulsoid_full_token not in page.content()
    # Errors of the portal's own pages; the stand-in consent page is not the portal's to fix.
    assert [e for e in console_errors if e.startswith(live_server.url)] == []
