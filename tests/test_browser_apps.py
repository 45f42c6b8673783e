"""Pulsetracker apps in a real browser: paging and Back, create, plan limit, rename in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, person) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Logged in: the page offers to log out (inside the menu on a phone, so maybe hidden).
    expect(page.get_by_role("button", name="Log out", include_hidden=True)).to_have_count(1)


def test_page_through_thirty_apps_and_back_lands_on_the_previous_page(
    live_server, page: Page, bob, pulsetracker_credential
):
    log_in(page, live_server, bob)
    page.get_by_role("link", name="Apps").click()
    position = page.get_by_test_id("pager-position")
    pages = page.get_by_role("navigation", name="Pages")
    expect(position).to_have_text("Page 1 of 3 · 30 apps")
    expect(page.get_by_test_id("app-row")).to_have_count(12)
    expect(page.get_by_test_id("app-row").first).to_contain_text("Fleet 30")
    expect(pages.get_by_role("link", name="1", exact=True)).to_have_attribute(
        "aria-current", "page"
    )

    pages.get_by_role("link", name="2", exact=True).click()
    expect(position).to_have_text("Page 2 of 3 · 30 apps")
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    expect(pages.get_by_role("link", name="2", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("app-row").first).to_contain_text("Fleet 18")
    page.get_by_role("link", name="Next →").click()
    expect(position).to_have_text("Page 3 of 3 · 30 apps")
    expect(page.get_by_test_id("app-row")).to_have_count(6)
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    expect(position).to_have_text("Page 2 of 3 · 30 apps")
    page.reload()
    expect(position).to_have_text("Page 2 of 3 · 30 apps")
    expect(page.get_by_test_id("app-row").first).to_contain_text("Fleet 18")


def test_search_and_sort_change_only_the_table_and_survive_reload_and_back(
    live_server, page: Page, bob, pulsetracker_credential
):
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    search = page.get_by_label("Search apps")
    position = page.get_by_test_id("pager-position")
    rows = page.get_by_test_id("app-row")

    page.evaluate("window.samePage = true")  # gone if the whole page were loaded again
    search.fill("fleet 0")
    expect(position).to_have_text("Page 1 of 1 · 9 apps matching “fleet 0”")
    expect(rows.first).to_contain_text("Fleet 09")  # from Pulsetracker's third page
    expect(page).to_have_url(re.compile(r"\?q=fleet(%20|\+)0"))
    expect(search).to_be_focused()  # the field was not swapped away
    expect(search).to_have_value("fleet 0")

    page.get_by_label("Sort").select_option(label="Name, A to Z")
    expect(rows.first).to_contain_text("Fleet 01")
    expect(page).to_have_url(re.compile(r"sort=name"))
    settled(page)
    search.fill("fleet 1")
    search.press("Enter")
    expect(position).to_have_text("Page 1 of 1 · 10 apps matching “fleet 1”")
    expect(search).to_be_focused()
    assert page.evaluate("window.samePage") is True  # only the table changed
    settled(page)
    search.fill("fleet 0")
    expect(position).to_have_text("Page 1 of 1 · 9 apps matching “fleet 0”")

    page.reload()
    expect(page.get_by_label("Search apps")).to_have_value("fleet 0")
    expect(page.get_by_label("Sort")).to_have_value("name")
    expect(rows.first).to_contain_text("Fleet 01")

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?q=fleet(%20|\+)1&sort=name"))
    expect(page.get_by_label("Search apps")).to_have_value("fleet 1")
    expect(position).to_have_text("Page 1 of 1 · 10 apps matching “fleet 1”")
    expect(rows.first).to_contain_text("Fleet 10")

    settled(page)
    page.get_by_label("Search apps").fill("")
    expect(position).to_have_text("Page 1 of 3 · 30 apps")


def test_messages_read_right_aligned_with_separators_and_a_labelled_sparkline(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings
):
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    sandbox_settings.pulsetracker.add_app(
        sandbox_settings.seed.pulsetracker_paid_token,
        "Busy fleet",
        quota=[{"year": now.year, "month": now.month, "messages_sent": 1234567}],
    )
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/?sort=-messages")
    row = page.get_by_test_id("app-row").first
    messages = row.get_by_test_id("app-messages")
    expect(messages).to_have_text("1,234,567")
    assert messages.evaluate("cell => getComputedStyle(cell).textAlign") == "right"
    spark = row.get_by_role("img", name=re.compile(r"^Busy fleet: Messages a month from "))
    expect(spark).to_be_visible()
    expect(spark).to_have_accessible_name(re.compile(r"this month 1,234,567\.$"))


def test_a_refused_list_says_what_happened_and_retry_shows_the_apps(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings
):
    from integrations import cache

    log_in(page, live_server, bob)
    cache.invalidate(pulsetracker_credential.pk)  # whatever the landing page read is forgotten
    sandbox_settings.fault(
        "GET",
        "/pulsetracker/api/apps",
        status=403,
        headers={"Content-Type": "application/json"},
        body=b'{"message": "Your account is suspended."}',
    )
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    state = page.get_by_test_id("apps-state")
    expect(state.get_by_role("heading")).to_have_text("Pulsetracker refused to list the apps")
    expect(state).to_contain_text("Your account is suspended.")
    expect(page.get_by_text("Pulsetracker is unavailable")).to_have_count(0)
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_test_id("pager-position")).to_have_text("Page 1 of 3 · 30 apps")


def test_a_long_unbroken_name_wraps_inside_its_row(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings
):
    long_name = "W" * 255
    sandbox_settings.pulsetracker.add_app(sandbox_settings.seed.pulsetracker_paid_token, long_name)
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/?q=WWWW")
    name = page.get_by_test_id("app-name")
    expect(name).to_have_text(long_name)
    tall = "a => a.getBoundingClientRect().height / parseFloat(getComputedStyle(a).fontSize)"
    assert name.evaluate(tall) > 2  # it wrapped onto several lines
    cell = "a => a.closest('td').getBoundingClientRect().right - a.getBoundingClientRect().right"
    assert name.evaluate(cell) >= 0  # and stays inside its cell
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_old_list_is_painted_at_once_then_refreshed_in_place_keeping_the_search(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings, settings
):
    import time

    from accounts.crypto import Secret
    from integrations.pulsetracker.client import PulsetrackerClient

    log_in(page, live_server, bob)
    url = live_server.url + f"/apps/{pulsetracker_credential.pk}/?q=fleet+3&sort=name"
    page.goto(url)
    expect(page.get_by_test_id("app-row")).to_have_count(1)  # Fleet 30
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)  # the list is now older than the cache window
    token = Secret(sandbox_settings.seed.pulsetracker_paid_token)
    newest = sandbox_settings.pulsetracker.apps(token.reveal())[0]["key"]
    PulsetrackerClient(token).rename_app(newest, "Fleet 3 renamed elsewhere")
    page.goto(url)
    rows = page.get_by_test_id("app-row")
    expect(rows.first.get_by_test_id("app-name")).to_have_text("Fleet 3 renamed elsewhere")
    expect(page.get_by_test_id("freshness")).to_have_count(0)
    expect(page.get_by_test_id("pager-position")).to_have_text(
        "Page 1 of 1 · 1 app matching “fleet 3”"
    )


def test_create_an_app_then_hit_the_plan_limit_with_the_name_kept(
    live_server, page: Page, acme, alice, bob, pulsetracker_credential, sandbox_settings
):
    from accounts.crypto import Secret
    from integrations import credentials

    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/?page=2")
    position = page.get_by_test_id("pager-position")
    expect(position).to_have_text("Page 2 of 3 · 30 apps")
    calls = len(sandbox_settings.requests_to("*", "/pulsetracker/api/"))
    name = page.get_by_label("Name")
    name.fill("Night shift")
    page.get_by_role("button", name="Create app").dblclick()
    expect(page.get_by_test_id("notice")).to_have_text("Created the app “Night shift”.")
    expect(page.get_by_test_id("app-row").first).to_contain_text("Night shift")
    expect(position).to_have_text("Page 1 of 3 · 31 apps")
    expect(page.get_by_label("Name")).to_have_value("")
    settled(page)
    made = sandbox_settings.requests_to("*", "/pulsetracker/api/")[calls:]
    assert [(r.method, r.path) for r in made] == [("POST", "/pulsetracker/api/apps")]
    apps = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)
    assert [a["name"] for a in apps].count("Night shift") == 1  # the double click made one

    # Back shows page 2 as it is now, not as it was before the create.
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?page=2$"))
    expect(position).to_have_text("Page 2 of 3 · 31 apps")
    expect(page.get_by_test_id("app-row").first).to_contain_text("Fleet 19")

    free, _ = credentials.link(
        acme,
        alice,
        "pulsetracker",
        "Free plan",
        Secret(sandbox_settings.seed.pulsetracker_free_token),
    )
    page.goto(live_server.url + f"/apps/{free.pk}/")
    page.get_by_label("Name").fill("Second fleet")
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_test_id("create-errors")).to_contain_text(
        "You have exceeded your monthly quota."
    )
    expect(page.get_by_label("Name")).to_have_value("Second fleet")
    expect(page.get_by_role("button", name="Create app")).to_be_enabled()


def test_rename_in_place_with_enter_and_cancel_with_escape(
    live_server, page: Page, bob, pulsetracker_credential
):
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    row = page.get_by_test_id("app-row").first
    row.get_by_role("button", name="Rename").click()
    field = row.get_by_test_id("rename-input")
    expect(field).to_have_value("Fleet 30")
    expect(field).to_be_focused()
    field.press("Escape")
    expect(row.get_by_test_id("app-name")).to_have_text("Fleet 30")

    row.get_by_role("button", name="Rename").click()
    expect(row.get_by_test_id("rename-input")).to_be_focused()
    row.get_by_test_id("rename-input").fill("   ")
    row.get_by_test_id("rename-input").press("Enter")
    expect(row.get_by_test_id("rename-errors")).to_contain_text("spaces alone")
    settled(page)

    row.get_by_test_id("rename-input").fill("Day shift")
    row.get_by_test_id("rename-input").press("Enter")
    expect(row.get_by_test_id("app-name")).to_have_text("Day shift")
    page.reload()
    expect(page.get_by_test_id("app-row").first.get_by_test_id("app-name")).to_have_text(
        "Day shift"
    )


def test_the_app_page_shows_the_chart_and_copies_the_key(
    live_server, page: Page, bob, pulsetracker_credential
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    page.get_by_test_id("app-name").first.click()
    expect(page.get_by_test_id("usage-chart")).to_be_visible()
    key = page.locator("code.key").inner_text()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
