from django.apps import AppConfig


class PulsoidConfig(AppConfig):
    """Pulsoid's pages; an app only so its templates are found beside its code."""

    name = "integrations.pulsoid"
    label = "pulsoid"
    verbose_name = "Pulsoid"
