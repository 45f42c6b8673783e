"""The API sandbox answers over real HTTP the way the Pulsetracker and Pulsoid docs say.

These tests read /work/shared/api/*.md, not the portal's clients: they use plain `requests`.
No database is needed.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from integrations.sandbox import PULSOID_SCOPES, Sandbox

APPS = "/pulsetracker/api/apps"
DEVICES = "/pulsetracker/api/devices"
WIDGETS = "/pulsoid/api/v1/widgets"
BPM = "bf6bdf21-10a7-4a28-97ec-a239e6c77f8b"
QUOTA_MESSAGE = (
    "You have exceeded your monthly quota. Please upgrade your plan or wait until your quota "
    "resets."
)
APP_NOT_FOUND = "No query results for model [App\\Models\\App]."
REQUIRED = {
    "message": "The name field is required.",
    "errors": {"name": ["The name field is required."]},
}
REDIRECT_URI = "http://127.0.0.1:8000/pulsoid/callback"
UNKNOWN_KEY = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    """One sandbox for the module, on a free loopback port."""
    sandbox = Sandbox().start(host="127.0.0.1", port=0)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sb(running: Sandbox) -> Sandbox:
    """The module's sandbox, back in its seeded state."""
    running.reset()
    return running


def pt(
    sb: Sandbox,
    method: str,
    path: str,
    token: str | None = "paid",
    *,
    accept_json: bool = True,
    **kwargs,
) -> requests.Response:
    """Call the fake Pulsetracker; `token` "paid"/"free" name seeded tokens."""
    token = {"paid": sb.seed.pulsetracker_paid_token, "free": sb.seed.pulsetracker_free_token}.get(
        token, token
    )
    headers = kwargs.pop("headers", {})
    if accept_json:
        headers.setdefault("Accept", "application/json")
    if token:
        headers.setdefault("Authorization", f"Bearer {token}")
    return requests.request(
        method, f"{sb.url}{path}", headers=headers, timeout=5, allow_redirects=False, **kwargs
    )


def po(sb: Sandbox, method: str, path: str, token: str | None, **kwargs) -> requests.Response:
    """Call the fake Pulsoid API at `/pulsoid/api/v1{path}`."""
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return requests.request(
        method, f"{sb.pulsoid_api_url}{path}", headers=headers, timeout=5, **kwargs
    )


def labels(page: dict) -> list[str]:
    return [link["label"] for link in page["meta"]["links"]]


def page_of(url: str | None) -> int | None:
    return None if url is None else int(parse_qs(urlsplit(url).query)["page"][0])


# --------------------------------------------------------------------------- seed


def test_seeded_tokens_are_constants_in_the_upstreams_shapes(sb):
    again = Sandbox()
    assert again.seed == sb.seed
    for token in (sb.seed.pulsetracker_free_token, sb.seed.pulsetracker_paid_token):
        token_id, secret = token.split("|")
        assert token_id.isdigit()
        assert len(secret) == 40
        assert secret.isalnum()
    uuid_shape = re.compile(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    for token in (
        sb.seed.pulsoid_full_token,
        sb.seed.pulsoid_readonly_token,
        sb.seed.pulsoid_nodata_token,
    ):
        assert uuid_shape.match(token)
    assert (sb.seed.pulsoid_client_id, sb.seed.pulsoid_client_secret) == (
        "sandbox-client",
        "sandbox-secret",
    )


def test_urls_stand_in_for_both_upstreams(sb):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sb.url)
    assert sb.pulsetracker_url == f"{sb.url}/pulsetracker/api"
    assert sb.pulsoid_api_url == f"{sb.url}/pulsoid/api/v1"
    assert sb.pulsoid_oauth_url == f"{sb.url}/pulsoid/oauth2"
    assert sb.pulsoid_revoke_url == f"{sb.url}/pulsoid/oauth2/revoke"
    assert sb.pulsoid_viewer_url == f"{sb.url}/pulsoid/widget/view/"


def test_reset_restores_the_seed_and_clears_switches_faults_and_log(sb):
    pt(sb, "POST", APPS, json={"name": "Extra"})
    sb.pulsetracker.rename_answer = "string"
    sb.pulsoid.widgets_shape = "list"
    sb.fault("GET", APPS, status=503)
    sb.reset()
    assert sb.requests == []
    assert len(sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)) == 30
    assert sb.pulsetracker.rename_answer == "one"
    assert sb.pulsoid.widgets_shape == "object"
    assert pt(sb, "GET", APPS).status_code == 200


# --------------------------------------------------------------------------- Pulsetracker: list


def test_apps_are_paginated_twelve_per_page_with_laravel_links_and_meta(sb):
    page = pt(sb, "GET", APPS).json()
    path = f"{sb.pulsetracker_url}/apps"
    assert len(page["data"]) == 12
    assert page["links"] == {
        "first": f"{path}?page=1",
        "last": f"{path}?page=3",
        "prev": None,
        "next": f"{path}?page=2",
    }
    meta = page["meta"]
    assert {k: v for k, v in meta.items() if k != "links"} == {
        "current_page": 1,
        "from": 1,
        "last_page": 3,
        "path": path,
        "per_page": 12,
        "to": 12,
        "total": 30,
    }
    assert meta["links"][0] == {"url": None, "label": "&laquo; Previous", "active": False}
    assert meta["links"][1] == {"url": f"{path}?page=1", "label": "1", "active": True}
    assert meta["links"][-1] == {"url": f"{path}?page=2", "label": "Next &raquo;", "active": False}
    assert labels(page) == ["&laquo; Previous", "1", "2", "3", "Next &raquo;"]


def test_the_last_page_holds_the_remainder(sb):
    page = pt(sb, "GET", f"{APPS}?page=3").json()
    assert len(page["data"]) == 6
    assert (page["meta"]["from"], page["meta"]["to"]) == (25, 30)
    assert page_of(page["links"]["prev"]) == 2
    assert page["links"]["next"] is None
    assert [link["active"] for link in page["meta"]["links"]] == [False, False, False, True, False]


def test_a_page_past_the_last_is_empty_with_null_positions(sb):
    page = pt(sb, "GET", f"{APPS}?page=9").json()
    assert page["data"] == []
    meta = page["meta"]
    assert (meta["current_page"], meta["from"], meta["to"]) == (9, None, None)
    assert (meta["last_page"], meta["total"]) == (3, 30)
    assert page_of(page["links"]["prev"]) == 8
    assert page["links"]["next"] is None
    assert not any(link["active"] for link in meta["links"])


@pytest.mark.parametrize("raw", ["abc", "0", "-2", "1.5", ""])
def test_a_page_that_is_not_a_whole_number_of_at_least_one_reads_as_page_one(sb, raw):
    meta = pt(sb, "GET", f"{APPS}?page={raw}").json()["meta"]
    assert (meta["current_page"], meta["from"]) == (1, 1)


def test_apps_are_listed_newest_first_across_pages(sb):
    stamps = []
    for number in (1, 2, 3):
        stamps += [
            app["created_at"] for app in pt(sb, "GET", f"{APPS}?page={number}").json()["data"]
        ]
    assert len(stamps) == 30
    assert stamps == sorted(stamps, reverse=True)
    newest = pt(sb, "GET", APPS).json()["data"][0]
    assert newest["name"] == "Fleet 30"


def test_links_use_the_host_the_client_addressed(sb):
    page = pt(sb, "GET", APPS, headers={"Host": "tracker.example.test"}).json()
    assert page["links"]["next"] == "http://tracker.example.test/pulsetracker/api/apps?page=2"
    assert page["meta"]["path"] == "http://tracker.example.test/pulsetracker/api/apps"


