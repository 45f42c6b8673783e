"""Pulsetracker devices through the portal: the app page's devices, map data and "Connect a
device", create and rename, the device page with its history and track, against the sandbox."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse

from accounts.crypto import Secret
from accounts.models import Activity
from integrations import credentials

DEVICES_API = "/pulsetracker/api/devices"


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}


@pytest.fixture
def vans(sandbox_settings):
    """An app of the paid account with two devices: "Van 7" (a Car, reporting) and "Van 8"."""
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, "Vans")
    van8 = sandbox_settings.pulsetracker.add_device(token, app["key"], "Van 8", type="Bus")
    van7 = sandbox_settings.pulsetracker.add_device(token, app["key"], "Van 7", type="Car")
    sandbox_settings.pulsetracker.report_position(
        van7["key"], 3.0588, 36.7538, extra={"speed": 42, "battery": 81}
    )
    return {"app": app["key"], "van7": van7["key"], "van8": van8["key"]}


def app_url(credential, key: str) -> str:
    return reverse("app-detail", args=[credential.pk, key])


def map_data(html: str, name: str = "devices-map-data") -> dict:
    found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S)
    assert found, f"no {name} block"
    return json.loads(found.group(1))


def row_of(html: str, name: str) -> str:
    """The devices table's row of the device with this name."""
    rows = html.split('<table class="table devices">')[1].split('data-testid="device-row"')[1:]
    [row] = [r.split("</tr>")[0] for r in rows if f">{name}</a>" in r]
    return row


def link(team, person, token: str, label: str):
    credential, result = credentials.link(team, person, "pulsetracker", label, Secret(token))
    assert credential is not None, result
    return credential


# The app page


def test_app_page_lists_each_device_with_type_last_seen_and_position(
    as_user, carol, pulsetracker_credential, vans
):
    html = as_user(carol).get(app_url(pulsetracker_credential, vans["app"])).content.decode()
    assert html.count('data-testid="device-row"') == 2
    row7 = row_of(html, "Van 7")
    assert "Car" in row7
    assert "36.75380, 3.05880" in row7
    assert "stale" not in row7
    row8 = row_of(html, "Van 8")
    assert "Bus" in row8
    assert "never" in row8
    assert "no position yet" in row8


def test_a_device_not_heard_from_past_the_threshold_is_marked_stale(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings, settings
):
    settings.PULSETRACKER_STALE_MINUTES = 30
    old = datetime.now(UTC) - timedelta(hours=2)
    sandbox_settings.pulsetracker.report_position(vans["van8"], 1.0, 2.0, at=old)
    html = as_user(carol).get(app_url(pulsetracker_credential, vans["app"])).content.decode()
    row8 = row_of(html, "Van 8")
    assert 'data-testid="stale-badge"' in row8
    assert "more than 30 minutes" in row8
    row7 = row_of(html, "Van 7")
    assert 'data-testid="stale-badge"' not in row7


def test_app_page_map_has_a_marker_per_located_device_and_the_tile_server(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    html = as_user(carol).get(app_url(pulsetracker_credential, vans["app"])).content.decode()
    data = map_data(html)
    assert [m["label"] for m in data["markers"]] == ["Van 7"]
    marker = data["markers"][0]
    assert (marker["lat"], marker["lon"]) == (36.7538, 3.0588)
    assert marker["url"].endswith(f"/devices/{vans['van7']}/")
    assert f'data-tiles="{sandbox_settings.map_tiles_url}"' in html
    assert 'src="/static/vendor/leaflet-1.9.4/leaflet.js"' in html
    positions = reverse("device-positions", args=[pulsetracker_credential.pk, vans["app"]])
    assert f'data-map-source="{positions}"' in html


@pytest.fixture
def fleet(sandbox_settings):
    """An app of the paid account with 15 located devices: more than Pulsetracker's page of 12."""
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, "Fleet")
    for number in range(1, 16):
        sandbox_settings.pulsetracker.add_device(
            token, app["key"], f"Truck {number}", last_location=(3.0 + number / 100, 36.7)
        )
    return app["key"]


