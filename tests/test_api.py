"""The portal's API, as a script uses it: personal access tokens, the upstream work done with the
team's credential, problem details, idempotent creates, and the activity log naming the token."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import api_tokens
from accounts.models import AccessToken, Activity, Membership, Role

ALL = list(api_tokens.SCOPES)


def token_for(person, team, scopes=ALL, name="Script"):
    return api_tokens.create(person, team, name, scopes, days=30)[1]


def api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_is_shown_once_recognisable_and_stored_only_as_a_hash(alice, acme):
    record, value = api_tokens.create(alice, acme, "Script", ["apps:read"], days=30)
    assert value.startswith("ptp_")
    assert len(value) == 40
    assert api_tokens.well_formed(value)
    assert not api_tokens.well_formed(value[:-1] + ("A" if value[-1] != "A" else "B"))
    stored = AccessToken.objects.get(pk=record.pk)
    assert value not in repr(stored.__dict__)
    assert stored.prefix == value[:8]


def test_apps_are_listed_created_and_renamed_through_the_teams_credential(
    bob, acme, pulsetracker_credential, sandbox_settings
):
    client = api(token_for(bob, acme, ["apps:read", "apps:write"], name="Spreadsheet"))
    listed = client.get(f"/api/v1/apps/{pulsetracker_credential.pk}?page=2").json()
    assert (listed["current_page"], listed["total"], len(listed["items"])) == (2, 30, 12)
    created = client.post(
        f"/api/v1/apps/{pulsetracker_credential.pk}",
        {"name": "From a script"},
        content_type="application/json",
    )
    assert created.status_code == 201
    key = created.json()["key"]
    renamed = client.patch(
        f"/api/v1/apps/{pulsetracker_credential.pk}/{key}",
        {"name": "Renamed by a script"},
        content_type="application/json",
    )
    assert renamed.json()["name"] == "Renamed by a script"
    entry = Activity.objects.filter(team=acme, action="app created").get()
    assert (entry.actor, entry.via) == (bob, "API token Spreadsheet")
    assert Activity.objects.filter(team=acme, action="API read", actor=bob).exists()
    token = sandbox_settings.seed.pulsetracker_paid_token
    body = created.content.decode() + listed.__repr__()
    assert token not in body


def test_a_retried_create_with_the_same_idempotency_key_makes_one_app(
    bob, acme, pulsetracker_credential, sandbox_settings
):
    client = api(token_for(bob, acme))
    url = f"/api/v1/apps/{pulsetracker_credential.pk}"
    first = client.post(
        url, {"name": "Once"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = client.post(
        url, {"name": "Once"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert len(sandbox_settings.requests_to("POST", "/pulsetracker/api/apps")) == 1


def test_upstream_refusals_are_problem_details_with_the_upstreams_kind(
    alice, bob, acme, sandbox_settings
):
    from accounts.crypto import Secret
    from integrations import credentials

    free, _ = credentials.link(
        acme, alice, "pulsetracker", "Free", Secret(sandbox_settings.seed.pulsetracker_free_token)
    )
    client = api(token_for(bob, acme))
    answer = client.post(
        f"/api/v1/apps/{free.pk}", {"name": "Second"}, content_type="application/json"
    )
    assert answer.status_code == 403
    assert answer["Content-Type"] == "application/problem+json"
    problem = answer.json()
    assert (problem["kind"], problem["upstream_status"]) == ("upstream-quota", 403)
    assert "quota" in problem["detail"]
    invalid = client.post(f"/api/v1/apps/{free.pk}", {}, content_type="application/json")
    assert invalid.status_code == 422
    assert invalid.json()["kind"] == "validation"


def test_what_a_token_may_do_follows_its_owners_role_now(alice, bob, acme, pulsetracker_credential):
    client = api(token_for(bob, acme, ["apps:read", "apps:write", "activity:read"]))
    url = f"/api/v1/apps/{pulsetracker_credential.pk}"
    # A member's token never reads the activity log, whatever scopes it was given.
    answer = client.get("/api/v1/activity")
    assert answer.status_code == 403
    assert answer.json()["scope"] == "activity:read"
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)  # demoted
    demoted = client.post(url, {"name": "x"}, content_type="application/json")
    assert demoted.status_code == 403
    assert demoted.json()["scope"] == "apps:write"
    assert client.get(url).status_code == 200  # reading is still his
    Membership.objects.filter(user=bob).delete()  # he left the team
    assert client.get(url).status_code == 401


def test_another_teams_credential_is_404_and_no_token_is_401(
    mallory, other_team, pulsetracker_credential
):
    client = api(token_for(mallory, other_team))
    assert client.get(f"/api/v1/apps/{pulsetracker_credential.pk}").status_code == 404
    anonymous = Client().get("/api/v1/credentials")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    assert (
        Client(HTTP_AUTHORIZATION="Bearer ptp_nonsense").get("/api/v1/credentials").status_code
        == 401
    )


def test_credentials_are_listed_with_health_and_never_a_token(
    carol, acme, pulsoid_credential, sandbox_settings
):
    answer = api(token_for(carol, acme, ["credentials:read"])).get("/api/v1/credentials")
    [found] = answer.json()
    assert found["label"] == "Streamer"
    assert found["health"] == "ok"
    assert "widgets:read" in found["scopes"]
    assert sandbox_settings.seed.pulsoid_full_token not in answer.content.decode()


def test_widgets_are_created_updated_and_read(bob, acme, pulsoid_credential):
    client = api(token_for(bob, acme))
    base = f"/api/v1/widgets/{pulsoid_credential.pk}"
    created = client.post(
        base, {"name": "Raid", "configuration": {"heart": True}}, content_type="application/json"
    )
    assert created.status_code == 201
    wid = created.json()["id"]
    updated = client.put(
        f"{base}/{wid}", {"configuration": {"heart": False}}, content_type="application/json"
    )
    assert updated.json()["configuration"]["heart"] is False
    assert any(w["id"] == wid for w in client.get(base).json())
    assert "bpm" in client.get(f"{base}/heart-rate").json()


def test_revoked_and_expired_tokens_stop_working(bob, acme, pulsetracker_credential):
    record, value = api_tokens.create(bob, acme, "Old", ["apps:read"], days=30)
    url = f"/api/v1/apps/{pulsetracker_credential.pk}"
    assert api(value).get(url).status_code == 200
    api_tokens.revoke(record, bob)
    assert api(value).get(url).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
def test_the_schema_and_its_docs_page_are_served(client, path):
    assert client.get(path).status_code == 200
