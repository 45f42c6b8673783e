"""A stand-in for the Pulsetracker HTTP API: a Laravel app with Sanctum tokens.

It answers the way the framework does (see /work/shared/api/pulsetracker.md): resource
paginators, `{"message": ...}` errors, quota checked before validation, and the places where
the docs and the running service disagree switchable through the attributes of
`PulsetrackerApi` (`rename_answer`, `create_status`, `timestamp_style`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import string
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from .seed import SEED
from .web import RecordedRequest, Response, Router, html_response, json_response, redirect

PER_PAGE = 12
#: Laravel's `onEachSide`: how many page links the paginator shows around the current page.
ON_EACH_SIDE = 3
NAME_COLUMN_LENGTH = 255

UNAUTHENTICATED = "Unauthenticated."
QUOTA_MESSAGE = (
    "You have exceeded your monthly quota. "
    "Please upgrade your plan or wait until your quota resets."
)
APP_NOT_FOUND = "No query results for model [App\\Models\\App]."
DEVICE_NOT_FOUND = "No query results for model [App\\Models\\Device]."
NAME_REQUIRED = "The name field is required."
APP_KEY_REQUIRED = "The app key field is required."
APP_KEY_INVALID = "The selected app key is invalid."
TYPE_ID_REQUIRED = "The type id field is required."
TYPE_ID_INVALID = "The selected type id is invalid."
#: What the tracking servers answer a device over its plan's monthly messages.
ERR_QUOTA = "ERR_QUOTA"
SERVER_ERROR = "Server Error"
GEOFENCE_NOT_FOUND = "No query results for model [App\\Models\\Geofence]"
UNAUTHORIZED = "This action is unauthorized."
#: How long the sandbox waits for a geofence's webhook URL to answer.
WEBHOOK_TIMEOUT = 5.0

RENAME_ANSWERS = ("one", "string", "empty")
TIMESTAMP_STYLES = ("micro", "plain")
LOCATION_STYLES = ("geojson", "latlong")

_NAMESPACE = uuid.UUID("5b0c7f3e-2f7a-4f4e-9a59-6a1d2a9c0b11")
_PAGE_NUMBER = re.compile(r"^\s*[+]?(0|[1-9][0-9]*)\s*$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits
log = logging.getLogger("integrations.sandbox")
#: The seeded device types (`GET /device_types`), ids from 1 in this order.
DEVICE_TYPES = (
    "Smartphone",
    "Laptop",
    "Car",
    "Bus",
    "Bicycle",
    "Drone",
    "Robot",
    "Smartwatch",
    "Fleet vehicle",
    "Boat",
    "IoT Sensor",
    "Personal GPS tracker",
    "Pet Tracker",
    "Agriculture Equipment",
)
#: Location history: the page size unless `per_page` says otherwise.
LOCATIONS_PER_PAGE = 50
#: Plans: the free plan's devices (across its apps) and how long each plan keeps locations.
FREE_DEVICE_LIMIT = 3
FREE_RETENTION_DAYS = 7
PAID_RETENTION_DAYS = 30
# (longitude, latitude) pairs the seeded devices last reported from.
_PLACES = ((3.0588, 36.7538), (-0.6337, 35.6971), (2.3522, 48.8566), (-9.1393, 38.7223))


class Abort(Exception):
    """Raised inside a handler to answer with `response` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class User:
    """A Pulsetracker account: its plan's app limit and whether its email is verified."""

    id: int
    app_limit: int
    email_verified: bool
    latency: float
    device_limit: int = FREE_DEVICE_LIMIT
    retention_days: int = FREE_RETENTION_DAYS


@dataclass
class Location:
    """A device's last reported position (stored as GeoJSON, longitude first)."""

    id: int
    longitude: float
    latitude: float
    updated_at: datetime
    extra_data: dict[str, Any] = field(default_factory=dict)
    ip_address: str | None = None


@dataclass
class App:
    """An app owned by a user."""

    key: str
    user_id: int
    name: str
    created_at: datetime
    quota: list[dict[str, int]]
    seq: int
    #: The numeric id the service keeps internally; only geofences name an app by it.
    id: int = 0


@dataclass
class Geofence:
    """A polygon of an app (named by the app's numeric id) with an optional webhook URL."""

    id: int
    user_id: int
    app_id: int
    name: str
    polygon: dict[str, Any]
    webhook_url: str | None
    created_at: datetime
    updated_at: datetime


@dataclass
class Device:
    """A device belonging to an app."""

    key: str
    app_key: str
    name: str
    type: str
    created_at: datetime
    last_location: Location | None
    quota: list[dict[str, int]]
    seq: int
    #: Every position received, oldest first (`last_location` is the newest).
    history: list[Location] = field(default_factory=list)


def laravel_json(data: Any) -> str:
    """Encode like PHP's `json_encode` with Laravel's default flags: slashes and non-ASCII
    characters escaped. A client with a real JSON parser does not notice; one that greps does."""
    # "/" only ever occurs inside strings in JSON text, so a plain replace is safe.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def validation_body(errors: Mapping[str, list[str]]) -> dict[str, Any]:
    """A Laravel 422 body: the first message, plus " (and N more error[s])" when there are more."""
    messages = [message for field_messages in errors.values() for message in field_messages]
    message = messages[0] if messages else "The given data was invalid."
    more = len(messages) - 1
    if more > 0:
        message += f" (and {more} more {'error' if more == 1 else 'errors'})"
    return {"message": message, "errors": dict(errors)}


def resolve_page(raw: str | None) -> int:
    """Laravel's page resolver: a whole number of at least 1, anything else is page 1."""
    found = _PAGE_NUMBER.match(raw or "")
    page = int(found.group(1)) if found else 1
    return max(page, 1)


def wants_json(req: RecordedRequest) -> bool:
    """Laravel's `expectsJson()`: the preferred Accept type is JSON, or an XHR accepting any."""
    preferred = _preferred_accept(req.headers.get("accept", ""))
    if preferred is not None and ("/json" in preferred or "+json" in preferred):
        return True
    is_ajax = req.headers.get("x-requested-with", "").lower() == "xmlhttprequest"
    return is_ajax and preferred in (None, "*/*", "*")


