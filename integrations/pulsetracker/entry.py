"""Pulsetracker's entry in the service registry. Its tokens never expire and carry no scopes,
so a check is simply listing the first page of apps."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables

from accounts.crypto import Secret
from integrations.models import Health, Service
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.upstreams import CheckResult, Upstream


@sensitive_variables("token")
def check(token: Secret) -> CheckResult:
    PulsetrackerClient(token).list_apps(page=1)
    return CheckResult(Health.OK)


UPSTREAM = Upstream(
    key=Service.PULSETRACKER,
    label="Pulsetracker",
    check=check,
    nav_label="Apps",
    nav_url="apps",
)
