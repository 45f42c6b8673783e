"""Second factors through the portal's own screens, with Django's test client: confirming a
sensitive action, reaching the admin, and what waits for a verified address. The journeys a person
clicks through (turning factors on, logging in with them) are in test_browser_mfa.py."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Role, User
from tests.conftest import PASSWORD, fresh_totp_code, verify_email, wrong_totp_code


def log_in(client: Client, email: str, next_url: str = "") -> str:
    """Email and password on the log-in page; returns where the portal sends the person."""
    data = {"login": email, "password": PASSWORD} | ({"next": next_url} if next_url else {})
    response = client.post(reverse("account_login"), data)
    assert response.status_code == 302, response.content
    return response["Location"]


def turn_on_authenticator_app(client: Client) -> str:
    """What a logged-in person does on the activation page: confirm with the password, read the
    secret, type the app's code. Returns the secret."""
    confirmed = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert confirmed.status_code == 302
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret"\s+value="([A-Z2-7]+)"', page).group(1)
    activated = client.post(reverse("mfa_activate_totp"), {"code": fresh_totp_code(secret)})
    assert activated["Location"] == reverse("mfa_view_recovery_codes")
    return secret


def as_if_confirmed_long_ago(client: Client) -> None:
    """No recent log-in or confirmation in the session, as after PORTAL_SUDO_SECONDS."""
    session = client.session
    session.pop(AUTHENTICATION_METHODS_SESSION_KEY, None)
    session.save()


def test_a_sensitive_action_asks_a_person_with_an_authenticator_app_for_a_code(client, alice, bob):
    verify_email(alice)
    log_in(client, alice.email)
    secret = turn_on_authenticator_app(client)
    as_if_confirmed_long_ago(client)
    members = reverse("accounts:members")
    change_role = reverse("accounts:member-role", args=[Membership.objects.get(user=bob).pk])

    refused = client.post(change_role, {"role": "admin"}).content.decode()
    assert "confirm it is you first" in refused
    confirm = reverse("mfa_reauthenticate") + "?" + urlencode({"next": members})
    assert f'href="{confirm.replace("&", "&amp;")}"' in refused
    assert Membership.objects.get(user=bob).role == Role.MEMBER
    # The link asks for the authenticator app's code.
    question = client.get(confirm).content.decode()
    assert "Enter an authenticator code" in question
    assert 'name="code"' in question
    wrong = client.post(confirm, {"code": wrong_totp_code(secret), "next": members})
    assert "Incorrect code." in wrong.content.decode()
    assert "confirm it is you first" in client.post(change_role, {"role": "admin"}).content.decode()
    assert Membership.objects.get(user=bob).role == Role.MEMBER

    back = client.post(confirm, {"code": fresh_totp_code(secret), "next": members})
    assert back.status_code == 302
    assert back["Location"] == members
    client.post(change_role, {"role": "admin"})
    assert Membership.objects.get(user=bob).role == Role.ADMIN


def test_recovery_codes_shown_again_later_ask_to_confirm_it_is_you_first(client, alice):
    verify_email(alice)
    log_in(client, alice.email)
    turn_on_authenticator_app(client)
    codes_page = reverse("mfa_view_recovery_codes")
    codes = re.compile(r"\d{8}\n\d{8}")
    assert codes.search(client.get(codes_page).content.decode())
    as_if_confirmed_long_ago(client)
    # allauth's own pages ask for the password first (the code is one of the alternatives).
    asked = client.get(codes_page, follow=True)
    assert asked.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert not codes.search(asked.content.decode())
    assert "Use authenticator app or code" in asked.content.decode()
    download = client.get(reverse("mfa_download_recovery_codes"))
    assert download.status_code == 302
    assert not codes.search(download.content.decode())
    client.post(asked.redirect_chain[-1][0], {"password": PASSWORD})
    assert codes.search(client.get(codes_page).content.decode())


def test_the_admin_asks_an_operator_with_a_second_factor_for_the_code_too(client, db):
    operator = User.objects.create_superuser("operator@portal.test", PASSWORD)
    verify_email(operator)
    log_in(client, operator.email)
    secret = turn_on_authenticator_app(client)

    browser = Client()
    # The admin's own log-in form is not used: it sends operators to the portal's.
    first = browser.get("/admin/", follow=True).redirect_chain[-1][0]
    assert first == reverse("account_login") + "?" + urlencode({"next": "/admin/"})
    assert log_in(browser, operator.email, next_url="/admin/") == reverse("mfa_authenticate")
    assert browser.get("/admin/").status_code == 302  # the password alone is not enough
    done = browser.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(secret)})
    assert done["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_a_second_factor_waits_until_the_email_address_is_verified(client, alice):
    log_in(client, alice.email)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    refused = client.get(reverse("mfa_activate_totp"), follow=True)
    assert refused.redirect_chain[-1][0] == reverse("mfa_index")
    assert "until you have verified your email address" in refused.content.decode()
    assert client.get(reverse("mfa_add_webauthn"))["Location"] == reverse("mfa_index")
    verify_email(alice)
    assert 'id="authenticator_secret"' in client.get(reverse("mfa_activate_totp")).content.decode()


def test_second_factor_secrets_survive_a_key_rotation(alice, settings, capsys):
    """The authenticator app's key is encrypted with the portal's keys and rotated with them."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from tests.conftest import totp_code

    TOTP.activate(alice, "JBSWY3DPEHPK3PXP")
    old_key = settings.ENCRYPTION_KEYS[0]
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys")
    assert "Re-encrypted 1 secret(s)" in capsys.readouterr().out
    settings.ENCRYPTION_KEYS = settings.ENCRYPTION_KEYS[:1]  # the old key is gone
    totp = TOTP(Authenticator.objects.get(user=alice, type=Authenticator.Type.TOTP))
    assert totp.validate_code(totp_code("JBSWY3DPEHPK3PXP"))
