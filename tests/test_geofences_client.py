"""Geofences through the Pulsetracker client, against the sandbox over real HTTP: each of the
endpoints' odd corners (string geometry, numeric app id, empty update answer, no delete, a 422
whose message is JSON once more), and the sandbox's signed events when a device crosses one."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from accounts.crypto import Secret
from integrations.errors import NotFound, QuotaExceeded, UpstreamError, ValidationFailed
from integrations.pulsetracker.client import Geofence, PulsetrackerClient, polygon_from

# The circuit breakers keep their counts in the cache, a database table by default.
pytestmark = pytest.mark.django_db

# A square of about 1 km around a point in Algiers, GeoJSON order (longitude, latitude).
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[3.05, 36.75], [3.06, 36.75], [3.06, 36.76], [3.05, 36.76], [3.05, 36.75]]],
}
# Its corners visited crosswise: edges that cross each other, which the service refuses.
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[3.05, 36.75], [3.06, 36.76], [3.06, 36.75], [3.05, 36.76], [3.05, 36.75]]],
}


@pytest.fixture
def paid(sandbox) -> PulsetrackerClient:
    return PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )


@pytest.fixture
def app_key(sandbox) -> str:
    return sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"]


@pytest.fixture
def app_id(sandbox, app_key) -> int:
    return sandbox.pulsetracker.app_id(app_key)


def test_create_sends_the_polygon_as_a_json_string_wrapped_in_geometry(sandbox, paid, app_id):
    made = paid.create_geofence(
        name="Depot", app_id=app_id, polygon=SQUARE, webhook_url="https://hooks.example/in"
    )
    assert isinstance(made, Geofence)
    assert (made.name, made.app_id, made.webhook_url) == (
        "Depot",
        app_id,
        "https://hooks.example/in",
    )
    assert made.polygon == SQUARE
    assert made.ring[0] == (36.75, 3.05)  # latitude first, for maps
    [sent] = sandbox.requests_to("POST", "/pulsetracker/api/geofences")
    body = sent.json()
    assert isinstance(body["geometry"], str)
    assert json.loads(body["geometry"]) == {"geometry": SQUARE}
    assert body["app_id"] == app_id


def test_geofences_are_listed_by_the_apps_numeric_id_and_read_one_by_one(
    sandbox, paid, app_key, app_id
):
    token = sandbox.seed.pulsetracker_paid_token
    other_key = sandbox.pulsetracker.apps(token)[1]["key"]
    ring = SQUARE["coordinates"][0][:-1]
    mine = sandbox.pulsetracker.add_geofence(token, app_key, "Mine", ring)
    sandbox.pulsetracker.add_geofence(token, other_key, "Elsewhere", ring)
    page = paid.list_geofences(app_id=app_id)
    assert [g.name for g in page.items] == ["Mine"]
    assert page.total == 1
    assert paid.list_geofences().total == 2
    assert paid.get_geofence(mine["id"]).name == "Mine"


def test_update_answers_an_empty_body_and_the_change_shows_on_reading_again(sandbox, paid, app_id):
    made = paid.create_geofence(name="Depot", app_id=app_id, polygon=SQUARE, webhook_url=None)
    moved = {
        "type": "Polygon",
        "coordinates": [[[c[0] + 1, c[1]] for c in SQUARE["coordinates"][0]]],
    }
    assert paid.update_geofence(made.id, app_id=app_id, name="Yard", polygon=moved) is None
    [answer] = sandbox.requests_to("PUT", f"/pulsetracker/api/geofences/{made.id}")
    assert answer.json()["app_id"] == app_id  # required upstream even when only renaming
    again = paid.get_geofence(made.id)
    assert (again.name, again.polygon) == ("Yard", moved)


def test_an_invalid_polygons_message_is_decoded_into_a_field_error(paid, app_id):
    with pytest.raises(ValidationFailed) as caught:
        paid.create_geofence(name="Knot", app_id=app_id, polygon=BOW_TIE, webhook_url=None)
    error = caught.value
    assert error.status == 422
    assert error.message == "The polygon is not valid: its edges cross each other."
    assert error.errors == {"geometry": ["The polygon is not valid: its edges cross each other."]}


def test_a_422_message_that_is_a_json_string_is_decoded_once_more(sandbox, paid, app_id):
    sandbox.fault(
        "POST",
        "/pulsetracker/api/geofences",
        status=422,
        body={"message": json.dumps("The geometry must be a valid polygon.")},
    )
    with pytest.raises(ValidationFailed) as caught:
        paid.create_geofence(name="Knot", app_id=app_id, polygon=SQUARE, webhook_url=None)
    assert caught.value.message == "The geometry must be a valid polygon."


def test_an_ordinary_422_is_read_as_before(paid, app_id):
    with pytest.raises(ValidationFailed) as caught:
        paid.create_geofence(name="", app_id=app_id, polygon=SQUARE, webhook_url="not a url")
    assert caught.value.errors["name"] == ["The name field is required."]
    assert caught.value.errors["webhook_url"] == ["The webhook url field must be a valid URL."]
    assert caught.value.message.endswith("(and 1 more error)")


def test_an_app_id_that_does_not_exist_is_a_field_error(paid):
    with pytest.raises(ValidationFailed) as caught:
        paid.create_geofence(name="Depot", app_id=999_999, polygon=SQUARE, webhook_url=None)
    assert caught.value.errors == {"app_id": ["The selected app id is invalid."]}


def test_another_accounts_app_or_geofence_is_refused(sandbox, paid):
    free_token = sandbox.seed.pulsetracker_free_token
    free_app = sandbox.seed.pulsetracker_free_app_key
    foreign_id = sandbox.pulsetracker.app_id(free_app)
    with pytest.raises(UpstreamError) as caught:  # the service's 403, which is not a quota
        paid.create_geofence(name="Theirs", app_id=foreign_id, polygon=SQUARE, webhook_url=None)
    assert not isinstance(caught.value, QuotaExceeded)
    assert caught.value.status == 403
    assert caught.value.message == (
        "Pulsetracker refused: that app or geofence belongs to another account."
    )
    theirs = sandbox.pulsetracker.add_geofence(
        free_token, free_app, "Theirs", [(0, 0), (1, 0), (1, 1)]
    )
    with pytest.raises(NotFound) as missing:
        paid.get_geofence(theirs["id"])
    assert missing.value.message == "Pulsetracker has no such geofence for this token."


def test_there_is_no_delete_route(sandbox, paid, app_id):
    made = paid.create_geofence(name="Depot", app_id=app_id, polygon=SQUARE, webhook_url=None)
    with pytest.raises(UpstreamError) as caught:
        paid._request("DELETE", f"/geofences/{made.id}")
    assert caught.value.status == 405


def test_the_portals_own_polygon_check_closes_rings_and_names_the_problem():
    open_ring = {"type": "Polygon", "coordinates": [SQUARE["coordinates"][0][:-1]]}
    assert polygon_from(open_ring) == SQUARE
    assert polygon_from({"type": "Feature", "geometry": SQUARE}) == SQUARE
    assert polygon_from({"geometry": SQUARE}) == SQUARE
    for bad, words in [
        ({"type": "Point", "coordinates": [1, 2]}, "not a GeoJSON Polygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "at least three"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], ["a", 2]]]}, "two numbers"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [200, 2]]]}, "off the map"),
    ]:
        with pytest.raises(ValueError, match=words):
            polygon_from(bad)


# The sandbox: a device crossing a geofence's edge makes the service POST a signed event.


def test_crossing_a_geofence_posts_a_signed_inside_then_outside_event(sandbox, app_key):
    api = sandbox.pulsetracker
    token = sandbox.seed.pulsetracker_paid_token
    device = api.add_device(token, app_key, "Van 7")
    geofence = api.add_geofence(
        token, app_key, "Depot", SQUARE["coordinates"][0], webhook_url=f"{sandbox.url}/nowhere"
    )
    assert api.move_device(device["key"], 36.70, 3.00) == []  # outside, and was nowhere
    [entered] = api.move_device(device["key"], 36.755, 3.055)
    assert api.move_device(device["key"], 36.756, 3.056) == []  # still inside
    [left] = api.move_device(device["key"], 36.80, 3.10)
    secret = api.webhook_secret(token).encode()
    for delivery, event, point in [
        (entered, "inside", [3.055, 36.755]),
        (left, "outside", [3.10, 36.80]),
    ]:
        body = delivery["body"]
        assert delivery["url"] == f"{sandbox.url}/nowhere"
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        assert delivery["headers"]["p-signature"] == expected
        payload = json.loads(body)
        assert payload["event"] == event
        assert payload["point"] == {"type": "Point", "coordinates": point}
        assert payload["geofence_id"] == geofence["id"]
        assert payload["device_id"] == device["key"]
        assert {"location_received_at", "event_sent_at"} <= set(payload)
    # The sandbox really POSTed them (its own 404 page answered).
    assert len(sandbox.requests_to("POST", "/nowhere")) == 2
