"""Every screen a person can reach, on a phone (390x844) and a desktop (1280x900): nothing
scrolls sideways, axe-core finds no accessibility violation; with `make screens` a screenshot of
each lands in docs/screens/ for reviewers (see docs/screens/README.md).

To add a screen, add a line to SCREENS: its name (the screenshot's file name), a function from
the prepared `World` to its address, and optionally who looks and what they do first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import Page

from tests.conftest import settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS_DIR = Path(__file__).resolve().parent.parent / "docs" / "screens"
SIZES = [(390, 844), (1280, 900)]
#: A Pulsetracker app name of the longest kind, without a single space to break at.
LONG_NAME = "Unbroken" + "x" * 247


@dataclass
class World:
    """What the screens show: Acme with a credential of each service, its owner alice, a
    member bob, an invitation, an API token, an app with a 255-character name."""

    tracker: int
    pulsoid: int
    app_key: str
    long_app_key: str
    device_key: str
    geofence_id: int
    widget_id: str
    invitation_secret: str
    reset_path: str


@dataclass(frozen=True)
class Screen:
    name: str
    url: Callable[[World], str]
    #: Who looks: "alice" (owner), "ada" (admin, with two factors), "bob" (member) or None (not
    #: logged in).
    person: str | None = "alice"
    #: What the person does on the page before it is looked at, if anything.
    then: Callable[[Page], object] | None = None


def open_menu(page: Page) -> None:
    """The phone's menu button, where there is one (narrow screens)."""
    toggle = page.get_by_role("button", name="Menu")
    if toggle.is_visible():
        toggle.click()


SCREENS = [
    # Not logged in.
    Screen("login", lambda w: "/accounts/login/", None),
    Screen("signup", lambda w: "/accounts/signup/", None),
    Screen("password-reset", lambda w: "/accounts/password/reset/", None),
    Screen("password-reset-done", lambda w: "/accounts/password/reset/done/", None),
    Screen("password-reset-key", lambda w: w.reset_path, None),
    Screen("invitation", lambda w: f"/accounts/invitations/{w.invitation_secret}/", None),
    # The owner of a team with a linked credential of each service.
    Screen("home", lambda w: "/"),
    Screen("menu", lambda w: "/credentials/", then=open_menu),
    Screen("credentials", lambda w: "/credentials/"),
    Screen(
        "credential-unlink-dialog",
        lambda w: "/credentials/",
        then=lambda page: page.get_by_test_id("unlink").last.click(),
    ),
    Screen("credential-replace", lambda w: f"/credentials/{w.tracker}/replace/"),
    Screen("credential-unlink", lambda w: f"/credentials/{w.pulsoid}/unlink/"),
    Screen("members", lambda w: "/accounts/team/members/"),
    Screen("alerts", lambda w: "/alerts/"),
    Screen("activity", lambda w: "/accounts/activity/"),
    Screen("api-tokens", lambda w: "/accounts/tokens/"),
    Screen("account-email", lambda w: "/accounts/email/"),
    Screen("account-password", lambda w: "/accounts/password/change/"),
    Screen("two-factor", lambda w: "/accounts/2fa/"),
    Screen("two-factor-totp", lambda w: "/accounts/2fa/totp/activate/"),
    Screen("passkeys", lambda w: "/accounts/2fa/webauthn/"),
    Screen("sessions", lambda w: "/accounts/sessions/"),
    Screen("reauthenticate", lambda w: "/accounts/reauthenticate/"),
    Screen("logout", lambda w: "/accounts/logout/"),
    Screen("team-new", lambda w: "/accounts/teams/new/"),
    Screen("apps", lambda w: "/apps/"),
    Screen("app-list", lambda w: f"/apps/{w.tracker}/"),
    Screen("app", lambda w: f"/apps/{w.tracker}/{w.app_key}/"),
    Screen("app-long-name", lambda w: f"/apps/{w.tracker}/{w.long_app_key}/"),
    Screen("app-rename", lambda w: f"/apps/{w.tracker}/{w.app_key}/rename/"),
    Screen("devices", lambda w: f"/apps/{w.tracker}/{w.app_key}/devices/"),
    Screen("device-new", lambda w: f"/apps/{w.tracker}/{w.app_key}/devices/new/"),
    Screen("device", lambda w: f"/apps/{w.tracker}/{w.app_key}/devices/{w.device_key}/"),
    Screen(
        "device-rename", lambda w: f"/apps/{w.tracker}/{w.app_key}/devices/{w.device_key}/rename/"
    ),
    Screen("geofences", lambda w: f"/apps/{w.tracker}/{w.app_key}/geofences/"),
    Screen("geofence-new", lambda w: f"/apps/{w.tracker}/{w.app_key}/geofences/new/"),
    Screen("geofence-edit", lambda w: f"/apps/{w.tracker}/{w.app_key}/geofences/{w.geofence_id}/"),
    Screen("widgets", lambda w: "/widgets/"),
    Screen("widget-list", lambda w: f"/widgets/{w.pulsoid}/"),
    Screen("widget-new", lambda w: f"/widgets/{w.pulsoid}/new/"),
    Screen("widget-edit", lambda w: f"/widgets/{w.pulsoid}/{w.widget_id}/"),
    Screen("heart-rate", lambda w: f"/widgets/{w.pulsoid}/heart-rate/"),
    # An admin with an authenticator app and recovery codes.
    Screen("two-factor-on", lambda w: "/accounts/2fa/", "ada"),
    Screen("recovery-codes", lambda w: "/accounts/2fa/recovery-codes/", "ada"),
    Screen("totp-deactivate", lambda w: "/accounts/2fa/totp/deactivate/", "ada"),
    # A member of the team: what they see, what they may not open, and an address that is not
    # there.
    Screen("members-as-member", lambda w: "/accounts/team/members/", "bob"),
    Screen("forbidden", lambda w: "/accounts/activity/", "bob"),
    Screen("not-found", lambda w: "/no-such-page/", "bob"),
]


