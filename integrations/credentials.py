"""Linking, checking and using a team's upstream credentials.

Everything that touches a credential's token goes through here: the token is decrypted only to
build a client, a credential that will not decrypt fails closed (marked "needs re-linking", never
sent upstream), and any call that finds the token rejected flips the credential's health on its
own, wherever in the portal it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import activity
from accounts.crypto import DecryptionFailed, Secret, decrypt, encrypt
from accounts.models import Credential, Health, Service, Team, User
from integrations import protection
from integrations.errors import (
    TokenRejected,
    UpstreamError,
)
from integrations.pulsetracker import PulsetrackerClient
from integrations.pulsoid import (
    SCOPE_HEART_RATE_READ,
    SCOPE_PROFILE_READ,
    SCOPE_STATISTICS_READ,
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    OAuthTokens,
    PulsoidClient,
    PulsoidOAuth,
)

logger = logging.getLogger(__name__)

# Without these a Pulsoid credential cannot do what the portal is for; linking still works.
PULSOID_PORTAL_SCOPES = (SCOPE_WIDGETS_READ, SCOPE_WIDGETS_UPDATE)
# What "Connect with Pulsoid" asks for: everything the portal's pages use.
PULSOID_OAUTH_SCOPES = (
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    SCOPE_PROFILE_READ,
    SCOPE_HEART_RATE_READ,
    SCOPE_STATISTICS_READ,
)
# Which portal features each Pulsoid scope enables, for the credentials page and disabled controls.
PULSOID_SCOPE_FEATURES = {
    SCOPE_WIDGETS_READ: "listing widgets and opening them to reconfigure",
    SCOPE_WIDGETS_UPDATE: "creating and reconfiguring widgets",
    SCOPE_HEART_RATE_READ: "the live heart-rate preview",
    SCOPE_PROFILE_READ: "showing the streamer's channel",
}


class CredentialUnusable(Exception):
    """The stored token cannot be decrypted: the credential must be re-linked."""

    message = "This credential's token can no longer be decrypted; an admin must replace it."


@dataclass(frozen=True)
class CheckResult:
    """What the upstream said about a token."""

    health: Health
    detail: str = ""
    scopes: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    error: UpstreamError | None = None
    channel: str = ""

    @property
    def accepted(self) -> bool:
        """Whether a token with this result may be saved (a missing scope only warns)."""
        return self.health in (Health.OK, Health.MISSING_SCOPE)


@sensitive_variables("token")
def check_token(service: str, token: Secret) -> CheckResult:
    """Ask the upstream whether `token` works: Pulsetracker lists apps, Pulsoid validates."""
    try:
        if service == Service.PULSETRACKER:
            PulsetrackerClient(token).list_apps(page=1)
            return CheckResult(Health.OK)
        info = PulsoidClient(token).validate_token()
    except TokenRejected as exc:
        return CheckResult(
            Health.EXPIRED if exc.expired else Health.REJECTED, exc.message, error=exc
        )
    except UpstreamError as exc:  # unavailable, rate limited, unreadable, ...
        return CheckResult(Health.UNREACHABLE, exc.message, error=exc)
    scopes = sorted(info.scopes)
    channel = _channel(token) if SCOPE_PROFILE_READ in info.scopes else ""
    missing = info.missing(*PULSOID_PORTAL_SCOPES)
    if missing:
        names = " and ".join(f"“{scope}”" for scope in missing)
        return CheckResult(
            Health.MISSING_SCOPE,
            f"The token lacks {names}; widget pages that need it are disabled.",
            scopes,
            info.expires_at,
            channel=channel,
        )
    return CheckResult(Health.OK, "", scopes, info.expires_at, channel=channel)


@sensitive_variables("token")
def _channel(token: Secret) -> str:
    """The streamer's channel, shown beside the credential; a failure here is not fatal."""
    try:
        return PulsoidClient(token).get_profile().channel or ""
    except UpstreamError:
        return ""


def _apply(credential: Credential, result: CheckResult, actor: User | None) -> None:
    now = timezone.now()
    credential.health = result.health
    credential.health_detail = result.detail[:300]
    credential.checked_at = now
    credential.last_used_at = now
    credential.last_used_by = actor
    if credential.service == Service.PULSOID and result.accepted:
        credential.scopes = result.scopes
        credential.expires_at = result.expires_at
        credential.channel = result.channel[:200]


@sensitive_variables("token")
def link(
    team: Team, actor: User, service: str, label: str, token: Secret
) -> tuple[Credential | None, CheckResult]:
    """Check `token` upstream and save it when it works; returns (credential or None, result)."""
    result = check_token(service, token)
    if not result.accepted:
        return None, result
    credential = Credential(team=team, service=service, label=label, linked_by=actor)
    credential.set_token(token)
    _apply(credential, result, actor)
    with transaction.atomic():
        credential.save()
        activity.record(
            team, actor, "credential linked", credential=credential, detail=result.detail
        )
    return credential, result


