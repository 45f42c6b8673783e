"""The Pulsetracker client against the sandbox over real HTTP: every success and error path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.crypto import Secret
from integrations.errors import (
    BadResponse,
    NotFound,
    QuotaExceeded,
    TokenRejected,
    ValidationFailed,
)
from integrations.pulsetracker.client import App, MonthlyUsage, PulsetrackerClient

QUOTA_MESSAGE = (
    "You have exceeded your monthly quota. "
    "Please upgrade your plan or wait until your quota resets."
)


@pytest.fixture
def paid(sandbox) -> PulsetrackerClient:
    return PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )


@pytest.fixture
def free(sandbox) -> PulsetrackerClient:
    return PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_free_token), base_url=sandbox.pulsetracker_url
    )


def test_list_apps_pages_twelve_newest_first_with_the_paginators_numbers(paid):
    first = paid.list_apps()
    assert (first.current_page, first.last_page, first.per_page, first.total) == (1, 3, 12, 30)
    assert (first.first_item, first.last_item) == (1, 12)
    assert len(first.items) == 12
    assert first.has_next
    assert not first.has_previous
    assert first.next_page == 2
    created = [app.created_at for app in first.items]
    assert created == sorted(created, reverse=True)

    last = paid.list_apps(page=3)
    assert len(last.items) == 6
    assert (last.first_item, last.last_item) == (25, 30)
    assert last.has_previous
    assert not last.has_next
    assert last.previous_page == 2
    assert first.items[-1].created_at >= last.items[0].created_at
    keys = {a.key for p in (1, 2, 3) for a in paid.list_apps(page=p).items}
    assert len(keys) == 30


def test_a_page_past_the_last_is_empty_with_no_positions(paid):
    beyond = paid.list_apps(page=9)
    assert beyond.items == ()
    assert (beyond.first_item, beyond.last_item) == (None, None)
    assert beyond.total == 30
    assert not beyond.has_next
    assert beyond.previous_page == 3


def test_apps_carry_typed_monthly_usage_and_aware_created_at(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    stored = sandbox.pulsetracker.add_app(
        token,
        "Usage app",
        created_at=datetime(2030, 1, 2, 10, 0, tzinfo=UTC),
        quota=[
            {"year": 2029, "month": 12, "messages_sent": 40},
            {"year": 2029, "month": 11, "messages_sent": 1200},
        ],
    )
    app = paid.get_app(stored["key"])
    assert isinstance(app, App)
    assert app.name == "Usage app"
    assert app.created_at == datetime(2030, 1, 2, 10, 0, tzinfo=UTC)
    assert app.created_at.tzinfo is not None
    assert app.quota == (MonthlyUsage(2029, 11, 1200), MonthlyUsage(2029, 12, 40))
    assert app.messages_in(2029, 11) == 1200
    assert app.messages_in(2029, 10) == 0
    assert isinstance(app.devices_count, int)


@pytest.mark.parametrize("style", ["micro", "plain"])
def test_timestamps_parse_with_or_without_microseconds(sandbox, paid, style):
    sandbox.pulsetracker.timestamp_style = style
    app = paid.list_apps().items[0]
    assert app.created_at.tzinfo is not None
    assert app.created_at.year >= 2020


def test_get_app_of_an_unknown_or_foreign_key_is_not_found(sandbox, paid):
    free_key = sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_free_token)[0]["key"]
    with pytest.raises(NotFound):
        paid.get_app(free_key)
    with pytest.raises(NotFound):
        paid.get_app("00000000-0000-4000-8000-000000000000")


def test_a_key_that_is_not_a_key_is_refused_before_calling_upstream(sandbox, paid):
    with pytest.raises(NotFound):
        paid.get_app("../devices")
    assert sandbox.requests_to("GET", "/pulsetracker/api") == []


@pytest.mark.parametrize("status", [201, 200])
def test_create_app_accepts_200_or_201_with_null_devices_count(sandbox, paid, status):
    sandbox.pulsetracker.create_status = status
    app = paid.create_app("Fleet B")
    assert app.name == "Fleet B"
    assert app.devices_count is None
    assert paid.list_apps().items[0].key == app.key


def test_create_app_at_the_plans_limit_reports_the_upstreams_message(free):
    with pytest.raises(QuotaExceeded) as caught:
        free.create_app("Second app")
    assert caught.value.message == QUOTA_MESSAGE
    assert caught.value.status == 403


def test_create_checks_quota_before_validation(free):
    with pytest.raises(QuotaExceeded):
        free.create_app("")


def test_create_with_an_unverified_email_is_refused_with_the_upstreams_message(sandbox):
    token = sandbox.pulsetracker.add_user(app_limit=5, email_verified=False)
    client = PulsetrackerClient(Secret(token), base_url=sandbox.pulsetracker_url)
    with pytest.raises(QuotaExceeded):
        client.create_app("Fleet")


@pytest.mark.parametrize("name", ["", "   "])
def test_create_with_an_empty_name_gives_field_errors(paid, name):
    with pytest.raises(ValidationFailed) as caught:
        paid.create_app(name)
    assert caught.value.errors == {"name": ["The name field is required."]}
    assert caught.value.message == "The name field is required."


@pytest.mark.parametrize("answer", ["one", "string", "empty"])
def test_rename_accepts_every_answer_and_returns_the_name_sent(sandbox, paid, answer):
    sandbox.pulsetracker.rename_answer = answer
    key = paid.list_apps().items[0].key
    assert paid.rename_app(key, f"Renamed {answer}") == f"Renamed {answer}"
    assert paid.get_app(key).name == f"Renamed {answer}"


def test_rename_of_an_unknown_app_is_not_found(paid):
    with pytest.raises(NotFound):
        paid.rename_app("00000000-0000-4000-8000-000000000000", "New")


def test_rename_validates_before_looking_up(paid):
    with pytest.raises(ValidationFailed) as caught:
        paid.rename_app("00000000-0000-4000-8000-000000000000", " ")
    assert "name" in caught.value.errors


@pytest.mark.parametrize("style", [401])
def test_a_revoked_or_wrong_token_is_rejected(sandbox, style):
    token = sandbox.pulsetracker.add_user(app_limit=1)
    client = PulsetrackerClient(Secret(token), base_url=sandbox.pulsetracker_url)
    client.list_apps()
    sandbox.pulsetracker.revoke(token)
    with pytest.raises(TokenRejected) as caught:
        client.list_apps()
    assert caught.value.status == style
    wrong = PulsetrackerClient(Secret("9|" + "w" * 40), base_url=sandbox.pulsetracker_url)
    with pytest.raises(TokenRejected):
        wrong.create_app("x")


def test_list_devices_pages_and_filters_by_app(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    app = sandbox.pulsetracker.add_app(token, "Tracked")
    sandbox.pulsetracker.add_device(
        token,
        app["key"],
        "Phone 1",
        last_location={"type": "Point", "coordinates": [3.06, 36.75]},
    )
    sandbox.pulsetracker.add_device(token, app["key"], "Phone 2")
    page = paid.list_devices(app_key=app["key"])
    assert page.total == 2
    assert {d.name for d in page.items} == {"Phone 1", "Phone 2"}
    by_name = {d.name: d for d in page.items}
    located = by_name["Phone 1"].last_location
    assert located is not None
    assert located.position is not None
    assert (located.position.latitude, located.position.longitude) == (36.75, 3.06)
    assert by_name["Phone 2"].last_location is None
    assert all(d.app_key == app["key"] for d in page.items)
    everything = paid.list_devices()
    assert everything.total >= 2


def test_get_device_and_unknown_device(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    app = sandbox.pulsetracker.add_app(token, "Tracked")
    stored = sandbox.pulsetracker.add_device(token, app["key"], "Truck", type="Tracker")
    device = paid.get_device(stored["key"])
    assert (device.name, device.type, device.app_key) == ("Truck", "Tracker", app["key"])
    assert device.app is not None
    assert device.app.key == app["key"]
    with pytest.raises(NotFound):
        paid.get_device("00000000-0000-4000-8000-000000000000")


def test_a_location_in_the_docs_lat_long_shape_is_read_too(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    app = sandbox.pulsetracker.add_app(token, "Tracked")
    stored = sandbox.pulsetracker.add_device(
        token, app["key"], "Docs phone", last_location={"lat": 48.85, "long": 2.35}
    )
    position = paid.get_device(stored["key"]).last_location.position
    assert (position.latitude, position.longitude) == (48.85, 2.35)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": "not a list", "meta": {}}',
        b'{"data": [{"key": "k", "name": 5}], "meta": {"current_page": 1}}',
        b"[]",
    ],
)
def test_an_unexpected_shape_is_a_bad_response_not_a_crash(sandbox, paid, body):
    sandbox.fault(
        "GET",
        "/pulsetracker/api/apps",
        status=200,
        body=body,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(BadResponse) as caught:
        paid.list_apps()
    assert "Pulsetracker sent" in caught.value.message
