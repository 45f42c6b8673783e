"""No page shows a server error because an upstream misbehaved, and no form loses what was typed.

Every page that reads Pulsetracker or Pulsoid is opened while that upstream answers every call
with a server error, an HTML page instead of JSON, JSON of the wrong shape, or a refusal the
portal has no special words for. Each page must still answer (its own message in place of the
data), never with a 500.
"""

from __future__ import annotations

import json
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
    "no answer in time": {"timeout": True},
}


def misbehave(sandbox, settings, upstream: str, fault: str) -> None:
    """From now on, every call to `upstream` meets `fault`; one that never answers is given up
    on after half a second (the portal's own read timeout), once the world is set up."""
    if FAULTS[fault].get("timeout"):
        settings.UPSTREAM_READ_TIMEOUT = 0.5
    sandbox.fault("*", upstream, times=1000, **FAULTS[fault])


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
    page, upstream, url, fault, world, as_user, alice, sandbox_settings, settings
):
    address = url(world)
    misbehave(sandbox_settings, settings, upstream, fault)
    asked_before = len(sandbox_settings.requests_to("*", upstream))
    response = as_user(alice).get(address)
    assert response.status_code < 500, f"{page} answered {response.status_code}"
    body = response.content.decode()
    assert "Server Error" not in body
    assert "Traceback" not in body
    # It did ask: the misbehaviour was met, not avoided by a cached copy.
    assert len(sandbox_settings.requests_to("*", upstream)) > asked_before


# Forms: what was typed comes back, with the reason, whatever the upstream answered.

HTMX = {"HTTP_HX_REQUEST": "true"}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[3.05, 36.75], [3.06, 36.75], [3.06, 36.76], [3.05, 36.76], [3.05, 36.75]]],
}


def _widget_form(w: dict[str, Any]) -> dict[str, str]:
    from integrations.pulsoid.forms import data_for

    configuration = {
        "heartEnabled": True,
        "heartColor": "#ff0000",
        "font": "Typed Font",
        "ranges": [{"from": 40, "to": 100, "color": "#00ff00"}],
    }
    return data_for("Typed widget", configuration)


#: Every form that sends something upstream: (name, upstream, address, what is typed, htmx,
#: a text of what was typed that the answer must show again).
FORMS: list[tuple[str, str, Callable[[dict[str, Any]], str], Callable[..., dict], bool, str]] = [
    (
        "create an app",
        PULSETRACKER,
        lambda w: reverse("app-create", args=[w["tracker"]]),
        lambda w: {"name": "Typed app", "submission": "s-app"},
        True,
        "Typed app",
    ),
    (
        "rename an app",
        PULSETRACKER,
        lambda w: reverse("app-rename", args=[w["tracker"], w["app"]]),
        lambda w: {"name": "Typed rename", "original": "Misbehaving"},
        True,
        "Typed rename",
    ),
    (
        "create a device",
        PULSETRACKER,
        lambda w: reverse("device-create", args=[w["tracker"], w["app"]]),
        lambda w: {"name": "Typed van", "type_id": "1", "submission": "s-dev"},
        True,
        "Typed van",
    ),
    (
        "rename a device",
        PULSETRACKER,
        lambda w: reverse("device-rename", args=[w["tracker"], w["app"], w["device"]]),
        lambda w: {"name": "Typed device", "original": "Van"},
        True,
        "Typed device",
    ),
    (
        "create a geofence",
        PULSETRACKER,
        lambda w: reverse("geofence-create", args=[w["tracker"], w["app"]]),
        lambda w: {
            "name": "Typed fence",
            "webhook_url": "",
            "geometry": json.dumps(SQUARE),
            "submission": "s-fence",
        },
        False,
        "Typed fence",
    ),
    (
        "link a Pulsetracker token",
        PULSETRACKER,
        lambda w: reverse("credential-link"),
        lambda w: {"service": "pulsetracker", "label": "Typed label", "token": "9|" + "t" * 40},
        True,
        "Typed label",
    ),
    (
        "link a Pulsoid token",
        PULSOID,
        lambda w: reverse("credential-link"),
        lambda w: {
            "service": "pulsoid",
            "label": "Typed label",
            "token": "22222222-2222-4222-8222-222222222222",
        },
        True,
        "Typed label",
    ),
    (
        "edit a geofence",
        PULSETRACKER,
        lambda w: reverse("geofence-edit", args=[w["tracker"], w["app"], w["geofence"]]),
        lambda w: {"name": "Typed edit", "webhook_url": "", "geometry": json.dumps(SQUARE)},
        False,
        "Typed edit",
    ),
    (
        "create a widget",
        PULSOID,
        lambda w: reverse("widget-create", args=[w["pulsoid"]]),
        _widget_form,
        False,
        "Typed Font",
    ),
    (
        "reconfigure a widget",
        PULSOID,
        lambda w: reverse("widget-edit", args=[w["pulsoid"], w["widget"]]),
        _widget_form,
        False,
        "Typed Font",
    ),
]


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
@pytest.mark.parametrize(
    ("form", "upstream", "url", "typed", "with_htmx", "kept"), FORMS, ids=[f[0] for f in FORMS]
)
def test_a_form_keeps_what_was_typed_whatever_the_upstream_does(
    form,
    upstream,
    url,
    typed,
    with_htmx,
    kept,
    fault,
    world,
    as_user,
    alice,
    sandbox_settings,
    settings,
):
    address = url(world)
    misbehave(sandbox_settings, settings, upstream, fault)
    asked_before = len(sandbox_settings.requests_to("*", upstream))
    response = as_user(alice).post(address, typed(world), **(HTMX if with_htmx else {}))
    assert response.status_code < 500, f"{form} answered {response.status_code}"
    body = response.content.decode()
    assert kept in body, f"{form}: what was typed is gone"
    assert len(sandbox_settings.requests_to("*", upstream)) > asked_before
