"""`manage.py rotate_encryption_keys`: re-encrypt every stored secret with the newest key.

Put the new key first in PORTAL_ENCRYPTION_KEYS (keeping the old ones after it), deploy, run this,
then drop the old keys. Running it again changes nothing and says so. Every encrypted column is an
`accounts.crypto.EncryptedText`, and the command finds them all by that class: access tokens,
Pulsoid refresh tokens, webhook secrets, and whatever is added later.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import models, transaction

from accounts.crypto import DecryptionFailed, EncryptedText, encrypted_with_newest_key, rotate
from integrations.models import Credential, Health

UNDECRYPTABLE_DETAIL = "The token could not be decrypted during key rotation."


#: Secrets kept inside a JSON column of another app's model: (app label, model, field, keys).
#: allauth's second factors, encrypted by accounts.adapter.PortalMFAAdapter.
ENCRYPTED_JSON = [("mfa", "Authenticator", "data", ("secret", "seed"))]


def encrypted_columns() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) holding ciphertext, across all installed apps."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedText)
    ]


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key of PORTAL_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = unchanged = failed = 0
        with transaction.atomic():
            for model, name in encrypted_columns():
                rows = (
                    model._default_manager.select_for_update()
                    .exclude(**{name: ""})
                    .values_list("pk", name)
                )
                for pk, ciphertext in rows:
                    if encrypted_with_newest_key(ciphertext):
                        unchanged += 1
                        continue
                    try:
                        fresh = rotate(ciphertext)
                    except DecryptionFailed:
                        failed += 1
                        if model is Credential:
                            Credential.objects.filter(pk=pk).update(
                                health=Health.NEEDS_RELINKING,
                                health_detail=UNDECRYPTABLE_DETAIL,
                            )
                        continue
                    model._default_manager.filter(pk=pk).update(**{name: fresh})
                    changed += 1
            for label, name, field, keys in ENCRYPTED_JSON:
                model = apps.get_model(label, name)
                for row in model._default_manager.select_for_update():
                    data = dict(getattr(row, field) or {})
                    for key in keys:
                        value = data.get(key)
                        if not isinstance(value, str) or not value:
                            continue
                        if encrypted_with_newest_key(value):
                            unchanged += 1
                            continue
                        try:
                            data[key] = rotate(value)
                        except DecryptionFailed:
                            failed += 1
                            continue
                        model._default_manager.filter(pk=row.pk).update(**{field: data})
                        changed += 1
        self.stdout.write(
            f"Re-encrypted {changed} secret(s) with the newest key; "
            f"{unchanged} already used it; {failed} could not be decrypted."
        )
        if failed:
            self.stderr.write(
                f"{failed} secret(s) could not be decrypted with any configured key; credentials "
                "among them are now marked 'needs re-linking'."
            )
