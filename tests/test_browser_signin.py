"""Signing in, in a real browser: a forgotten password reset from the emailed link, and a team
that requires two factors stopping a member until they set one up."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.test_browser_mfa import (
    log_in_with_password,
    logged_in,
    turn_on_authenticator_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_forgotten_password_is_reset_from_the_emailed_link(
    live_server, page: Page, alice, mailoutbox
):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_role("button", name=re.compile("Reset")).click()
    expect(page.get_by_text(re.compile("sent you an email", re.I))).to_be_visible()
    [mail] = [m for m in mailoutbox if "password" in m.subject.lower()]
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+", mail.body).group(0)
    page.goto(link.replace("http://testserver", live_server.url))
    page.get_by_label("New Password", exact=False).first.fill("A-fresh-pass-7731")
    page.locator("#id_password2").fill("A-fresh-pass-7731")
    page.get_by_role("button", name=re.compile("Change Password", re.I)).click()
    expect(page.get_by_text(re.compile("password is now changed", re.I))).to_be_visible()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("alice@acme.test")
    page.get_by_label("Password").fill("A-fresh-pass-7731")
    page.get_by_role("button", name="Log in", exact=True).click()
    logged_in(page)
    # The link was for one use.
    page.goto(link.replace("http://testserver", live_server.url))
    expect(page.get_by_text(re.compile("invalid", re.I)).first).to_be_visible()


def test_a_team_that_requires_two_factors_stops_a_member_until_they_set_one_up(
    live_server, page: Page, browser, alice, bob
):
    from allauth.mfa.totp.internal.auth import TOTP

    from tests.conftest import verify_email

    TOTP.activate(alice, "JBSWY3DPEHPK3PXP")
    from accounts.models import Team

    Team.objects.filter(name="Acme Fleet").update(require_two_factor=True)
    verify_email(bob)
    log_in_with_password(page, live_server.url, bob.email)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    expect(page.get_by_text("Acme Fleet requires two-factor authentication")).to_be_visible()
    page.goto(live_server.url + "/apps/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))  # every team page leads here
    turn_on_authenticator_app(page, bob.email)
    page.goto(live_server.url + "/")
    logged_in(page)  # the team's dashboard opens now
