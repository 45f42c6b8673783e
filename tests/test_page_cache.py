"""The apps page served whole from the page cache: fresh per-request values, nothing stale."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role
from tests.test_apps import APPS_API, htmx, list_url

NONCE = re.compile(r'<script[^>]+nonce="([^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SUBMISSION = re.compile(r'name="submission" value="([0-9a-f]+)"')


def found(pattern: re.Pattern, body: str) -> str:
    match = pattern.search(body)
    assert match, f"{pattern.pattern} not in the page"
    return match.group(1)


def test_a_repeat_view_is_the_stored_page_with_a_new_nonce_token_and_submission_id(
    bob, pulsetracker_credential, sandbox
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    before = len(sandbox.requests_to("GET", APPS_API))  # linking checked the token
    first = client.get(list_url(pulsetracker_credential))
    second = client.get(list_url(pulsetracker_credential))
    assert first.templates, "the first view renders the page"
    assert not second.templates, "the repeat view comes from the page cache, no rendering"
    one, two = first.content.decode(), second.content.decode()
    assert "Fleet 30" in two
    assert "Page 1 of 3 · 30 apps" in two
    assert len(sandbox.requests_to("GET", APPS_API)) - before == 1
    # Each answer carries its own nonce, matching its own policy header.
    assert found(NONCE, one) != found(NONCE, two)
    assert f"'nonce-{found(NONCE, two)}'" in second["Content-Security-Policy"]
    assert "%%" not in two, "no hole left unfilled"
    assert found(SUBMISSION, one) != found(SUBMISSION, two)
    # The form of the cached page works: its CSRF token is valid, and two creates from two
    # views are two apps (different submission ids), not one guarded as a double submit.
    for body, name in ((one, "From the first view"), (two, "From the cached view")):
        response = client.post(
            reverse("app-create", args=[pulsetracker_credential.pk]),
            {
                "csrfmiddlewaretoken": found(CSRF, body),
                "name": name,
                "submission": found(SUBMISSION, body),
            },
        )
        assert response.status_code == 302, response.content[:300]
    after = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "From the first view" in after
    assert "From the cached view" in after
    assert "32 apps" in after


def test_the_cached_page_follows_changes_to_team_role_and_credential(
    as_user, bob, acme, pulsetracker_credential
):
    client = as_user(bob)
    body = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Create app" in body
    assert ">Rename</button>" in body
    pulsetracker_credential.label = "Acme Production"
    pulsetracker_credential.save()
    body = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Acme Production" in body
    acme.name = "Acme Renamed"
    acme.save()
    body = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Acme Renamed" in body
    Membership.objects.filter(user=bob, team=acme).update(role=Role.VIEWER)
    body = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Create app" not in body
    assert ">Rename</button>" not in body
    Membership.objects.filter(user=bob, team=acme).delete()
    response = client.get(list_url(pulsetracker_credential))
    assert response.status_code in (302, 404)  # removed: no page, cached or not


def test_one_persons_cached_page_is_never_another_persons(
    client, alice, bob, pulsetracker_credential
):
    pages = {}
    for person in (alice, bob, alice, bob):
        client.force_login(person)
        pages[person.email] = client.get(list_url(pulsetracker_credential)).content.decode()
    assert alice.email in pages[alice.email]
    assert bob.email not in pages[alice.email]
    assert bob.email in pages[bob.email]
    assert alice.email not in pages[bob.email]


def test_a_message_is_shown_once_even_on_a_cached_page(as_user, bob, pulsetracker_credential):
    client = as_user(bob)
    client.get(list_url(pulsetracker_credential))
    client.get(list_url(pulsetracker_credential))  # stored
    response = client.post(
        reverse("app-create", args=[pulsetracker_credential.pk]),
        {"name": "With a message", "submission": "0" * 32},
    )
    assert "Created the app “With a message”." in client.get(response["Location"]).content.decode()
    again = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "With a message" in again
    assert "Created the app" not in again


def test_fragment_and_whole_page_are_cached_apart(as_user, bob, pulsetracker_credential):
    client = as_user(bob)
    for _ in range(2):
        whole = client.get(list_url(pulsetracker_credential, 2)).content.decode()
        fragment = client.get(list_url(pulsetracker_credential, 2), **htmx()).content.decode()
        assert whole.startswith("<!doctype html>")
        assert fragment.lstrip().startswith('<section id="apps-table"')
        assert "Page 2 of 3" in whole
        assert "Page 2 of 3" in fragment


def test_with_the_cache_off_every_view_asks_upstream_and_renders(
    as_user, bob, pulsetracker_credential, sandbox, settings
):
    settings.UPSTREAM_CACHE_SECONDS = 0
    client = as_user(bob)
    before = len(sandbox.requests_to("GET", APPS_API))
    for _ in range(3):
        assert client.get(list_url(pulsetracker_credential)).templates
    assert len(sandbox.requests_to("GET", APPS_API)) - before == 3


def test_text_that_looks_like_a_hole_is_shown_as_typed(as_user, bob, pulsetracker_credential):
    lookalike = "%%0123456789abcdef01234567:csrf_token%% and %%fresh0%%"
    client = as_user(bob)
    client.post(
        reverse("app-create", args=[pulsetracker_credential.pk]),
        {"name": lookalike, "submission": "1" * 32},
    )
    for _ in range(2):  # rendered, then from the page cache
        body = client.get(list_url(pulsetracker_credential)).content.decode()
        assert lookalike in body


def test_an_unlinked_credential_is_gone_at_once_though_its_page_was_stored(
    as_user, alice, bob, pulsetracker_credential
):
    from integrations import credentials

    client = as_user(bob)
    url = list_url(pulsetracker_credential)
    for _ in range(2):
        assert client.get(url).status_code == 200
    credentials.unlink(pulsetracker_credential, alice)
    assert client.get(url).status_code == 404


def test_a_credential_deleted_in_bulk_is_gone_at_once(as_user, bob, acme, pulsetracker_credential):
    from accounts.models import Credential

    client = as_user(bob)
    url = list_url(pulsetracker_credential)
    for _ in range(2):
        assert client.get(url).status_code == 200
    Credential.objects.filter(team=acme).delete()  # as the admin or a cascade would
    assert client.get(url).status_code == 404


def test_a_lost_version_key_never_revives_a_stored_page(as_user, bob, pulsetracker_credential):
    from django.core.cache import cache

    client = as_user(bob)
    url = list_url(pulsetracker_credential)
    for _ in range(2):
        client.get(url)
    # Redis evicted or restarted: the versions come back as new values, so the page is rendered.
    cache.delete_many(
        [
            f"upstream:v:{pulsetracker_credential.pk}",
            f"team-credentials:v:{pulsetracker_credential.team_id}",
        ]
    )
    assert client.get(url).templates


def test_another_teams_member_never_gets_a_stored_page(
    as_user, bob, mallory, pulsetracker_credential
):
    assert as_user(bob).get(list_url(pulsetracker_credential)).status_code == 200
    assert as_user(bob).get(list_url(pulsetracker_credential)).status_code == 200
    assert as_user(mallory).get(list_url(pulsetracker_credential)).status_code == 404