@sensitive_variables("token")
def replace(credential: Credential, actor: User, token: Secret) -> CheckResult:
    """Swap in a new token after checking it; the old one stays when the new one fails."""
    result = check_token(credential.service, token)
    if not result.accepted:
        return result
    credential.set_token(token)
    credential.linked_by = actor
    credential.linked_at = timezone.now()
    _apply(credential, result, actor)
    with transaction.atomic():
        credential.save()
        activity.record(
            credential.team,
            actor,
            "credential replaced",
            credential=credential,
            detail=result.detail,
        )
    return result


def recheck(credential: Credential, actor: User) -> CheckResult:
    """Validate the stored token again and record the answer on the credential."""
    try:
        if needs_refresh(credential):
            refresh(credential, actor, used_ciphertext=credential.ciphertext)
    except (UpstreamError, CredentialUnusable):
        pass  # the check below reports what is wrong with the token as it stands
    try:
        with open_token(credential) as token:
            result = check_token(credential.service, token)
    except CredentialUnusable:
        result = CheckResult(Health.NEEDS_RELINKING, CredentialUnusable.message)
        activity.record(
            credential.team,
            actor,
            "credential checked",
            credential=credential,
            error_kind="NeedsRelinking",
            detail=result.detail,
        )
        return result
    _apply(credential, result, actor)
    credential.save()
    activity.record(
        credential.team,
        actor,
        "credential checked",
        credential=credential,
        error_kind="" if result.accepted else type(result.error).__name__ if result.error else "",
        upstream_status=result.error.status if result.error else None,
        detail=result.detail or f"Health: {credential.get_health_display()}",
    )
    return result


def unlink(credential: Credential, actor: User) -> str:
    """Forget a credential. OAuth tokens are revoked upstream first, on a best-effort basis.

    Returns a warning to show when the revocation failed (the credential is unlinked anyway).
    """
    warning = ""
    oauth = pulsoid_oauth()
    if credential.via_oauth and oauth is not None:
        try:
            with open_token(credential) as token:
                oauth.revoke(token)
        except CredentialUnusable:
            warning = "The token could not be decrypted, so Pulsoid was not asked to revoke it."
        except UpstreamError as exc:
            warning = f"Pulsoid did not confirm revoking the token ({exc.message})."
    detail = "revoked at Pulsoid" if credential.via_oauth and not warning else warning
    with transaction.atomic():
        activity.record(
            credential.team, actor, "credential unlinked", credential=credential, detail=detail
        )
        credential.delete()
    return warning


# Pulsoid OAuth


def pulsoid_oauth() -> PulsoidOAuth | None:
    """The portal's Pulsoid OAuth client, when PULSOID_CLIENT_ID and _SECRET are set."""
    if not (settings.PULSOID_CLIENT_ID and settings.PULSOID_CLIENT_SECRET):
        return None
    return PulsoidOAuth(settings.PULSOID_CLIENT_ID, Secret(settings.PULSOID_CLIENT_SECRET))


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
    result = check_token(Service.PULSOID, tokens.access_token)
    credential = Credential(
        team=team,
        service=Service.PULSOID,
        label=_free_label(team, label),
        linked_by=actor,
        via_oauth=True,
    )
    _store_pair(credential, tokens)
    _apply(credential, result, actor)
    if not result.scopes and tokens.scopes:
        credential.scopes = sorted(tokens.scopes)
    credential.expires_at = tokens.expires_at or credential.expires_at
    with transaction.atomic():
        credential.save()
        activity.record(
            team,
            actor,
            "credential linked",
            credential=credential,
            detail="through Pulsoid sign-in",
        )
    return credential


def _store_pair(credential: Credential, tokens: OAuthTokens) -> None:
    credential.set_token(tokens.access_token)
    credential.refresh_ciphertext = encrypt(tokens.refresh_token) if tokens.refresh_token else ""
    credential.expires_at = tokens.expires_at


def needs_refresh(credential: Credential) -> bool:
    """An OAuth token within PULSOID_REFRESH_MARGIN seconds of its expiry."""
    if not credential.via_oauth or credential.expires_at is None:
        return False
    margin = timedelta(seconds=settings.PULSOID_REFRESH_MARGIN)
    return credential.expires_at - timezone.now() <= margin


