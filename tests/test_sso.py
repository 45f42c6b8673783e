"""Single sign-on with an OpenID Connect provider: the sandbox's, over real HTTP on loopback.

The portal is configured the way an operator configures it, from PORTAL_OIDC_* (the settings
file is read again with those variables set). A log-in goes as a browser's would: the button's
form on the log-in page, the provider's authorize endpoint (which signs the configured person in
at once), back to the portal's callback, which exchanges the code at the provider's token
endpoint and reads its userinfo.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import runpy
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts import team
from accounts.models import Invitation, Membership, User
from integrations.sandbox.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.conftest import PASSWORD

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "portal" / "settings.py"
BUTTON_NAME = "Sandbox ID"
CALLBACK = "/accounts/oidc/sso/login/callback/"


# ----------------------------------------------------------------------------- configuration


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """The settings the portal would have with these variables set (and DEBUG on)."""
    for name in (
        "PORTAL_OIDC_ISSUER",
        "PORTAL_OIDC_CLIENT_ID",
        "PORTAL_OIDC_CLIENT_SECRET",
        "PORTAL_OIDC_NAME",
        "PORTAL_SSO_ONLY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEBUG", "1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


@pytest.fixture
def provider_env(sandbox) -> dict[str, str]:
    """The variables that point the portal at the sandbox's provider."""
    return {
        "PORTAL_OIDC_ISSUER": sandbox.oidc_issuer,
        "PORTAL_OIDC_CLIENT_ID": CLIENT_ID,
        "PORTAL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PORTAL_OIDC_NAME": BUTTON_NAME,
    }


@pytest.fixture
def sso(sandbox, provider_env, settings, monkeypatch) -> OidcProvider:
    """Single sign-on on, against the sandbox's provider; open sign-up off."""
    configured = settings_from(monkeypatch, **provider_env)
    settings.SOCIALACCOUNT_PROVIDERS = configured["SOCIALACCOUNT_PROVIDERS"]
    settings.PORTAL_OPEN_SIGNUP = False
    return sandbox.oidc


@pytest.fixture
def sso_only(sso, provider_env, settings, monkeypatch) -> OidcProvider:
    """As `sso`, with PORTAL_SSO_ONLY on."""
    configured = settings_from(monkeypatch, **provider_env, PORTAL_SSO_ONLY="1")
    settings.PORTAL_SSO_ONLY = configured["PORTAL_SSO_ONLY"]
    settings.MFA_PASSKEY_LOGIN_ENABLED = configured["MFA_PASSKEY_LOGIN_ENABLED"]
    return sso


def test_sso_is_configured_from_the_three_variables_with_a_default_label(monkeypatch):
    configured = settings_from(
        monkeypatch,
        PORTAL_OIDC_ISSUER="https://id.example.com/realms/team/",
        PORTAL_OIDC_CLIENT_ID="portal",
        PORTAL_OIDC_CLIENT_SECRET="s3cret",
    )
    [app] = configured["SOCIALACCOUNT_PROVIDERS"]["openid_connect"]["APPS"]
    assert app["provider_id"] == "sso"
    assert app["name"] == "single sign-on"
    assert app["client_id"] == "portal"
    assert app["secret"] == "s3cret"
    assert app["settings"]["server_url"] == "https://id.example.com/realms/team"
    assert app["settings"]["scope"] == ["openid", "email", "profile"]
    assert configured["SOCIALACCOUNT_ADAPTER"] == "accounts.adapter.PortalSocialAccountAdapter"
    assert configured["SOCIALACCOUNT_EMAIL_AUTHENTICATION"] is True
    assert configured["SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT"] is True
    assert configured["SOCIALACCOUNT_AUTO_SIGNUP"] is True
    assert configured["PORTAL_SSO_ONLY"] is False
    # The secret is a setting only inside the provider's entry, where error reports hide it.
    assert "_oidc_secret" not in configured
    assert [name for name, value in configured.items() if value == "s3cret"] == []


