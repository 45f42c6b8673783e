"""Devices in a real browser: create one, see it on the map once it reports, open its history
and track; the map without tiles; the map's polling pauses while the tab is hidden."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import settled
from tests.test_browser_apps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_console(page: Page) -> list[str]:
    """Console errors and CSP violations of the page, as they happen."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return problems


def test_create_a_device_see_it_on_the_map_then_its_history_and_track(
    live_server, page: Page, bob, pulsetracker_credential, sandbox_settings, settings
):
    settings.PULSETRACKER_MAP_POLL_SECONDS = 1
    settings.UPSTREAM_CACHE_SECONDS = 1
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, "Vans")
    problems = watch_console(page)
    log_in(page, live_server, bob)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/")
    expect(page.get_by_test_id("no-devices")).to_be_visible()
    devices_map = page.get_by_test_id("devices-map")
    expect(devices_map.locator(".leaflet-tile-loaded").first).to_be_attached()

    page.get_by_role("button", name="Add a device").click()
    settled(page)
    page.get_by_label("Name").fill("Van 7")
    page.get_by_label("Type").select_option(label="Car")
    page.get_by_role("button", name="Create device").click()
    expect(page.get_by_test_id("notice")).to_have_text("Created the device “Van 7”.")
    row = page.get_by_test_id("device-row").filter(has_text="Van 7")
    expect(row).to_contain_text("Car")
    expect(row).to_contain_text("never")
    expect(devices_map.locator(".map-marker")).to_have_count(0)

    key = next(
        d["key"] for d in sandbox_settings.pulsetracker.devices(token) if d["name"] == "Van 7"
    )
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    sandbox_settings.pulsetracker.report_position(key, 3.0500, 36.7500, at=earlier)
    sandbox_settings.pulsetracker.report_position(key, 3.0588, 36.7538, extra={"speed": 42})
    # The page asks the portal again on its own; the marker appears, named.
    expect(devices_map.locator(".map-marker")).to_have_count(1)
    expect(devices_map.locator(".map-label")).to_have_text("Van 7")
    expect(page.get_by_test_id("map-status")).to_contain_text("Updated")

    row.get_by_role("link", name="Van 7").click()
    expect(page.get_by_role("heading", name="Location history")).to_be_visible()
    rows = page.get_by_test_id("history-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("36.753800")
    expect(rows.first.get_by_test_id("extra-data")).to_contain_text('"speed": 42')
    track_map = page.get_by_test_id("track-map")
    expect(track_map.locator("path.map-track")).to_have_count(1)
    expect(track_map.locator(".map-track-end")).to_have_count(1)
    expect(page.get_by_test_id("track-count")).to_contain_text("2 positions that day")
    assert problems == []


def test_markers_draw_when_the_tile_server_cannot_be_reached(
    live_server, page: Page, carol, pulsetracker_credential, sandbox_settings, settings
):
    settings.PULSETRACKER_MAP_TILES_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing there
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.apps(token)[0]  # Fleet 30: two of its three report
    log_in(page, live_server, carol)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/")
    devices_map = page.get_by_test_id("devices-map")
    expect(devices_map.locator(".map-marker")).to_have_count(2)
    labels = devices_map.locator(".map-label")
    expect(labels.filter(has_text="Phone 1")).to_have_count(1)
    expect(labels.filter(has_text="Phone 3")).to_have_count(1)
    expect(devices_map.locator(".leaflet-tile-loaded")).to_have_count(0)
    expect(page.get_by_role("button", name="Add a device")).to_have_count(0)  # a viewer
    # A device's track too (the seeded ones carry a short one).
    page.get_by_role("link", name="Phone 1").click()
    track_map = page.get_by_test_id("track-map")
    expect(track_map.locator("path.map-track")).to_have_count(1)
    expect(track_map.locator(".leaflet-tile-loaded")).to_have_count(0)


def test_the_map_stops_asking_while_the_tab_is_hidden_and_asks_on_return(
    live_server, page: Page, carol, pulsetracker_credential, sandbox_settings, settings
):
    settings.PULSETRACKER_MAP_POLL_SECONDS = 1
    app = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0]
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/positions/" in r.url else None)
    # The page's visibility, as the browser would report it for a background tab.
    page.add_init_script(
        "window.__visibility = 'visible';"
        "Object.defineProperty(document, 'visibilityState', {get: () => window.__visibility});"
    )
    log_in(page, live_server, carol)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/")
    page.wait_for_function(
        "n => window.performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/positions/')).length >= n",
        arg=1,
    )
    page.evaluate(
        "window.__visibility = 'hidden'; document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_load_state("networkidle")
    hidden_at = len(asked)
    page.wait_for_timeout(3000)  # three polling intervals
    assert len(asked) == hidden_at
    page.evaluate(
        "window.__visibility = 'visible'; document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_function(
        "n => window.performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/positions/')).length > n",
        arg=hidden_at,
    )


def test_a_failed_refresh_keeps_the_markers_and_says_why(
    live_server, page: Page, carol, pulsetracker_credential, sandbox_settings, settings
):
    settings.PULSETRACKER_MAP_POLL_SECONDS = 1
    settings.UPSTREAM_CACHE_SECONDS = 1
    app = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0]
    log_in(page, live_server, carol)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/")
    devices_map = page.get_by_test_id("devices-map")
    expect(devices_map.locator(".map-marker")).to_have_count(2)
    sandbox_settings.fault("GET", "/pulsetracker/api/devices", status=500, times=1000)
    expect(page.get_by_test_id("map-status")).to_contain_text("Could not refresh the map")
    expect(devices_map.locator(".map-marker")).to_have_count(2)


def test_the_map_draws_again_when_a_stale_app_page_refreshes_itself(
    live_server, page: Page, carol, pulsetracker_credential, sandbox_settings, settings
):
    settings.UPSTREAM_CACHE_SECONDS = 1
    app = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0]
    url = f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/"
    refreshes: list[str] = []
    page.on("request", lambda r: refreshes.append(r.url) if "fresh=1" in r.url else None)
    log_in(page, live_server, carol)
    page.goto(url)
    expect(page.get_by_test_id("devices-map").locator(".map-marker")).to_have_count(2)
    page.wait_for_timeout(1100)  # what the page read is now older than the cache's freshness
    page.goto(url)
    # The page paints the stored devices, then swaps in the refreshed region, map and all.
    page.wait_for_function("() => !document.querySelector('[data-testid=freshness]')")
    settled(page)
    assert refreshes, "the page did not refresh itself"
    devices_map = page.get_by_test_id("devices-map")
    expect(devices_map.locator(".map-marker")).to_have_count(2)
    expect(devices_map.locator(".leaflet-tile-loaded").first).to_be_attached()


def test_a_device_name_is_shown_on_the_map_as_text_never_as_markup(
    live_server, page: Page, carol, pulsetracker_credential, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, "Names")
    name = '<img src="x" class="injected"><i>Van</i>'
    sandbox_settings.pulsetracker.add_device(token, app["key"], name, last_location=(3.0, 36.0))
    log_in(page, live_server, carol)
    page.goto(f"{live_server.url}/apps/{pulsetracker_credential.pk}/{app['key']}/")
    label = page.get_by_test_id("devices-map").locator(".map-label")
    expect(label).to_have_text(name)
    expect(page.locator(".injected")).to_have_count(0)