def _preferred_accept(accept: str) -> str | None:
    ranked = []
    for position, part in enumerate(p for p in accept.split(",") if p.strip()):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media.lower()))
    return min(ranked)[2] if ranked else None


def paginate(
    items: list[dict[str, Any]],
    page: int,
    path: str,
    query: Mapping[str, str],
    per_page: int = PER_PAGE,
) -> dict[str, Any]:
    """A Laravel resource-collection page: `data`, `links` and `meta` (with the URL window)."""
    total = len(items)
    last_page = max(math.ceil(total / per_page), 1)
    offset = (page - 1) * per_page
    chunk = items[offset : offset + per_page]

    def url(number: int) -> str:
        # Like `withQueryString()`: the other parameters ride along, `page` goes last.
        return f"{path}?{urlencode({**query, 'page': number})}"

    prev_url = url(page - 1) if page > 1 else None
    next_url = url(page + 1) if page < last_page else None
    page_links = [
        {"url": None, "label": "...", "active": False}
        if number is None
        else {"url": url(number), "label": str(number), "active": number == page}
        for number in page_window(page, last_page)
    ]
    return {
        "data": chunk,
        "links": {"first": url(1), "last": url(last_page), "prev": prev_url, "next": next_url},
        "meta": {
            "current_page": page,
            "from": offset + 1 if chunk else None,
            "last_page": last_page,
            "links": [
                {"url": prev_url, "label": "&laquo; Previous", "active": False},
                *page_links,
                {"url": next_url, "label": "Next &raquo;", "active": False},
            ],
            "path": path,
            "per_page": per_page,
            "to": offset + len(chunk) if chunk else None,
            "total": total,
        },
    }


def page_window(page: int, last_page: int) -> list[int | None]:
    """Laravel's `UrlWindow`: the page numbers to link, None standing for a "..." gap."""
    window = ON_EACH_SIDE + 4
    if last_page < ON_EACH_SIDE * 2 + 8:
        return list(range(1, last_page + 1))
    start, finish = [1, 2], [last_page - 1, last_page]
    if page <= window:
        return [*range(1, window + ON_EACH_SIDE + 1), None, *finish]
    if page > last_page - window:
        first_of_end = last_page - (window + ON_EACH_SIDE - 1)
        return [*start, None, *range(first_of_end, last_page + 1)]
    slider = range(page - ON_EACH_SIDE, page + ON_EACH_SIDE + 1)
    return [*start, None, *slider, None, *finish]


def _now() -> datetime:
    # The service's columns keep whole seconds; the framework pads them to microseconds.
    return datetime.now(UTC).replace(microsecond=0)


def _months_between(start: datetime, end: datetime) -> list[tuple[int, int]]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _seeded_quota(created_at: datetime, now: datetime, salt: int) -> list[dict[str, int]]:
    months = _months_between(created_at, now)
    return [
        {"year": year, "month": month, "messages_sent": 50 + (salt * 7919 + i * 104729) % 1950}
        for i, (year, month) in enumerate(months)
    ]