def test_without_the_variables_there_is_no_provider_and_half_a_configuration_is_refused(
    monkeypatch,
):
    assert settings_from(monkeypatch)["SOCIALACCOUNT_PROVIDERS"] == {}
    with pytest.raises(ImproperlyConfigured, match="PORTAL_OIDC_CLIENT_SECRET"):
        settings_from(monkeypatch, PORTAL_OIDC_ISSUER="https://id.example.com")
    with pytest.raises(ImproperlyConfigured, match="nobody could log in"):
        settings_from(monkeypatch, PORTAL_SSO_ONLY="1")


def test_sso_only_also_turns_off_passkey_log_in(monkeypatch, provider_env):
    configured = settings_from(monkeypatch, **provider_env, PORTAL_SSO_ONLY="yes")
    assert configured["PORTAL_SSO_ONLY"] is True
    assert configured["MFA_PASSKEY_LOGIN_ENABLED"] is False
    # allauth's own switch stays off: it cannot run beside allauth.mfa.
    assert configured["SOCIALACCOUNT_ONLY"] is False


def test_the_redirect_uri_to_register_is_allauths_callback_for_provider_sso():
    assert reverse("openid_connect_callback", kwargs={"provider_id": "sso"}) == CALLBACK


# ----------------------------------------------------------------------------- the provider


