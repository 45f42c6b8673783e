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


# Devices: create, rename, types, location history


def test_device_types_are_read_with_their_ids(paid):
    types = paid.device_types()
    assert len(types) == 14
    assert types[0].name == "Smartphone"
    assert {t.name for t in types} >= {"Car", "Drone", "Pet Tracker"}
    assert len({t.id for t in types}) == 14


def test_create_device_answers_the_device_without_a_location(sandbox, paid):
    app = sandbox.pulsetracker.add_app(sandbox.seed.pulsetracker_paid_token, "Vans")
    car = next(t for t in paid.device_types() if t.name == "Car")
    device = paid.create_device(name="Van 7", app_key=app["key"], type_id=car.id)
    assert (device.name, device.type, device.app_key) == ("Van 7", "Car", app["key"])
    assert device.last_location is None
    assert device.quota == ()
    assert paid.get_device(device.key).name == "Van 7"


def test_create_device_accepts_the_docs_200_as_well(sandbox, paid):
    sandbox.pulsetracker.create_status = 200
    app = sandbox.pulsetracker.add_app(sandbox.seed.pulsetracker_paid_token, "Vans")
    assert paid.create_device(name="Van 8", app_key=app["key"], type_id=1).name == "Van 8"


def test_create_device_at_the_plan_limit_is_quota_even_with_bad_input(sandbox, free):
    key = sandbox.seed.pulsetracker_free_app_key
    free.create_device(name="Third", app_key=key, type_id=1)  # the free plan's third device
    with pytest.raises(QuotaExceeded) as caught:
        free.create_device(name="", app_key=key, type_id=999)
    assert caught.value.message == QUOTA_MESSAGE
    assert caught.value.status == 403


def test_create_device_validation_names_each_field(sandbox, paid):
    with pytest.raises(ValidationFailed) as caught:
        paid.create_device(name="  ", app_key="00000000-0000-4000-8000-000000000000", type_id=99)
    assert caught.value.errors == {
        "name": ["The name field is required."],
        "app_key": ["The selected app key is invalid."],
        "type_id": ["The selected type id is invalid."],
    }
    assert caught.value.message == "The name field is required. (and 2 more errors)"


def test_create_device_in_another_accounts_app_is_not_found(sandbox, paid):
    with pytest.raises(NotFound):
        paid.create_device(name="Sneaky", app_key=sandbox.seed.pulsetracker_free_app_key, type_id=1)


@pytest.mark.parametrize("answer", ["one", "string", "empty"])
def test_rename_device_returns_the_name_sent_whatever_the_body(sandbox, paid, answer):
    sandbox.pulsetracker.rename_answer = answer
    app = sandbox.pulsetracker.add_app(sandbox.seed.pulsetracker_paid_token, "Vans")
    stored = sandbox.pulsetracker.add_device(sandbox.seed.pulsetracker_paid_token, app["key"], "A")
    assert paid.rename_device(stored["key"], "Van 9") == "Van 9"
    assert paid.get_device(stored["key"]).name == "Van 9"


def test_rename_device_errors(sandbox, paid):
    app = sandbox.pulsetracker.add_app(sandbox.seed.pulsetracker_paid_token, "Vans")
    stored = sandbox.pulsetracker.add_device(sandbox.seed.pulsetracker_paid_token, app["key"], "A")
    with pytest.raises(ValidationFailed) as caught:
        paid.rename_device(stored["key"], " ")
    assert caught.value.errors == {"name": ["The name field is required."]}
    with pytest.raises(NotFound):
        paid.rename_device("00000000-0000-4000-8000-000000000000", "B")


def test_location_history_pages_newest_first_with_extra_data(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    app = sandbox.pulsetracker.add_app(token, "Vans")
    key = sandbox.pulsetracker.add_device(token, app["key"], "Van")["key"]
    for n in range(5):
        sandbox.pulsetracker.report_position(
            key, 3.0 + n / 100, 36.0 + n / 100, extra={"speed": n}, at=f"2026-11-0{n + 1}T10:00:00Z"
        )
    first = paid.location_history(key, per_page=2)
    assert (first.total, first.last_page, first.per_page) == (5, 3, 2)
    assert [row.extra_data for row in first.items] == [{"speed": 4}, {"speed": 3}]
    newest = first.items[0]
    assert (newest.position.latitude, newest.position.longitude) == (36.04, 3.04)
    assert newest.updated_at == datetime(2026, 11, 5, 10, tzinfo=UTC)
    assert newest.id is not None
    last = paid.location_history(key, page=3, per_page=2)
    assert [row.extra_data for row in last.items] == [{"speed": 0}]
    assert paid.location_history(key).per_page == 50


def test_location_history_keeps_only_the_plans_retention(sandbox, free):
    devices = sandbox.pulsetracker.devices(sandbox.seed.pulsetracker_free_token)
    key = next(d["key"] for d in devices if d["lastLocation"])  # a seeded one with a track
    sandbox.pulsetracker.report_position(key, 1.0, 2.0, at=datetime(2020, 1, 1, tzinfo=UTC))
    rows = free.location_history(key).items
    assert rows
    assert all(row.updated_at.year > 2020 for row in rows)


def test_location_history_of_an_unknown_device_is_not_found(paid):
    with pytest.raises(NotFound):
        paid.location_history("00000000-0000-4000-8000-000000000000")


def test_a_reported_position_becomes_the_devices_last_location(sandbox, paid):
    token = sandbox.seed.pulsetracker_paid_token
    app = sandbox.pulsetracker.add_app(token, "Vans")
    key = sandbox.pulsetracker.add_device(token, app["key"], "Van")["key"]
    sandbox.pulsetracker.report_position(key, 3.06, 36.75, extra={"battery": 80})
    device = paid.get_device(key)
    assert (device.last_location.position.latitude, device.last_location.position.longitude) == (
        36.75,
        3.06,
    )
    assert device.last_location.extra_data == {"battery": 80}
    assert sum(month.messages_sent for month in device.quota) == 1
