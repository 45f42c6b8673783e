"""Linking, checking, replacing and unlinking credentials; encryption at rest and key rotation."""

from __future__ import annotations

import pickle

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.urls import reverse

from accounts.crypto import Secret, decrypt
from accounts.models import Activity
from integrations import tokens
from integrations.errors import TokenRejected
from integrations.models import Credential, Health
from integrations.pulsetracker.client import PulsetrackerClient

LINK = "/credentials/link/"


def link(client, service: str, label: str, token: str, htmx: bool = True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(LINK, {"service": service, "label": label, "token": token}, **headers)


def test_linking_a_working_pulsetracker_token_saves_only_ciphertext(
    as_user, alice, acme, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    response = link(as_user(alice), "pulsetracker", "Fleet key", token)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the htmx answer is the panel, not a page
    assert "Linked “Fleet key”" in body
    assert "…0000" in body
    assert token not in body
    credential = Credential.objects.get(team=acme, label="Fleet key")
    assert credential.health == Health.OK
    assert credential.last4 == token[-4:]
    assert token not in credential.ciphertext
    assert decrypt(credential.ciphertext).reveal() == token
    assert credential.linked_by == alice
    entry = Activity.objects.get(team=acme)
    assert (entry.action, entry.credential_label, entry.outcome) == (
        "credential linked",
        "Fleet key",
        "ok",
    )


def test_linking_without_htmx_shows_the_same_screen_with_the_confirmation(
    as_user, alice, sandbox_settings
):
    client = as_user(alice)
    response = link(
        client, "pulsetracker", "Plain", sandbox_settings.seed.pulsetracker_paid_token, htmx=False
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Credentials of Acme Fleet</h1>" in page
    panel = page[page.index('id="credentials-panel"') :]
    assert 'data-testid="notice">Linked “Plain”' in panel
    assert "Plain" in panel[panel.index("<table") :]


@pytest.mark.parametrize(
    ("service", "token_name", "complaint"),
    [
        ("pulsetracker", None, "Pulsetracker rejected the token"),
        ("pulsoid", None, "Pulsoid rejected the token"),
        ("pulsoid", "pulsoid_expired_token", "expired"),
    ],
)
def test_a_rejected_token_is_not_saved_and_the_form_keeps_the_label(
    as_user, alice, acme, sandbox_settings, service, token_name, complaint
):
    token = (
        getattr(sandbox_settings.seed, token_name)
        if token_name
        else (
            "9|" + "z" * 40 if service == "pulsetracker" else "00000000-0000-4000-8000-00000000dead"
        )
    )
    response = link(as_user(alice), service, "My label", token)
    body = response.content.decode()
    assert response.status_code == 200
    assert complaint in body
    assert 'value="My label"' in body
    assert token not in body
    assert not Credential.objects.filter(team=acme).exists()


def test_a_pulsoid_token_without_widget_scopes_is_saved_with_a_warning(
    as_user, alice, acme, sandbox_settings
):
    response = link(
        as_user(alice), "pulsoid", "Read only", sandbox_settings.seed.pulsoid_readonly_token
    )
    body = response.content.decode()
    assert "widgets:update" in body
    credential = Credential.objects.get(team=acme, label="Read only")
    assert credential.health == Health.MISSING_SCOPE
    assert "widgets:update" in credential.health_detail
    assert sorted(credential.scopes) == ["profile:read", "widgets:read"]
    assert credential.never_expires


def test_an_unreachable_upstream_saves_nothing_and_says_so(as_user, alice, acme, sandbox_settings):
    sandbox_settings.fault("GET", "/pulsetracker/api/apps", status=503, times=3)
    response = link(
        as_user(alice), "pulsetracker", "Later", sandbox_settings.seed.pulsetracker_paid_token
    )
    body = response.content.decode()
    assert "could not be checked" in body
    assert 'value="Later"' in body
    assert not Credential.objects.filter(team=acme).exists()


def test_form_errors_come_back_inline_with_what_was_typed(as_user, alice, pulsetracker_credential):
    response = link(as_user(alice), "pulsetracker", "Acme Live", "")
    body = response.content.decode()
    assert "already has a Pulsetracker credential" in body
    assert "This field is required" in body
    assert 'value="Acme Live"' in body


def test_check_now_swaps_the_row_and_shows_a_revoked_token_as_rejected(
    as_user, alice, pulsetracker_credential, sandbox_settings
):
    client = as_user(alice)
    url = reverse("credential-check", args=[pulsetracker_credential.pk])
    ok = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert ok.startswith("\n<tr") or ok.lstrip().startswith("<tr")
    assert ">OK<" in ok
    sandbox_settings.pulsetracker.revoke(sandbox_settings.seed.pulsetracker_paid_token)
    rejected = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert ">Rejected<" in rejected
    pulsetracker_credential.refresh_from_db()
    assert pulsetracker_credential.health == Health.REJECTED
    full = client.post(url).content.decode()  # without htmx: the whole screen, same answer
    assert "<h1>Credentials of Acme Fleet</h1>" in full
    assert 'data-testid="notice">Checked “Acme Live”: Rejected.' in full


def test_any_upstream_call_that_finds_the_token_rejected_flips_health(
    alice, pulsetracker_credential, sandbox_settings
):
    sandbox_settings.pulsetracker.revoke(sandbox_settings.seed.pulsetracker_paid_token)
    with pytest.raises(TokenRejected), tokens.using(pulsetracker_credential, alice) as token:
        PulsetrackerClient(token).list_apps()
    stored = Credential.objects.get(pk=pulsetracker_credential.pk)
    assert stored.health == Health.REJECTED
    assert stored.last_used_by == alice


def test_replace_keeps_the_old_token_when_the_new_one_fails(
    as_user, ada, pulsetracker_credential, sandbox_settings
):
    client = as_user(ada)
    url = reverse("credential-replace", args=[pulsetracker_credential.pk])
    before = pulsetracker_credential.ciphertext
    bad = client.post(url, {"token": "9|" + "q" * 40})
    assert bad.status_code == 200
    assert "Not saved" in bad.content.decode()
    pulsetracker_credential.refresh_from_db()
    assert pulsetracker_credential.ciphertext == before
    good_token = sandbox_settings.pulsetracker.add_user(app_limit=3)
    good = client.post(url, {"token": good_token})
    assert good.status_code == 302
    pulsetracker_credential.refresh_from_db()
    assert decrypt(pulsetracker_credential.ciphertext).reveal() == good_token
    assert pulsetracker_credential.last4 == good_token[-4:]
    assert pulsetracker_credential.linked_by == ada
    assert Activity.objects.filter(action="credential replaced").count() == 1


def test_unlink_asks_first_then_deletes_and_logs(as_user, alice, acme, pulsetracker_credential):
    client = as_user(alice)
    url = reverse("credential-unlink", args=[pulsetracker_credential.pk])
    confirm = client.get(url).content.decode()
    assert "Unlink “Acme Live”?" in confirm
    assert Credential.objects.filter(pk=pulsetracker_credential.pk).exists()
    assert client.post(url).status_code == 302
    assert not Credential.objects.filter(pk=pulsetracker_credential.pk).exists()
    entry = Activity.objects.filter(team=acme).first()
    assert (entry.action, entry.credential_label) == ("credential unlinked", "Acme Live")


def test_a_tampered_ciphertext_fails_closed_without_calling_upstream(
    as_user, alice, pulsetracker_credential, sandbox_settings
):
    Credential.objects.filter(pk=pulsetracker_credential.pk).update(
        ciphertext=pulsetracker_credential.ciphertext[:-8] + "AAAAAAA="
    )
    before = len(sandbox_settings.requests)
    client = as_user(alice)
    response = client.post(
        reverse("credential-check", args=[pulsetracker_credential.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Needs re-linking" in response.content.decode()
    assert len(sandbox_settings.requests) == before
    assert "Needs re-linking" in client.get(reverse("credentials")).content.decode()


def test_key_rotation_old_key_both_keys_rotate_then_only_the_new_key(
    settings, pulsetracker_credential, sandbox_settings, capsys
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    old_key = settings.ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    assert decrypt(Credential.objects.get().ciphertext).reveal() == token
    call_command("rotate_encryption_keys")
    assert "Re-encrypted 1 secret(s)" in capsys.readouterr().out
    call_command("rotate_encryption_keys")
    assert (
        "Re-encrypted 0 secret(s) with the newest key; 1 already used it" in capsys.readouterr().out
    )

    settings.ENCRYPTION_KEYS = [new_key]
    assert decrypt(Credential.objects.get().ciphertext).reveal() == token

    settings.ENCRYPTION_KEYS = [old_key]
    credential = Credential.objects.get()
    with pytest.raises(tokens.CredentialUnusable), tokens.open_token(credential):
        pass
    assert Credential.objects.get().health == Health.NEEDS_RELINKING


def test_secret_wrapper_is_masked_everywhere_it_could_print():
    secret = Secret("11111111-2222-3333-4444-555566667777")
    assert str(secret) == "****7777"
    assert repr(secret) == "Secret('****7777')"
    assert "5555" not in f"{secret} {secret!r} {[secret]} { ({'t': secret}) }"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_rotation_re_encrypts_every_secret_oauth_refresh_tokens_included(
    settings, as_user, alice, acme, sandbox_settings, capsys
):
    from integrations.models import PulsoidGrant
    from tests.test_pulsoid_oauth import oauth_credential

    connected = oauth_credential(as_user(alice))
    refresh = decrypt(PulsoidGrant.objects.get(credential=connected).refresh_ciphertext).reveal()
    old_key = settings.ENCRYPTION_KEYS[0]
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys")
    assert "Re-encrypted 2 secret(s)" in capsys.readouterr().out  # access and refresh token
    settings.ENCRYPTION_KEYS = settings.ENCRYPTION_KEYS[:1]  # the old key is gone
    grant = PulsoidGrant.objects.get(credential=connected)
    assert decrypt(grant.refresh_ciphertext).reveal() == refresh


def test_every_stored_secret_is_in_a_column_the_rotation_finds():
    """Ciphertext kept in any other column would be stranded when an old key is dropped."""
    from django.apps import apps
    from django.db import models

    from accounts.crypto import EncryptedText
    from integrations.management.commands.rotate_encryption_keys import encrypted_columns

    found = {(m._meta.label, name) for m, name in encrypted_columns()}
    assert {
        ("integrations.Credential", "ciphertext"),
        ("integrations.PulsoidGrant", "refresh_ciphertext"),
        ("integrations.GeofenceApp", "secret_ciphertext"),
    } <= found
    # A column named for a secret that is not an EncryptedText is a missed secret.
    suspicious = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "integrations"}
        for field in model._meta.get_fields()
        if isinstance(field, models.CharField | models.TextField)
        and not isinstance(field, EncryptedText)
        and any(word in field.name for word in ("ciphertext", "secret", "token"))
        and field.name not in {"token_hash"}
    ]
    assert not suspicious, f"Store these with accounts.crypto.EncryptedText: {suspicious}"
