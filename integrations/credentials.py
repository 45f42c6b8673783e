"""Linking, checking and using a team's upstream credentials.

Everything that touches a credential's token goes through here: the token is decrypted only to
build a client, a credential that will not decrypt fails closed (marked "needs re-linking", never
sent upstream), and any call that finds the token rejected flips the credential's health on its
own, wherever in the portal it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import activity
from accounts.crypto import DecryptionFailed, Secret, decrypt
from accounts.models import Credential, Health, Service, Team, User
from integrations.errors import (
    BadResponse,
    RateLimited,
    TokenRejected,
    Unavailable,
    UpstreamError,
)
from integrations.pulsetracker import PulsetrackerClient
from integrations.pulsoid import SCOPE_WIDGETS_READ, SCOPE_WIDGETS_UPDATE, PulsoidClient

logger = logging.getLogger(__name__)

# Without these a Pulsoid credential cannot do what the portal is for; linking still works.
PULSOID_PORTAL_SCOPES = (SCOPE_WIDGETS_READ, SCOPE_WIDGETS_UPDATE)


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
    except (Unavailable, RateLimited, BadResponse, UpstreamError) as exc:
        return CheckResult(Health.UNREACHABLE, exc.message, error=exc)
    scopes = sorted(info.scopes)
    missing = info.missing(*PULSOID_PORTAL_SCOPES)
    if missing:
        names = " and ".join(f"“{scope}”" for scope in missing)
        return CheckResult(
            Health.MISSING_SCOPE,
            f"The token lacks {names}; widget pages that need it are disabled.",
            scopes,
            info.expires_at,
        )
    return CheckResult(Health.OK, "", scopes, info.expires_at)


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


def unlink(credential: Credential, actor: User) -> None:
    with transaction.atomic():
        activity.record(credential.team, actor, "credential unlinked", credential=credential)
        credential.delete()


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

    Marks who used it and when; if the upstream rejects the token, the credential's health flips to
    rejected (or expired) on the spot, so the credentials page tells the truth without a re-check.
    """
    with open_token(credential) as token:
        try:
            yield token
        except TokenRejected as exc:
            credential.health = Health.EXPIRED if exc.expired else Health.REJECTED
            credential.health_detail = exc.message[:300]
            credential.checked_at = timezone.now()
            raise
        finally:
            credential.last_used_at = timezone.now()
            credential.last_used_by = actor
            Credential.objects.filter(pk=credential.pk).update(
                last_used_at=credential.last_used_at,
                last_used_by=actor,
                health=credential.health,
                health_detail=credential.health_detail,
                checked_at=credential.checked_at,
            )
