"""Pulsetracker's entry in the service registry. Its tokens never expire and carry no scopes,
so a check is simply listing the first page of apps. The dashboard's card counts the account's
apps and their messages this month, over every page of apps (`listing`)."""

from __future__ import annotations

from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from accounts.crypto import Secret
from accounts.models import User
from integrations import cache
from integrations.models import Credential, Health, Service
from integrations.pulsetracker import listing
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.upstreams import CheckResult, Fact, Summary, Upstream


@sensitive_variables("token")
def check(token: Secret) -> CheckResult:
    PulsetrackerClient(token).list_apps(page=1)
    return CheckResult(Health.OK)


def summarize(credential: Credential, user: User, fresh: bool) -> cache.Read[Summary]:
    """Apps and this month's messages (summed over every app's `quota`), from the whole list
    of apps the apps page also reads (one cache entry: pages fetched at once)."""
    found = listing.read_all_apps(credential, user, fresh=fresh)
    apps = found.value
    messages = sum(app.messages_this_month for app in apps.apps)
    count = f"{apps.total}" if apps.complete else f"{apps.total} (newest {len(apps.apps)} counted)"
    summary = Summary(
        facts=(Fact("Apps", count), Fact("Messages this month", f"{messages:,}")),
        url=reverse("app-list", args=[credential.pk]),
    )
    return cache.Read(summary, found.fetched, found.stale, found.refresh_failed)


UPSTREAM = Upstream(
    key=Service.PULSETRACKER,
    label="Pulsetracker",
    check=check,
    nav_label="Apps",
    nav_url="apps",
    summarize=summarize,
)
