"""Second factors in a real browser: an authenticator app, a passkey, and recovery codes, from
turning them on in the account pages to logging in with them, under the strict CSP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, fresh_totp_code, verify_email, wrong_totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and CSP violations on every page the test visits."""
    found: list[str] = []

    def on_console(message) -> None:
        if message.type == "error":
            found.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: found.append(f"{page.url}: {e}"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return found


def log_in_with_password(page: Page, url: str, email: str) -> None:
    page.goto(url + "/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def logged_in(page: Page) -> None:
    expect(page.get_by_role("heading", name="Dashboard of Acme Fleet")).to_be_visible()


def still_asked_for_the_code(page: Page, url: str) -> None:
    """Not logged in yet: the portal's pages lead back to the second-factor question."""
    page.goto(url + "/credentials/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.get_by_text("Please enter an authenticator code")).to_be_visible()


def open_two_factor_page(page: Page, email: str) -> None:
    """From any page: the top bar's address → the account menu → two-factor authentication."""
    page.get_by_role("link", name=email).click()
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()


def panel(page: Page, title: str):
    return page.locator("section.card").filter(has=page.get_by_role("heading", name=title))


def confirm_access(page: Page) -> None:
    """allauth asks for the password again before a second factor is added, however recent the
    log-in (only an explicit confirmation counts)."""
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()


def turn_on_authenticator_app(page: Page, email: str) -> str:
    """Activate TOTP as a person would, reading the secret off the page; returns the secret."""
    open_two_factor_page(page, email)
    panel(page, "Authenticator App").get_by_role("link", name="Activate").click()
    confirm_access(page)
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    qr = page.get_by_role("img")
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the QR code is drawn
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.get_by_label("Authenticator code").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    return secret


def test_an_authenticator_app_is_turned_on_from_the_account_pages_and_then_asked_for_at_log_in(
    live_server, page: Page, alice, problems
):
    verify_email(alice)
    log_in_with_password(page, live_server.url, alice.email)
    logged_in(page)
    secret = turn_on_authenticator_app(page, alice.email)
    # Activated, and recovery codes are offered straight away.
    expect(page.get_by_text("Authenticator app activated.")).to_be_visible()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    expect(page.get_by_label("Unused codes")).to_have_value(re.compile(r"^(\d{8}\n){9}\d{8}$"))
    open_two_factor_page(page, alice.email)
    expect(panel(page, "Authenticator App")).to_contain_text("is active")

    log_out(page)
    log_in_with_password(page, live_server.url, alice.email)
    # The password alone does not let her in: the portal asks for the code.
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.get_by_label("Code").fill(wrong_totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("code-errors")).to_have_text("Incorrect code.")
    still_asked_for_the_code(page, live_server.url)
    page.get_by_label("Code").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Sign In").click()
    logged_in(page)
    assert problems == []


def test_a_passkey_added_in_the_account_pages_logs_in_without_a_password(
    live_server, page: Page, alice, problems
):
    verify_email(alice)
    # Chromium's virtual authenticator stands in for the laptop's built-in one (Touch ID and the
    # like): it keeps discoverable credentials and verifies the person.
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]
    log_in_with_password(page, live_server.url, alice.email)
    logged_in(page)
    open_two_factor_page(page, alice.email)
    panel(page, "Security Keys").get_by_role("link", name="Add").click()
    confirm_access(page)
    expect(page.get_by_role("heading", name="Add Security Key")).to_be_visible()
    page.get_by_label("Name").fill("Laptop")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Security key added.")).to_be_visible()
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert credential["isResidentCredential"]  # a passkey, found without typing a name
    open_two_factor_page(page, alice.email)
    expect(panel(page, "Security Keys")).to_contain_text("You have added 1 security key.")

    log_out(page)
    page.get_by_role("button", name="Use a passkey instead").click()
    logged_in(page)
    expect(page.get_by_role("link", name=alice.email)).to_be_visible()
    assert problems == []


def test_a_recovery_code_stands_in_for_the_authenticator_app_once(
    live_server, page: Page, alice, problems
):
    verify_email(alice)
    log_in_with_password(page, live_server.url, alice.email)
    logged_in(page)
    turn_on_authenticator_app(page, alice.email)
    # Later, from the two-factor page, she views her codes to write them down.
    open_two_factor_page(page, alice.email)
    expect(panel(page, "Recovery Codes")).to_contain_text("10 out of 10")
    panel(page, "Recovery Codes").get_by_role("link", name="View").click()
    codes = page.get_by_label("Unused codes").input_value().split()
    assert len(codes) == 10
    log_out(page)

    # Her phone is gone: a recovery code instead of the app's code.
    log_in_with_password(page, live_server.url, alice.email)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Sign In").click()
    logged_in(page)
    open_two_factor_page(page, alice.email)
    expect(panel(page, "Recovery Codes")).to_contain_text("9 out of 10")
    log_out(page)

    # The same code a second time is refused.
    log_in_with_password(page, live_server.url, alice.email)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("code-errors")).to_have_text("Incorrect code.")
    still_asked_for_the_code(page, live_server.url)
    assert problems == []
