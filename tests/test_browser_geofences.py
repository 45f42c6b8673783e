"""A geofence in a real browser: drawn by clicking the map, saved with its own receiving address in
the portal as its webhook URL; a device leaving it shows up on the app page and in the activity
log, and the same event at another geofence's address, or a forged one, is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations.sandbox.pulsetracker import point_in_polygon
from tests.conftest import settled
from tests.test_browser_apps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_draw_a_geofence_receive_a_devices_exit_and_refuse_a_forged_event(
    live_server, page: Page, alice, pulsetracker_credential, sandbox_settings
):
    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_paid_token
    key = next(app["key"] for app in api.apps(token) if app["devices_count"] == 0)
    van = api.add_device(token, key, "Van 7", last_location=(3.055, 36.755))
    refused_by_policy: list[str] = []
    page.on(
        "console",
        lambda m: refused_by_policy.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{key}/")
    page.get_by_test_id("geofences-link").click()

    # The app's numeric id, which no app endpoint gives, is asked for once.
    expect(page.get_by_test_id("app-id-needed")).to_be_visible()
    page.get_by_label("Pulsetracker app id").fill(str(api.app_id(key)))
    page.get_by_role("button", name="Save the app id").click()
    expect(page.get_by_test_id("app-id")).to_contain_text("entered by hand")

    # The account's webhook secret, pasted by an admin (alice owns the team).
    page.get_by_label("Webhook secret").fill(api.webhook_secret(token))
    page.get_by_role("button", name="Save the secret").click()
    expect(page.get_by_test_id("secret-state")).to_contain_text("Set by alice@acme.test")
    app_wide = page.get_by_test_id("receiving-url").inner_text()
    assert app_wide.startswith(f"{live_server.url}/hooks/pulsetracker/")

    # Draw it: the map opens around the van; four clicks make a square around it.
    page.get_by_test_id("new-geofence").click()
    draw = page.get_by_test_id("draw-map")
    expect(draw).to_have_attribute("data-corners", "0")
    expect(draw.locator(".map-marker")).to_have_count(1)
    box = draw.bounding_box()
    assert box is not None
    centre_x, centre_y = box["width"] / 2, box["height"] / 2
    for dx, dy in [(-70, -70), (70, -70), (70, 70), (-70, 70)]:
        draw.click(position={"x": centre_x + dx, "y": centre_y + dy})
    expect(draw).to_have_attribute("data-corners", "4")
    expect(page.get_by_test_id("corner-count")).to_have_text("4 corners.")
    expect(page.get_by_label("Polygon (GeoJSON)")).to_have_value(re.compile(r'"type":"Polygon"'))
    page.get_by_label("Name").fill("Depot")
    page.get_by_role("button", name="Use this portal's receiving URL").click()
    # The geofence's own address, not the app-wide one: the app's plus a slot of its own.
    own = re.compile(re.escape(app_wide) + r"new-[0-9a-f]{16}/$")
    expect(page.get_by_label("Webhook URL")).to_have_value(own)
    receiving = page.get_by_label("Webhook URL").input_value()
    page.get_by_role("button", name="Create geofence").click()

    expect(page.get_by_test_id("notice")).to_have_text("Created the geofence “Depot”.")
    row = page.get_by_test_id("geofence-row")
    expect(row).to_contain_text("Depot")
    expect(row.get_by_test_id("to-portal")).to_be_visible()
    [stored] = api.geofences(token)
    assert stored["webhook_url"] == receiving
    assert point_in_polygon((3.055, 36.755), stored["geometry"])  # the van is inside

    # The van drives out: the sandbox posts the signed event to the portal, which takes it.
    [delivery] = api.move_device(van["key"], 36.9, 3.3)
    assert (delivery["url"], delivery["status"]) == (receiving, 200)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{key}/")
    settled(page)
    event = page.get_by_test_id("geofence-event")
    expect(event).to_have_count(1)
    expect(event).to_contain_text("went outside")
    expect(event).to_contain_text(van["key"])
    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_text(re.compile(r"Device .* went outside geofence #\d+"))).to_be_visible()

    # The same signed event at another geofence's address is refused, and counted.
    elsewhere = page.request.post(
        f"{app_wide}{stored['id'] + 1}/",
        data=delivery["body"],
        headers=delivery["headers"],
    )
    assert elsewhere.status == 403

    # Someone without the secret posts an event: refused, and counted on the app page.
    forged = page.request.post(
        receiving,
        data=delivery["body"].replace(b"outside", b"inside"),
        headers={"Content-Type": "application/json", "p-signature": "0" * 64},
    )
    assert forged.status == 401
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{key}/")
    expect(page.get_by_test_id("refused-events")).to_contain_text("Refused 2 events")
    expect(page.get_by_test_id("geofence-event")).to_have_count(1)
    assert refused_by_policy == []  # the drawing ran under the strict policy


def test_edit_shows_the_shape_and_pasted_geojson_or_undo_changes_it(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings
):
    from integrations.models import GeofenceApp

    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_paid_token
    key = api.apps(token)[0]["key"]
    GeofenceApp.objects.create(
        credential=pulsetracker_credential, app_key=key, app_id=api.app_id(key)
    )
    square = [(3.05, 36.75), (3.06, 36.75), (3.06, 36.76), (3.05, 36.76)]
    made = api.add_geofence(token, key, "Depot", square)
    log_in(page, live_server, bob)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{key}/geofences/")
    page.get_by_role("link", name="Edit Depot").click()
    draw = page.get_by_test_id("draw-map")
    expect(draw).to_have_attribute("data-corners", "4")
    expect(draw.locator("path.map-drawing")).to_have_count(1)

    # Pasting GeoJSON redraws the map; undo takes the last corner off the text as well.
    triangle = '{"type": "Polygon", "coordinates": [[[3, 36], [3.1, 36], [3.1, 36.1], [3, 36]]]}'
    page.get_by_label("Polygon (GeoJSON)").fill(triangle)
    expect(draw).to_have_attribute("data-corners", "3")
    page.get_by_role("button", name="Undo last corner").click()
    expect(draw).to_have_attribute("data-corners", "2")
    expect(page.get_by_test_id("corner-count")).to_have_text(
        "2 corners: a geofence needs at least three."
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("geometry-errors")).to_have_text(
        "A polygon needs at least three distinct points."
    )
    page.get_by_label("Polygon (GeoJSON)").fill(triangle)
    page.get_by_label("Name").fill("Yard")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("notice")).to_have_text("Saved the geofence “Yard”.")
    stored = api.geofences(token)[0]
    assert stored["id"] == made["id"]
    assert stored["geometry"]["coordinates"] == [[[3, 36], [3.1, 36], [3.1, 36.1], [3, 36]]]
