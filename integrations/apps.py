from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Credentials for Pulsetracker and Pulsoid"

    def ready(self) -> None:
        post_migrate.connect(_schedule, sender=self, dispatch_uid="integrations-schedules")


def _schedule(sender: AppConfig, **kwargs: Any) -> None:
    """The background jobs' schedules (integrations/watch.py), made or corrected on every migrate,
    so a fresh install and an upgrade both have them. A schedule's next run survives restarts."""
    from django_q.models import Schedule

    from integrations.watch import SCHEDULES

    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes},
        )