def test_many_pages_get_laravels_window_of_links_with_gaps(sb):
    token = sb.pulsetracker.add_user(app_limit=1000)
    for number in range(12 * 20):
        sb.pulsetracker.add_app(token, f"App {number}")
    first = pt(sb, "GET", APPS, token).json()
    assert labels(first)[1:-1] == [*map(str, range(1, 11)), "...", "19", "20"]
    middle = pt(sb, "GET", f"{APPS}?page=10", token).json()
    assert labels(middle)[1:-1] == ["1", "2", "...", *map(str, range(7, 14)), "...", "19", "20"]
    gap = middle["meta"]["links"][3]
    assert gap == {"url": None, "label": "...", "active": False}
    end = pt(sb, "GET", f"{APPS}?page=18", token).json()
    assert labels(end)[1:-1] == ["1", "2", "...", *map(str, range(11, 21))]


def test_apps_show_key_name_monthly_quota_devices_count_and_created_at(sb):
    app = sb.pulsetracker.add_app(
        sb.seed.pulsetracker_paid_token,
        "Usage",
        created_at="2030-01-02T10:00:00Z",
        quota=[
            {"year": 2029, "month": 12, "messages_sent": 40},
            {"year": 2029, "month": 11, "messages_sent": 1200},
        ],
        devices=2,
    )
    shown = pt(sb, "GET", f"{APPS}/{app['key']}").json()
    assert shown == {
        "data": {
            "key": app["key"],
            "name": "Usage",
            "quota": [
                {"year": 2029, "month": 11, "messages_sent": 1200},
                {"year": 2029, "month": 12, "messages_sent": 40},
            ],
            "devices_count": 2,
            "created_at": "2030-01-02T10:00:00.000000Z",
        }
    }


@pytest.mark.parametrize(
    ("style", "shape"),
    [
        ("micro", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$"),
        ("plain", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
    ],
)
def test_timestamps_follow_the_chosen_style(sb, style, shape):
    sb.pulsetracker.timestamp_style = style
    app = pt(sb, "GET", APPS).json()["data"][0]
    assert re.match(shape, app["created_at"])


def test_json_is_encoded_like_php_with_escaped_slashes(sb):
    raw = pt(sb, "GET", APPS).text
    assert "http:\\/\\/127.0.0.1" in raw
    assert "&laquo; Previous" in raw


# --------------------------------------------------------------------------- Pulsetracker: errors


@pytest.mark.parametrize("token", [None, "9|" + "w" * 40, "not-a-token"])
def test_a_missing_or_wrong_token_is_401_unauthenticated(sb, token):
    answer = pt(sb, "GET", APPS, token)
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthenticated."}


def test_a_revoked_token_is_401(sb):
    token = sb.pulsetracker.add_user()
    assert pt(sb, "GET", APPS, token).status_code == 200
    sb.pulsetracker.revoke(token)
    assert pt(sb, "GET", APPS, token).status_code == 401


def test_errors_without_accept_json_redirect_to_the_login_page(sb):
    answer = pt(sb, "GET", APPS, None, accept_json=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{sb.url}/pulsetracker/login"
    assert "application/json" not in answer.headers["Content-Type"]
    invalid = pt(sb, "POST", APPS, accept_json=False, json={"name": ""})
    assert invalid.status_code == 302
    # Successes are JSON either way.
    assert pt(sb, "GET", APPS, accept_json=False).json()["meta"]["total"] == 30


def test_get_app_of_an_unknown_or_anothers_key_is_404_with_the_model_message(sb):
    free_key = sb.pulsetracker.apps(sb.seed.pulsetracker_free_token)[0]["key"]
    for key in (free_key, UNKNOWN_KEY):
        answer = pt(sb, "GET", f"{APPS}/{key}")
        assert answer.status_code == 404
        assert answer.json() == {"message": APP_NOT_FOUND}
    assert '"No query results for model [App\\\\Models\\\\App]."' in answer.text


def test_delete_is_not_routed_and_answers_405_before_authentication(sb):
    key = sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)[0]["key"]
    for token in ("paid", None):
        answer = pt(sb, "DELETE", f"{APPS}/{key}", token)
        assert answer.status_code == 405
        assert answer.json()["message"] == (
            f"The DELETE method is not supported for route api/apps/{key}. "
            "Supported methods: GET, HEAD, PUT, PATCH."
        )
    assert len(sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)) == 30


def test_an_unknown_route_is_a_json_404(sb):
    answer = pt(sb, "GET", "/pulsetracker/api/nothing")
    assert answer.status_code == 404
    assert answer.json() == {"message": "The route api/nothing could not be found."}


# --------------------------------------------------------------------------- Pulsetracker: create


@pytest.mark.parametrize("status", [201, 200])
def test_create_answers_the_app_with_null_devices_count_and_lists_it_first(sb, status):
    sb.pulsetracker.create_status = status
    answer = pt(sb, "POST", APPS, json={"name": "Fleet B"})
    assert answer.status_code == status
    created = answer.json()["data"]
    assert (created["name"], created["devices_count"], created["quota"]) == ("Fleet B", None, [])
    assert re.match(r"^[0-9a-f-]{36}$", created["key"])
    listed = pt(sb, "GET", APPS).json()
    assert listed["data"][0]["key"] == created["key"]
    assert listed["data"][0]["devices_count"] == 0
    assert listed["meta"]["total"] == 31


def test_create_checks_quota_before_validation(sb):
    for body in ({"name": "Second"}, {"name": ""}, {}):
        answer = pt(sb, "POST", APPS, "free", json=body)
        assert answer.status_code == 403
        assert answer.json() == {"message": QUOTA_MESSAGE}


def test_create_with_an_unverified_email_is_refused_with_the_quota_message(sb):
    token = sb.pulsetracker.add_user(app_limit=5, email_verified=False)
    answer = pt(sb, "POST", APPS, token, json={"name": "Fleet"})
    assert (answer.status_code, answer.json()) == (403, {"message": QUOTA_MESSAGE})
    seeded = pt(sb, "POST", APPS, sb.seed.pulsetracker_unverified_token, json={"name": "Fleet"})
    assert seeded.status_code == 403


def test_a_free_user_below_the_limit_can_create_once(sb):
    token = sb.pulsetracker.add_user(app_limit=1)
    assert pt(sb, "POST", APPS, token, json={"name": "Only"}).status_code == 201
    assert pt(sb, "POST", APPS, token, json={"name": "Second"}).status_code == 403


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": None}, {}])
def test_create_without_a_name_is_422_with_the_required_message(sb, body):
    answer = pt(sb, "POST", APPS, json=body)
    assert answer.status_code == 422
    assert answer.json() == REQUIRED


def test_create_trims_the_name(sb):
    assert pt(sb, "POST", APPS, json={"name": "  Fleet C  "}).json()["data"]["name"] == "Fleet C"


def test_create_reads_a_json_body_only_with_a_json_content_type(sb):
    answer = pt(sb, "POST", APPS, data=json.dumps({"name": "Fleet"}))
    assert answer.status_code == 422
    form = pt(sb, "POST", APPS, data={"name": "Form fleet"})
    assert form.json()["data"]["name"] == "Form fleet"


def test_validation_message_counts_the_further_errors():
    body = Sandbox().pulsetracker.validation_body
    assert body({"name": ["A."]})["message"] == "A."
    assert body({"name": ["A.", "B."]})["message"] == "A. (and 1 more error)"
    two_more = body({"name": ["A."], "other": ["B.", "C."]})
    assert two_more == {
        "message": "A. (and 2 more errors)",
        "errors": {"name": ["A."], "other": ["B.", "C."]},
    }


# --------------------------------------------------------------------------- Pulsetracker: rename


@pytest.mark.parametrize(
    ("mode", "body", "content_type"),
    [
        ("one", b"1", "text/html"),
        ("string", b'"Renamed"', "application/json"),
        ("empty", b"", "text/html"),
    ],
)
def test_rename_answers_200_in_each_mode_and_stores_the_name(sb, mode, body, content_type):
    sb.pulsetracker.rename_answer = mode
    key = sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)[0]["key"]
    answer = pt(sb, "PUT", f"{APPS}/{key}", json={"name": "Renamed"})
    assert answer.status_code == 200
    assert answer.content == body
    assert answer.headers["Content-Type"].startswith(content_type)
    assert pt(sb, "GET", f"{APPS}/{key}").json()["data"]["name"] == "Renamed"


