"""The sandbox's seeded identities. Constants, so `make demo`, docs and tests can name them."""

from __future__ import annotations

from dataclasses import dataclass

#: The seven scopes Pulsoid documents.
PULSOID_SCOPES: tuple[str, ...] = (
    "data:heart_rate:read",
    "data:heart_rate:write",
    "data:statistics:read",
    "data:room:read",
    "widgets:read",
    "widgets:update",
    "profile:read",
)


@dataclass(frozen=True)
class Seed:
    """Who exists after `Sandbox()` or `reset()`.

    Pulsetracker: a free-plan user (one app, at its limit), a paid user (30 apps over the past
    months, some with devices) and a user whose email is not verified (no apps, cannot create).
    Pulsoid: a streamer with widgets and heart-rate data (full, read-only and expired tokens), a
    second streamer with no heart-rate data, and one OAuth client.
    """

    pulsetracker_free_token: str = "1|sandboxFreePlanUserToken0000000000000000"
    pulsetracker_paid_token: str = "2|sandboxPaidPlanUserToken0000000000000000"
    pulsetracker_unverified_token: str = "3|sandboxUnverifiedUserToken00000000000000"
    pulsetracker_free_app_key: str = "0f4e1a6c-9b2d-4c1e-8a3f-5d6b7c8e9f01"

    pulsoid_user_id: str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    pulsoid_full_token: str = "11111111-1111-4111-8111-111111111111"
    pulsoid_readonly_token: str = "22222222-2222-4222-8222-222222222222"
    pulsoid_expired_token: str = "44444444-4444-4444-8444-444444444444"
    pulsoid_widget_ids: tuple[str, str] = (
        "cccccccc-cccc-4ccc-8ccc-cccccccccc01",
        "cccccccc-cccc-4ccc-8ccc-cccccccccc02",
    )
    pulsoid_nodata_user_id: str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    pulsoid_nodata_token: str = "33333333-3333-4333-8333-333333333333"
    pulsoid_client_id: str = "sandbox-client"
    pulsoid_client_secret: str = "sandbox-secret"
    #: The client id that `/token/validate` reports for manual (dashboard-issued) tokens.
    pulsoid_manual_client_id: str = "99999999-9999-4999-8999-999999999999"


#: The one seed every sandbox uses.
SEED = Seed()
