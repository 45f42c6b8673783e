"""Using a credential's token: decrypt it for one call, and keep the credential's record true.

The token is decrypted only to build a client; a credential that will not decrypt fails closed
(marked "needs re-linking", never sent upstream), and any call that finds the token rejected
flips the credential's health on its own, wherever in the portal it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

from accounts.crypto import DecryptionFailed, Secret, decrypt
from accounts.models import User
from integrations.errors import TokenRejected
from integrations.models import Credential, Health

logger = logging.getLogger(__name__)


class CredentialUnusable(Exception):
    """The stored token cannot be decrypted: the credential must be re-linked."""

    message = "This credential's token can no longer be decrypted; an admin must replace it."


def open_secret(ciphertext: str) -> Secret:
    """Decrypt a stored secret; CredentialUnusable when no configured key opens it."""
    try:
        return decrypt(ciphertext)
    except DecryptionFailed:
        raise CredentialUnusable from None


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