def test_patch_renames_too(sb):
    key = sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)[0]["key"]
    assert pt(sb, "PATCH", f"{APPS}/{key}", json={"name": "Patched"}).status_code == 200
    assert sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)[0]["name"] == "Patched"


def test_rename_validates_before_looking_up(sb):
    blank = pt(sb, "PUT", f"{APPS}/{UNKNOWN_KEY}", json={"name": " "})
    assert (blank.status_code, blank.json()) == (422, REQUIRED)
    named = pt(sb, "PUT", f"{APPS}/{UNKNOWN_KEY}", json={"name": "New"})
    assert (named.status_code, named.json()) == (404, {"message": APP_NOT_FOUND})


def test_rename_of_another_users_app_is_404_and_changes_nothing(sb):
    free_key = sb.pulsetracker.apps(sb.seed.pulsetracker_free_token)[0]["key"]
    assert pt(sb, "PUT", f"{APPS}/{free_key}", json={"name": "Stolen"}).status_code == 404
    assert sb.pulsetracker.apps(sb.seed.pulsetracker_free_token)[0]["name"] != "Stolen"


# --------------------------------------------------------------------------- Pulsetracker: devices


def test_devices_list_filters_by_app_with_geojson_or_null_last_location(sb):
    token = sb.seed.pulsetracker_paid_token
    app = sb.pulsetracker.add_app(token, "Tracked")
    sb.pulsetracker.add_device(token, app["key"], "Located", last_location=(3.06, 36.75))
    sb.pulsetracker.add_device(token, app["key"], "Silent", type="Tracker")
    page = pt(sb, "GET", f"{DEVICES}?appKey={app['key']}").json()
    assert page["meta"]["total"] == 2
    assert [d["name"] for d in page["data"]] == ["Silent", "Located"]
    silent, located = page["data"]
    assert (silent["type"], silent["lastLocation"]) == ("Tracker", None)
    assert located["lastLocation"]["location"] == {"type": "Point", "coordinates": [3.06, 36.75]}
    assert located["app"]["key"] == located["app_key"] == app["key"]
    assert page["links"]["first"] == f"{sb.pulsetracker_url}/devices?appKey={app['key']}&page=1"
    everything = pt(sb, "GET", DEVICES).json()["meta"]["total"]
    assert everything > 2


def test_devices_of_another_users_app_are_not_listed(sb):
    free_app = sb.pulsetracker.apps(sb.seed.pulsetracker_free_token)[0]["key"]
    assert pt(sb, "GET", f"{DEVICES}?appKey={free_app}").json()["data"] == []


def test_device_by_key_and_unknown_device(sb):
    token = sb.seed.pulsetracker_paid_token
    app = sb.pulsetracker.add_app(token, "Tracked")
    stored = sb.pulsetracker.add_device(
        token, app["key"], "Truck", last_location={"lat": 1, "lon": 2}
    )
    answer = pt(sb, "GET", f"{DEVICES}/{stored['key']}").json()["data"]
    assert answer["lastLocation"]["location"]["coordinates"] == [2.0, 1.0]
    missing = pt(sb, "GET", f"{DEVICES}/{UNKNOWN_KEY}")
    assert missing.status_code == 404
    assert missing.json() == {"message": "No query results for model [App\\Models\\Device]."}


def test_locations_can_be_shown_in_the_docs_lat_long_shape(sb):
    sb.pulsetracker.location_style = "latlong"
    token = sb.seed.pulsetracker_paid_token
    app = sb.pulsetracker.add_app(token, "Tracked")
    stored = sb.pulsetracker.add_device(token, app["key"], "Docs", last_location=(2.35, 48.85))
    shown = pt(sb, "GET", f"{DEVICES}/{stored['key']}").json()["data"]["lastLocation"]
    assert shown["location"] == {"lat": 48.85, "long": 2.35}


def test_seeded_paid_user_has_devices_with_and_without_locations(sb):
    devices = sb.pulsetracker.devices(sb.seed.pulsetracker_paid_token)
    assert any(d["lastLocation"] is None for d in devices)
    assert any(d["lastLocation"] is not None for d in devices)
    assert all(app["quota"] for app in sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token))


def test_a_users_latency_delays_its_answers(sb):
    token = sb.pulsetracker.add_user(latency=0.4)
    started = time.monotonic()
    assert pt(sb, "GET", APPS, token).status_code == 200
    assert time.monotonic() - started >= 0.4


def test_requests_are_served_concurrently():
    # Six requests of a user whose answers take a minute each: a server taking one request at a
    # time would have received only the first when the test gives up waiting for all six.
    sandbox = Sandbox().start()
    token = sandbox.pulsetracker.add_user(latency=60)
    try:
        calls = [
            call_in_background(f"{sandbox.url}{APPS}", headers={"Authorization": f"Bearer {token}"})
            for _ in range(6)
        ]
        assert wait_for(lambda: len(sandbox.requests) == 6), "all six are held at once"
    finally:
        sandbox.stop()
    for caller, _ in calls:
        caller.join(timeout=15)


# --------------------------------------------------------------------------- Pulsoid: tokens


def test_validate_reports_token_client_expiry_profile_and_scopes(sb):
    answer = po(sb, "GET", "/token/validate", sb.seed.pulsoid_full_token).json()
    assert answer["token"] == sb.seed.pulsoid_full_token
    assert answer["profile_id"] == sb.seed.pulsoid_user_id
    assert answer["scopes"] == list(PULSOID_SCOPES)
    assert 625_600_000 < answer["expires_in"] <= 625_608_812
    assert isinstance(answer["client_id"], str)


def test_validate_needs_no_scope_and_reports_a_short_expiry(sb):
    user = sb.pulsoid.add_user()
    token = sb.pulsoid.add_token(user, scopes=(), expires_in=3600)
    answer = po(sb, "GET", "/token/validate", token).json()
    assert answer["scopes"] == []
    assert 3590 <= answer["expires_in"] <= 3600


@pytest.mark.parametrize(
    ("headers", "status", "code", "message"),
    [
        ({}, 403, 7009, "error_authorization_header_is_not_present"),
        ({"Authorization": "Token abc"}, 403, 7010, "error_authorization_header_has_wrong_format"),
        ({"Authorization": "Bearer"}, 403, 7010, "error_authorization_header_has_wrong_format"),
        ({"Authorization": f"Bearer {UNKNOWN_KEY}"}, 403, 7005, "token_not_found"),
        (
            {"Authorization": "Bearer 44444444-4444-4444-8444-444444444444"},
            403,
            7006,
            "token_expired",
        ),
    ],
)
def test_auth_failures_use_the_documented_codes(sb, headers, status, code, message):
    answer = po(sb, "GET", "/widgets", None, headers=headers)
    assert answer.status_code == status
    assert answer.json() == {"error_code": code, "error_message": message}


def test_bad_tokens_can_answer_401_while_expired_ones_stay_403(sb):
    sb.pulsoid.bad_token_status = 401
    unknown = po(sb, "GET", "/token/validate", UNKNOWN_KEY)
    assert (unknown.status_code, unknown.json()["error_code"]) == (401, 7005)
    expired = po(sb, "GET", "/token/validate", sb.seed.pulsoid_expired_token)
    assert (expired.status_code, expired.json()["error_code"]) == (403, 7006)


