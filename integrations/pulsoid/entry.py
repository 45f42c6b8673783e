"""Pulsoid's entry in the service registry: how a token is checked, refreshed and revoked, and
the dashboard's card of a credential (its widgets and the latest heart rate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse
from django.utils.timesince import timesince

from accounts.models import User
from integrations import cache, fanout
from integrations.models import Credential, Service
from integrations.pulsoid.checks import SCOPE_FEATURES, check
from integrations.pulsoid.client import (
    SCOPE_HEART_RATE_READ,
    SCOPE_WIDGETS_READ,
    HeartRate,
    PulsoidClient,
)
from integrations.pulsoid.oauth import call_pulsoid, refresh_ahead, refresh_if_due, revoke_on_unlink
from integrations.upstreams import Fact, Summary, Upstream


def _lacks(scope: str) -> str:
    return f"not shown: the token lacks “{scope}”"


def _heart_rate(reading: HeartRate | None) -> str:
    if reading is None:
        return "no reading yet"
    return f"{reading.bpm} BPM, {timesince(reading.measured_at)} ago"


def summarize(credential: Credential, user: User, fresh: bool) -> cache.Read[Summary]:
    """How many widgets (the cache entry the widgets page reads too) and the latest heart rate,
    asked at once; what the token's scopes do not allow is said, not asked."""

    def asking(name: str, call: Callable[[PulsoidClient], Any]) -> Callable[[], cache.Read[Any]]:
        def load() -> Any:
            return call_pulsoid(credential, user, call)

        return lambda: cache.read(credential.pk, name, load, fresh=fresh)

    asks: dict[str, Callable[[], cache.Read[Any]]] = {}
    if SCOPE_WIDGETS_READ in credential.scopes:
        asks["widgets"] = asking("widgets", lambda client: client.list_widgets())
    if SCOPE_HEART_RATE_READ in credential.scopes:
        asks["heart-rate"] = asking("heart-rate", lambda client: client.latest_heart_rate())
    if asks:
        refresh_if_due(credential, user)  # once, here, rather than in each call at once
    found = dict(zip(asks, fanout.gather(list(asks.values())), strict=True))
    widgets, heart = found.get("widgets"), found.get("heart-rate")
    facts = (
        Fact("Widgets", str(len(widgets.value)) if widgets else _lacks(SCOPE_WIDGETS_READ)),
        Fact(
            "Latest heart rate",
            _heart_rate(heart.value) if heart else _lacks(SCOPE_HEART_RATE_READ),
        ),
    )
    summary = Summary(facts, reverse("widget-list", args=[credential.pk]))
    age = cache.oldest(list(found.values()))
    return cache.Read(summary, age.fetched, age.stale, age.refresh_failed)


UPSTREAM = Upstream(
    key=Service.PULSOID,
    label="Pulsoid",
    check=check,
    nav_label="Widgets",
    nav_url="widgets",
    prepare=refresh_if_due,
    forget=revoke_on_unlink,
    refresh_ahead=refresh_ahead,
    tokens_expire=True,
    scope_features=SCOPE_FEATURES,
    summarize=summarize,
)
