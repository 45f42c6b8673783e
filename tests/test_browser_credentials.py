"""Credentials in a real browser: sign up, link both kinds of token, see their health."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_up_and_link_one_token_of_each_kind_and_see_both_healthy(
    live_server, page: Page, sandbox_settings
):
    seed = sandbox_settings.seed
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Email address").fill("lead@studio.test")
    page.locator("#id_name").fill("Lead")
    page.get_by_label("Team name").fill("Studio crew")
    page.locator("#id_password1").fill("Browser-pass-5521")
    page.locator("#id_password2").fill("Browser-pass-5521")
    page.get_by_role("button", name="Sign up").click()

    # The new team's dashboard has nothing yet, and says where to start.
    expect(page.get_by_role("heading", name="Dashboard of Studio crew")).to_be_visible()
    expect(page.get_by_test_id("no-credentials")).to_contain_text("Link a Pulsetracker or Pulsoid")
    page.get_by_role("link", name="Link a credential").click()
    expect(page.get_by_role("heading", name="Credentials of Studio crew")).to_be_visible()
    expect(page.get_by_test_id("active-team")).to_contain_text("Studio crew (Owner)")

    # A wrong token first: refused inline, label kept, token field empty again.
    page.get_by_label("Service").select_option("pulsetracker")
    page.locator("#id_label").fill("Fleet")
    page.get_by_role("textbox", name="Token:").fill("9|" + "n" * 40)
    page.get_by_role("button", name="Check and link").click()
    expect(page.get_by_test_id("token-errors")).to_contain_text("rejected the token")
    expect(page.locator("#id_label")).to_have_value("Fleet")
    expect(page.get_by_role("textbox", name="Token:")).to_have_value("")

    page.get_by_role("textbox", name="Token:").fill(seed.pulsetracker_paid_token)
    page.get_by_role("button", name="Check and link").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Linked “Fleet”")

    page.get_by_label("Service").select_option("pulsoid")
    page.locator("#id_label").fill("Streamer")
    page.get_by_role("textbox", name="Token:").fill(seed.pulsoid_full_token)
    page.get_by_role("button", name="Check and link").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Linked “Streamer”")

    rows = page.get_by_test_id("credential-row")
    expect(rows).to_have_count(2)
    for label in ("Fleet", "Streamer"):
        row = rows.filter(has_text=label)
        expect(row.get_by_test_id("credential-health")).to_contain_text("OK")
    expect(rows.filter(has_text="Streamer")).to_contain_text("widgets:update")
    expect(rows.filter(has_text="Streamer")).to_contain_text("does not expire")

    # Check now swaps the row in place; a revoked token then shows as rejected.
    sandbox_settings.pulsetracker.revoke(seed.pulsetracker_paid_token)
    fleet = rows.filter(has_text="Fleet")
    fleet.get_by_role("button", name="Check now").click()
    expect(fleet.get_by_test_id("credential-health")).to_contain_text("Rejected")

    html = page.content()
    assert seed.pulsetracker_paid_token not in html
    assert seed.pulsoid_full_token not in html
    assert not re.search(r"value=\"[0-9a-f-]{36}\"", html)


def test_a_viewer_sees_the_credentials_without_any_control(
    live_server, page: Page, carol, pulsetracker_credential
):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(carol.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard of Acme Fleet")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Credentials").click()

    expect(page.get_by_role("heading", name="Credentials of Acme Fleet")).to_be_visible()
    row = page.get_by_test_id("credential-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acme Live")
    expect(row).to_contain_text(f"…{pulsetracker_credential.last4}")
    for control in ("Check now", "Replace token", "Unlink", "Check and link"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
        expect(page.get_by_role("link", name=control)).to_have_count(0)
    expect(page.get_by_role("link", name="Activity")).to_have_count(0)
