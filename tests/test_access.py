"""Who may do what: every view for every role, plus someone from another team."""

from __future__ import annotations

import pytest
from django.urls import reverse

ROLES = ["viewer", "member", "admin", "owner"]
PEOPLE = {"viewer": "carol", "member": "bob", "admin": "ada", "owner": "alice"}

# (url name, method, needs a credential id, weakest role allowed)
VIEWS = [
    ("credentials", "get", False, "viewer"),
    ("credential-link", "post", False, "admin"),
    ("credential-check", "post", True, "admin"),
    ("credential-replace", "get", True, "admin"),
    ("credential-replace", "post", True, "admin"),
    ("credential-unlink", "get", True, "admin"),
    ("credential-unlink", "post", True, "admin"),
    ("accounts:activity", "get", False, "admin"),
]


def url_for(name: str, needs_id: bool, credential) -> str:
    return reverse(name, args=[credential.pk]) if needs_id else reverse(name)


@pytest.mark.parametrize(("name", "method", "needs_id", "weakest"), VIEWS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_it_may(
    request, client, pulsetracker_credential, name, method, needs_id, weakest, role
):
    person = request.getfixturevalue(PEOPLE[role])
    client.force_login(person)
    url = url_for(name, needs_id, pulsetracker_credential)
    response = getattr(client, method)(url, {"token": "", "label": "", "service": "pulsetracker"})
    if ROLES.index(role) >= ROLES.index(weakest):
        assert response.status_code in (200, 302), response.status_code
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("name", "method", "needs_id", "weakest"), VIEWS)
def test_another_teams_objects_answer_404(
    client, pulsetracker_credential, mallory, name, method, needs_id, weakest
):
    client.force_login(mallory)
    response = getattr(client, method)(url_for(name, needs_id, pulsetracker_credential))
    if needs_id:
        assert response.status_code == 404
    else:
        assert response.status_code in (200, 302)
        assert b"Acme Live" not in response.content
        assert f"…{pulsetracker_credential.last4}".encode() not in response.content


@pytest.mark.parametrize(("name", "method", "needs_id", "weakest"), VIEWS)
def test_anonymous_visitors_are_sent_to_log_in(
    client, pulsetracker_credential, name, method, needs_id, weakest
):
    url = url_for(name, needs_id, pulsetracker_credential)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_an_htmx_request_without_a_session_gets_hx_redirect_not_a_302(
    client, pulsetracker_credential
):
    response = client.post(
        reverse("credential-check", args=[pulsetracker_credential.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    ("name", "method", "needs_id", "weakest"), [v for v in VIEWS if v[1] == "post"]
)
def test_every_mutation_enforces_csrf(
    pulsetracker_credential, alice, name, method, needs_id, weakest
):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(url_for(name, needs_id, pulsetracker_credential), {"label": "x"})
    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_members_and_viewers_see_the_list_without_any_control(
    client, pulsetracker_credential, bob, carol
):
    for person in (bob, carol):
        client.force_login(person)
        page = client.get(reverse("credentials")).content.decode()
        assert "Acme Live" in page
        assert f"…{pulsetracker_credential.last4}" in page
        assert "Check now" not in page
        assert "Replace token" not in page
        assert "Unlink" not in page
        assert "Link a token" not in page
