"""Pulsoid's entry in the service registry: how a token is checked, refreshed and revoked."""

from __future__ import annotations

from integrations.models import Service
from integrations.pulsoid.checks import SCOPE_FEATURES, check
from integrations.pulsoid.oauth import refresh_ahead, refresh_if_due, revoke_on_unlink
from integrations.upstreams import Upstream

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
)