def test_the_map_shows_every_device_of_the_app_not_only_the_tables_page(
    as_user, carol, pulsetracker_credential, fleet, sandbox_settings
):
    client = as_user(carol)
    html = client.get(app_url(pulsetracker_credential, fleet)).content.decode()
    everyone = {f"Truck {number}" for number in range(1, 16)}
    assert {m["label"] for m in map_data(html)["markers"]} == everyone
    assert len(re.findall(r'data-testid="device-row"', html)) == 12  # the table pages
    assert 'data-testid="map-partial"' not in html
    positions = reverse("device-positions", args=[pulsetracker_credential.pk, fleet])
    assert {m["label"] for m in client.get(positions).json()["markers"]} == everyone
    # Both pages read once, for the page and the map's polling together.
    assert len(sandbox_settings.requests_to("GET", DEVICES_API)) == 2


def test_a_later_read_of_a_grown_fleet_still_maps_every_device(
    as_user, carol, pulsetracker_credential, fleet, sandbox_settings
):
    from integrations import cache

    client = as_user(carol)
    client.get(app_url(pulsetracker_credential, fleet))  # two pages: remembered
    token = sandbox_settings.seed.pulsetracker_paid_token
    for number in range(16, 28):  # a third page since
        sandbox_settings.pulsetracker.add_device(
            token, fleet, f"Truck {number}", last_location=(3.0 + number / 100, 36.7)
        )
    cache.invalidate(pulsetracker_credential.pk)
    seen = len(sandbox_settings.requests_to("GET", DEVICES_API))
    html = client.get(app_url(pulsetracker_credential, fleet)).content.decode()
    everyone = {f"Truck {number}" for number in range(1, 28)}
    assert {m["label"] for m in map_data(html)["markers"]} == everyone
    pages = [r.query.get("page") for r in sandbox_settings.requests_to("GET", DEVICES_API)[seen:]]
    assert sorted(pages[:2]) == ["1", "2"]  # the two known pages together, then the new one
    assert pages[2:] == ["3"]


def test_past_the_most_pages_the_map_shows_the_newest_and_says_so(
    as_user, carol, pulsetracker_credential, fleet, monkeypatch
):
    from integrations.pulsetracker import views_devices

    monkeypatch.setattr(views_devices, "MAP_PAGES", 1)
    html = as_user(carol).get(app_url(pulsetracker_credential, fleet)).content.decode()
    assert len(map_data(html)["markers"]) == 12
    assert "The map shows the newest 12 of 15 devices." in html