def test_error_codes_can_be_strings(sb):
    sb.pulsoid.error_code_style = "string"
    answer = po(sb, "GET", "/widgets", UNKNOWN_KEY)
    assert answer.json() == {"error_code": "7005", "error_message": "token_not_found"}


def test_a_revoked_token_stops_working(sb):
    user = sb.pulsoid.add_user()
    token = sb.pulsoid.add_token(user)
    assert po(sb, "GET", "/widgets", token).status_code == 200
    sb.pulsoid.revoke(token)
    assert po(sb, "GET", "/widgets", token).json()["error_code"] == 7005


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/widgets", {"json": {"meta_id": BPM, "name": "x", "configuration": {}}}),
        ("POST", "/widgets/cccccccc-cccc-4ccc-8ccc-cccccccccc01", {"json": {"configuration": {}}}),
        ("GET", "/data/heart_rate/latest", {}),
    ],
)
def test_a_missing_scope_is_400_7011(sb, method, path, kwargs):
    answer = po(sb, method, path, sb.seed.pulsoid_readonly_token, **kwargs)
    assert answer.status_code == 400
    assert answer.json() == {"error_code": 7011, "error_message": "error_invalid_scope"}


def test_the_readonly_token_reads_widgets_and_profile(sb):
    token = sb.seed.pulsoid_readonly_token
    assert po(sb, "GET", "/widgets", token).status_code == 200
    assert po(sb, "GET", "/profile", token).status_code == 200


# --------------------------------------------------------------------------- Pulsoid: widgets


def test_widgets_are_listed_as_an_object_or_a_bare_list(sb):
    token = sb.seed.pulsoid_full_token
    wrapped = po(sb, "GET", "/widgets", token).json()
    assert [w["id"] for w in wrapped["widgets"]] == list(sb.seed.pulsoid_widget_ids)
    assert set(wrapped["widgets"][0]) == {"id", "meta_id", "name", "configuration", "premium"}
    sb.pulsoid.widgets_shape = "list"
    assert po(sb, "GET", "/widgets", token).json() == wrapped["widgets"]


def test_create_widget_answers_the_widget_and_lists_it(sb):
    configuration = {"heartEnabled": False, "ranges": [{"from": 0, "to": 90, "color": "red"}]}
    answer = po(
        sb,
        "POST",
        "/widgets",
        sb.seed.pulsoid_full_token,
        json={"meta_id": BPM, "name": "Test", "configuration": configuration},
    )
    assert answer.status_code == 200
    widget = answer.json()["widget"]
    assert (widget["meta_id"], widget["name"], widget["configuration"]) == (
        BPM,
        "Test",
        configuration,
    )
    assert widget["premium"] is False
    assert widget in sb.pulsoid.widgets(sb.seed.pulsoid_user_id)


@pytest.mark.parametrize(
    "body",
    [
        {"meta_id": "00000000-0000-4000-8000-000000000000", "name": "x", "configuration": {}},
        {"name": "x", "configuration": {}},
        {"meta_id": BPM, "name": "", "configuration": {}},
        {"meta_id": BPM, "configuration": {}},
        {"meta_id": BPM, "name": "x", "configuration": "heartEnabled"},
        {"meta_id": BPM, "name": "x"},
        ["not", "an", "object"],
    ],
)
def test_create_widget_rejects_bad_input_with_a_general_400(sb, body):
    answer = po(sb, "POST", "/widgets", sb.seed.pulsoid_full_token, json=body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"error_code", "error_message"}
    assert len(sb.pulsoid.widgets(sb.seed.pulsoid_user_id)) == 2


def test_update_widget_replaces_the_whole_configuration(sb):
    widget_id = sb.seed.pulsoid_widget_ids[0]
    answer = po(
        sb,
        "POST",
        f"/widgets/{widget_id}",
        sb.seed.pulsoid_full_token,
        json={"configuration": {"heartEnabled": False}},
    )
    assert answer.status_code == 200
    assert answer.json()["widget"]["configuration"] == {"heartEnabled": False}
    [stored] = [w for w in sb.pulsoid.widgets(sb.seed.pulsoid_user_id) if w["id"] == widget_id]
    assert stored["configuration"] == {"heartEnabled": False}


def test_update_of_an_unknown_or_anothers_widget_is_a_general_404(sb):
    for token in (sb.seed.pulsoid_full_token, sb.seed.pulsoid_nodata_token):
        target = (
            UNKNOWN_KEY if token == sb.seed.pulsoid_full_token else sb.seed.pulsoid_widget_ids[0]
        )
        answer = po(sb, "POST", f"/widgets/{target}", token, json={"configuration": {}})
        assert answer.status_code == 404
        assert set(answer.json()) == {"error_code", "error_message"}


def test_update_is_a_post_not_a_put(sb):
    path = f"/widgets/{sb.seed.pulsoid_widget_ids[0]}"
    answer = po(sb, "PUT", path, sb.seed.pulsoid_full_token, json={"configuration": {}})
    assert answer.status_code == 405


# --------------------------------------------------------------------------- Pulsoid: data


@pytest.mark.parametrize("key", ["login", "username"])
def test_profile_names_the_login_field_as_configured(sb, key):
    user = sb.pulsoid.add_user(channel="twitch.tv/x", login="x@example.com", profile_key=key)
    token = sb.pulsoid.add_token(user, scopes=("profile:read",))
    assert po(sb, "GET", "/profile", token).json() == {
        "channel": "twitch.tv/x",
        key: "x@example.com",
        "mobile_login": True,
        "heart_rate": False,
    }


def test_latest_heart_rate_is_412_until_data_exists_then_the_reading(sb):
    token = sb.seed.pulsoid_nodata_token
    missing = po(sb, "GET", "/data/heart_rate/latest", token)
    assert missing.status_code == 412
    assert missing.json()["error_code"] == 6002
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_nodata_user_id, 72, measured_at_ms=1625310655000)
    reading = po(sb, "GET", "/data/heart_rate/latest", token)
    assert reading.json() == {"measured_at": 1625310655000, "data": {"heart_rate": 72}}


def test_the_seeded_streamer_has_a_recent_reading(sb):
    reading = po(sb, "GET", "/data/heart_rate/latest", sb.seed.pulsoid_full_token).json()
    assert 40 < reading["data"]["heart_rate"] < 200
    assert time.time() * 1000 - reading["measured_at"] < 5 * 60_000


# --------------------------------------------------------------------------- Pulsoid: OAuth


def authorize(sb: Sandbox, scope: str = "widgets:read widgets:update", state: str = "s-1"):
    return requests.get(
        f"{sb.pulsoid_oauth_url}/authorize",
        params={
            "response_type": "code",
            "client_id": sb.seed.pulsoid_client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": state,
        },
        timeout=5,
    )


def approve(sb: Sandbox, scope: str = "widgets:read widgets:update", **extra: str) -> dict:
    """Post the approve form as a browser would; return the redirect's query."""
    page = authorize(sb, scope)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    answer = requests.post(
        f"{sb.pulsoid_oauth_url}/authorize",
        data={**fields, "decision": "approve", **extra},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def token_call(sb: Sandbox, **form: str) -> requests.Response:
    credentials = {
        "client_id": sb.seed.pulsoid_client_id,
        "client_secret": sb.seed.pulsoid_client_secret,
    }
    return requests.post(f"{sb.pulsoid_oauth_url}/token", data={**credentials, **form}, timeout=5)


def exchange(sb: Sandbox, code: str) -> requests.Response:
    return token_call(sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)


@pytest.mark.parametrize("scope", ["widgets:read widgets:update", "widgets:read,widgets:update"])
def test_authorize_shows_an_approve_form_listing_the_scopes(sb, scope):
    page = authorize(sb, scope)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert re.search(r'<form method="post" action="authorize">', page.text)
    assert ">Approve</button>" in page.text
    assert "<code>widgets:read</code>" in page.text
    assert "<code>widgets:update</code>" in page.text


def test_authorize_refuses_an_unknown_client_without_redirecting(sb):
    page = requests.get(
        f"{sb.pulsoid_oauth_url}/authorize",
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT_URI},
        allow_redirects=False,
        timeout=5,
    )
    assert page.status_code == 400
    assert "Location" not in page.headers


