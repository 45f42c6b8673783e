"""How the portal checks a Pulsoid token, and which of its scopes the portal's pages need."""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables

from accounts.crypto import Secret
from integrations.errors import UpstreamError
from integrations.models import Health
from integrations.pulsoid.client import (
    SCOPE_HEART_RATE_READ,
    SCOPE_PROFILE_READ,
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    PulsoidClient,
)
from integrations.upstreams import CheckResult

# Without these a Pulsoid credential cannot do what the portal is for; linking still works.
PORTAL_SCOPES = (SCOPE_WIDGETS_READ, SCOPE_WIDGETS_UPDATE)
# Which portal features each Pulsoid scope enables, for the credentials page and disabled controls.
SCOPE_FEATURES = {
    SCOPE_WIDGETS_READ: "listing widgets and opening them to reconfigure",
    SCOPE_WIDGETS_UPDATE: "creating and reconfiguring widgets",
    SCOPE_HEART_RATE_READ: "the live heart-rate preview",
    SCOPE_PROFILE_READ: "showing the streamer's channel",
}


@sensitive_variables("token")
def check(token: Secret) -> CheckResult:
    """Validate the token, recording its scopes, expiry and (with profile:read) channel."""
    info = PulsoidClient(token).validate_token()
    scopes = sorted(info.scopes)
    channel = _channel(token) if SCOPE_PROFILE_READ in info.scopes else ""
    missing = info.missing(*PORTAL_SCOPES)
    if missing:
        names = " and ".join(f"“{scope}”" for scope in missing)
        return CheckResult(
            Health.MISSING_SCOPE,
            f"The token lacks {names}; widget pages that need it are disabled.",
            scopes,
            info.expires_at,
            channel=channel,
        )
    return CheckResult(Health.OK, "", scopes, info.expires_at, channel=channel)


@sensitive_variables("token")
def _channel(token: Secret) -> str:
    """The streamer's channel, shown beside the credential; a failure here is not fatal."""
    try:
        return PulsoidClient(token).get_profile().channel or ""
    except UpstreamError:
        return ""
