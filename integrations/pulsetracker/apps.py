from django.apps import AppConfig


class PulsetrackerConfig(AppConfig):
    """Pulsetracker's pages; an app only so its templates are found beside its code."""

    name = "integrations.pulsetracker"
    label = "pulsetracker"
    verbose_name = "Pulsetracker"