def test_approving_redirects_back_with_a_code_and_the_state(sb):
    returned = approve(sb)
    assert returned["state"] == "s-1"
    assert re.match(r"^[0-9a-f-]{36}$", returned["code"])


def test_denying_redirects_back_with_access_denied(sb):
    returned = approve(sb, decision="deny")
    assert returned == {"error": "access_denied", "state": "s-1"}


def test_a_code_works_once_and_its_token_has_the_requested_scopes(sb):
    code = approve(sb)["code"]
    first = exchange(sb, code)
    assert first.status_code == 200
    pair = first.json()
    assert set(pair) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert (pair["expires_in"], pair["token_type"]) == (3600, "bearer")
    info = po(sb, "GET", "/token/validate", pair["access_token"]).json()
    assert info["scopes"] == ["widgets:read", "widgets:update"]
    assert (info["client_id"], info["profile_id"]) == ("sandbox-client", sb.seed.pulsoid_user_id)
    assert 3590 <= info["expires_in"] <= 3600
    again = exchange(sb, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_the_approve_page_can_sign_in_as_another_sandbox_user(sb):
    code = approve(sb, user_id=sb.seed.pulsoid_nodata_user_id)["code"]
    access = exchange(sb, code).json()["access_token"]
    info = po(sb, "GET", "/token/validate", access).json()
    assert info["profile_id"] == sb.seed.pulsoid_nodata_user_id


def test_a_code_needs_its_redirect_uri_and_expires(sb):
    code = approve(sb)["code"]
    wrong = token_call(
        sb, grant_type="authorization_code", code=code, redirect_uri="http://elsewhere/cb"
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    sb.pulsoid.code_lifetime = -1
    stale = approve(sb)["code"]
    assert exchange(sb, stale).json()["error"] == "invalid_grant"


def test_bad_client_credentials_are_401_invalid_client(sb):
    code = sb.pulsoid.issue_code(sb.seed.pulsoid_client_id, REDIRECT_URI, ["widgets:read"])
    answer = token_call(
        sb,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_secret="wrong",
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_client_credentials_may_come_as_http_basic(sb):
    code = sb.pulsoid.issue_code(sb.seed.pulsoid_client_id, REDIRECT_URI, ["widgets:read"])
    answer = requests.post(
        f"{sb.pulsoid_oauth_url}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(sb.seed.pulsoid_client_id, sb.seed.pulsoid_client_secret),
        timeout=5,
    )
    assert answer.status_code == 200


def test_refresh_rotates_both_tokens_and_retires_the_old_pair(sb):
    old = exchange(sb, approve(sb)["code"]).json()
    new = token_call(sb, grant_type="refresh_token", refresh_token=old["refresh_token"]).json()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert po(sb, "GET", "/token/validate", new["access_token"]).status_code == 200
    assert po(sb, "GET", "/token/validate", old["access_token"]).json()["error_code"] == 7005
    reused = token_call(sb, grant_type="refresh_token", refresh_token=old["refresh_token"])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_revoke_stops_the_access_token_and_its_refresh_token(sb):
    pair = exchange(sb, approve(sb)["code"]).json()
    answer = requests.post(sb.pulsoid_revoke_url, data={"token": pair["access_token"]}, timeout=5)
    assert answer.status_code == 200
    assert po(sb, "GET", "/widgets", pair["access_token"]).json()["error_code"] == 7005
    refreshed = token_call(sb, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert refreshed.status_code == 400


def test_the_token_endpoint_reads_forms_only_and_names_bad_grants(sb):
    as_json = requests.post(
        f"{sb.pulsoid_oauth_url}/token",
        json={"grant_type": "authorization_code", "code": "x"},
        timeout=5,
    )
    assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    odd = token_call(sb, grant_type="password")
    assert (odd.status_code, odd.json()["error"]) == (400, "unsupported_grant_type")
    unknown = exchange(sb, UNKNOWN_KEY)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")


class BrowserForm(HTMLParser):
    """Reads the first form of a page the way a browser does: action, method, and the fields a
    click on one submit button sends (hidden inputs, the selected option, that button)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.method = "get"
        self.fields: list[tuple[str, str]] = []
        self.buttons: dict[str, tuple[str, str]] = {}
        self._select: str | None = None
        self._select_chosen = False
        self._button: tuple[str, str] | None = None
        self._button_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self.method = at.get("action", ""), at.get("method", "get").lower()
        elif tag == "input" and at.get("type", "text") != "submit" and "name" in at:
            self.fields.append((at["name"], at.get("value", "")))
        elif tag == "select":
            self._select, self._select_chosen = at.get("name"), False
        elif tag == "option" and self._select and not self._select_chosen:
            self.fields.append((self._select, at.get("value", "")))
            self._select_chosen = True
        elif tag == "button" and at.get("type", "submit") == "submit":
            self._button, self._button_text = (at.get("name", ""), at.get("value", "")), ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "button" and self._button is not None:
            self.buttons[self._button_text.strip()] = self._button
            self._button = None


def click(page: requests.Response, button: str) -> requests.Response:
    """Submit the page's form by pressing `button`, without following the redirect."""
    form = BrowserForm()
    form.feed(page.text)
    name, value = form.buttons[button]
    assert form.method == "post"
    return requests.post(
        urljoin(page.url, form.action),
        data=[*form.fields, (name, value)],
        allow_redirects=False,
        timeout=5,
    )


HOSTILE = "a&b<c>d\"e'f </script><script>alert(1)</script> é ♥"


def test_a_browser_approves_and_state_and_redirect_uri_survive_html_escaping(sb):
    redirect_uri = "http://127.0.0.1:8000/pulsoid/callback?next=/x&q='\"<b>"
    page = requests.get(
        f"{sb.pulsoid_oauth_url}/authorize",
        params={
            "response_type": "code",
            "client_id": sb.seed.pulsoid_client_id,
            "redirect_uri": redirect_uri,
            "scope": "widgets:read",
            "state": HOSTILE,
        },
        timeout=5,
    )
    assert page.status_code == 200
    assert "<script" not in page.text.lower()
    assert "alert(1)" in html.unescape(page.text)  # shown, escaped, never markup
    for raw in (HOSTILE, redirect_uri):
        assert raw not in page.text
    answer = click(page, "Approve")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "&")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [HOSTILE]
    assert query["next"] == ["/x"]
    assert re.fullmatch(r"[0-9a-f-]{36}", query["code"][0])
    assert "<script" not in answer.text.lower()
    assert "<b>" not in answer.text
    pair = token_call(
        sb, grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect_uri
    )
    assert pair.status_code == 200


def test_a_browser_can_deny_too(sb):
    answer = click(authorize(sb, state=HOSTILE), "Deny")
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": [HOSTILE]}


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "javascript:alert(1)",
        "/relative/callback",
        "http://127.0.0.1:8000/cb\r\nSet-Cookie: x=1",
        "http://127.0.0.1:8000/cb#fragment",
        "http://127.0.0.1:8000/c b",
    ],
)
def test_authorize_refuses_redirect_uris_a_browser_should_not_be_sent_to(sb, redirect_uri):
    page = requests.get(
        f"{sb.pulsoid_oauth_url}/authorize",
        params={
            "response_type": "code",
            "client_id": sb.seed.pulsoid_client_id,
            "redirect_uri": redirect_uri,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert "Set-Cookie" not in page.headers


def test_expire_answers_7006_everywhere_and_the_refresh_token_still_works(sb):
    pair = exchange(sb, approve(sb, scope=" ".join(PULSOID_SCOPES))["code"]).json()
    access = pair["access_token"]
    assert access in sb.pulsoid.tokens_of(sb.seed.pulsoid_user_id)
    sb.pulsoid.expire(access)
    expired = {"error_code": 7006, "error_message": "token_expired"}
    for path in ("/token/validate", "/widgets", "/profile", "/data/heart_rate/latest"):
        answer = po(sb, "GET", path, access)
        assert (answer.status_code, answer.json()) == (403, expired), path
    assert access not in sb.pulsoid.tokens_of(sb.seed.pulsoid_user_id)
    refreshed = token_call(sb, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert refreshed.status_code == 200
    new = refreshed.json()["access_token"]
    assert po(sb, "GET", "/widgets", new).status_code == 200
    assert new in sb.pulsoid.tokens_of(sb.seed.pulsoid_user_id)
    # The refresh retired the expired token for good: now it is unknown, not just expired.
    assert po(sb, "GET", "/token/validate", access).json()["error_code"] == 7005
    assert len(sb.requests_to("POST", "/pulsoid/oauth2/token")) == 2  # exchange and refresh


def test_expire_works_on_manual_tokens_and_refuses_unknown_ones(sb):
    sb.pulsoid.expire(sb.seed.pulsoid_full_token)
    answer = po(sb, "GET", "/token/validate", sb.seed.pulsoid_full_token)
    assert (answer.status_code, answer.json()["error_code"]) == (403, 7006)
    with pytest.raises(KeyError):
        sb.pulsoid.expire(UNKNOWN_KEY)
    sb.reset()
    assert po(sb, "GET", "/token/validate", sb.seed.pulsoid_full_token).status_code == 200


def test_tokens_of_lists_a_users_working_access_tokens(sb):
    seed = sb.seed
    assert sb.pulsoid.tokens_of(seed.pulsoid_user_id) == [
        seed.pulsoid_full_token,
        seed.pulsoid_readonly_token,
    ]
    assert sb.pulsoid.tokens_of(seed.pulsoid_nodata_user_id) == [seed.pulsoid_nodata_token]
    pair = exchange(sb, approve(sb)["code"]).json()
    assert sb.pulsoid.tokens_of(seed.pulsoid_user_id)[-1] == pair["access_token"]
    assert pair["refresh_token"] not in sb.pulsoid.tokens_of(seed.pulsoid_user_id)
    sb.pulsoid.revoke(pair["access_token"])
    assert pair["access_token"] not in sb.pulsoid.tokens_of(seed.pulsoid_user_id)
    with pytest.raises(KeyError):
        sb.pulsoid.tokens_of(UNKNOWN_KEY)


def test_token_calls_can_be_counted_from_the_request_log(sb):
    code = approve(sb)["code"]
    assert sb.requests_to("POST", "/pulsoid/oauth2/token") == []
    exchange(sb, code)
    exchange(sb, code)  # refused, still a call
    calls = sb.requests_to("POST", "/pulsoid/oauth2/token")
    assert len(calls) == 2
    assert calls[0].form["code"] == code


# --------------------------------------------------------------------------- Pulsoid: widget viewer


def view(sb: Sandbox, widget_id: str, **kwargs) -> requests.Response:
    """Open the public widget viewer, no token, as OBS would."""
    return requests.get(f"{sb.pulsoid_viewer_url}{widget_id}", timeout=5, **kwargs)


def number(page: requests.Response) -> tuple[str, str | None]:
    """(the number shown, its colour or None)."""
    found = re.search(r'<span class="bpm"(?: style="color:([^"]*)")?>([^<]*)</span>', page.text)
    assert found, page.text
    return found.group(2), found.group(1)


def heart(page: requests.Response) -> str | None:
    """The heart's style attribute ("" when unstyled), or None when no heart is shown."""
    found = re.search(r'<span class="heart"(?: style="([^"]*)")?[^>]*>\u2665</span>', page.text)
    return None if found is None else found.group(1) or ""


def test_viewer_url_is_in_the_settings_with_a_trailing_slash(sb):
    assert sb.pulsoid_viewer_url == f"{sb.url}/pulsoid/widget/view/"
    assert sb.env()["PULSOID_WIDGET_VIEWER_URL"] == sb.pulsoid_viewer_url


def test_the_viewer_shows_the_owners_latest_bpm_styled_by_the_widget(sb):
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_user_id, 72)
    page = view(sb, sb.seed.pulsoid_widget_ids[0])
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert number(page) == ("72", "#4caf50")
    assert '<span class="unit">BPM</span>' in page.text
    assert heart(page) == "color:#ff3b5c"
    assert 'style="font-family:&quot;Roboto&quot;, sans-serif"' in page.text
    assert page.text.index("\u2665") < page.text.index(">72<")
    # Public: no token needed, and a bad one changes nothing.
    bogus = view(sb, sb.seed.pulsoid_widget_ids[0], headers={"Authorization": "Bearer nope"})
    assert number(bogus) == ("72", "#4caf50")


def test_the_viewer_page_is_self_contained_without_any_script(sb):
    page = view(sb, sb.seed.pulsoid_widget_ids[0])
    text = page.text.lower()
    for forbidden in (
        "<script",
        "javascript:",
        "src=",
        "href=",
        "http:",
        "https:",
        "url(",
        "@import",
    ):
        assert forbidden not in text, forbidden
    assert re.search(r"\bon[a-z]+=", text) is None
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # falls back to 'none'
    assert page.headers["Cache-Control"] == "no-store"


def test_the_viewer_follows_new_readings_and_configuration_changes(sb):
    widget_id = sb.seed.pulsoid_widget_ids[0]
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_user_id, 72)
    assert number(view(sb, widget_id))[0] == "72"
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_user_id, 131)
    assert number(view(sb, widget_id)) == ("131", "#ff9800")
    changed = po(
        sb,
        "POST",
        f"/widgets/{widget_id}",
        sb.seed.pulsoid_full_token,
        json={"configuration": {"heartEnabled": True, "ranges": []}},
    )
    assert changed.status_code == 200
    page = view(sb, widget_id)
    assert number(page) == ("131", None)
    assert heart(page) == ""
    assert "font-family" not in page.text


@pytest.mark.parametrize(
    ("bpm", "color"),
    [
        (0, "#4caf50"),
        (99, "#4caf50"),
        (100, "#ff9800"),
        (149, "#ff9800"),
        (150, "#f44336"),
        (250, "#f44336"),  # the top edge of the last zone still counts
        (251, None),  # above every zone: the default colour
    ],
)
def test_the_number_takes_the_colour_of_the_zone_holding_the_bpm(sb, bpm, color):
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_user_id, bpm)
    assert number(view(sb, sb.seed.pulsoid_widget_ids[0])) == (str(bpm), color)


