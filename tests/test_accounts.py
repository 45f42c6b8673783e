"""Sign-up, log-in, log-out, password change, teams and switching between them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.access import Action, may
from accounts.models import Membership, Role, Team, User

PASSWORD = "Pw-for-tests-991"


@pytest.mark.django_db
def test_signing_up_creates_the_persons_first_team_with_them_as_owner(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "New@Example.test",
            "name": "Nia",
            "team_name": "Nia's crew",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.test")
    membership = Membership.objects.get(user=user)
    assert (membership.team.name, membership.role) == ("Nia's crew", Role.OWNER)
    page = client.get(response["Location"]).content.decode()
    assert "Nia&#x27;s crew (Owner)" in page


@pytest.mark.django_db
def test_sign_up_errors_come_back_with_what_was_typed(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "someone@example.test",
            "name": "Someone New",
            "password1": PASSWORD,
            "password2": "different",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "same password each time" in body
    assert 'value="Someone New"' in body
    assert 'value="someone@example.test"' in body
    assert PASSWORD not in body


@pytest.mark.django_db
def test_signing_up_with_a_taken_address_says_so_and_keeps_the_rest(client, alice):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "alice@acme.test",
            "name": "Alice Two",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    body = response.content.decode()
    assert "already registered with this email address" in body
    assert 'value="Alice Two"' in body
    assert User.objects.filter(email="alice@acme.test").count() == 1


@pytest.mark.django_db
def test_closed_sign_up_is_not_offered_and_refused(client, settings):
    settings.PORTAL_OPEN_SIGNUP = False
    assert "Create an account" not in client.get(reverse("accounts:login")).content.decode()
    response = client.post(
        reverse("accounts:signup"),
        {"email": "x@y.test", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert "ask an owner of your team for an invitation" in response.content.decode()
    assert not User.objects.filter(email="x@y.test").exists()


@pytest.mark.django_db
def test_log_in_with_email_and_password_then_log_out(client, alice):
    from tests.conftest import PASSWORD as PERSONA_PASSWORD

    wrong = client.post(reverse("accounts:login"), {"login": "alice@acme.test", "password": "nope"})
    assert "email address and/or password you specified are not correct" in wrong.content.decode()
    assert 'value="alice@acme.test"' in wrong.content.decode()
    response = client.post(
        reverse("accounts:login"), {"login": "ALICE@acme.test", "password": PERSONA_PASSWORD}
    )
    assert response.status_code == 302
    assert "alice@acme.test" in client.get(reverse("credentials")).content.decode()
    client.post(reverse("account_logout"))
    assert client.get(reverse("credentials")).status_code == 302


@pytest.mark.django_db
def test_change_password(as_user, alice):
    from tests.conftest import PASSWORD as PERSONA_PASSWORD

    client = as_user(alice)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": PERSONA_PASSWORD,
            "password1": "A-new-pass-4471",
            "password2": "A-new-pass-4471",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("A-new-pass-4471")


@pytest.mark.django_db
def test_a_person_in_several_teams_switches_and_every_page_shows_the_active_one(
    as_user, alice, other_team
):
    Membership.objects.create(user=alice, team=other_team, role=Role.VIEWER)
    client = as_user(alice)
    page = client.get(reverse("credentials")).content.decode()
    assert "Credentials of Acme Fleet" in page
    assert "Mallory Inc (Viewer)" in page
    client.post(reverse("accounts:team-switch"), {"team": other_team.pk, "next": "/credentials/"})
    page = client.get(reverse("credentials")).content.decode()
    assert "Credentials of Mallory Inc" in page
    assert "Link a token" not in page  # a viewer there
    assert "selected>Mallory Inc (Viewer)" in page
    assert "Mallory Inc" in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_switching_to_a_team_one_is_not_in_is_404(as_user, alice, other_team):
    client = as_user(alice)
    assert client.post(reverse("accounts:team-switch"), {"team": other_team.pk}).status_code == 404


@pytest.mark.django_db
def test_creating_another_team_makes_its_creator_owner_and_active(as_user, bob, acme):
    client = as_user(bob)
    client.post(reverse("accounts:team-create"), {"name": "Side project"})
    team = Team.objects.get(name="Side project")
    assert Membership.objects.get(user=bob, team=team).role == Role.OWNER
    assert "Credentials of Side project" in client.get(reverse("credentials")).content.decode()


@pytest.mark.django_db
def test_removing_a_membership_takes_effect_on_the_next_request(as_user, bob, acme):
    client = as_user(bob)
    assert client.get(reverse("credentials")).status_code == 200
    Membership.objects.filter(user=bob, team=acme).delete()
    response = client.get(reverse("credentials"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:team-create")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Action.READ}),
        (Role.MEMBER, {Action.READ, Action.CHANGE_UPSTREAM}),
        (Role.ADMIN, {Action.READ, Action.CHANGE_UPSTREAM, Action.MANAGE_CREDENTIALS}),
        (Role.OWNER, set(Action)),
    ],
)
def test_each_role_may_do_what_the_weaker_roles_may_and_a_bit_more(role, allowed):
    membership = Membership(role=role)
    assert {action for action in Action if may(membership, action)} == allowed
    assert not may(None, Action.READ)


@pytest.mark.django_db
def test_operators_have_createsuperuser_and_django_admin(client):
    call_command("createsuperuser", "--noinput", email="root@portal.test", verbosity=0)
    root = User.objects.get(email="root@portal.test")
    assert root.is_superuser
    client.force_login(root)
    for model in ("user", "team", "membership", "invitation", "activity"):
        assert client.get(reverse(f"admin:accounts_{model}_changelist")).status_code == 200
    assert client.get(reverse("admin:integrations_credential_changelist")).status_code == 200
    assert client.get(reverse("admin:integrations_credential_add")).status_code == 403