def test_the_sandbox_provider_signs_an_id_token_its_jwks_verifies_and_checks_the_client(sandbox):
    issuer = sandbox.oidc_issuer
    config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert config["issuer"] == issuer
    person = sandbox.oidc.sign_in_as("ivy@sso.test", name="Ivy", email_verified=False)
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    redirect_uri = "http://portal.test/accounts/oidc/sso/login/callback/"
    authorize = requests.get(
        config["authorization_endpoint"],
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid email profile",
            "state": "st4te",
            "nonce": "n0nce",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert authorize.status_code == 302
    location = authorize.headers["Location"]
    assert location.startswith(redirect_uri + "?")
    assert "state=st4te" in location
    code = re.search(r"code=([^&]+)", location).group(1)

    def exchange(**changes: str) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code_verifier": verifier,
            **changes,
        }
        return requests.post(config["token_endpoint"], data=form, timeout=5)

    assert exchange(client_secret="wrong").status_code == 401
    assert exchange(code_verifier="x" * 50).json()["error"] == "invalid_grant"  # code used up
    # A fresh code, exchanged properly (client_secret_basic this time).
    authorize = requests.get(authorize.url, allow_redirects=False, timeout=5)
    code = re.search(r"code=([^&]+)", authorize.headers["Location"]).group(1)
    answer = requests.post(
        config["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    keys = jwt.PyJWKClient(config["jwks_uri"])
    claims = jwt.decode(
        tokens["id_token"],
        keys.get_signing_key_from_jwt(tokens["id_token"]).key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=issuer,
    )
    assert claims["sub"] == person.sub
    assert claims["email"] == "ivy@sso.test"
    assert claims["email_verified"] is False
    assert claims["nonce"] == "n0nce"
    userinfo = requests.get(
        config["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    ).json()
    assert userinfo == {
        "sub": person.sub,
        "email": "ivy@sso.test",
        "email_verified": False,
        "name": "Ivy",
    }
    assert requests.get(config["userinfo_endpoint"], timeout=5).status_code == 401
    # An unknown client is never sent back anywhere.
    stranger = requests.get(
        config["authorization_endpoint"],
        params={"client_id": "someone-else", "redirect_uri": redirect_uri, "response_type": "code"},
        allow_redirects=False,
        timeout=5,
    )
    assert stranger.status_code == 400


# ----------------------------------------------------------------------------- the journey


def sso_log_in(client: Client, *, login_page: str | None = None) -> Any:
    """Press "Log in with ..." on the log-in page and follow the provider's answer back.

    Returns the portal's answer to the callback (a redirect when the person got in)."""
    page = client.get(login_page or reverse("account_login"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Log in with {BUTTON_NAME}" in html
    action = re.search(r'<form method="post" action="(/accounts/oidc/sso/login/[^"]*)"', html)
    assert action, "no single sign-on form on the log-in page"
    start = client.post(action.group(1).replace("&amp;", "&"))
    assert start.status_code == 302, start.status_code
    authorize = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert authorize.status_code == 302, authorize.text
    back = authorize.headers["Location"]
    assert back.startswith("http://testserver" + CALLBACK), back
    return client.get(back.removeprefix("http://testserver"))


def signed_in_as(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


@pytest.fixture
def nina_invited(acme, alice) -> Invitation:
    invitation, _link = team.invite(acme, alice, "nina@acme.test", "admin", link_for=str)
    return invitation


def test_the_log_in_page_offers_the_provider_under_its_configured_name(db, client, sso, sandbox):
    answer = client.get(reverse("account_login"))
    page = answer.content.decode()
    assert 'data-testid="sso-login"' in page
    assert f"Log in with {BUTTON_NAME}" in page
    assert 'name="password"' in page  # passwords still work beside it
    # The button's form is redirected to the provider: its origin may receive the form.
    [form_action] = [d for d in answer["Content-Security-Policy"].split(";") if "form-action" in d]
    assert sandbox.url in form_action.split()


def test_a_link_to_the_providers_log_in_asks_to_continue_so_no_other_site_can_start_it(
    db, client, sso, sandbox
):
    page = client.get("/accounts/oidc/sso/login/?process=login")
    assert page.status_code == 200
    assert 'data-testid="sso-continue"' in page.content.decode()
    assert sandbox.requests_to("*", "/oidc/") == []  # nothing asked of the provider yet


def test_without_sso_the_log_in_page_has_no_button_and_the_policy_no_provider(db, client):
    answer = client.get(reverse("account_login"))
    assert 'data-testid="sso-login"' not in answer.content.decode()
    assert "form-action 'self' https://pulsoid.net" in answer["Content-Security-Policy"]


def test_a_first_sso_log_in_of_an_invited_address_joins_that_team_with_its_role(
    client, sso, acme, nina_invited
):
    sso.sign_in_as("Nina@acme.test", name="Nina Novak")
    answer = sso_log_in(client)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("home")
    nina = signed_in_as(client)
    assert nina is not None
    assert nina.email == "nina@acme.test"
    assert nina.name == "Nina Novak"
    assert not nina.has_usable_password()
    membership = Membership.objects.get(user=nina)
    assert (membership.team, membership.role) == (acme, "admin")
    nina_invited.refresh_from_db()
    assert nina_invited.state == "accepted"
    assert nina_invited.accepted_by == nina
    page = client.get(answer["Location"]).content.decode()
    assert "Acme Fleet (Admin)" in page
    assert "Welcome to Acme Fleet!" in page


def test_an_invitation_opened_in_this_browser_brings_its_invitee_in_even_unverified(
    client, sso, acme, alice
):
    _invitation, link = team.invite(
        acme, alice, "olga@acme.test", "viewer", link_for=lambda s: f"/accounts/invitations/{s}/"
    )
    client.get(link)  # opened while signed out: remembered in the session
    sso.sign_in_as("olga@acme.test", email_verified=False, name="Olga")
    answer = sso_log_in(client)
    assert answer.status_code == 302
    olga = signed_in_as(client)
    assert olga is not None
    assert olga.email == "olga@acme.test"
    assert Membership.objects.get(user=olga).role == "viewer"


def test_an_unverified_provider_address_claims_no_invitation(client, sso, nina_invited):
    sso.sign_in_as("nina@acme.test", email_verified=False)
    answer = sso_log_in(client)
    assert answer.status_code == 200
    assert 'data-testid="signup-closed"' in answer.content.decode()
    assert signed_in_as(client) is None
    assert not User.objects.filter(email="nina@acme.test").exists()
    nina_invited.refresh_from_db()
    assert nina_invited.state == "pending"


def test_an_existing_person_with_the_same_verified_address_lands_in_their_own_account(
    client, sso, alice, acme
):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=alice).update(verified=True)
    sso.sign_in_as("alice@acme.test", name="Someone Else")
    answer = sso_log_in(client)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("home")
    assert signed_in_as(client) == alice
    assert User.objects.filter(email="alice@acme.test").count() == 1
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)  # her address was verified: nothing to fear
    assert alice.name == "Alice"
    assert list(Membership.objects.filter(user=alice).values_list("team", "role")) == [
        (acme.pk, "owner")
    ]
    assert "Acme Fleet (Owner)" in client.get(answer["Location"]).content.decode()
    # Her account menu lists the link, and she can unlink it there.
    menu = client.get(reverse("account_email")).content.decode()
    assert f'href="{reverse("socialaccount_connections")}">Single sign-on</a>' in menu
    linked = client.get(reverse("socialaccount_connections")).content.decode()
    assert re.search(r'data-testid="sso-account">.*Sandbox ID: ', linked)
    # The provider is now linked to her account: the next log-in finds her by it, even when
    # the provider knows her by another address by then.
    sso.sign_in_as("alice.renamed@acme.test", sub=sso.person.sub)
    again = Client()
    assert sso_log_in(again).status_code == 302
    assert signed_in_as(again) == alice


def test_an_existing_person_whose_address_was_never_verified_here_loses_their_password(
    client, sso, alice
):
    # allauth's protection: someone may have signed up with an address that is not theirs and
    # waited for its owner to log in through the provider.
    sso.sign_in_as("alice@acme.test")
    assert sso_log_in(client).status_code == 302
    assert signed_in_as(client) == alice
    alice.refresh_from_db()
    assert not alice.has_usable_password()
    from accounts.team import email_verified

    assert email_verified(alice)  # the provider's word now counts here too


def test_an_unverified_provider_address_never_logs_into_an_existing_account(client, sso, alice):
    sso.sign_in_as("alice@acme.test", email_verified=False)
    answer = sso_log_in(client)
    assert answer.status_code == 200
    assert 'data-testid="signup-closed"' in answer.content.decode()
    assert signed_in_as(client) is None
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_with_open_sign_up_off_and_no_invitation_sso_makes_no_account(client, sso, alice):
    sso.sign_in_as("stranger@elsewhere.test", name="Stranger")
    answer = sso_log_in(client)
    assert answer.status_code == 200
    assert 'data-testid="signup-closed"' in answer.content.decode()
    assert signed_in_as(client) is None
    assert not User.objects.filter(email="stranger@elsewhere.test").exists()


def test_with_open_sign_up_on_a_new_person_owns_a_new_team(db, client, sso, settings):
    settings.PORTAL_OPEN_SIGNUP = True
    sso.sign_in_as("fresh@new.test", name="Fresh Face")
    answer = sso_log_in(client)
    assert answer.status_code == 302
    fresh = signed_in_as(client)
    assert fresh is not None
    membership = Membership.objects.select_related("team").get(user=fresh)
    assert membership.role == "owner"
    assert membership.team.name == "Fresh Face's team"
    assert "Fresh Face&#x27;s team (Owner)" in client.get(answer["Location"]).content.decode()


def test_sso_only_hides_the_password_form_and_refuses_password_log_in_and_sign_up(
    client, sso_only, alice, settings
):
    settings.PORTAL_OPEN_SIGNUP = True
    page = client.get(reverse("account_login")).content.decode()
    assert 'name="password"' not in page
    assert "Forgot your password?" not in page
    assert "Create an account" not in page
    assert "passkey" not in page.lower()
    assert f"Log in with {BUTTON_NAME}" in page
    # The right password, posted anyway: refused, and nobody is signed in.
    refused = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert refused.status_code == 403
    assert signed_in_as(client) is None
    signup = client.post(
        reverse("account_signup"),
        {"email": "new@new.test", "password1": "Pw-for-tests-991", "password2": "Pw-for-tests-991"},
    )
    assert 'data-testid="signup-closed"' in signup.content.decode()
    assert not User.objects.filter(email="new@new.test").exists()
    # The provider still lets people in.
    sso_only.sign_in_as("alice@acme.test")
    assert sso_log_in(client).status_code == 302
    assert signed_in_as(client) == alice


def test_sso_only_refuses_any_other_log_in_at_the_gate_every_allauth_log_in_passes(
    rf, sso_only, alice
):
    # A passkey log-in (its button is gone too) or any other way allauth logs someone in goes
    # through the account adapter's pre_login; only the provider's log-in passes.
    from accounts.adapter import PortalAccountAdapter

    request = rf.post("/accounts/2fa/webauthn/login/")
    request.user = AnonymousUser()
    with pytest.raises(PermissionDenied):
        PortalAccountAdapter(request).pre_login(
            request,
            alice,
            email_verification="optional",
            signal_kwargs=None,
            email=None,
            signup=False,
            redirect_url=None,
        )


def test_sso_only_still_lets_a_signed_in_person_confirm_it_is_them_with_their_password(
    client, sso_only, alice
):
    client.force_login(alice)
    answer = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert answer.status_code == 302


def test_a_provider_without_an_address_makes_the_person_give_one_first(db, client, sso, settings):
    settings.PORTAL_OPEN_SIGNUP = True
    sso.sign_in_as("", name="No Mail")
    answer = sso_log_in(client)
    assert answer.status_code == 302
    assert answer["Location"] == reverse("socialaccount_signup")
    form = client.get(answer["Location"]).content.decode()
    assert "You are logging in with Sandbox ID for the first time" in form
    assert 'name="email"' in form
    done = client.post(answer["Location"], {"email": "given@new.test"})
    assert done.status_code == 302
    person = signed_in_as(client)
    assert person is not None
    assert person.email == "given@new.test"
    assert Membership.objects.get(user=person).role == "owner"


def test_a_provider_that_is_down_gets_the_portals_error_page_not_a_server_error(
    db, sso, sandbox, caplog
):
    browser = Client(raise_request_exception=False)
    # When the button is pressed (allauth reads the provider's discovery document)...
    sandbox.fault("GET", "/oidc/.well-known/openid-configuration", status=503)
    browser.get(reverse("account_login"))
    pressed = browser.post("/accounts/oidc/sso/login/?process=login")
    assert pressed.status_code == 401
    assert 'data-testid="sso-error"' in pressed.content.decode()
    # ...and on the way back (the userinfo endpoint).
    sandbox.fault("GET", "/oidc/userinfo", status=503)
    back = sso_log_in(browser)
    assert back.status_code == 401
    assert 'data-testid="sso-error"' in back.content.decode()
    assert signed_in_as(browser) is None
    failures = [r.getMessage() for r in caplog.records if r.name == "accounts.adapter"]
    assert len(failures) == 2
    assert "openid-configuration: HTTPError" in failures[0]


def test_cancelling_at_the_provider_comes_back_to_the_portals_page(db, client, sso):
    sso.refuse_next = "access_denied"
    answer = sso_log_in(client)
    assert answer.status_code == 302
    page = client.get(answer["Location"])
    assert 'data-testid="sso-cancelled"' in page.content.decode()
    assert signed_in_as(client) is None


# ----------------------------------------------------------------------------- the secret


@pytest.mark.django_db(transaction=True)
def test_the_client_secret_appears_in_no_page_log_line_session_or_error_report(
    client, sso, settings, nina_invited, caplog, sandbox, mailoutbox
):
    caplog.set_level(logging.DEBUG)
    answers = [client.get(reverse("account_login"))]
    sso.sign_in_as("nina@acme.test", name="Nina")
    answers.append(sso_log_in(client))
    answers.append(client.get(reverse("credentials")))
    answers.append(client.get(reverse("socialaccount_connections")))
    # A first log-in waiting on the address form: allauth keeps it in the session meanwhile.
    settings.PORTAL_OPEN_SIGNUP = True
    sso.sign_in_as("", name="No Mail")
    waiting = Client()
    answers.append(sso_log_in(waiting))
    answers.append(waiting.get(reverse("socialaccount_signup")))
    # A provider that refuses the client (a wrong secret configured): the portal's error page
    # and a line in the log for the operator.
    [app] = settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"]
    app["secret"] = "not-" + CLIENT_SECRET
    refused = sso_log_in(Client())
    app["secret"] = CLIENT_SECRET
    assert 'data-testid="sso-error"' in refused.content.decode()
    assert any("Single sign-on with Sandbox ID failed" in r.getMessage() for r in caplog.records)
    answers.append(refused)
    # The provider failing.
    sandbox.fault("POST", "/oidc/token", status=500)
    answers.append(sso_log_in(Client()))
    # An answer that breaks allauth in the middle of the code exchange (a bare number for the
    # token): a server error, reported with every frame's variables (the DEBUG page, the mail
    # to ADMINS), the form that carried the secret to the provider among them.
    settings.DEBUG = True
    settings.ADMINS = [("Operators", "ops@portal.test")]
    sandbox.fault("POST", "/oidc/token", status=200, body="1")
    crashed = sso_log_in(Client(raise_request_exception=False))
    assert crashed.status_code == 500
    # The DEBUG page shows the frame whose variables hold the form sent to the provider...
    assert "get_access_token" in crashed.content.decode()
    assert "client_secret" in crashed.content.decode()
    answers.append(crashed)
    [report] = [m for m in mailoutbox if m.to == ["ops@portal.test"]]
    assert "get_access_token" in report.body

    haystacks: dict[str, str] = {}
    for number, answer in enumerate(answers):
        assert answer.status_code in (200, 302, 401, 500), (number, answer.status_code)
        haystacks[f"answer {number}"] = (
            answer.content.decode() + str(answer.headers) + str(answer.cookies)
        )
    haystacks["log"] = "\n".join(
        r.getMessage() + str(r.args) + (r.exc_text or "") for r in caplog.records
    )
    haystacks["mail"] = "".join(m.subject + m.body + str(m.alternatives) for m in mailoutbox)
    # Where the browser is sent at the provider (the authorize URL, with its query).
    haystacks["authorize URLs"] = repr([r.query for r in sandbox.requests_to("GET", "/oidc/")])
    haystacks["sessions"] = "".join(
        str(s.get_decoded()) + s.session_data for s in Session.objects.all()
    )
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            rows.extend(cursor.fetchall())
    haystacks["every table"] = repr(rows)
    if settings.REDIS_URL:
        redis = cache._cache.get_client()
        haystacks["redis"] = repr([redis.dump(k) for k in redis.keys("*")])
    # ...and nowhere is the secret itself.
    for where, haystack in haystacks.items():
        assert CLIENT_SECRET not in haystack, f"client secret found in {where}"


# ----------------------------------------------------------------------------- in a browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_logging_in_with_the_provider_in_chromium_lands_on_the_dashboard(
    live_server, page: Page, sso, alice
):
    sso.sign_in_as("alice@acme.test")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("button", name=f"Log in with {BUTTON_NAME}").click()
    expect(page).to_have_url(live_server.url + reverse("home"))
    expect(page.get_by_test_id("active-team")).to_contain_text("Acme Fleet (Owner)")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_invitee_signs_up_through_the_provider_in_chromium(
    live_server, page: Page, sso, acme, nina_invited
):
    sso.sign_in_as("nina@acme.test", name="Nina")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_test_id("sso-login").click()
    expect(page).to_have_url(live_server.url + reverse("home"))
    expect(page.get_by_test_id("active-team")).to_contain_text("Acme Fleet (Admin)")