def test_the_heart_is_shown_only_when_enabled(sb):
    user = sb.seed.pulsoid_user_id
    sb.pulsoid.add_heart_rate(user, 80)
    minimal = view(sb, sb.seed.pulsoid_widget_ids[1])  # heartEnabled false
    assert heart(minimal) is None
    assert "\u2665" not in minimal.text
    assert number(minimal) == ("80", None)
    for configuration, shown in (
        ({}, None),
        ({"heartEnabled": "true"}, None),
        ({"heartEnabled": True}, ""),
        ({"heartEnabled": True, "heartColor": "rgb(255, 0, 0)"}, "color:rgb(255, 0, 0)"),
    ):
        widget = sb.pulsoid.add_widget(user, "Heart", configuration)
        assert heart(view(sb, widget["id"])) == shown, configuration


@pytest.mark.parametrize(
    ("font", "family"),
    [
        ("Open Sans", "&quot;Open Sans&quot;, sans-serif"),
        ("Fira Code, monospace", "&quot;Fira Code&quot;, monospace, sans-serif"),
        ("Roboto, sans-serif", "&quot;Roboto&quot;, sans-serif"),
    ],
)
def test_fonts_are_quoted_family_names_with_a_fallback(sb, font, family):
    widget = sb.pulsoid.add_widget(sb.seed.pulsoid_user_id, "Font", {"font": font})
    assert f'style="font-family:{family}"' in view(sb, widget["id"]).text


