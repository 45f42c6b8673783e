from typing import Any

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Pulsetracker and Pulsoid"

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from accounts.models import Credential
        from integrations import cache

        def changed(sender: type, instance: Credential, **kwargs: Any) -> None:
            # Now, so no request serves the old page from here on, and again once the change is
            # committed, so a page stored from the old rows in between is not served either.
            cache.credentials_changed(instance.team_id)
            transaction.on_commit(lambda: cache.credentials_changed(instance.team_id))

        post_save.connect(changed, sender=Credential, dispatch_uid="credentials-changed-save")
        post_delete.connect(changed, sender=Credential, dispatch_uid="credentials-changed-delete")