def refresh(credential: Credential, actor: User | None, *, used_ciphertext: str) -> None:
    """Trade the refresh token for a new pair, once, even when requests race.

    Pulsoid retires the old pair on refresh, so two refreshes of one credential would burn it.
    The row is locked (SQLite: the write transaction starts immediately); whoever gets it second
    sees the access token already changed from the one it used, and takes the new one instead.
    """
    oauth = pulsoid_oauth()
    if oauth is None or not credential.refresh_ciphertext:
        raise TokenRejected("This Pulsoid token cannot be refreshed; connect the account again.")
    failure: UpstreamError | None = None
    with transaction.atomic():
        locked = Credential.objects.select_for_update().get(pk=credential.pk)
        if locked.ciphertext == used_ciphertext:
            try:
                tokens = oauth.refresh(_open(locked.refresh_ciphertext))
            except UpstreamError as exc:
                failure = exc
            else:
                _store_pair(locked, tokens)
                locked.health = Health.OK
                locked.health_detail = ""
                locked.checked_at = timezone.now()
                locked.save()
                activity.record(locked.team, actor, "credential refreshed", credential=locked)
    if failure is not None:
        rejected = isinstance(failure, TokenRejected)
        Credential.objects.filter(pk=credential.pk).update(
            health=Health.REJECTED if rejected else Health.UNREACHABLE,
            health_detail=f"Refreshing failed: {failure.message}"[:300],
            checked_at=timezone.now(),
        )
        activity.record(
            credential.team,
            actor,
            "credential refreshed",
            credential=credential,
            error_kind=type(failure).__name__,
            upstream_status=failure.status,
            detail=failure.message,
        )
        credential.refresh_from_db()
        raise failure
    credential.refresh_from_db()


def _open(ciphertext: str) -> Secret:
    try:
        return decrypt(ciphertext)
    except DecryptionFailed:
        raise CredentialUnusable from None


T = TypeVar("T")


def call_pulsoid(credential: Credential, actor: User, call: Callable[[PulsoidClient], T]) -> T:
    """Run `call` with a client for this Pulsoid credential, keeping an OAuth token fresh.

    Before expiry the token is refreshed first; when upstream rejects it anyway, an OAuth
    credential is refreshed once and the call retried once.
    """
    if needs_refresh(credential):
        refresh(credential, actor, used_ciphertext=credential.ciphertext)
    used = credential.ciphertext
    protection.spend(credential.pk, settings.PULSOID_REQUESTS_PER_SECOND)
    try:
        with using(credential, actor) as token:
            return call(PulsoidClient(token))
    except TokenRejected:
        if not credential.via_oauth:
            raise
    refresh(credential, actor, used_ciphertext=used)
    protection.spend(credential.pk, settings.PULSOID_REQUESTS_PER_SECOND)
    with using(credential, actor) as token:
        return call(PulsoidClient(token))


@contextmanager
def open_token(credential: Credential) -> Iterator[Secret]:
    """Decrypt the token for one use; fail closed when it will not decrypt."""
    try:
        token = decrypt(credential.ciphertext)
    except DecryptionFailed:
        logger.warning("Credential %s (%s) no longer decrypts", credential.pk, credential.label)
        if credential.health != Health.NEEDS_RELINKING:
            credential.health = Health.NEEDS_RELINKING
            credential.health_detail = CredentialUnusable.message
            credential.save(update_fields=["health", "health_detail"])
        raise CredentialUnusable from None
    yield token


@contextmanager
def using(credential: Credential, actor: User) -> Iterator[Secret]:
    """Use a credential's token for an upstream call, keeping its record true.

    Marks who used it and when. If the upstream rejects the token, the credential's health flips
    to rejected (or expired) on the spot; if a call works, a rejected or unreachable mark is
    cleared. Health is only written while the stored token is still the one used, so a request
    holding an old token cannot overwrite what a newer (refreshed) token earned.
    """
    with open_token(credential) as token:
        used = credential.ciphertext
        try:
            yield token
        except TokenRejected as exc:
            _mark(credential, used, Health.EXPIRED if exc.expired else Health.REJECTED, exc.message)
            raise
        else:
            if credential.health in (Health.REJECTED, Health.EXPIRED, Health.UNREACHABLE):
                _mark(credential, used, Health.OK, "")
        finally:
            _note_use(credential, actor)


# "Last used" is shown to the minute; writing it on every call would make each page view a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _note_use(credential: Credential, actor: User) -> None:
    now = timezone.now()
    recent = credential.last_used_at and now - credential.last_used_at < LAST_USED_RESOLUTION
    if recent and credential.last_used_by_id == actor.pk:
        return
    credential.last_used_at = now
    credential.last_used_by = actor
    Credential.objects.filter(pk=credential.pk).update(last_used_at=now, last_used_by=actor)


def _mark(credential: Credential, used_ciphertext: str, health: Health, detail: str) -> None:
    credential.health = health
    credential.health_detail = detail[:300]
    credential.checked_at = timezone.now()
    Credential.objects.filter(pk=credential.pk, ciphertext=used_ciphertext).update(
        health=credential.health,
        health_detail=credential.health_detail,
        checked_at=credential.checked_at,
    )