@pytest.mark.parametrize(
    "hostile",
    [
        "</style><script>alert(1)</script>",
        "red;}</style><script>alert(1)</script><style>",
        '"><script>alert(1)</script>',
        "red; background:url(https://evil.example/x.png)",
        "url(javascript:alert(1))",
        "expression(alert(1))",
        'Roboto"; color: red; x:"',
        "red\n</span><img src=x onerror=alert(1)>",
        "&lt;script&gt;",
        "rgb(1,2,3)</style>",
        ["red"],
        12,
    ],
)
def test_hostile_configuration_values_are_ignored_never_rendered(sb, hostile):
    user = sb.seed.pulsoid_user_id
    sb.pulsoid.add_heart_rate(user, 72)
    widget = sb.pulsoid.add_widget(
        user,
        "<script>alert('name')</script>",
        {
            "heartEnabled": True,
            "heartColor": hostile,
            "font": hostile,
            "ranges": [{"from": 0, "to": 200, "color": hostile}, {"from": "0", "to": {}}],
        },
    )
    page = view(sb, widget["id"])
    assert page.status_code == 200
    title = "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt; - Pulsoid widget"
    assert f"<title>{title}</title>" in page.text
    body = page.text.split("<body>", 1)[1].lower()
    for forbidden in ("script", "<img", "onerror", "url(", "expression", "evil", "alert", "&lt;"):
        assert forbidden not in body, forbidden
    assert number(page) == ("72", None)
    assert heart(page) == ""
    assert "font-family" not in page.text
    assert page.text.count("<style>") == 1
    assert page.text.count("</style>") == 1


def test_unknown_widget_is_a_404_page(sb):
    for widget_id in (UNKNOWN_KEY, "", "%3Cscript%3E"):
        page = view(sb, widget_id)
        assert page.status_code == 404
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Widget not found" in page.text
        assert "<script" not in page.text.lower()


def test_the_viewer_shows_dashes_until_the_owner_has_data(sb):
    widget = sb.pulsoid.add_widget(
        sb.seed.pulsoid_nodata_user_id, "Quiet", {"heartEnabled": True, "heartColor": "red"}
    )
    page = view(sb, widget["id"])
    assert page.status_code == 200
    assert number(page) == ("--", None)
    assert heart(page) == "color:red"
    assert '<meta http-equiv="refresh" content="2">' in page.text
    sb.pulsoid.add_heart_rate(sb.seed.pulsoid_nodata_user_id, 64)
    assert number(view(sb, widget["id"]))[0] == "64"


def test_the_viewer_answers_get_and_head_only(sb):
    url = f"{sb.pulsoid_viewer_url}{sb.seed.pulsoid_widget_ids[0]}"
    assert requests.head(url, timeout=5).status_code == 200
    refused = requests.post(url, timeout=5)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD"


# --------------------------------------------------------------------------- faults


def test_a_status_fault_replaces_the_next_answers_then_clears(sb):
    sb.fault("GET", APPS, status=503, times=2)
    first, second, third = (pt(sb, "GET", APPS) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json() == {"message": "Service Unavailable"}


def test_a_status_fault_carries_its_body_and_headers(sb):
    sb.fault(
        "GET",
        WIDGETS,
        status=429,
        body={"error_code": 429, "error_message": "too_many_requests"},
        headers={"Retry-After": "7"},
    )
    answer = po(sb, "GET", "/widgets", sb.seed.pulsoid_full_token)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error_message"] == "too_many_requests"


def test_a_fault_hits_only_its_method_and_path_prefix(sb):
    sb.fault("POST", APPS, status=500)
    assert pt(sb, "GET", APPS).status_code == 200
    assert po(sb, "GET", "/widgets", sb.seed.pulsoid_full_token).status_code == 200
    assert pt(sb, "POST", APPS, json={"name": "x"}).status_code == 500
    sb.fault("*", "/pulsoid", status=502)
    assert po(sb, "GET", "/profile", sb.seed.pulsoid_full_token).status_code == 502


def test_a_faulted_request_changes_no_state(sb):
    sb.fault("POST", APPS, status=503)
    pt(sb, "POST", APPS, json={"name": "Ghost"})
    assert "Ghost" not in {
        app["name"] for app in sb.pulsetracker.apps(sb.seed.pulsetracker_paid_token)
    }


def test_clear_faults_forgets_them(sb):
    sb.fault("GET", APPS, status=503, times=5)
    sb.clear_faults()
    assert pt(sb, "GET", APPS).status_code == 200


def test_a_fault_needs_exactly_one_kind(sb):
    with pytest.raises(ValueError, match="exactly one"):
        sb.fault("GET", APPS)
    with pytest.raises(ValueError, match="exactly one"):
        sb.fault("GET", APPS, status=503, timeout=True)


def test_a_timeout_fault_accepts_the_request_and_sends_nothing(sb):
    sb.fault("GET", APPS, timeout=True)
    # Connected and received, then not a byte back: the client's read timeout ends it.
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sb.url}{APPS}", timeout=(5, 0.5))
    assert len(sb.requests_to("GET", APPS)) == 1
    assert pt(sb, "GET", APPS).status_code == 200


def slow_get(sb: Sandbox) -> requests.Response:
    """GET the apps as a stream: returns once the status line and headers are in."""
    return requests.get(
        f"{sb.url}{APPS}",
        headers={
            "Accept": "application/json",
            "Authorization": f"Bearer {sb.seed.pulsetracker_paid_token}",
        },
        stream=True,
        timeout=(5, 5),
    )


def test_a_slow_body_fault_dribbles_the_normal_answer_over_the_time_given(sb):
    sb.fault("GET", APPS, slow_body=1.0)
    started = time.monotonic()
    with slow_get(sb) as answer:
        assert answer.status_code == 200
        length = int(answer.headers["Content-Length"])
        body = answer.content
    # Never sooner than the time given (later is only a busy machine).
    assert time.monotonic() - started >= 0.9
    assert len(body) == length
    assert json.loads(body)["meta"]["total"] == 30
    assert sb.hangups == []


def test_a_slow_body_sends_headers_at_once_and_notices_a_client_hanging_up(sb):
    # Over 10 s: headers and a first piece arrive while most of the body is still to come, so a
    # client that hangs up then leaves the sandbox writing into a closed connection.
    sb.fault("GET", APPS, slow_body=10.0)
    with slow_get(sb) as answer:
        assert answer.status_code == 200
        first = answer.raw.read(1)
    assert first == b"{"
    [request] = sb.requests_to("GET", APPS)
    assert wait_for(lambda: sb.hangups == [request]), "the sandbox saw the connection closed"
    sb.reset()
    assert sb.hangups == []


def test_a_non_json_fault_is_an_html_page(sb):
    sb.fault("GET", APPS, non_json=True)
    answer = pt(sb, "GET", APPS)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(requests.JSONDecodeError):
        answer.json()


@pytest.mark.parametrize("size", [5, 100_000])
def test_an_oversized_fault_is_valid_json_of_that_many_bytes(sb, size):
    sb.fault("GET", APPS, oversized=size)
    answer = pt(sb, "GET", APPS)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert int(answer.headers["Content-Length"]) == len(answer.content) == size
    answer.json()