@pytest.fixture
def world(acme, alice, ada, bob, pulsetracker_credential, pulsoid_credential, sandbox_settings):
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    from accounts import api_tokens, team

    seed = sandbox_settings.seed
    upstream = sandbox_settings.pulsetracker
    long_app = upstream.add_app(seed.pulsetracker_paid_token, LONG_NAME)
    first_app = upstream.apps(seed.pulsetracker_paid_token)[1]
    device = next(
        d
        for d in upstream.devices(seed.pulsetracker_paid_token)
        if d["app_key"] == first_app["key"]
    )
    ring = [(13.40, 52.52), (13.41, 52.52), (13.41, 52.53)]
    geofence = upstream.add_geofence(seed.pulsetracker_paid_token, first_app["key"], "Depot", ring)
    # The portal knows the app's numeric id, so the geofence screens show the list and forms.
    from integrations.models import GeofenceApp

    GeofenceApp.objects.create(
        credential=pulsetracker_credential,
        app_key=first_app["key"],
        app_id=upstream.app_id(first_app["key"]),
    )
    invited = team.send_invitation(acme, alice, "dora@acme.test", "member", lambda s: s)
    api_tokens.create(alice, acme, "Deploy script", ["apps:read", "widgets:read"], 90)
    TOTP.activate(ada, "JBSWY3DPEHPK3PXP")
    RecoveryCodes.activate(ada)
    return World(
        tracker=pulsetracker_credential.pk,
        pulsoid=pulsoid_credential.pk,
        app_key=first_app["key"],
        long_app_key=long_app["key"],
        device_key=device["key"],
        geofence_id=geofence["id"],
        widget_id=seed.pulsoid_widget_ids[0],
        invitation_secret=invited.link,
        reset_path=(
            f"/accounts/password/reset/key/{user_pk_to_url_str(alice)}-"
            f"{default_token_generator.make_token(alice)}/"
        ),
    )


def log_in_by_cookie(page: Page, live_server, person) -> None:
    """A session made on the server side and handed to the browser: the same as logging in,
    without the form each time."""
    from django.test import Client

    client = Client()
    client.force_login(person)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def violations(page: Page) -> list[str]:
    """axe-core's violations on the page, one line each: rule, impact and the elements."""
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
    ]


@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_screen_fits_a_phone_and_a_desktop_and_passes_axe(
    screen: Screen, world: World, live_server, page: Page, request
):
    if screen.person:
        log_in_by_cookie(page, live_server, request.getfixturevalue(screen.person))
    # `make screens` keeps the pictures; a plain test run checks the screens and leaves the tree
    # as it was (dates and ages differ from run to run).
    keep = os.environ.get("PORTAL_SCREENSHOTS") == "1"
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    problems = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(live_server.url + screen.url(world))
        page.wait_for_load_state("networkidle")
        settled(page)
        if screen.then:
            screen.then(page)
        # A dialog covers the window, not the whole length: the window is the picture then.
        shot = SCREENS_DIR / f"{screen.name}-{width}.png"
        if keep:
            page.screenshot(path=shot, full_page=screen.then is None)
        wider = overflow(page)
        if wider > 0:
            problems.append(f"at {width}px the page is {wider}px wider than the window")
        problems += [f"at {width}px axe: {v}" for v in violations(page)]
    assert not problems, "\n".join(problems)
