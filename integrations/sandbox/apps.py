from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The sandbox as a Django app, so `manage.py demo` and `manage.py sandbox` exist.

    A development tool: settings install it only with DEBUG on and only where its code is present;
    the Docker image and the built package leave it out.
    """

    name = "integrations.sandbox"
    label = "sandbox"
    verbose_name = "API sandbox (development only)"
