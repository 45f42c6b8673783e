"""Connect with Pulsoid: the OAuth round trip, refreshing, racing refreshes, revoke on unlink."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.crypto import decrypt
from accounts.models import Activity
from integrations.models import Credential, Health
from integrations.pulsoid import oauth
from tests.test_pulsoid_client import approve

TOKEN_ENDPOINT = "/pulsoid/oauth2/token"


def connect(client, label: str = "Streamer account") -> dict[str, str]:
    """Start the sign-in from the portal and approve it at the sandbox; returns code and state."""
    response = client.post(reverse("pulsoid-connect"), {"label": label})
    assert response.status_code == 302
    authorize = response["Location"]
    query = parse_qs(urlparse(authorize).query)
    assert query["redirect_uri"] == ["http://testserver/pulsoid/callback/"]
    assert set(query["scope"][0].split()) >= {
        "widgets:read",
        "widgets:update",
        "data:heart_rate:read",
    }
    return approve_to(authorize, "http://testserver/pulsoid/callback/")


def approve_to(authorize: str, redirect_uri: str) -> dict[str, str]:
    import tests.test_pulsoid_client as helpers

    previous = helpers.REDIRECT_URI
    helpers.REDIRECT_URI = redirect_uri
    try:
        return approve(authorize)
    finally:
        helpers.REDIRECT_URI = previous


def oauth_credential(client, label: str = "Streamer account") -> Credential:
    returned = connect(client, label)
    response = client.get(reverse("pulsoid-callback"), returned)
    assert response.status_code == 302
    return Credential.objects.get(label=label)


def test_connect_button_only_when_a_client_is_configured(
    as_user, alice, sandbox_settings, settings
):
    client = as_user(alice)
    assert "Connect with Pulsoid" in client.get(reverse("credentials")).content.decode()
    settings.PULSOID_CLIENT_SECRET = ""
    assert "Connect with Pulsoid" not in client.get(reverse("credentials")).content.decode()


def test_the_round_trip_stores_an_encrypted_pair_with_scopes_and_expiry(
    as_user, alice, acme, sandbox_settings
):
    client = as_user(alice)
    credential = oauth_credential(client)
    assert credential.team == acme
    assert oauth.grant_of(credential) is not None
    assert credential.health == Health.OK
    assert {"widgets:read", "widgets:update", "profile:read"} <= set(credential.scopes)
    assert timedelta(minutes=55) < credential.expires_at - timezone.now() <= timedelta(hours=1)
    assert oauth.grant_of(credential).refresh_ciphertext
    access = decrypt(credential.ciphertext).reveal()
    assert access in sandbox_settings.pulsoid.tokens_of(sandbox_settings.seed.pulsoid_user_id)
    page = client.get(reverse("credentials")).content.decode()
    assert "Connected the Pulsoid account as “Streamer account”." in page
    assert access not in page
    assert Activity.objects.get(action="credential linked").detail == "through Pulsoid sign-in"


def test_a_state_that_does_not_match_is_refused_and_links_nothing(as_user, alice, sandbox_settings):
    client = as_user(alice)
    returned = connect(client)
    response = client.get(
        reverse("pulsoid-callback"), {"code": returned["code"], "state": "forged"}
    )
    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert not Credential.objects.exists()
    assert sandbox_settings.requests_to("POST", TOKEN_ENDPOINT) == []


def test_a_callback_without_a_started_sign_in_is_refused(as_user, alice, sandbox_settings):
    response = as_user(alice).get(reverse("pulsoid-callback"), {"code": "x", "state": "y"})
    assert response.status_code == 400


def test_a_reused_code_is_refused(as_user, alice, sandbox_settings):
    client = as_user(alice)
    first = connect(client, "First")
    client.get(reverse("pulsoid-callback"), first)
    second = connect(client, "Second")
    response = client.get(
        reverse("pulsoid-callback"), {"code": first["code"], "state": second["state"]}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Nothing was linked" in page
    assert list(Credential.objects.values_list("label", flat=True)) == ["First"]
    failed = Activity.objects.get(action="credential linked", outcome="failed")
    assert failed.error_kind == "GrantRejected"


def test_members_cannot_start_a_sign_in(as_user, bob, sandbox_settings):
    assert as_user(bob).post(reverse("pulsoid-connect")).status_code == 403


def test_a_token_near_expiry_is_refreshed_before_the_call(as_user, alice, sandbox_settings):
    client = as_user(alice)
    credential = oauth_credential(client)
    old_access = credential.ciphertext
    Credential.objects.filter(pk=credential.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    credential.refresh_from_db()
    widgets = oauth.call_pulsoid(credential, alice, lambda c: c.list_widgets())
    assert len(widgets) == 2
    assert (
        len(sandbox_settings.requests_to("POST", TOKEN_ENDPOINT)) == 2
    )  # the code, then one refresh
    stored = Credential.objects.get(pk=credential.pk)
    assert stored.ciphertext != old_access
    assert stored.expires_at - timezone.now() > timedelta(minutes=55)
    assert Activity.objects.filter(action="credential refreshed", outcome="ok").count() == 1


def test_an_expired_token_is_refreshed_and_the_call_retried_once(as_user, alice, sandbox_settings):
    client = as_user(alice)
    credential = oauth_credential(client)
    sandbox_settings.pulsoid.expire(decrypt(credential.ciphertext).reveal())
    widgets = oauth.call_pulsoid(credential, alice, lambda c: c.list_widgets())
    assert len(widgets) == 2
    assert Credential.objects.get(pk=credential.pk).health == Health.OK


def test_a_401_makes_the_portal_refresh_and_retry_once(as_user, alice, sandbox_settings):
    client = as_user(alice)
    credential = oauth_credential(client)
    sandbox_settings.fault(
        "GET",
        "/pulsoid/api/v1/widgets",
        status=401,
        body=b'{"error_code": 7005, "error_message": "token_not_found"}',
    )
    widgets = oauth.call_pulsoid(credential, alice, lambda c: c.list_widgets())
    assert len(widgets) == 2
    assert len(sandbox_settings.requests_to("GET", "/pulsoid/api/v1/widgets")) == 2
    assert len(sandbox_settings.requests_to("POST", TOKEN_ENDPOINT)) == 2


def test_a_manual_token_is_never_refreshed(alice, pulsoid_credential, sandbox_settings):
    from integrations.errors import TokenRejected

    sandbox_settings.pulsoid.revoke(sandbox_settings.seed.pulsoid_full_token)
    with pytest.raises(TokenRejected):
        oauth.call_pulsoid(pulsoid_credential, alice, lambda c: c.list_widgets())
    assert sandbox_settings.requests_to("POST", TOKEN_ENDPOINT) == []
    assert Credential.objects.get(pk=pulsoid_credential.pk).health == Health.REJECTED


def test_a_failed_refresh_marks_the_credential_rejected(as_user, alice, sandbox_settings):
    from integrations.errors import GrantRejected

    client = as_user(alice)
    credential = oauth_credential(client)
    sandbox_settings.pulsoid.revoke(decrypt(oauth.grant_of(credential).refresh_ciphertext).reveal())
    with pytest.raises(GrantRejected):
        oauth.call_pulsoid(credential, alice, lambda c: c.list_widgets())
    stored = Credential.objects.get(pk=credential.pk)
    assert stored.health == Health.REJECTED
    assert "Refreshing failed" in stored.health_detail


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_leave_one_valid_pair(client, alice, sandbox_settings):
    client.force_login(alice)
    credential = oauth_credential(client)
    sandbox_settings.pulsoid.expire(decrypt(credential.ciphertext).reveal())
    # The first refresh answers slowly, so the second request arrives while it is under way.
    sandbox_settings.fault("POST", TOKEN_ENDPOINT, slow_body=0.6)
    stale = [Credential.objects.get(pk=credential.pk) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[object] = []

    def work(copy: Credential) -> None:
        try:
            start.wait()
            results.append(oauth.call_pulsoid(copy, alice, lambda c: len(c.list_widgets())))
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(copy,)) for copy in stale]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [2, 2]
    assert len(sandbox_settings.requests_to("POST", TOKEN_ENDPOINT)) == 2  # the code, one refresh
    stored = Credential.objects.get(pk=credential.pk)
    assert stored.health == Health.OK
    assert decrypt(stored.ciphertext).reveal() in sandbox_settings.pulsoid.tokens_of(
        sandbox_settings.seed.pulsoid_user_id
    )
    assert {s.ciphertext for s in stale} == {stored.ciphertext}


def test_unlinking_an_oauth_credential_revokes_it_upstream(as_user, alice, sandbox_settings):
    client = as_user(alice)
    credential = oauth_credential(client)
    access = decrypt(credential.ciphertext).reveal()
    response = client.post(reverse("credential-unlink", args=[credential.pk]))
    assert response.status_code == 302
    assert not Credential.objects.exists()
    assert len(sandbox_settings.requests_to("POST", "/pulsoid/oauth2/revoke")) == 1
    assert access not in sandbox_settings.pulsoid.tokens_of(sandbox_settings.seed.pulsoid_user_id)
    assert Activity.objects.get(action="credential unlinked").detail == "revoked at Pulsoid"


def test_unlinking_still_happens_when_the_revoke_fails(as_user, alice, sandbox_settings):
    client = as_user(alice)
    credential = oauth_credential(client)
    sandbox_settings.fault("POST", "/pulsoid/oauth2/revoke", status=503)
    response = client.post(reverse("credential-unlink", args=[credential.pk]))
    page = client.get(response["Location"]).content.decode()
    assert not Credential.objects.exists()
    assert "Pulsoid did not confirm revoking the token" in page