def test_the_app_and_its_devices_are_read_at_once_and_the_devices_once(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    as_user(carol).get(app_url(pulsetracker_credential, vans["app"]))
    assert len(sandbox_settings.requests_to("GET", DEVICES_API)) == 1
    assert len(sandbox_settings.requests_to("GET", f"/pulsetracker/api/apps/{vans['app']}")) == 1


def test_connect_panel_gives_host_port_url_and_each_devices_message(
    as_user, carol, pulsetracker_credential, vans, settings
):
    settings.PULSETRACKER_UDP_HOST = "udp.example.test"
    settings.PULSETRACKER_UDP_PORT = 9999
    settings.PULSETRACKER_WEBSOCKET_URL = "wss://ws.example.test"
    html = as_user(carol).get(app_url(pulsetracker_credential, vans["app"])).content.decode()
    panel = html.split('data-testid="connect-panel"')[1]
    assert 'data-copy="udp.example.test"' in panel
    assert 'data-copy="9999"' in panel
    assert 'data-copy="wss://ws.example.test"' in panel
    messages = re.findall(r'data-testid="device-message"><code>(.*?)</code>', panel, re.S)
    assert "&quot;coordinates&quot;: [3.0588, 36.7538]" in panel  # the pair on one line
    assert len(messages) == 2
    sent = [json.loads(m.replace("&quot;", '"')) for m in messages]
    by_device = {m["clientId"]: m for m in sent}
    assert by_device[vans["van7"]] == {
        "appId": vans["app"],
        "clientId": vans["van7"],
        "data": {"type": "Point", "coordinates": [3.0588, 36.7538]},
        "extra": {},
    }
    assert by_device[vans["van8"]]["appId"] == vans["app"]


def test_viewers_see_devices_but_no_way_to_add_or_rename(
    as_user, carol, pulsetracker_credential, vans
):
    html = as_user(carol).get(app_url(pulsetracker_credential, vans["app"])).content.decode()
    assert "Add a device" not in html
    assert "device-rename" not in html.replace("device-rename-input", "")
    url = reverse("device-create", args=[pulsetracker_credential.pk, vans["app"]])
    answer = as_user(carol).post(url, {"name": "Nope", "type_id": "1"}, **htmx())
    assert answer.status_code == 403


# The map's refresh


def test_positions_follow_the_devices_and_share_the_cache_with_the_page(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings, settings
):
    client = as_user(carol)
    url = reverse("device-positions", args=[pulsetracker_credential.pk, vans["app"]])
    client.get(app_url(pulsetracker_credential, vans["app"]))
    first = client.get(url)
    assert first["Content-Type"] == "application/json"
    assert [m["label"] for m in first.json()["markers"]] == ["Van 7"]
    # Within UPSTREAM_CACHE_SECONDS the poll is answered from the page's own read.
    assert len(sandbox_settings.requests_to("GET", DEVICES_API)) == 1
    sandbox_settings.pulsetracker.report_position(vans["van8"], 2.35, 48.85)
    settings.UPSTREAM_CACHE_SECONDS = 0
    markers = {m["label"]: m for m in client.get(url).json()["markers"]}
    assert (markers["Van 8"]["lat"], markers["Van 8"]["lon"]) == (48.85, 2.35)


def test_positions_when_upstream_fails_say_so_in_the_json(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    sandbox_settings.fault("GET", DEVICES_API, status=503, times=5)
    url = reverse("device-positions", args=[pulsetracker_credential.pk, vans["app"]])
    answer = as_user(carol).get(url)
    assert answer.status_code == 200
    assert answer.json()["error"].startswith("Could not refresh the map:")
    assert "markers" not in answer.json()


# Create


def create_url(credential, key: str) -> str:
    return reverse("device-create", args=[credential.pk, key])


def test_create_form_offers_the_upstreams_device_types(as_user, bob, pulsetracker_credential, vans):
    html = as_user(bob).get(create_url(pulsetracker_credential, vans["app"]), **htmx())
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', html.content.decode())
    assert ("1", "Smartphone") in options
    assert len(options) == 14


def test_a_member_creates_a_device_which_the_table_then_shows(
    as_user, bob, pulsetracker_credential, vans, sandbox_settings
):
    client = as_user(bob)
    answer = client.post(
        create_url(pulsetracker_credential, vans["app"]),
        {"name": "  Drone 1 ", "type_id": "6", "submission": "s1"},
        **htmx(),
    )
    assert "Created the device “Drone 1”." in answer.content.decode()
    assert answer["HX-Trigger"] == "device-created"
    stored = sandbox_settings.pulsetracker.devices(sandbox_settings.seed.pulsetracker_paid_token)
    assert any(d["name"] == "Drone 1" and d["type"] == "Drone" for d in stored)
    entry = Activity.objects.get(action="device created")
    assert entry.actor == bob
    assert "Drone 1" in entry.target
    table = client.get(
        reverse("device-list", args=[pulsetracker_credential.pk, vans["app"]]), **htmx()
    )
    assert "Drone 1" in table.content.decode()


def test_create_at_the_plan_quota_shows_the_refusal_and_keeps_the_input(
    as_user, acme, alice, sandbox_settings
):
    free = link(acme, alice, sandbox_settings.seed.pulsetracker_free_token, "Free plan")
    key = sandbox_settings.seed.pulsetracker_free_app_key
    sandbox_settings.pulsetracker.add_device(
        sandbox_settings.seed.pulsetracker_free_token, key, "Third"
    )
    answer = as_user(alice).post(
        create_url(free, key), {"name": "Fourth", "type_id": "3", "submission": "q"}, **htmx()
    )
    html = answer.content.decode()
    assert answer.status_code == 200
    assert "You have exceeded your monthly quota." in html
    assert 'value="Fourth"' in html
    assert re.search(r'<option value="3" selected>Car</option>', html)
    failed = Activity.objects.get(action="device created")
    assert failed.outcome == Activity.Outcome.FAILED


def test_create_shows_upstream_field_errors_beside_their_fields(
    as_user, bob, pulsetracker_credential, vans, sandbox_settings
):
    body = {
        "message": "The selected type id is invalid. (and 1 more error)",
        "errors": {
            "type_id": ["The selected type id is invalid."],
            "app_key": ["The selected app key is invalid."],
        },
    }
    sandbox_settings.fault("POST", DEVICES_API, status=422, body=body)
    answer = as_user(bob).post(
        create_url(pulsetracker_credential, vans["app"]),
        {"name": "Typed", "type_id": "2", "submission": "v"},
        **htmx(),
    )
    html = answer.content.decode()
    type_errors = html.split('data-testid="type_id-errors"')[1].split("</ul>")[0]
    assert "The selected type id is invalid." in type_errors
    assert "The selected app key is invalid." in html.split('data-testid="device-create-errors"')[1]
    assert 'value="Typed"' in html


def test_create_without_a_name_or_type_is_refused_by_the_portal(
    as_user, bob, pulsetracker_credential, vans, sandbox_settings
):
    answer = as_user(bob).post(
        create_url(pulsetracker_credential, vans["app"]),
        {"name": "   ", "type_id": "", "submission": "e"},
        **htmx(),
    )
    html = answer.content.decode()
    assert "Give the device a name" in html
    assert "Choose the device&#x27;s type." in html
    assert sandbox_settings.requests_to("POST", DEVICES_API) == []


# Rename


def rename_url(credential, app: str, device: str) -> str:
    return reverse("device-rename", args=[credential.pk, app, device])


def test_a_member_renames_a_device_in_place(
    as_user, bob, pulsetracker_credential, vans, sandbox_settings
):
    client = as_user(bob)
    url = rename_url(pulsetracker_credential, vans["app"], vans["van8"])
    editor = client.get(f"{url}?name=Van%208", **htmx()).content.decode()
    assert 'value="Van 8"' in editor
    answer = client.post(url, {"name": "Bus 8", "original": "Van 8"}, **htmx())
    html = answer.content.decode()
    assert "Bus 8" in html
    assert "Renamed" in html
    stored = sandbox_settings.pulsetracker.devices(sandbox_settings.seed.pulsetracker_paid_token)
    assert any(d["key"] == vans["van8"] and d["name"] == "Bus 8" for d in stored)
    entry = Activity.objects.get(action="device renamed")
    assert entry.detail == "“Van 8” → “Bus 8”"


def test_rename_refused_upstream_keeps_the_editor_with_the_text(
    as_user, bob, pulsetracker_credential, vans, sandbox_settings
):
    sandbox_settings.fault(
        "PUT",
        f"{DEVICES_API}/{vans['van8']}",
        status=422,
        body={"message": "Too odd.", "errors": {"name": ["Too odd."]}},
    )
    url = rename_url(pulsetracker_credential, vans["app"], vans["van8"])
    html = as_user(bob).post(url, {"name": "Odd", "original": "Van 8"}, **htmx()).content.decode()
    assert 'data-testid="device-rename-input"' in html
    assert 'value="Odd"' in html
    assert "Too odd." in html


def test_viewers_cannot_rename(as_user, carol, pulsetracker_credential, vans):
    url = rename_url(pulsetracker_credential, vans["app"], vans["van8"])
    answer = as_user(carol).post(url, {"name": "X", "original": "Van 8"}, **htmx())
    assert answer.status_code == 403


# The device page


def device_url(credential, app: str, device: str) -> str:
    return reverse("device-detail", args=[credential.pk, app, device])


def test_device_page_shows_history_newest_first_with_extra_data(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    pulse = sandbox_settings.pulsetracker
    pulse.report_position(vans["van7"], 3.1, 36.8, extra={"note": "second"})
    html = as_user(carol).get(device_url(pulsetracker_credential, vans["app"], vans["van7"]))
    html = html.content.decode()
    assert "← The app “Vans”" in html
    rows = html.split('data-testid="history-row"')[1:]
    assert len(rows) == 2
    assert "36.800000" in rows[0]
    assert "&quot;note&quot;: &quot;second&quot;" in rows[0]
    assert "&quot;battery&quot;: 81" in rows[1]
    assert "&quot;speed&quot;: 42" in rows[1]


def test_device_page_pages_its_history_as_the_upstream_does(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    start = datetime.now(UTC) - timedelta(hours=3)
    for n in range(55):
        sandbox_settings.pulsetracker.report_position(
            vans["van8"], 1.0 + n / 1000, 2.0, extra={"n": n}, at=start + timedelta(minutes=n)
        )
    client = as_user(carol)
    url = device_url(pulsetracker_credential, vans["app"], vans["van8"])
    first = client.get(url).content.decode()
    assert first.count('data-testid="history-row"') == 50
    assert "Page 1 of 2" in first
    assert "&quot;n&quot;: 54" in first.split('data-testid="history-row"')[1]
    second = client.get(f"{url}?page=2", **htmx()).content.decode()
    assert second.startswith('\n<section id="history"') or second.lstrip().startswith(
        '<section id="history"'
    )
    assert second.count('data-testid="history-row"') == 5
    assert "&quot;n&quot;: 0" in second.split('data-testid="history-row"')[-1]


def test_device_page_draws_the_track_of_the_day_of_its_newest_position(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    pulse = sandbox_settings.pulsetracker
    day = datetime.combine(date.today() - timedelta(days=3), time.min, tzinfo=UTC)
    pulse.report_position(vans["van8"], 1.0, 10.0, at=day - timedelta(hours=2))  # the day before
    pulse.report_position(vans["van8"], 1.0, 11.0, at=day + timedelta(hours=8))
    pulse.report_position(vans["van8"], 1.5, 11.5, at=day + timedelta(hours=9))
    client = as_user(carol)
    url = device_url(pulsetracker_credential, vans["app"], vans["van8"])
    html = client.get(url).content.decode()
    track = map_data(html, "track-data")["tracks"][0]["points"]
    assert track == [[11.5, 1.5], [11.0, 1.0]]
    assert "2 positions that day" in html
    before = client.get(f"{url}?day={(day - timedelta(days=1)).date()}").content.decode()
    assert map_data(before, "track-data")["tracks"][0]["points"] == [[10.0, 1.0]]


def test_a_device_of_another_app_or_unknown_is_not_found(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    other = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[1]
    answer = as_user(carol).get(device_url(pulsetracker_credential, other["key"], vans["van7"]))
    assert answer.status_code == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = as_user(carol).get(device_url(pulsetracker_credential, vans["app"], unknown))
    assert answer.status_code == 404
    assert "No such device" in answer.content.decode()


def test_no_token_in_the_pages_or_the_map_data(
    as_user, alice, pulsetracker_credential, vans, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    client = as_user(alice)
    pages = [
        app_url(pulsetracker_credential, vans["app"]),
        reverse("device-positions", args=[pulsetracker_credential.pk, vans["app"]]),
        device_url(pulsetracker_credential, vans["app"], vans["van7"]),
        create_url(pulsetracker_credential, vans["app"]),
    ]
    for page in pages:
        body = client.get(page, **htmx() if "new" in page else {}).content.decode()
        assert token not in body
        assert token.split("|")[1] not in body


def test_a_create_sent_without_htmx_comes_back_to_the_app_page_with_the_outcome(
    as_user, bob, pulsetracker_credential, vans
):
    client = as_user(bob)
    url = create_url(pulsetracker_credential, vans["app"])
    done = client.post(url, {"name": "Plain", "type_id": "1"}, follow=True)
    assert done.redirect_chain[-1][0] == app_url(pulsetracker_credential, vans["app"])
    assert "Created the device “Plain”." in done.content.decode()
    refused = client.post(url, {"name": "", "type_id": "1"}, follow=True).content.decode()
    assert "The device was not created: Give the device a name." in refused


def test_a_device_key_the_upstream_sends_odd_does_not_break_the_app_page(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    odd = {
        "app_key": vans["app"],
        "key": "not a/uuid?",
        "name": "Odd",
        "type": None,
        "lastLocation": {"location": {"type": "Point", "coordinates": [1, 2]}},
        "quota": [],
    }
    meta = {"current_page": 1, "last_page": 1, "per_page": 12, "total": 1, "from": 1, "to": 1}
    sandbox_settings.fault(
        "GET", DEVICES_API, status=200, body={"data": [odd], "meta": meta}, times=3
    )
    answer = as_user(carol).get(app_url(pulsetracker_credential, vans["app"]))
    assert answer.status_code == 200
    assert "not%20a%2Fuuid%3F/" in answer.content.decode()


def test_a_device_pulsetracker_refuses_to_show_is_not_called_unavailable(
    as_user, carol, pulsetracker_credential, vans, sandbox_settings
):
    sandbox_settings.fault(
        "GET", f"{DEVICES_API}/{vans['van7']}", status=403, body={"message": "Not yours."}
    )
    html = as_user(carol).get(device_url(pulsetracker_credential, vans["app"], vans["van7"]))
    text = html.content.decode()
    assert "Pulsetracker refused to show this device" in text
    assert "Pulsetracker is unavailable" not in text
