"""`manage.py rotate_encryption_keys`: re-encrypt every credential with the newest key.

Put the new key first in PORTAL_ENCRYPTION_KEYS (keeping the old ones after it), deploy, run this,
then drop the old keys. Running it again changes nothing and says so.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.crypto import DecryptionFailed, encrypted_with_newest_key, rotate
from accounts.models import Credential, Health


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
        self.stdout.write(
            f"Re-encrypted {changed} credential(s) with the newest key; "
            f"{unchanged} already used it; {failed} could not be decrypted."
        )
        if failed:
            self.stderr.write(
                f"{failed} credential(s) could not be decrypted with any configured key and are "
                "now marked 'needs re-linking'."
            )