def wait_for(condition, seconds: float = 10.0) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False); returns at once when it
    already holds, so a generous limit costs nothing when things work."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def call_in_background(url: str, **kwargs) -> tuple[threading.Thread, list[object]]:
    """GET `url` in a daemon thread with a long (60 s) timeout; the list receives the response
    or the error the call ended with."""
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(url, timeout=60, **kwargs))
        except requests.RequestException as error:
            outcome.append(error)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    return caller, outcome


def assert_released_by_stop(sandbox: Sandbox, caller: threading.Thread, outcome: list) -> None:
    """Stop the sandbox while `caller` waits on it: stop() must not wait for the answer (30 s or
    more away) and must end the call by closing its connection."""
    assert wait_for(lambda: bool(sandbox.requests)), "the request reached the sandbox"
    started = time.monotonic()
    sandbox.stop()
    # Far less than the 30 s or more the request would have been held (generous for busy CI).
    assert time.monotonic() - started < 10
    caller.join(timeout=15)
    assert not caller.is_alive(), "the waiting client was released"
    [ended] = outcome
    # The connection was closed on the client, which did not give up on its own (60 s) timeout.
    assert isinstance(ended, requests.ConnectionError)
    assert not isinstance(ended, requests.Timeout)


def test_stop_returns_promptly_during_a_timeout_fault():
    sandbox = Sandbox().start()
    sandbox.fault("GET", "/", timeout=True)
    caller, outcome = call_in_background(f"{sandbox.url}/")
    assert_released_by_stop(sandbox, caller, outcome)


def test_stop_returns_promptly_while_a_slow_user_is_waited_on():
    sandbox = Sandbox().start()
    token = sandbox.pulsetracker.add_user(latency=60)
    caller, outcome = call_in_background(
        f"{sandbox.url}{APPS}", headers={"Authorization": f"Bearer {token}"}
    )
    assert_released_by_stop(sandbox, caller, outcome)


# --------------------------------------------------------------------------- request log


def test_every_request_is_logged_with_method_path_query_headers_and_body(sb):
    sb.fault("POST", APPS, status=503)
    pt(sb, "POST", f"{APPS}?x=1", json={"name": "Logged"})
    pt(sb, "GET", f"{APPS}?page=2")
    post, get = sb.requests
    assert (post.method, post.path, post.query) == ("POST", APPS, {"x": "1"})
    assert post.headers["authorization"] == f"Bearer {sb.seed.pulsetracker_paid_token}"
    assert post.headers["accept"] == "application/json"
    assert json.loads(post.body) == {"name": "Logged"}
    assert post.json() == {"name": "Logged"}
    assert (get.method, get.query, get.body) == ("GET", {"page": "2"}, b"")
    assert sb.requests_to("GET", APPS) == [get]
    assert sb.requests_to("post", "/pulsetracker") == [post]
    assert sb.requests_to("GET", "/pulsoid") == []


# --------------------------------------------------------------------------- management command


def test_the_management_command_serves_and_prints_urls_tokens_and_settings():
    root = Path(__file__).resolve().parent.parent
    if not (root / "manage.py").exists():
        pytest.skip("manage.py is not there yet")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", "0", "--quiet"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "DEBUG": os.environ.get("DEBUG", "1")},
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "PULSOID_REVOKE_URL" in line:
                break
        output = "".join(lines)
        base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output)
        assert base, output
        answer = requests.get(
            f"{base.group(1)}/pulsoid/api/v1/profile",
            headers={"Authorization": "Bearer 11111111-1111-4111-8111-111111111111"},
            timeout=5,
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        rest = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
    output += rest
    for name in (
        "PULSETRACKER_API_URL",
        "PULSOID_API_URL",
        "PULSOID_OAUTH_URL",
        "PULSOID_WIDGET_VIEWER_URL",
    ):
        assert f"export {name}={base.group(1)}" in output
    viewer = f"{base.group(1)}/pulsoid/widget/view/"
    assert f"export PULSOID_WIDGET_VIEWER_URL={viewer}\n" in output
    assert f"{viewer}{Sandbox().seed.pulsoid_widget_ids[0]}" in output
    seed = Sandbox().seed
    for token in (seed.pulsetracker_free_token, seed.pulsoid_readonly_token, "sandbox-secret"):
        assert token in output
    assert process.returncode == 0


# Devices: create, rename, types, location history, positions


def test_device_create_checks_quota_then_each_field_then_ownership(sb):
    key = sb.seed.pulsetracker_free_app_key
    body = {"name": "Third", "app_key": key, "type_id": 3}
    created = pt(sb, "POST", DEVICES, "free", json=body)
    assert created.status_code == 201
    assert created.json()["data"]["type"] == "Car"
    assert (created.json()["data"]["lastLocation"], created.json()["data"]["quota"]) == (None, [])
    # The free plan's three devices are used: quota before validation.
    assert pt(sb, "POST", DEVICES, "free", json={}).json() == {"message": QUOTA_MESSAGE}
    invalid = pt(sb, "POST", DEVICES, json={"name": " ", "type_id": "x"})
    assert invalid.status_code == 422
    assert invalid.json()["errors"] == {
        "name": ["The name field is required."],
        "app_key": ["The app key field is required."],
        "type_id": ["The selected type id is invalid."],
    }
    theirs = pt(sb, "POST", DEVICES, json={"name": "Mine", "app_key": key, "type_id": "1"})
    assert theirs.status_code == 404


def test_device_rename_answers_one_and_device_types_are_not_paged(sb):
    key = sb.pulsetracker.devices(sb.seed.pulsetracker_paid_token)[0]["key"]
    renamed = pt(sb, "PUT", f"{DEVICES}/{key}", json={"name": "Van"})
    assert (renamed.status_code, renamed.text) == (200, "1")
    assert pt(sb, "GET", f"{DEVICES}/{key}").json()["data"]["name"] == "Van"
    assert pt(sb, "DELETE", f"{DEVICES}/{key}").status_code == 405
    types = pt(sb, "GET", "/pulsetracker/api/device_types").json()
    assert list(types) == ["data"]
    assert types["data"][0] == {"id": 1, "name": "Smartphone"}
    assert len(types["data"]) == 14


def test_a_device_message_over_http_moves_the_device_and_joins_its_history(sb):
    device = next(
        d for d in sb.pulsetracker.devices(sb.seed.pulsetracker_paid_token) if d["lastLocation"]
    )
    before = pt(sb, "GET", f"{DEVICES}/{device['key']}/locations").json()
    message = {
        "appId": device["app_key"],
        "clientId": device["key"],
        "data": {"type": "Point", "coordinates": [3.5, 36.5]},
        "extra": {"battery": 90},
    }
    assert requests.post(f"{sb.url}/pulsetracker/tracking", json=message, timeout=5).ok
    after = pt(sb, "GET", f"{DEVICES}/{device['key']}/locations?per_page=5").json()
    assert after["meta"]["total"] == before["meta"]["total"] + 1
    assert after["meta"]["per_page"] == 5
    assert after["data"][0]["location"] == {"type": "Point", "coordinates": [3.5, 36.5]}
    assert after["data"][0]["extra_data"] == {"battery": 90}
    last = pt(sb, "GET", f"{DEVICES}/{device['key']}").json()["data"]["lastLocation"]
    assert last["location"]["coordinates"] == [3.5, 36.5]


def test_map_tiles_are_served_as_images(sb):
    tile = requests.get(sb.map_tiles_url.format(z=3, x=4, y=2), timeout=5)
    assert tile.headers["Content-Type"] == "image/png"
    assert tile.content.startswith(b"\x89PNG")
