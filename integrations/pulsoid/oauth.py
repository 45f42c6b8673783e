"""Pulsoid credentials connected through OAuth: link the pair, refresh it, revoke it.

An access token from Pulsoid's sign-in expires; the refresh token (in `PulsoidGrant`, encrypted
like the access token) trades for a new pair. Calls go through `call_pulsoid`, which refreshes
shortly before expiry, and once more when Pulsoid rejects the token anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import activity
from accounts.crypto import Secret, encrypt
from accounts.models import Team, User
from integrations import protection
from integrations.errors import TokenRejected, UpstreamError
from integrations.models import Credential, Health, PulsoidGrant, Service
from integrations.pulsoid.checks import check
from integrations.pulsoid.client import (
    SCOPE_HEART_RATE_READ,
    SCOPE_PROFILE_READ,
    SCOPE_STATISTICS_READ,
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    OAuthTokens,
    PulsoidClient,
    PulsoidOAuth,
)
from integrations.tokens import CredentialUnusable, open_secret, open_token, using
from integrations.upstreams import run_check

# What "Connect with Pulsoid" asks for: everything the portal's pages use.
OAUTH_SCOPES = (
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    SCOPE_PROFILE_READ,
    SCOPE_HEART_RATE_READ,
    SCOPE_STATISTICS_READ,
)

T = TypeVar("T")


def pulsoid_oauth() -> PulsoidOAuth | None:
    """The portal's Pulsoid OAuth client, when PULSOID_CLIENT_ID and _SECRET are set."""
    if not (settings.PULSOID_CLIENT_ID and settings.PULSOID_CLIENT_SECRET):
        return None
    return PulsoidOAuth(settings.PULSOID_CLIENT_ID, Secret(settings.PULSOID_CLIENT_SECRET))


def grant_of(credential: Credential) -> PulsoidGrant | None:
    """The credential's OAuth grant, or None for a token pasted by hand."""
    return PulsoidGrant.objects.filter(credential_id=credential.pk).first()


def _free_label(team: Team, label: str) -> str:
    taken = set(
        Credential.objects.filter(team=team, service=Service.PULSOID).values_list(
            "label", flat=True
        )
    )
    candidate, number = label, 2
    while candidate in taken:
        candidate, number = f"{label} ({number})", number + 1
    return candidate


def link_oauth(team: Team, actor: User, label: str, tokens: OAuthTokens) -> Credential:
    """Save the pair from Pulsoid's sign-in, with the scopes and expiry validation reports."""
    result = run_check(check, tokens.access_token)
    credential = Credential(
        team=team, service=Service.PULSOID, label=_free_label(team, label), linked_by=actor
    )
    credential.set_token(tokens.access_token)
    result.apply_to(credential, actor)
    if not result.scopes and tokens.scopes:
        credential.scopes = sorted(tokens.scopes)
    credential.expires_at = tokens.expires_at or credential.expires_at
    with transaction.atomic():
        credential.save()
        PulsoidGrant.objects.create(credential=credential, refresh_ciphertext=_sealed(tokens))
        activity.record(
            team,
            actor,
            "credential linked",
            credential=credential,
            detail="through Pulsoid sign-in",
        )
    return credential


def _sealed(tokens: OAuthTokens) -> str:
    return encrypt(tokens.refresh_token) if tokens.refresh_token else ""


def needs_refresh(credential: Credential) -> bool:
    """An OAuth token within PULSOID_REFRESH_MARGIN seconds of its expiry."""
    if credential.expires_at is None:
        return False
    margin = timedelta(seconds=settings.PULSOID_REFRESH_MARGIN)
    due = credential.expires_at - timezone.now() <= margin
    return due and grant_of(credential) is not None