def _as_datetime(value: datetime | str | None) -> datetime:
    if value is None:
        return _now()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _php_string(value: Any) -> str:
    """How PHP casts a scalar request value when it is saved to a string column."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class PulsetrackerApi:
    """The in-memory Pulsetracker: users, tokens, apps and devices, and the HTTP answers.

    `lock` is shared with the server so state changed from a test never races a request.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.router = Router()
        self.router.add(r"/api/apps", GET=self._list_apps, POST=self._create_app)
        self.router.add(
            r"/api/apps/(?P<key>[^/]+)",
            GET=self._get_app,
            PUT=self._rename_app,
            PATCH=self._rename_app,
        )
        self.router.add(r"/api/devices", GET=self._list_devices, POST=self._create_device)
        self.router.add(
            r"/api/devices/(?P<key>[^/]+)",
            GET=self._get_device,
            PUT=self._rename_device,
            PATCH=self._rename_device,
        )
        self.router.add(r"/api/devices/(?P<key>[^/]+)/locations", GET=self._device_locations)
        self.router.add(r"/api/device_types", GET=self._device_types)
        # Not the API: what a device sends over UDP or WebSocket, accepted over HTTP here so
        # `make demo` (and anyone) can move a device.
        self.router.add(r"/tracking", POST=self._tracking)
        self.router.add(r"/login", GET=self._login_page)
        # No DELETE is routed for geofences: the service answers 405.
        self.router.add(r"/api/geofences", GET=self._list_geofences, POST=self._create_geofence)
        self.router.add(
            r"/api/geofences/(?P<gid>[^/]+)",
            GET=self._get_geofence,
            PUT=self._update_geofence,
            PATCH=self._update_geofence,
        )
        self.reset()

    # ----------------------------------------------------------------- state for tests

    def reset(self) -> None:
        """Back to the seeded users, apps and devices, and the real service's answers."""
        with self._lock:
            #: "one" (the service: text/html `1`), "string" (the docs: JSON name) or "empty".
            self.rename_answer = "one"
            #: 201 (the service) or 200 (what the docs' example implies).
            self.create_status = 201
            #: "micro" (`...:13.000000Z`, the service) or "plain" (`...:22Z`, the docs).
            self.timestamp_style = "micro"
            #: "geojson" (`{"type": "Point", "coordinates": [lon, lat]}`, the service) or
            #: "latlong" (`{"lat": .., "long": ..}`, the docs' schema) for `lastLocation.location`.
            self.location_style = "geojson"
            #: "account" (the docs: one webhook secret signs every geofence event of an account)
            #: or "app" (each app has its own): which key the `p-signature` HMAC uses.
            self.webhook_secrets = "account"
            self._users: dict[int, User] = {}
            self._tokens: dict[str, int] = {}
            self._apps: dict[str, App] = {}
            self._devices: dict[str, Device] = {}
            self._seq = 0
            self._next_user_id = 1
            self._next_location_id = 1
            self._next_app_id = 1
            self._geofences: dict[int, Geofence] = {}
            self._next_geofence_id = 1
            #: Every geofence event POSTed to a webhook URL: url, body, headers, status, error.
            self.webhook_deliveries: list[dict[str, Any]] = []
            self._seed()

    def add_user(
        self, app_limit: int = 1, email_verified: bool = True, latency: float = 0.0
    ) -> str:
        """Create a user and return a new Sanctum-shaped token `<id>|<40 chars>` for it."""
        with self._lock:
            token_id = self._next_user_id
            secret = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(40))
            token = f"{token_id}|{secret}"
            self._add_user(token, app_limit, email_verified=email_verified, latency=latency)
            return token

    def add_app(
        self,
        token: str,
        name: str,
        *,
        created_at: datetime | str | None = None,
        quota: Iterable[Mapping[str, int]] | None = None,
        devices: int = 0,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Store an app for the token's user (ignoring the plan limit) and return it as GET
        shows it. `devices` adds that many devices with no location."""
        with self._lock:
            user = self._user_for_token(token)
            app = self._store_app(
                user,
                name,
                _as_datetime(created_at),
                [dict(row) for row in quota or ()],
                key=key,
            )
            for number in range(1, devices + 1):
                self._store_device(app, f"Device {number}", "Smartphone", None, [])
            return self._app_json(app, self._devices_count(app))

    def add_device(
        self,
        token: str,
        app_key: str,
        name: str,
        *,
        type: str = "Smartphone",
        last_location: Any = None,
        quota: Iterable[Mapping[str, int]] | None = None,
    ) -> dict[str, Any]:
        """Store a device in one of the token user's apps and return it as GET shows it.

        `last_location` is None, a `(longitude, latitude)` pair (GeoJSON order), a GeoJSON
        Point, a mapping with `lat` and `lon` (or `long`), or a whole `lastLocation` object;
        a mapping may carry `extra_data` and `ip_address` too.
        """
        with self._lock:
            user = self._user_for_token(token)
            app = self._apps.get(app_key)
            if app is None or app.user_id != user.id:
                raise KeyError(f"no app {app_key!r} for this token")
            location = self._location(last_location) if last_location is not None else None
            device = self._store_device(
                app, name, type, location, [dict(row) for row in quota or ()]
            )
            return self._device_json(device)

    def revoke(self, token: str) -> None:
        """Make a token stop working (the user deleted it in the dashboard)."""
        with self._lock:
            self._tokens.pop(token, None)

    def apps(self, token: str) -> list[dict[str, Any]]:
        """The current apps of the token's user, newest first, as GET shows them."""
        with self._lock:
            user = self._user_for_token(token)
            return [self._app_json(app, self._devices_count(app)) for app in self._apps_of(user)]

    def devices(self, token: str) -> list[dict[str, Any]]:
        """The devices in the token user's apps, newest first, as GET shows them."""
        with self._lock:
            user = self._user_for_token(token)
            return [self._device_json(device) for device in self._devices_of(user, None)]

    def device_types(self) -> list[dict[str, Any]]:
        """The device types as `GET /device_types` lists them."""
        return [{"id": number, "name": name} for number, name in enumerate(DEVICE_TYPES, 1)]

    def report_position(
        self,
        device_key: str,
        longitude: float,
        latitude: float,
        *,
        extra: Mapping[str, Any] | None = None,
        at: datetime | str | None = None,
    ) -> dict[str, Any]:
        """A device reports a position, as over UDP or WebSocket (`at`: when it was received,
        default now). It joins the device's history, becomes its `lastLocation` when it is the
        newest, and counts as a message of its month for the device and its app. Returns the
        location as the history lists it.

        The one place a position arrives (the `/tracking` endpoint comes here too): anything
        that reacts to positions hooks in here."""
        with self._lock:
            device = self._devices[device_key]
            previous = device.last_location
            location = self._location(
                {"lon": longitude, "lat": latitude, "extra_data": dict(extra or {})}
            )
            if at is not None:
                location.updated_at = _as_datetime(at)
            device.history.append(location)
            device.history.sort(key=lambda row: (row.updated_at, row.id))
            device.last_location = device.history[-1]
            for quota in (device.quota, self._apps[device.app_key].quota):
                _count_message(quota, location.updated_at)
            answer = self._location_json(location)
            # Entering or leaving a geofence (by the newest position) POSTs a signed event.
            crossed = device.last_location is location
            outgoing = self.geofence_events(device, previous) if crossed else []
        for event in outgoing:
            self._post_event(*event)
        return answer

    def locations(self, device_key: str) -> list[dict[str, Any]]:
        """A device's whole history, newest first, as `GET .../locations` lists it (ignoring
        the plan's retention)."""
        with self._lock:
            history = self._devices[device_key].history
            return [self._location_json(location) for location in reversed(history)]

    def user_latency(self, token: str | None) -> float:
        """The injected latency of the token's user; 0 for an unknown token."""
        with self._lock:
            user_id = self._tokens.get(token or "")
            return self._users[user_id].latency if user_id is not None else 0.0

    validation_body = staticmethod(validation_body)

    # ----------------------------------------------------------------- HTTP

    def handle(self, req: RecordedRequest, sub_path: str) -> Response:
        """Answer a request whose path below `/pulsetracker` is `sub_path`."""
        handler, params, allowed = self.router.match(req.method, sub_path)
        route_path = sub_path.lstrip("/")
        if handler is None and not allowed:
            response = self._json(404, {"message": f"The route {route_path} could not be found."})
        elif handler is None:
            response = self._method_not_allowed(req.method, route_path, allowed)
        else:
            try:
                with self._lock:
                    response = handler(req, **params)
            except Abort as abort:
                response = abort.response
        if response.status >= 400 and not wants_json(req):
            # Without `Accept: application/json` the framework sends browsers to the login page.
            response = redirect(f"{req.base_url}/pulsetracker/login")
        response.delay = self.user_latency(_bearer(req))
        return response

    def _list_apps(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        items = [self._app_json(app, self._devices_count(app)) for app in self._apps_of(user)]
        page = resolve_page(req.query.get("page"))
        path = f"{req.base_url}/pulsetracker/api/apps"
        return self._json(200, paginate(items, page, path, {}))

    def _get_app(self, req: RecordedRequest, key: str) -> Response:
        app = self._owned_app(self._authenticate(req), key)
        return self._json(200, {"data": self._app_json(app, self._devices_count(app))})

    def _create_app(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        # The service checks the plan before it looks at the input.
        if not user.email_verified or len(self._apps_of(user)) >= user.app_limit:
            raise Abort(self._json(403, {"message": QUOTA_MESSAGE}))
        name = self._validated_name(req)
        app = self._store_app(user, name, _now(), [])
        return self._json(self.create_status, {"data": self._app_json(app, None)})

    def _rename_app(self, req: RecordedRequest, key: str) -> Response:
        user = self._authenticate(req)
        # The form request validates before the controller looks the app up.
        name = self._validated_name(req)
        app = self._owned_app(user, key)
        app.name = name
        return self._rename_response(name)

    def _list_devices(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        app_key = req.query.get("appKey") or None
        items = [self._device_json(device) for device in self._devices_of(user, app_key)]
        page = resolve_page(req.query.get("page"))
        path = f"{req.base_url}/pulsetracker/api/devices"
        extra = {"appKey": req.query["appKey"]} if "appKey" in req.query else {}
        return self._json(200, paginate(items, page, path, extra))

    def _get_device(self, req: RecordedRequest, key: str) -> Response:
        user = self._authenticate(req)
        device = self._devices.get(key)
        if device is None or self._apps[device.app_key].user_id != user.id:
            raise Abort(self._json(404, {"message": DEVICE_NOT_FOUND}))
        return self._json(200, {"data": self._device_json(device)})

    def _create_device(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        # The plan is checked before the input, as for apps.
        if not user.email_verified or len(self._devices_of(user, None)) >= user.device_limit:
            raise Abort(self._json(403, {"message": QUOTA_MESSAGE}))
        data = _laravel_input(req)
        errors: dict[str, list[str]] = {}
        name = _trimmed(data.get("name"))
        if name is None:
            errors["name"] = [NAME_REQUIRED]
        app_key = _trimmed(data.get("app_key"))
        app = self._apps.get(app_key) if isinstance(app_key, str) else None
        if app_key is None:
            errors["app_key"] = [APP_KEY_REQUIRED]
        elif app is None:
            errors["app_key"] = [APP_KEY_INVALID]
        type_id = _trimmed(data.get("type_id"))
        device_type = _device_type(type_id)
        if type_id is None:
            errors["type_id"] = [TYPE_ID_REQUIRED]
        elif device_type is None:
            errors["type_id"] = [TYPE_ID_INVALID]
        if errors:
            raise Abort(self._json(422, validation_body(errors)))
        assert app is not None
        assert device_type is not None
        if isinstance(name, list | dict) or len(_php_string(name)) > NAME_COLUMN_LENGTH:
            # No max rule upstream: the column overflows (strict SQL mode), as for apps.
            raise Abort(self._json(500, {"message": SERVER_ERROR}))
        # `app_key` is checked against every user's apps; someone else's is found, then refused.
        if app.user_id != user.id:
            raise Abort(self._json(404, {"message": APP_NOT_FOUND}))
        device = self._store_device(app, _php_string(name), device_type, None, [])
        return self._json(self.create_status, {"data": self._device_json(device)})

    def _rename_device(self, req: RecordedRequest, key: str) -> Response:
        user = self._authenticate(req)
        name = self._validated_name(req)
        device = self._owned_device(user, key)
        device.name = name
        return self._rename_response(name)

    def _device_locations(self, req: RecordedRequest, key: str) -> Response:
        user = self._authenticate(req)
        device = self._owned_device(user, key)
        kept_since = _now() - timedelta(days=user.retention_days)
        rows = [row for row in reversed(device.history) if row.updated_at >= kept_since]
        found = _PAGE_NUMBER.match(req.query.get("per_page") or "")
        per_page = max(int(found.group(1)), 1) if found else LOCATIONS_PER_PAGE
        page = resolve_page(req.query.get("page"))
        path = f"{req.base_url}/pulsetracker/api/devices/{key}/locations"
        extra = {"per_page": req.query["per_page"]} if "per_page" in req.query else {}
        items = [self._location_json(row) for row in rows]
        return self._json(200, paginate(items, page, path, extra, per_page=per_page))

    def _device_types(self, req: RecordedRequest) -> Response:
        self._authenticate(req)
        return self._json(200, {"data": self.device_types()})

    def _tracking(self, req: RecordedRequest) -> Response:
        """A device's message: `{"appId", "clientId", "data": <GeoJSON Point>, "extra"}`."""
        message = req.json() if "json" in req.content_type else None
        message = message if isinstance(message, dict) else {}
        device = self._devices.get(str(message.get("clientId")))
        if device is None or device.app_key != message.get("appId"):
            raise Abort(self._json(404, {"message": DEVICE_NOT_FOUND}))
        try:
            longitude, latitude = _coordinates(message.get("data"))
        except (TypeError, ValueError):
            raise Abort(self._json(422, {"message": "data must be a GeoJSON Point."})) from None
        extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
        self.report_position(device.key, longitude, latitude, extra=extra)
        return Response(204, b"", {})

    def _owned_device(self, user: User, key: str) -> Device:
        device = self._devices.get(key)
        if device is None or self._apps[device.app_key].user_id != user.id:
            raise Abort(self._json(404, {"message": DEVICE_NOT_FOUND}))
        return device

    def _login_page(self, req: RecordedRequest) -> Response:
        return html_response(200, "<!DOCTYPE html><title>Log in</title><h1>Pulsetracker</h1>")

    # ----------------------------------------------------------------- geofences

    def app_id(self, app_key: str) -> int:
        """The numeric id of an app (shown in the vendor's dashboard; no app endpoint has it)."""
        with self._lock:
            return self._apps[app_key].id

    def webhook_secret(self, token: str, app_key: str | None = None) -> str:
        """The webhook secret ("Tokens & Webhooks" in the vendor's dashboard) that signs the
        geofence events of the account, or of `app_key` when `webhook_secrets` is "app"."""
        with self._lock:
            user = self._user_for_token(token)
            if self.webhook_secrets == "app":
                if app_key is None:
                    raise ValueError("with webhook_secrets = 'app', name the app")
                return self._signing_secret(self._apps[app_key])
            return _webhook_secret(user.id)

    def _signing_secret(self, app: App) -> str:
        if self.webhook_secrets == "app":
            return "pt_whsec_" + hashlib.sha256(f"sandbox-app-{app.key}".encode()).hexdigest()[:32]
        if self.webhook_secrets == "account":
            return _webhook_secret(app.user_id)
        raise ValueError("webhook_secrets must be 'account' or 'app'")

    def add_geofence(
        self,
        token: str,
        app_key: str,
        name: str,
        ring: Iterable[tuple[float, float]],
        *,
        webhook_url: str | None = None,
    ) -> dict[str, Any]:
        """Store a geofence of one of the token user's apps and return it as GET shows it.
        `ring` is (longitude, latitude) pairs, GeoJSON order; it is closed here."""
        with self._lock:
            user = self._user_for_token(token)
            app = self._apps[app_key]
            points = [[float(lon), float(lat)] for lon, lat in ring]
            if points[0] != points[-1]:
                points.append(list(points[0]))
            polygon = {"type": "Polygon", "coordinates": [points]}
            return self._geofence_json(
                self._store_geofence(user, app.id, name, polygon, webhook_url)
            )

    def geofences(self, token: str) -> list[dict[str, Any]]:
        """The token user's geofences, newest first, as GET shows them."""
        with self._lock:
            user = self._user_for_token(token)
            return [self._geofence_json(g) for g in self._geofences_of(user, None)]

    def move_device(self, device_key: str, latitude: float, longitude: float) -> list[dict]:
        """`report_position` now, latitude first, returning the geofence events it POSTed: every
        geofence of the device's app whose inside it entered or left gets one, signed, at its
        webhook URL, as the service does (all are also kept in `webhook_deliveries`)."""
        with self._lock:
            sent = len(self.webhook_deliveries)
        self.report_position(device_key, longitude, latitude)
        with self._lock:
            return self.webhook_deliveries[sent:]

    def geofence_events(
        self, device: Device, previous: Location | None
    ) -> list[tuple[str, bytes, str]]:
        """The (url, body, signature) of each event a device's new position causes: a geofence
        of its app with a webhook URL whose inside the device entered or left (a first position
        counts as coming from outside). Call inside the lock, send outside it."""
        current = device.last_location
        if current is None:
            return []
        app = self._apps[device.app_key]
        point = (current.longitude, current.latitude)
        before = (previous.longitude, previous.latitude) if previous is not None else None
        events = []
        for geofence in self._geofences.values():
            if geofence.app_id != app.id or not geofence.webhook_url:
                continue
            inside = point_in_polygon(point, geofence.polygon)
            was_inside = before is not None and point_in_polygon(before, geofence.polygon)
            if inside == was_inside:
                continue
            body = laravel_json(
                {
                    "event": "inside" if inside else "outside",
                    "point": {"type": "Point", "coordinates": list(point)},
                    "device_id": device.key,
                    "geofence_id": geofence.id,
                    "location_received_at": self._timestamp(current.updated_at),
                    "event_sent_at": self._timestamp(datetime.now(UTC)),
                }
            ).encode()
            secret = self._signing_secret(app).encode()
            signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
            events.append((geofence.webhook_url, body, signature))
        return events

    def _post_event(self, url: str, body: bytes, signature: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "p-signature": signature}
        delivery: dict[str, Any] = {"url": url, "body": body, "headers": headers}
        try:
            # The URL is one a test or a person gave the geofence.
            with urlopen(
                Request(url, data=body, headers=headers, method="POST"), timeout=WEBHOOK_TIMEOUT
            ) as answer:
                delivery["status"] = answer.status
        except OSError as exc:  # HTTPError included: it carries the status
            delivery["status"] = getattr(exc, "code", None)
            delivery["error"] = str(exc)
            log.info("Geofence webhook to %s failed: %s", url, exc)
        with self._lock:
            self.webhook_deliveries.append(delivery)
        return delivery

    def _list_geofences(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        raw = req.query.get("app_id")
        app_id = int(raw) if raw is not None and raw.strip().isdigit() else None
        items = [self._geofence_json(g) for g in self._geofences_of(user, app_id)]
        page = resolve_page(req.query.get("page"))
        path = f"{req.base_url}/pulsetracker/api/geofences"
        extra = {"app_id": raw} if raw is not None else {}
        return self._json(200, paginate(items, page, path, extra))

    def _get_geofence(self, req: RecordedRequest, gid: str) -> Response:
        geofence = self._owned_geofence(self._authenticate(req), gid)
        return self._json(200, {"data": self._geofence_json(geofence)})

    def _create_geofence(self, req: RecordedRequest) -> Response:
        user = self._authenticate(req)
        data = _laravel_input(req)
        errors: dict[str, list[str]] = {}
        name = data.get("name")
        name = name.strip() if isinstance(name, str) else name
        if not name:
            errors["name"] = [NAME_REQUIRED]
        elif not isinstance(name, str) or len(name) > NAME_COLUMN_LENGTH:
            errors["name"] = ["The name field must be a string of at most 255 characters."]
        app = self._validate_app_id(data, errors, required=True)
        self._validate_geometry(data, errors, required=True)
        self._validate_webhook_url(data, errors)
        if errors:
            raise Abort(self._json(422, validation_body(errors)))
        polygon = self._polygon(data["geometry"])
        assert app is not None
        assert isinstance(name, str)
        if app.user_id != user.id:
            raise Abort(self._json(403, {"message": UNAUTHORIZED}))
        url = data.get("webhook_url") or None
        geofence = self._store_geofence(user, app.id, name, polygon, url)
        return self._json(201, {"data": self._geofence_json(geofence)})

    def _update_geofence(self, req: RecordedRequest, gid: str) -> Response:
        user = self._authenticate(req)
        data = _laravel_input(req)
        errors: dict[str, list[str]] = {}
        app = self._validate_app_id(data, errors, required=True)
        name = data.get("name")
        if "name" in data and (not isinstance(name, str) or not name.strip()):
            errors["name"] = ["The name field must be a string."]
        if "geometry" in data:
            self._validate_geometry(data, errors, required=False)
        self._validate_webhook_url(data, errors)
        if errors:
            raise Abort(self._json(422, validation_body(errors)))
        polygon = self._polygon(data["geometry"]) if data.get("geometry") else None
        geofence = self._geofences.get(int(gid)) if gid.isdigit() else None
        if geofence is None:
            raise Abort(self._json(404, {"message": f"{GEOFENCE_NOT_FOUND} {gid}"}))
        assert app is not None
        if geofence.user_id != user.id or app.user_id != user.id:
            raise Abort(self._json(403, {"message": UNAUTHORIZED}))
        geofence.app_id = app.id
        if isinstance(name, str) and name.strip():
            geofence.name = name.strip()
        if polygon is not None:
            geofence.polygon = polygon
        if "webhook_url" in data:
            geofence.webhook_url = data.get("webhook_url") or None
        geofence.updated_at = _now()
        # The controller returns nothing: 200 with an empty body.
        return Response(200, b"", {"Content-Type": "text/html; charset=UTF-8"})

    def _validate_app_id(
        self, data: Mapping[str, Any], errors: dict[str, list[str]], *, required: bool
    ) -> App | None:
        value = data.get("app_id")
        if value in (None, ""):
            if required:
                errors["app_id"] = ["The app id field is required."]
            return None
        number = int(value) if str(value).strip().isdigit() else None
        app = next((a for a in self._apps.values() if a.id == number), None)
        if app is None:
            errors["app_id"] = ["The selected app id is invalid."]
        return app

    def _validate_geometry(
        self, data: Mapping[str, Any], errors: dict[str, list[str]], *, required: bool
    ) -> None:
        value = data.get("geometry")
        if value in (None, ""):
            if required:
                errors["geometry"] = ["The geometry field is required."]
            return
        if not isinstance(value, str):
            # The rule is `json`: an object sent as such is not a JSON string.
            errors["geometry"] = ["The geometry field must be a valid JSON string."]
            return
        try:
            json.loads(value)
        except ValueError:
            errors["geometry"] = ["The geometry field must be a valid JSON string."]

    def _validate_webhook_url(self, data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
        url = data.get("webhook_url")
        if url in (None, ""):
            return
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            errors["webhook_url"] = ["The webhook url field must be a valid URL."]

    def _polygon(self, geometry: str) -> dict[str, Any]:
        """The polygon inside the `{"geometry": ...}` JSON string; a bad one answers 422 with
        the message JSON-encoded once more, as the service does."""
        decoded = json.loads(geometry)
        polygon = decoded.get("geometry") if isinstance(decoded, dict) else None
        problem = polygon_problem(polygon)
        if problem is not None:
            message = json.dumps({"geometry": [problem]})
            raise Abort(self._json(422, {"message": message}))
        assert isinstance(polygon, dict)
        return {"type": "Polygon", "coordinates": polygon["coordinates"]}

    def _owned_geofence(self, user: User, gid: str) -> Geofence:
        geofence = self._geofences.get(int(gid)) if gid.isdigit() else None
        if geofence is None or geofence.user_id != user.id:
            raise Abort(self._json(404, {"message": f"{GEOFENCE_NOT_FOUND} {gid}"}))
        return geofence

    def _store_geofence(
        self, user: User, app_id: int, name: str, polygon: dict[str, Any], url: str | None
    ) -> Geofence:
        now = _now()
        geofence = Geofence(self._next_geofence_id, user.id, app_id, name, polygon, url, now, now)
        self._geofences[geofence.id] = geofence
        self._next_geofence_id += 1
        return geofence

    def _geofences_of(self, user: User, app_id: int | None) -> list[Geofence]:
        chosen = [
            g
            for g in self._geofences.values()
            if g.user_id == user.id and (app_id is None or g.app_id == app_id)
        ]
        return sorted(chosen, key=lambda g: g.id, reverse=True)

    def _geofence_json(self, geofence: Geofence) -> dict[str, Any]:
        return {
            "id": geofence.id,
            "name": geofence.name,
            "user_id": geofence.user_id,
            "app_id": geofence.app_id,
            "webhook_url": geofence.webhook_url,
            "geometry": json.loads(json.dumps(geofence.polygon)),
            "created_at": self._timestamp(geofence.created_at),
            "updated_at": self._timestamp(geofence.updated_at),
        }

    # ----------------------------------------------------------------- HTTP helpers

    def _json(self, status: int, data: Any) -> Response:
        return json_response(
            status, data, headers={"Cache-Control": "no-cache, private"}, dumps=laravel_json
        )

    def _method_not_allowed(self, method: str, route_path: str, allowed: list[str]) -> Response:
        # Laravel lists HEAD wherever GET is routed.
        routed = {*allowed, "HEAD"} if "GET" in allowed else set(allowed)
        supported = [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") if m in routed]
        message = (
            f"The {method} method is not supported for route {route_path}. "
            f"Supported methods: {', '.join(supported)}."
        )
        response = self._json(405, {"message": message})
        response.headers["Allow"] = ", ".join(supported)
        return response

    def _rename_response(self, name: str) -> Response:
        html = {"Content-Type": "text/html; charset=UTF-8", "Cache-Control": "no-cache, private"}
        if self.rename_answer == "one":
            # The controller returns `true`; the framework sends it as the text "1".
            return Response(200, b"1", html)
        if self.rename_answer == "string":
            return self._json(200, name)
        if self.rename_answer == "empty":
            return Response(200, b"", html)
        raise ValueError(f"rename_answer must be one of {RENAME_ANSWERS}")

    def _authenticate(self, req: RecordedRequest) -> User:
        user_id = self._tokens.get(_bearer(req) or "")
        if user_id is None:
            raise Abort(self._json(401, {"message": UNAUTHENTICATED}))
        return self._users[user_id]

    def _owned_app(self, user: User, key: str) -> App:
        app = self._apps.get(key)
        if app is None or app.user_id != user.id:
            raise Abort(self._json(404, {"message": APP_NOT_FOUND}))
        return app

    def _validated_name(self, req: RecordedRequest) -> str:
        value = _laravel_input(req).get("name")
        if isinstance(value, str):
            # TrimStrings then ConvertEmptyStringsToNull: whitespace-only becomes null.
            value = value.strip() or None
        if value is None or value == [] or value == {}:
            raise Abort(self._json(422, validation_body({"name": [NAME_REQUIRED]})))
        if isinstance(value, list | dict):
            # "required" is the only rule, so an array reaches the database and fails there.
            raise Abort(self._json(500, {"message": SERVER_ERROR}))
        name = _php_string(value)
        if len(name) > NAME_COLUMN_LENGTH:
            # No max rule upstream: an over-long name overflows the column (strict SQL mode).
            raise Abort(self._json(500, {"message": SERVER_ERROR}))
        return name

    # ----------------------------------------------------------------- JSON shapes

    def _timestamp(self, moment: datetime) -> str:
        if self.timestamp_style == "plain":
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.timestamp_style == "micro":
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        raise ValueError(f"timestamp_style must be one of {TIMESTAMP_STYLES}")

    def _app_json(self, app: App, devices_count: int | None) -> dict[str, Any]:
        return {
            "key": app.key,
            "name": app.name,
            "quota": [dict(row) for row in app.quota],
            "devices_count": devices_count,
            "created_at": self._timestamp(app.created_at),
        }

    def _device_json(self, device: Device) -> dict[str, Any]:
        app = self._apps[device.app_key]
        return {
            "app_key": device.app_key,
            "key": device.key,
            "name": device.name,
            "type": device.type,
            # The relation is loaded without `withCount`, so the nested count is null.
            "app": self._app_json(app, None),
            "lastLocation": self._location_json(device.last_location),
            "quota": [dict(row) for row in device.quota],
        }

    def _location_json(self, location: Location | None) -> dict[str, Any] | None:
        if location is None:
            return None
        return {
            "id": location.id,
            "ip_address": location.ip_address,
            "location": self._position_json(location),
            "extra_data": dict(location.extra_data),
            "updated_at": self._timestamp(location.updated_at),
        }

    def _position_json(self, location: Location) -> dict[str, Any]:
        if self.location_style == "latlong":
            return {"lat": location.latitude, "long": location.longitude}
        if self.location_style == "geojson":
            return {"type": "Point", "coordinates": [location.longitude, location.latitude]}
        raise ValueError(f"location_style must be one of {LOCATION_STYLES}")

    # ----------------------------------------------------------------- storage

    def _add_user(
        self, token: str, app_limit: int, *, email_verified: bool = True, latency: float = 0.0
    ) -> User:
        user_id = int(token.split("|", 1)[0])
        user = User(user_id, app_limit, email_verified, latency)
        if app_limit > 1:  # a paid plan
            user.device_limit, user.retention_days = 1000 * app_limit, PAID_RETENTION_DAYS
        self._users[user_id] = user
        self._tokens[token] = user_id
        self._next_user_id = max(self._next_user_id, user_id + 1)
        return user

    def _user_for_token(self, token: str) -> User:
        user_id = self._tokens.get(token)
        if user_id is None:
            raise KeyError("unknown or revoked Pulsetracker token")
        return self._users[user_id]

    def _store_app(
        self,
        user: User,
        name: str,
        created_at: datetime,
        quota: list[dict[str, int]],
        *,
        key: str | None = None,
    ) -> App:
        self._seq += 1
        quota = sorted(quota, key=lambda row: (row["year"], row["month"]))
        app = App(key or str(uuid.uuid4()), user.id, name, created_at, quota, self._seq)
        app.id = self._next_app_id
        self._next_app_id += 1
        self._apps[app.key] = app
        return app

    def _store_device(
        self,
        app: App,
        name: str,
        device_type: str,
        location: Location | None,
        quota: list[dict[str, int]],
        *,
        key: str | None = None,
    ) -> Device:
        self._seq += 1
        device = Device(
            key or str(uuid.uuid4()), app.key, name, device_type, _now(), location, quota, self._seq
        )
        if location is not None:
            device.history.append(location)
        self._devices[device.key] = device
        return device

    def _location(self, spec: Any) -> Location:
        longitude, latitude = _coordinates(spec)
        extra = spec.get("extra_data", {}) if isinstance(spec, Mapping) else {}
        ip_address = spec.get("ip_address") if isinstance(spec, Mapping) else None
        self._next_location_id += 1
        return Location(
            self._next_location_id - 1, longitude, latitude, _now(), dict(extra), ip_address
        )

    def _apps_of(self, user: User) -> list[App]:
        owned = [app for app in self._apps.values() if app.user_id == user.id]
        return sorted(owned, key=lambda app: (app.created_at, app.seq), reverse=True)

    def _devices_of(self, user: User, app_key: str | None) -> list[Device]:
        owned = {app.key for app in self._apps_of(user)}
        chosen = [
            device
            for device in self._devices.values()
            if device.app_key in owned and (app_key is None or device.app_key == app_key)
        ]
        return sorted(chosen, key=lambda device: (device.created_at, device.seq), reverse=True)

    def _devices_count(self, app: App) -> int:
        return sum(1 for device in self._devices.values() if device.app_key == app.key)

    # ----------------------------------------------------------------- seed

    def _seed(self) -> None:
        now = _now()
        free = self._add_user(SEED.pulsetracker_free_token, 1)
        paid = self._add_user(SEED.pulsetracker_paid_token, 1000)
        self._add_user(SEED.pulsetracker_unverified_token, 1, email_verified=False)

        created = now - timedelta(days=75)
        app = self._store_app(
            free,
            "My First Fleet",
            created,
            _seeded_quota(created, now, 1),
            key=SEED.pulsetracker_free_app_key,
        )
        self._seed_devices(app, 2, salt=1)

        # 30 apps, roughly one a week over the past seven months, the newest "Fleet 30".
        for number in range(1, 31):
            created = now - timedelta(days=7 * (30 - number) + 1, hours=number)
            key = str(uuid.uuid5(_NAMESPACE, f"pulsetracker-app-{number}"))
            app = self._store_app(
                paid, f"Fleet {number:02d}", created, _seeded_quota(created, now, number), key=key
            )
            self._seed_devices(app, {30: 3, 29: 2, 27: 1, 20: 4}.get(number, 0), salt=number)

    def _seed_devices(self, app: App, count: int, *, salt: int) -> None:
        for number in range(1, count + 1):
            place = _PLACES[(salt + number) % len(_PLACES)]
            # Every other device has not reported yet, so both lastLocation shapes appear.
            location = None
            if number % 2 == 1:
                location = self._location(
                    {"lon": place[0], "lat": place[1], "extra_data": {"speed": 10 * number}}
                )
            key = str(uuid.uuid5(_NAMESPACE, f"pulsetracker-device-{app.key}-{number}"))
            quota = _seeded_quota(_now() - timedelta(days=40), _now(), salt + number)
            device = self._store_device(
                app, f"Phone {number}", "Smartphone", location, quota, key=key
            )
            if location is not None:
                self._seed_track(device, location, number)

    def _seed_track(self, device: Device, last: Location, number: int) -> None:
        """Twelve positions, a quarter of an hour apart, leading to the device's last one."""
        for step in range(12, 0, -1):
            point = self._location(
                {
                    "lon": last.longitude - 0.002 * step,
                    "lat": last.latitude - 0.0015 * step * (1 if number % 2 else -1),
                    "extra_data": {"speed": 30 + step},
                }
            )
            point.updated_at = last.updated_at - timedelta(minutes=15 * step)
            device.history.append(point)
        device.history.sort(key=lambda row: (row.updated_at, row.id))


def _coordinates(spec: Any) -> tuple[float, float]:
    """(longitude, latitude) from a pair in GeoJSON order, a GeoJSON Point, a mapping with
    `lat` and `lon`/`long`, or a whole `lastLocation` object."""
    if isinstance(spec, Mapping):
        if "location" in spec:
            return _coordinates(spec["location"])
        if "coordinates" in spec:
            return _coordinates(spec["coordinates"])
        longitude = spec.get("lon", spec.get("long", spec.get("longitude")))
        latitude = spec.get("lat", spec.get("latitude"))
        if longitude is None or latitude is None:
            raise ValueError(f"no coordinates in {spec!r}")
        return float(longitude), float(latitude)
    longitude, latitude = spec
    return float(longitude), float(latitude)


def _trimmed(value: Any) -> Any:
    """TrimStrings then ConvertEmptyStringsToNull; empty arrays count as missing too."""
    if isinstance(value, str):
        value = value.strip() or None
    return None if value == [] or value == {} else value


def _device_type(value: Any) -> str | None:
    """The name of the device type with this id (an integer or its digits), or None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= len(DEVICE_TYPES):
        return None
    return DEVICE_TYPES[int(text) - 1]


def _count_message(quota: list[dict[str, int]], moment: datetime) -> None:
    """One more message in `moment`'s month of a `quota` list (kept oldest month first)."""
    for row in quota:
        if (row["year"], row["month"]) == (moment.year, moment.month):
            row["messages_sent"] += 1
            return
    quota.append({"year": moment.year, "month": moment.month, "messages_sent": 1})
    quota.sort(key=lambda row: (row["year"], row["month"]))


def _webhook_secret(user_id: int) -> str:
    """Each account's webhook secret: fixed per user, so `make demo` can print it."""
    return "pt_whsec_" + hashlib.sha256(f"sandbox-webhook-{user_id}".encode()).hexdigest()[:32]


def polygon_problem(polygon: Any) -> str | None:
    """Why a GeoJSON Polygon is not one the service stores (None when it is): rings of at least
    four positions, closed, in range, and not crossing themselves."""
    if not isinstance(polygon, dict) or polygon.get("type") != "Polygon":
        return "The geometry must be a GeoJSON Polygon."
    rings = polygon.get("coordinates")
    if not isinstance(rings, list) or not rings:
        return "The polygon must have at least one ring."
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            return "Each ring of the polygon must have at least four positions."
        for point in ring:
            valid = isinstance(point, list) and len(point) >= 2
            if not valid or not all(isinstance(c, int | float) for c in point[:2]):
                return "Each position must be a [longitude, latitude] pair of numbers."
            if not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
                return "A position lies outside the valid longitude and latitude range."
        if ring[0][:2] != ring[-1][:2]:
            return "Each ring of the polygon must be closed."
        if _crosses_itself(ring):
            return "The polygon is not valid: its edges cross each other."
    return None


def _crosses_itself(ring: list[list[float]]) -> bool:
    edges = [(ring[i], ring[i + 1]) for i in range(len(ring) - 1)]
    for i, (a, b) in enumerate(edges):
        for j in range(i + 1, len(edges)):
            if j == i + 1 or (i == 0 and j == len(edges) - 1):
                continue  # neighbours share a corner
            c, d = edges[j]
            if _segments_cross(a, b, c, d):
                return True
    return False


def _segments_cross(a: list[float], b: list[float], c: list[float], d: list[float]) -> bool:
    def side(p: list[float], q: list[float], r: list[float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2, d3, d4 = side(c, d, a), side(c, d, b), side(a, b, c), side(a, b, d)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


def point_in_polygon(point: tuple[float, float], polygon: Mapping[str, Any]) -> bool:
    """Whether a (longitude, latitude) point lies inside the polygon's outer ring and outside
    its holes (ray casting, on the plane: fine for geofences of a few kilometres)."""
    rings = polygon["coordinates"]
    return _in_ring(point, rings[0]) and not any(_in_ring(point, hole) for hole in rings[1:])


def _in_ring(point: tuple[float, float], ring: list[list[float]]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(
        (p[:2] for p in ring), (p[:2] for p in ring[1:] + ring[:1]), strict=True
    ):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _bearer(req: RecordedRequest) -> str | None:
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _laravel_input(req: RecordedRequest) -> dict[str, Any]:
    """`$request->input()`: query parameters overlaid with a JSON or form body. A JSON body
    sent without a JSON Content-Type is not read, as in the framework."""
    data: dict[str, Any] = dict(req.query)
    if "json" in req.content_type:
        decoded = req.json()
        if isinstance(decoded, dict):
            data.update(decoded)
    elif req.content_type == "application/x-www-form-urlencoded":
        data.update(req.form)
    return data
