"""Signing in on django-allauth: password reset and email change by mail, and upgrading a database
whose people signed in before allauth."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "A-fresh-pass-7731"


def link_in(mail) -> str:
    return re.search(r"https?://testserver(/\S+)", mail.body).group(1)


def test_a_forgotten_password_is_reset_from_the_emailed_link_which_works_once(
    client, alice, mailoutbox
):
    client.post(reverse("account_reset_password"), {"email": "alice@acme.test"})
    [mail] = mailoutbox
    assert mail.to == ["alice@acme.test"]
    link = link_in(mail)
    form_page = client.get(link, follow=True)
    assert b'name="password1"' in form_page.content
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # The same link again: refused, and the password stays.
    again = Client().get(link, follow=True).content.decode()
    assert 'name="password1"' not in again
    assert "invalid" in again.lower()
    assert (
        Client()
        .post(reverse("account_login"), {"login": "alice@acme.test", "password": NEW_PASSWORD})
        .status_code
        == 302
    )


def test_a_reset_link_older_than_its_lifetime_is_refused(client, alice, mailoutbox, settings):
    client.post(reverse("account_reset_password"), {"email": "alice@acme.test"})
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is now past its hour
    page = client.get(link_in(mailoutbox[0]), follow=True).content.decode()
    assert 'name="password1"' not in page
    assert "invalid" in page.lower()


def test_a_reset_for_an_unknown_address_says_nothing_about_who_is_here(client, db, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@acme.test"})
    assert response.status_code == 302  # the same "check your email" as for a known address
    assert all("nobody@acme.test" not in m.to or "reset" not in m.body for m in mailoutbox)


def test_changing_the_email_takes_effect_once_the_new_address_is_confirmed(
    as_user, alice, mailoutbox
):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=alice).update(verified=True)  # she confirmed it long ago
    client = as_user(alice)
    client.post(reverse("account_email"), {"action_add": "", "email": "alice@new.test"})
    # Not usable before it is confirmed: making it the login address is refused.
    client.post(reverse("account_email"), {"action_primary": "", "email": "alice@new.test"})
    alice.refresh_from_db()
    assert alice.email == "alice@acme.test"
    [mail] = [m for m in mailoutbox if m.to == ["alice@new.test"]]
    client.post(link_in(mail))
    client.post(reverse("account_email"), {"action_primary": "", "email": "alice@new.test"})
    alice.refresh_from_db()
    assert alice.email == "alice@new.test"
    assert (
        Client()
        .post(reverse("account_login"), {"login": "alice@new.test", "password": PASSWORD})
        .status_code
        == 302
    )


# Upgrading


BEFORE_ALLAUTH = [
    ("accounts", "0006_credential_moves_to_integrations"),
    ("account", None),
    ("mfa", None),
    ("usersessions", None),
    ("socialaccount", None),
]


@pytest.mark.django_db(transaction=True)
def test_people_keep_their_argon2_passwords_teams_roles_and_sessions_across_the_switch(settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_ALLAUTH)
    old = executor.loader.project_state([BEFORE_ALLAUTH[0]]).apps
    OldUser = old.get_model("accounts", "User")
    Team = old.get_model("accounts", "Team")
    Membership = old.get_model("accounts", "Membership")
    hashed = make_password(PASSWORD, hasher="argon2")
    person = OldUser.objects.create(email="early@acme.test", password=hashed, name="Early")
    team = Team.objects.create(name="Early birds")
    Membership.objects.create(user=person, team=team, role="admin")
    session = SessionStore()
    session["_auth_user_id"] = str(person.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = User(password=hashed).get_session_auth_hash()
    session.create()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from allauth.account.models import EmailAddress

    upgraded = User.objects.get(pk=person.pk)
    assert upgraded.password == hashed  # the same Argon2 hash, not re-hashed or reset
    assert EmailAddress.objects.get(user=upgraded).email == "early@acme.test"
    # The session from before the switch still signs them in, in their team with their role.
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    page = browser.get(reverse("credentials"))
    assert page.status_code == 200
    assert "Early birds (Admin)" in page.content.decode()
    # And their password logs them in through allauth.
    fresh = Client().post(
        reverse("account_login"), {"login": "early@acme.test", "password": PASSWORD}
    )
    assert fresh.status_code == 302
    assert "sessionid" in fresh.cookies