def refresh(credential: Credential, actor: User | None, *, used_ciphertext: str) -> None:
    """Trade the refresh token for a new pair, once, even when requests race.

    Pulsoid retires the old pair on refresh, so two refreshes of one credential would burn it.
    The row is locked (SQLite: the write transaction starts immediately); whoever gets it second
    sees the access token already changed from the one it used, and takes the new one instead.
    """
    oauth = pulsoid_oauth()
    grant = grant_of(credential)
    if oauth is None or grant is None or not grant.refresh_ciphertext:
        raise TokenRejected("This Pulsoid token cannot be refreshed; connect the account again.")
    failure: UpstreamError | None = None
    with transaction.atomic():
        locked = Credential.objects.select_for_update().get(pk=credential.pk)
        if locked.ciphertext == used_ciphertext:
            grant = PulsoidGrant.objects.get(pk=credential.pk)
            try:
                tokens = oauth.refresh(open_secret(grant.refresh_ciphertext))
            except UpstreamError as exc:
                failure = exc
            else:
                locked.set_token(tokens.access_token)
                locked.expires_at = tokens.expires_at
                locked.health = Health.OK
                locked.health_detail = ""
                locked.checked_at = timezone.now()
                locked.save()
                grant.refresh_ciphertext = _sealed(tokens)
                grant.save(update_fields=["refresh_ciphertext"])
                activity.record(locked.team, actor, "credential refreshed", credential=locked)
    if failure is not None:
        rejected = isinstance(failure, TokenRejected)
        Credential.objects.filter(pk=credential.pk).update(
            health=Health.REJECTED if rejected else Health.UNREACHABLE,
            health_detail=f"Refreshing failed: {failure.message}"[:300],
            checked_at=timezone.now(),
        )
        activity.record(
            credential.team, actor, "credential refreshed", credential=credential, error=failure
        )
        credential.refresh_from_db()
        raise failure
    credential.refresh_from_db()


def refresh_if_due(credential: Credential, actor: User | None) -> None:
    """Before a check: refresh an OAuth token that is about to expire."""
    if needs_refresh(credential):
        refresh(credential, actor, used_ciphertext=credential.ciphertext)


def refresh_ahead(credential: Credential, ahead: timedelta) -> None:
    """The background watch: refresh an OAuth token expiring within `ahead`, under the same
    row lock as any refresh (a request refreshing at the same moment wins or waits)."""
    if credential.expires_at is None or credential.expires_at - timezone.now() > ahead:
        return
    if grant_of(credential) is not None:
        refresh(credential, None, used_ciphertext=credential.ciphertext)


def call_pulsoid(credential: Credential, actor: User, call: Callable[[PulsoidClient], T]) -> T:
    """Run `call` with a client for this Pulsoid credential, keeping an OAuth token fresh.

    Before expiry the token is refreshed first; when upstream rejects it anyway, an OAuth
    credential is refreshed once and the call retried once.
    """
    refresh_if_due(credential, actor)
    used = credential.ciphertext
    protection.spend(credential.pk, settings.PULSOID_REQUESTS_PER_SECOND)
    try:
        with using(credential, actor) as token:
            return call(PulsoidClient(token))
    except TokenRejected:
        if grant_of(credential) is None:
            raise
    refresh(credential, actor, used_ciphertext=used)
    protection.spend(credential.pk, settings.PULSOID_REQUESTS_PER_SECOND)
    with using(credential, actor) as token:
        return call(PulsoidClient(token))


def revoke_on_unlink(credential: Credential) -> tuple[str, str]:
    """Ask Pulsoid to revoke an OAuth token before the credential is forgotten (best effort).

    Returns (what the activity log says, a warning for the person or "").
    """
    oauth = pulsoid_oauth()
    if grant_of(credential) is None or oauth is None:
        return "", ""
    try:
        with open_token(credential) as token:
            oauth.revoke(token)
    except CredentialUnusable:
        warning = "The token could not be decrypted, so Pulsoid was not asked to revoke it."
        return warning, warning
    except UpstreamError as exc:
        warning = f"Pulsoid did not confirm revoking the token ({exc.message})."
        return warning, warning
    return "revoked at Pulsoid", ""
