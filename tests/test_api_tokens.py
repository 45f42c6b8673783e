"""API tokens in the account pages: made and shown once, listed with their use, revoked by their
owner or by an owner of the team, and limited to what the person's role allows."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from accounts import api_tokens
from accounts.models import AccessToken, Activity


def create(client, name="Deploy script", scopes=("apps:read",), days=30):
    return client.post(
        reverse("accounts:token-create"), {"name": name, "scopes": list(scopes), "days": days}
    )


def test_a_token_is_shown_once_then_listed_without_its_value(as_user, bob, acme):
    client = as_user(bob)
    page = create(client).content.decode()
    value = page.split('data-testid="token-value">')[1].split("<")[0]
    assert api_tokens.well_formed(value)
    listed = client.get(reverse("accounts:tokens")).content.decode()
    assert value not in listed
    assert "Deploy script" in listed
    assert value[:8] in listed  # its prefix, to recognise it
    assert Activity.objects.filter(team=acme, action="API token created", actor=bob).exists()


def test_the_list_shows_when_and_from_where_a_token_was_last_used(
    as_user, bob, acme, pulsetracker_credential
):
    _record, value = api_tokens.create(bob, acme, "Script", ["apps:read"], days=30)
    Client(HTTP_AUTHORIZATION=f"Bearer {value}", REMOTE_ADDR="192.0.2.44").get(
        f"/api/v1/apps/{pulsetracker_credential.pk}"
    )
    row = as_user(bob).get(reverse("accounts:tokens")).content.decode()
    assert "192.0.2.44" in row


def test_a_person_may_give_a_token_only_what_their_role_allows(as_user, carol):
    client = as_user(carol)  # a viewer
    answer = create(client, scopes=["apps:write"]).content.decode()
    assert "not one of the available choices" in answer
    assert not AccessToken.objects.filter(user=carol).exists()


def test_at_most_a_year(as_user, bob):
    answer = create(as_user(bob), days=400).content.decode()
    assert "less than or equal to 365" in answer


def test_owners_see_and_revoke_any_token_of_the_team_and_nobody_else_can(
    as_user, alice, bob, carol, acme
):
    record, value = api_tokens.create(bob, acme, "Bob's script", ["apps:read"], days=30)
    owner = as_user(alice)
    assert "Bob&#x27;s script" in owner.get(reverse("accounts:tokens")).content.decode()
    viewer = Client()
    viewer.force_login(carol)
    refused = viewer.post(reverse("accounts:token-revoke", args=[record.pk]))
    assert refused.status_code == 404
    owner.post(reverse("accounts:token-revoke", args=[record.pk]))
    assert not AccessToken.objects.get(pk=record.pk).active
    assert api_tokens.authenticate(value, None) is None
