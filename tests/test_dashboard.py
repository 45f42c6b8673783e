"""The team's dashboard at `/`, and the sign-in page visitors see there instead."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import activity
from integrations.models import Credential, Health

from .conftest import PASSWORD, linked

HOME = "/"
PULSETRACKER_API = "/pulsetracker/api/"


def htmx() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


def cards(body: str) -> list[str]:
    """Each credential card's HTML, in the order the page shows them."""
    return body.split('data-testid="credential-card"')[1:]


def messages_this_month(sandbox) -> int:
    now = datetime.now(UTC)
    return sum(
        row["messages_sent"]
        for app in sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)
        for row in app["quota"]
        if (row["year"], row["month"]) == (now.year, now.month)
    )


# Visitors


@pytest.mark.django_db
def test_visitors_see_what_the_portal_is_and_a_way_in_not_its_machinery(client, settings):
    body = client.get(HOME).content.decode()
    assert "one place for a team to work with Pulsetracker and Pulsoid." in body
    assert f'<form method="post" action="{reverse("account_login")}"' in body  # signing in here
    for machinery in ("sqlite", "SQLite", "postgresql", "PostgreSQL", "Redis"):
        assert machinery not in body
    for url in (
        settings.PULSETRACKER_API_URL,
        settings.PULSOID_API_URL,
        settings.PULSOID_OAUTH_URL,
        settings.PULSOID_REVOKE_URL,
    ):
        assert url not in body


@pytest.mark.django_db
def test_the_status_panel_is_gone(client):
    assert client.get("/status/").status_code == 404


def test_logging_in_lands_on_the_dashboard(client, alice):
    response = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


# What the cards say


def test_each_credential_shows_its_apps_messages_widgets_and_heart_rate(
    as_user, carol, pulsetracker_credential, pulsoid_credential, sandbox_settings
):
    sandbox_settings.pulsoid.add_heart_rate(sandbox_settings.seed.pulsoid_user_id, 87)
    body = as_user(carol).get(HOME).content.decode()
    pulsetracker, pulsoid = cards(body)
    assert "Acme Live" in pulsetracker
    assert '<dt>Apps</dt><dd data-testid="fact">30</dd>' in pulsetracker
    expected = f"{messages_this_month(sandbox_settings):,}"
    assert f'<dt>Messages this month</dt><dd data-testid="fact">{expected}</dd>' in pulsetracker
    assert reverse("app-list", args=[pulsetracker_credential.pk]) in pulsetracker
    assert "Streamer" in pulsoid
    widgets = len(sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id))
    assert f'<dt>Widgets</dt><dd data-testid="fact">{widgets}</dd>' in pulsoid
    assert "87 BPM" in pulsoid


def test_a_pulsoid_token_without_a_scope_says_so_instead_of_asking(
    as_user, alice, acme, sandbox_settings
):
    linked(acme, alice, "pulsoid", "Read only", sandbox_settings.seed.pulsoid_readonly_token)
    before = len(sandbox_settings.requests_to("GET", "/pulsoid/api/v1/data/heart_rate"))
    body = as_user(alice).get(HOME).content.decode()
    [card] = cards(body)
    assert "not shown: the token lacks “data:heart_rate:read”" in card
    assert len(sandbox_settings.requests_to("GET", "/pulsoid/api/v1/data/heart_rate")) == before


def test_credentials_needing_attention_and_expiring_come_first(
    as_user, ada, acme, alice, pulsetracker_credential, pulsoid_credential, sandbox_settings
):
    rejected = linked(
        acme, alice, "pulsetracker", "Old key", sandbox_settings.seed.pulsetracker_free_token
    )
    Credential.objects.filter(pk=rejected.pk).update(
        health=Health.REJECTED, health_detail="Pulsetracker says the token is wrong."
    )
    # A hand-pasted Pulsoid token (no refresh) expiring in three days.
    Credential.objects.filter(pk=pulsoid_credential.pk).update(
        expires_at=timezone.now() + timedelta(days=3)
    )
    before = len(sandbox_settings.requests_to("GET", PULSETRACKER_API))
    body = as_user(ada).get(HOME).content.decode()
    first, second, third = cards(body)
    assert "Old key" in first
    assert "Pulsetracker says the token is wrong." in first
    assert reverse("credential-replace", args=[rejected.pk]) in first
    assert "Streamer" in second
    assert "expiring soon" in second
    assert "Acme Live" in third
    assert "1 credential needs attention." in body
    # Only the working Pulsetracker credential was asked (its three pages of apps).
    asked = sandbox_settings.requests_to("GET", PULSETRACKER_API)[before:]
    assert len(asked) == 3


