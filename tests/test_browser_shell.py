"""The portal's shell in a real browser: the phone menu, the skip link, confirmations in a
dialog, and where focus goes after an htmx swap."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import settled
from tests.test_browser_screens import log_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_menu_on_a_phone_opens_and_its_links_work(live_server, page: Page, alice):
    page.set_viewport_size(PHONE)
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    members = page.get_by_role("navigation", name="Main").get_by_role("link", name="Members")
    menu = page.get_by_role("button", name="Menu")
    expect(members).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(members).to_be_visible()
    members.click()
    expect(page).to_have_url(re.compile(r"/accounts/team/members/$"))
    expect(page.get_by_role("heading", name="Members of Acme Fleet")).to_be_visible()

    # From the keyboard: Enter opens it, Escape closes it and leaves focus on the button.
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(members).to_be_hidden()


def test_desktop_shows_the_navigation_without_a_menu_button(live_server, page: Page, alice):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Members")
    ).to_be_visible()


def test_skip_link_is_the_first_stop_and_leads_to_the_content(live_server, page: Page, alice):
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_unlink_asks_in_a_dialog_where_cancel_keeps_the_credential_and_confirm_removes_it(
    live_server, page: Page, alice, pulsetracker_credential, pulsoid_credential
):
    from integrations.models import Credential

    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    row = page.get_by_test_id("credential-row").filter(has_text="Streamer")
    dialog = page.get_by_role("dialog")

    row.get_by_role("button", name="Unlink").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Unlink “Streamer”?")
    expect(dialog).to_contain_text("…1111")
    expect(page).to_have_url(re.compile(r"/credentials/$"))
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_role("button", name="Unlink")).to_be_focused()
    expect(page.get_by_test_id("credential-row")).to_have_count(2)
    assert Credential.objects.filter(pk=pulsoid_credential.pk).exists()

    # From the keyboard, as a button: Space opens it, Escape closes it.
    row.get_by_role("button", name="Unlink").focus()
    page.keyboard.press("Space")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert Credential.objects.filter(pk=pulsoid_credential.pk).exists()

    row.get_by_role("button", name="Unlink").click()
    dialog.get_by_role("button", name="Unlink").click()
    expect(page.get_by_test_id("notice").first).to_have_text(
        "Unlinked “Streamer”. The portal no longer holds its token."
    )
    expect(page.get_by_test_id("credential-row")).to_have_count(1)
    expect(page.get_by_test_id("credential-row")).to_contain_text("Acme Live")
    assert not Credential.objects.filter(pk=pulsoid_credential.pk).exists()


def test_remove_member_asks_in_a_dialog_first(live_server, page: Page, alice, bob):
    from accounts.models import Membership

    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/accounts/team/members/")
    row = page.get_by_test_id("member-row").filter(has_text="bob@acme.test")
    dialog = page.get_by_role("dialog")

    row.get_by_role("button", name="Remove").click()
    expect(dialog.get_by_role("heading")).to_have_text("Remove bob@acme.test from Acme Fleet?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Membership.objects.filter(user=bob).exists()

    row.get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("notice")).to_have_text("Removed bob@acme.test from the team.")
    expect(page.get_by_test_id("member-row")).to_have_count(1)
    assert not Membership.objects.filter(user=bob).exists()


def test_focus_lands_on_the_first_field_in_error_after_an_htmx_form_error(
    live_server, page: Page, alice, sandbox_settings
):
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    page.get_by_label("Label:", exact=True).fill("Production")
    page.get_by_role("button", name="Check and link").click()
    settled(page)
    token = page.get_by_label("Token:", exact=True)
    expect(token).to_be_focused()
    expect(page.locator(".has-errors")).to_contain_text("This field is required")
    expect(page.get_by_label("Label:", exact=True)).to_have_value("Production")


def test_htmx_indicators_are_hidden_from_screen_readers_until_they_show(
    live_server, page: Page, alice, pulsetracker_credential
):
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    indicator = page.locator("#link-progress")
    expect(indicator).to_have_text("Checking the token with the upstream…")
    expect(indicator).to_be_hidden()  # visibility: hidden keeps it out of the accessibility tree
    expect(page.get_by_role("status").filter(has_text="Checking")).to_have_count(0)


def test_without_scripts_the_phone_menu_stays_open_and_unlink_uses_its_own_page(
    live_server, browser, alice, pulsoid_credential
):
    from integrations.models import Credential

    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/credentials/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Members")
    ).to_be_visible()

    page.get_by_test_id("credential-row").get_by_role("link", name="Unlink").click()
    expect(page).to_have_url(re.compile(rf"/credentials/{pulsoid_credential.pk}/unlink/$"))
    expect(page.get_by_role("heading", name="Unlink “Streamer”?")).to_be_visible()
    page.get_by_role("button", name="Unlink").click()
    expect(page.get_by_test_id("notice").first).to_have_text(
        "Unlinked “Streamer”. The portal no longer holds its token."
    )
    assert not Credential.objects.filter(pk=pulsoid_credential.pk).exists()
    context.close()


def test_typing_a_search_keeps_the_focus_in_the_field_while_results_swap(
    live_server, page: Page, alice, pulsetracker_credential
):
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    search = page.get_by_test_id("apps-search")
    search.press_sequentially("Fleet 2", delay=50)
    expect(page.get_by_test_id("app-row").first).to_contain_text("Fleet 2")
    settled(page)
    expect(search).to_be_focused()
    search.press_sequentially("9", delay=50)
    expect(page.get_by_test_id("app-row")).to_have_count(1)
    settled(page)
    expect(search).to_be_focused()
    expect(search).to_have_value("Fleet 29")


def test_focus_lands_on_the_region_heading_after_an_htmx_action_succeeds(
    live_server, page: Page, alice
):
    log_in_by_cookie(page, live_server, alice)
    page.goto(live_server.url + "/alerts/")
    checks = page.locator("#watch-form")
    checks.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("watch-saved")).to_have_text("Saved.")
    settled(page)
    expect(checks.get_by_role("heading", name="Checks")).to_be_focused()
