"""No page shows a server error because an upstream misbehaved.

Every page that reads Pulsetracker or Pulsoid is opened while that upstream answers every call
with a server error, an HTML page instead of JSON, JSON of the wrong shape, or a refusal the
portal has no special words for. Each page must still answer (its own message in place of the
data), never with a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from integrations.models import GeofenceApp

PULSETRACKER = "/pulsetracker/api/"
PULSOID = "/pulsoid/api/v1/"

#: How an upstream misbehaves: the sandbox fault's arguments.
FAULTS: dict[str, dict[str, Any]] = {
    "server error": {"status": 500},
    "html instead of json": {"non_json": True},
    "json of the wrong shape": {"status": 200, "body": {"data": "nope", "meta": []}},
    "an unexpected refusal": {"status": 418, "body": {"message": "I'm a teapot"}},
}


@pytest.fixture
def world(sandbox_settings, pulsetracker_credential, pulsoid_credential) -> dict[str, Any]:
    """A Pulsetracker app with a device and a geofence (its numeric id known to the portal),
    and a Pulsoid widget, made in the sandbox directly (no upstream call through the portal)."""
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, "Misbehaving")
    device = sandbox_settings.pulsetracker.add_device(
        token, app["key"], "Van", last_location=(3.06, 36.75)
    )
    fence = sandbox_settings.pulsetracker.add_geofence(
        token, app["key"], "Depot", [(3.0, 36.7), (3.1, 36.7), (3.1, 36.8)]
    )
    GeofenceApp.objects.create(  # the app's numeric id, told to the portal
        credential=pulsetracker_credential,
        app_key=app["key"],
        app_id=sandbox_settings.pulsetracker.app_id(app["key"]),
        app_id_source=GeofenceApp.IdSource.ENTERED,
    )
    return {
        "tracker": pulsetracker_credential.pk,
        "pulsoid": pulsoid_credential.pk,
        "app": app["key"],
        "device": device["key"],
        "geofence": fence["id"],
        "widget": sandbox_settings.seed.pulsoid_widget_ids[0],
    }


#: Every page reading an upstream: (name, which upstream misbehaves, its address).
PAGES: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
    ("dashboard (Pulsetracker)", PULSETRACKER, lambda w: reverse("home")),
    ("dashboard (Pulsoid)", PULSOID, lambda w: reverse("home")),
    ("apps list", PULSETRACKER, lambda w: reverse("app-list", args=[w["tracker"]])),
    ("apps search", PULSETRACKER, lambda w: reverse("app-list", args=[w["tracker"]]) + "?q=a"),
    ("app page", PULSETRACKER, lambda w: reverse("app-detail", args=[w["tracker"], w["app"]])),
    (
        "device page",
        PULSETRACKER,
        lambda w: reverse("device-detail", args=[w["tracker"], w["app"], w["device"]]),
    ),
    (
        "device positions",
        PULSETRACKER,
        lambda w: reverse("device-positions", args=[w["tracker"], w["app"]]),
    ),
    ("geofences", PULSETRACKER, lambda w: reverse("geofences", args=[w["tracker"], w["app"]])),
    (
        "geofence editor",
        PULSETRACKER,
        lambda w: reverse("geofence-edit", args=[w["tracker"], w["app"], w["geofence"]]),
    ),
    ("widgets list", PULSOID, lambda w: reverse("widget-list", args=[w["pulsoid"]])),
    (
        "widget editor",
        PULSOID,
        lambda w: reverse("widget-edit", args=[w["pulsoid"], w["widget"]]),
    ),
    ("heart rate", PULSOID, lambda w: reverse("heart-rate", args=[w["pulsoid"]])),
]


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
@pytest.mark.parametrize(("page", "upstream", "url"), PAGES, ids=[p[0] for p in PAGES])
def test_a_page_answers_without_a_server_error_whatever_the_upstream_does(
    page, upstream, url, fault, world, as_user, alice, sandbox_settings
):
    address = url(world)
    sandbox_settings.fault("*", upstream, times=1000, **FAULTS[fault])
    asked_before = len(sandbox_settings.requests_to("*", upstream))
    response = as_user(alice).get(address)
    assert response.status_code < 500, f"{page} answered {response.status_code}"
    body = response.content.decode()
    assert "Server Error" not in body
    assert "Traceback" not in body
    # It did ask: the misbehaviour was met, not avoided by a cached copy.
    assert len(sandbox_settings.requests_to("*", upstream)) > asked_before
