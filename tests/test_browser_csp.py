"""Every page works in Chromium under the strict Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_page_breaks_the_policy(
    live_server, page: Page, alice, pulsetracker_credential, pulsoid_credential, sandbox_settings
):
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard of Acme Fleet")).to_be_visible()

    key = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0][
        "key"
    ]
    widget = sandbox_settings.seed.pulsoid_widget_ids[0]
    devices = sandbox_settings.pulsetracker.devices(sandbox_settings.seed.pulsetracker_paid_token)
    device = next(d["key"] for d in devices if d["app_key"] == key and d["lastLocation"])
    paths = [
        "/",
        "/credentials/",
        f"/credentials/{pulsetracker_credential.pk}/replace/",
        f"/credentials/{pulsetracker_credential.pk}/unlink/",
        f"/apps/{pulsetracker_credential.pk}/",
        f"/apps/{pulsetracker_credential.pk}/{key}/",
        f"/apps/{pulsetracker_credential.pk}/{key}/devices/{device}/",
        f"/widgets/{pulsoid_credential.pk}/",
        f"/widgets/{pulsoid_credential.pk}/new/",
        f"/widgets/{pulsoid_credential.pk}/{widget}/",
        "/accounts/team/members/",
        "/accounts/activity/",
        "/accounts/password/change/",
        "/accounts/email/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",
        "/accounts/2fa/webauthn/add/",
        "/accounts/sessions/",
        "/accounts/reauthenticate/",
        "/accounts/password/reset/",
        "/accounts/teams/new/",
    ]
    for path in paths:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
    # Interactions that run htmx and the portal's script: paging, an inline editor, a copy.
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    page.get_by_role("link", name="Next →").click()
    expect(page.get_by_test_id("pager-position")).to_contain_text("Page 2")
    page.get_by_role("button", name="Rename").first.click()
    expect(page.get_by_test_id("rename-input")).to_be_focused()
    page.get_by_test_id("rename-input").press("Escape")
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/{widget}/")
    expect(page.frame_locator("[data-testid=preview-frame]").locator("body")).to_contain_text("BPM")
    page.get_by_role("button", name="Add zone").click()
    expect(page.get_by_test_id("heart-rate")).to_contain_text("BPM")
    assert problems == []
