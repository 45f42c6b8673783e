"""`manage.py rotate_encryption_keys`: re-encrypt every stored token with the newest key.

Put the new key first in PORTAL_ENCRYPTION_KEYS (keeping the old ones after it), deploy, run this,
then drop the old keys. Running it again changes nothing and says so. Pulsoid OAuth refresh tokens
are re-encrypted too, so an old key's removal never strands a connected account.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.crypto import DecryptionFailed, encrypted_with_newest_key, rotate
from integrations.models import Credential, Health, PulsoidGrant


class Command(BaseCommand):
    help = "Re-encrypt every stored token with the newest key of PORTAL_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = unchanged = failed = 0
        with transaction.atomic():
            for credential in Credential.objects.select_for_update().only("id", "ciphertext"):
                if encrypted_with_newest_key(credential.ciphertext):
                    unchanged += 1
                    continue
                try:
                    credential.ciphertext = rotate(credential.ciphertext)
                except DecryptionFailed:
                    failed += 1
                    Credential.objects.filter(pk=credential.pk).update(
                        health=Health.NEEDS_RELINKING,
                        health_detail="The token could not be decrypted during key rotation.",
                    )
                    continue
                Credential.objects.filter(pk=credential.pk).update(ciphertext=credential.ciphertext)
                changed += 1
            grants = PulsoidGrant.objects.select_for_update().exclude(refresh_ciphertext="")
            for grant in grants:
                if encrypted_with_newest_key(grant.refresh_ciphertext):
                    continue
                try:
                    grant.refresh_ciphertext = rotate(grant.refresh_ciphertext)
                except DecryptionFailed:
                    continue  # the access token's row already says what to do
                grant.save(update_fields=["refresh_ciphertext"])
        self.stdout.write(
            f"Re-encrypted {changed} credential(s) with the newest key; "
            f"{unchanged} already used it; {failed} could not be decrypted."
        )
        if failed:
            self.stderr.write(
                f"{failed} credential(s) could not be decrypted with any configured key and are "
                "now marked 'needs re-linking'."
            )