def test_one_credential_failing_shows_its_own_message_and_the_rest_still_show(
    as_user, bob, pulsetracker_credential, pulsoid_credential, sandbox_settings
):
    sandbox_settings.fault("GET", PULSETRACKER_API, status=503, times=10)
    response = as_user(bob).get(HOME)
    assert response.status_code == 200
    pulsetracker, pulsoid = cards(response.content.decode())
    assert 'data-testid="card-error"' in pulsetracker
    assert "<dt>Apps</dt>" not in pulsetracker
    assert "<dt>Widgets</dt>" in pulsoid


def test_a_team_without_credentials_is_told_how_to_start(as_user, alice, bob):
    assert (
        "Link a Pulsetracker or Pulsoid token to start."
        in as_user(alice).get(HOME).content.decode()
    )


# Activity and quick actions, by role


def test_admins_see_the_teams_ten_latest_entries(as_user, ada, acme, bob):
    for number in range(12):
        activity.record(acme, bob, "app created", target=f"App {number}")
    body = as_user(ada).get(HOME).content.decode()
    section = body[body.index('data-testid="recent-activity"') :]
    assert "Recent activity" in section
    assert section.count('data-testid="activity-row"') == 10
    assert "App 11" in section
    assert "App 1<" not in section
    assert bob.email in section
    assert reverse("accounts:activity") in section


def test_members_see_only_their_own_entries(as_user, bob, carol, acme):
    activity.record(acme, bob, "app created", target="Mine")
    activity.record(acme, carol, "app renamed", target="Hers")
    body = as_user(bob).get(HOME).content.decode()
    section = body[body.index('data-testid="recent-activity"') :]
    assert "Your recent activity" in section
    assert "Mine" in section
    assert "Hers" not in section
    assert reverse("accounts:activity") not in section


def quick_actions(body: str) -> str:
    if 'data-testid="quick-actions"' not in body:
        return ""
    start = body.index('data-testid="quick-actions"')
    return body[start : body.index("</nav>", start)]


@pytest.mark.parametrize(
    ("person", "shown", "hidden"),
    [
        ("carol", [], ["Link a credential", "Create an app", "Create a widget", "Invite"]),
        ("bob", ["Create an app", "Create a widget"], ["Link a credential", "Invite a member"]),
        ("ada", ["Link a credential", "Create an app", "Create a widget"], ["Invite a member"]),
        ("alice", ["Link a credential", "Create an app", "Create a widget", "Invite a member"], []),
    ],
)
def test_quick_actions_are_those_the_role_allows(
    request, as_user, pulsetracker_credential, pulsoid_credential, person, shown, hidden
):
    actions = quick_actions(as_user(request.getfixturevalue(person)).get(HOME).content.decode())
    for label in shown:
        assert label in actions
    for label in hidden:
        assert label not in actions
    if "Create a widget" in shown:
        assert reverse("widget-create", args=[pulsoid_credential.pk]) in actions


# Painting from the cache


def past_the_window(settings) -> None:
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)


def test_after_the_window_the_dashboard_paints_its_last_fetch_and_refreshes_in_place(
    as_user, bob, pulsetracker_credential, sandbox_settings, settings
):
    client = as_user(bob)
    client.get(HOME)
    past_the_window(settings)
    sandbox_settings.pulsetracker.add_app(sandbox_settings.seed.pulsetracker_paid_token, "New")
    sandbox_settings.fault("GET", PULSETRACKER_API, status=503, times=10)
    before = len(sandbox_settings.requests_to("GET", PULSETRACKER_API))
    body = client.get(HOME).content.decode()
    [card] = cards(body)
    assert '<dt>Apps</dt><dd data-testid="fact">30</dd>' in card
    assert re.search(r"As of (a second|\d+\sseconds) ago · refreshing…", body)
    assert 'hx-get="/?fresh=1"' in body
    assert 'hx-trigger="load"' in body
    assert len(sandbox_settings.requests_to("GET", PULSETRACKER_API)) == before
    sandbox_settings.clear_faults()
    refreshed = client.get("/?fresh=1", **htmx()).content.decode()
    assert refreshed.lstrip().startswith('<div id="credential-cards">')
    assert '<dt>Apps</dt><dd data-testid="fact">31</dd>' in refreshed
    assert 'data-testid="freshness"' not in refreshed


def test_after_a_create_the_next_dashboard_is_fresh(
    as_user, bob, pulsetracker_credential, sandbox_settings, settings
):
    client = as_user(bob)
    client.get(HOME)
    past_the_window(settings)
    client.post(
        reverse("app-create", args=[pulsetracker_credential.pk]),
        {"name": "Night shift", "submission": "a" * 32},
        **htmx(),
    )
    body = client.get(HOME).content.decode()
    assert '<dt>Apps</dt><dd data-testid="fact">31</dd>' in body
    assert 'data-testid="freshness"' not in body


def test_creating_needs_a_credential_of_that_kind(as_user, bob, pulsoid_credential):
    actions = quick_actions(as_user(bob).get(HOME).content.decode())
    assert "Create a widget" in actions
    assert "Create an app" not in actions
