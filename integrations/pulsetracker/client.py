"""Client for the Pulsetracker HTTP API (apps and devices).

See ../shared/api/pulsetracker.md for what the API really does. The odd corners handled here:
create answers 200 or 201 with `devices_count: null`; rename answers `"name"`, `1` (as text/html)
or nothing, so the new name is taken from what was sent; timestamps come with or without
microseconds; a device's position is GeoJSON `[longitude, latitude]` or `{"lat", "long"}`.
Devices: create is checked for quota (403) before its input (422), and an app key of another
account is a 404 after validation; rename answers the bare text `1`; device type ids differ
between installations, so they are always read (`device_types`); location history is pages of
50 (`per_page`), newest first, only within the plan's retention.
Geofences: the polygon is sent as a JSON string of `{"geometry": ...}`, the app is named by a
numeric id no app endpoint returns, an update answers an empty body, there is no delete, and an
invalid polygon's 422 carries a `message` that is itself JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from integrations import http
from integrations.errors import (
    BadResponse,
    NotFound,
    QuotaExceeded,
    TokenRejected,
    UpstreamError,
    ValidationFailed,
)
from integrations.parse import Reader

SERVICE = "Pulsetracker"
PER_PAGE = 12
#: Rows of a device's location history per page (the service's default).
HISTORY_PER_PAGE = 50
NAME_MAX_LENGTH = 255

T = TypeVar("T")


@dataclass(frozen=True)
class MonthlyUsage:
    """Messages sent in one calendar month (one row of an app's or device's `quota`)."""

    year: int
    month: int
    messages_sent: int

    @property
    def label(self) -> str:
        return date(self.year, self.month, 1).strftime("%b %Y")


@dataclass(frozen=True)
class App:
    key: str
    name: str
    quota: tuple[MonthlyUsage, ...]
    devices_count: int | None  # None in the create answer
    created_at: datetime

    def messages_in(self, year: int, month: int) -> int:
        return sum(u.messages_sent for u in self.quota if (u.year, u.month) == (year, month))

    @property
    def messages_this_month(self) -> int:
        """Messages in the current calendar month (UTC), from `quota`."""
        now = datetime.now(UTC)
        return self.messages_in(now.year, now.month)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a Laravel paginated list, with the paginator's numbers."""

    items: tuple[T, ...]
    current_page: int
    last_page: int
    per_page: int
    total: int
    first_item: int | None  # "from": 1-based position of the first item, None on an empty page
    last_item: int | None  # "to"

    @property
    def has_previous(self) -> bool:
        return self.current_page > 1

    @property
    def has_next(self) -> bool:
        return self.current_page < self.last_page

    @property
    def previous_page(self) -> int | None:
        return min(self.current_page - 1, self.last_page) if self.has_previous else None

    @property
    def next_page(self) -> int | None:
        return self.current_page + 1 if self.has_next else None


@dataclass(frozen=True)
class Position:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class LastLocation:
    """A position a device reported: its last one, or one row of its history (`updated_at` is
    when the service received it)."""

    position: Position | None
    updated_at: datetime | None
    extra_data: dict[str, Any] = field(default_factory=dict)
    ip_address: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Device:
    key: str
    app_key: str | None
    name: str
    type: str | None
    app: App | None
    last_location: LastLocation | None
    quota: tuple[MonthlyUsage, ...]


@dataclass(frozen=True)
class DeviceType:
    id: int
    name: str


class PulsetrackerClient(http.TokenClient):
    """Calls the Pulsetracker API with one user's token. Every call goes through `_request`."""

    service = SERVICE
    base_url_setting = "PULSETRACKER_API_URL"

    # Apps

    def list_apps(self, page: int = 1) -> Page[App]:
        """One page of the user's apps, newest first, 12 per page."""
        params = {"page": max(1, int(page))}
        data = self._request("GET", "/apps", params=params, listing="apps").json()
        return _page(data, _app, "the list of apps")

    def get_app(self, key: str) -> App:
        data = self._request("GET", f"/apps/{_segment(key)}").json()
        return _app(_unwrap(data, "the app"))

    def create_app(self, name: str) -> App:
        """Create an app. The answer's `devices_count` is null upstream (kept as None)."""
        data = self._request("POST", "/apps", json_body={"name": name}).json()
        return _app(_unwrap(data, "the new app"))

    def rename_app(self, key: str, name: str) -> str:
        """Rename an app and return its new name.

        The answer is not the app: the docs show the bare new name, the service sends `1` as
        text/html, and an empty body would do as well. Any 2xx means it worked, so the name
        returned is the one sent.
        """
        self._request("PUT", f"/apps/{_segment(key)}", json_body={"name": name})
        return name

    # Devices

    def list_devices(self, page: int = 1, app_key: str | None = None) -> Page[Device]:
        params: dict[str, Any] = {"page": max(1, int(page))}
        if app_key:
            params["appKey"] = app_key
        data = self._request("GET", "/devices", params=params).json()
        return _page(data, _device, "the list of devices")

    def get_device(self, key: str) -> Device:
        data = self._request("GET", f"/devices/{_segment(key)}").json()
        return _device(_unwrap(data, "the device"))

    def create_device(self, *, name: str, app_key: str, type_id: int) -> Device:
        """Create a device in an app. Quota (403) is checked before the input (422: `name`,
        `app_key`, `type_id`); another account's app key is a 404. Answers 201 (any 2xx does)."""
        body = {"name": name, "app_key": app_key, "type_id": int(type_id)}
        data = self._request("POST", "/devices", json_body=body).json()
        return _device(_unwrap(data, "the new device"))

    def rename_device(self, key: str, name: str) -> str:
        """Rename a device and return its new name: the answer is the text `1`, as for apps, so
        the name returned is the one sent."""
        self._request("PUT", f"/devices/{_segment(key)}", json_body={"name": name})
        return name

    def device_types(self) -> tuple[DeviceType, ...]:
        """The types a device may have (not paginated). Ids differ between installations."""
        data = self._request("GET", "/device_types").json()
        rows = Reader(data, service=SERVICE, what="the device types").list("data")
        return tuple(_device_type(row) for row in rows)

    def location_history(
        self, key: str, page: int = 1, per_page: int = HISTORY_PER_PAGE
    ) -> Page[LastLocation]:
        """One page of a device's positions, newest first, within the plan's retention."""
        params = {"page": max(1, int(page)), "per_page": max(1, int(per_page))}
        data = self._request("GET", f"/devices/{_segment(key)}/locations", params=params).json()
        return _page(data, _last_location, "the device's location history")

    # Geofences

    def list_geofences(self, page: int = 1, app_id: int | None = None) -> Page[Geofence]:
        """One page of the user's geofences (12 per page), of one app when `app_id` is given."""
        params: dict[str, Any] = {"page": max(1, int(page))}
        if app_id is not None:
            params["app_id"] = int(app_id)
        data = self._request("GET", "/geofences", params=params).json()
        return _page(data, _geofence, "the list of geofences")

    def get_geofence(self, geofence_id: int) -> Geofence:
        data = self._request("GET", f"/geofences/{int(geofence_id)}").json()
        return _geofence(_unwrap(data, "the geofence"))

    def create_geofence(
        self, *, name: str, app_id: int, polygon: Polygon, webhook_url: str | None
    ) -> Geofence:
        """Create a geofence. The polygon travels as a JSON string of `{"geometry": polygon}`."""
        body = {
            "name": name,
            "app_id": int(app_id),
            "geometry": _geometry_field(polygon),
            "webhook_url": webhook_url or None,
        }
        data = self._request("POST", "/geofences", json_body=body).json()
        return _geofence(_unwrap(data, "the new geofence"))

    def update_geofence(
        self,
        geofence_id: int,
        *,
        app_id: int,
        name: str | None = None,
        polygon: Polygon | None = None,
        webhook_url: str | None = None,
    ) -> None:
        """Change a geofence. `app_id` is required upstream; the answer is an empty body, so
        nothing comes back (re-read the geofence to show it)."""
        body: dict[str, Any] = {"app_id": int(app_id)}
        if name is not None:
            body["name"] = name
        if polygon is not None:
            body["geometry"] = _geometry_field(polygon)
        if webhook_url is not None:
            body["webhook_url"] = webhook_url or None
        self._request("PUT", f"/geofences/{int(geofence_id)}", json_body=body)

    # Transport

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        **context: Any,
    ) -> http.RawResponse:
        return self._call(method, path, params=params, json_body=json_body, **context)

    def error_for(self, response: http.RawResponse, **context: Any) -> UpstreamError:
        return _error(response, **context)


def _error(response: http.RawResponse, *, listing: str = "") -> UpstreamError:
    """Map a non-2xx answer (other than the shared 3xx/429/5xx) to a typed error. `listing`
    names the list a call reads ("apps"), whose 404 means something else than an unknown key.

    `response` is already scrubbed of the token (`TokenClient._call`): its `message` and field
    errors are the upstream's own words, shown to people and kept in the activity log."""
    body = response.json_or_none()
    message = body.get("message") if isinstance(body, dict) else None
    message = message if isinstance(message, str) and message.strip() else None
    status = response.status
    kwargs: dict[str, Any] = {"service": SERVICE, "status": status}
    if status == 401:
        return TokenRejected(
            "Pulsetracker rejected the token: it is wrong or has been revoked.", **kwargs
        )
    if status == 403 and message == "This action is unauthorized.":
        # The geofence policy: that app or geofence is another account's (not a quota).
        return UpstreamError(
            "Pulsetracker refused: that app or geofence belongs to another account.", **kwargs
        )
    if status == 403:
        fallback = "Pulsetracker refused: the plan's quota is reached."
        return QuotaExceeded(message or fallback, **kwargs)
    if status == 404 and listing:
        # Every account has its list (empty or not): the address itself is wrong.
        return NotFound(
            f"Pulsetracker answered “not found” for the list of {listing}, which every account "
            "has: the portal's Pulsetracker address (PULSETRACKER_API_URL) looks wrong. Tell "
            "whoever runs the portal.",
            **kwargs,
        )
    if status == 404:
        if message and "Geofence" in message:
            return NotFound("Pulsetracker has no such geofence for this token.", **kwargs)
        return NotFound("Pulsetracker has no such app or device for this token.", **kwargs)
    if status == 422:
        errors = _field_errors(body.get("errors") if isinstance(body, dict) else None)
        message, errors = _decoded_validation(message, errors)
        return ValidationFailed(message, errors=errors, **kwargs)
    if status == 405:
        return UpstreamError("Pulsetracker does not support that action.", **kwargs)
    return UpstreamError(
        f"Pulsetracker answered with status {status}" + (f": {message}" if message else "."),
        **kwargs,
    )


def _field_errors(errors: Any) -> dict[str, list[str]]:
    if not isinstance(errors, dict):
        return {}
    result: dict[str, list[str]] = {}
    for name, messages in errors.items():
        if isinstance(messages, str):
            messages = [messages]
        if isinstance(messages, list):
            result[str(name)] = [str(m) for m in messages]
    return result


def _segment(key: str) -> str:
    """A key as one URL path segment: keys are UUIDs, so anything else is refused here."""
    if not key or not all(c.isalnum() or c == "-" for c in key):
        raise NotFound("That is not a Pulsetracker key.", service=SERVICE)
    return key


def _unwrap(data: Any, what: str) -> Any:
    return Reader(data, service=SERVICE, what=what).dict("data")


def _page(data: Any, build: Callable[[Any], T], what: str) -> Page[T]:
    reader = Reader(data, service=SERVICE, what=what)
    meta = Reader(reader.dict("meta"), service=SERVICE, what=f"the page numbers of {what}")
    return Page(
        items=tuple(build(item) for item in reader.list("data")),
        current_page=meta.int("current_page"),
        last_page=max(1, meta.int("last_page")),
        per_page=meta.int("per_page"),
        total=meta.int("total"),
        first_item=meta.opt_int("from"),
        last_item=meta.opt_int("to"),
    )


def _usage(rows: list) -> tuple[MonthlyUsage, ...]:
    usage = []
    for row in rows:
        r = Reader(row, service=SERVICE, what="a month of usage")
        usage.append(MonthlyUsage(r.int("year"), r.int("month"), r.int("messages_sent")))
    return tuple(sorted(usage, key=lambda u: (u.year, u.month)))


def _app(data: Any) -> App:
    r = Reader(data, service=SERVICE, what="an app")
    return App(
        key=r.str("key"),
        name=r.str("name"),
        quota=_usage(r.list("quota", default=[])),
        devices_count=r.opt_int("devices_count"),
        created_at=r.datetime("created_at"),
    )


def _device(data: Any) -> Device:
    r = Reader(data, service=SERVICE, what="a device")
    app = r.data.get("app")
    location = r.data.get("lastLocation", r.data.get("last_location"))
    return Device(
        key=r.str("key"),
        app_key=r.opt_str("app_key"),
        name=r.str("name"),
        type=r.opt_str("type"),
        app=_app(app) if app is not None else None,
        last_location=_last_location(location) if location is not None else None,
        quota=_usage(r.list("quota", default=[])),
    )


def _last_location(data: Any) -> LastLocation:
    r = Reader(data, service=SERVICE, what="a device's last location")
    extra = r.data.get("extra_data")
    return LastLocation(
        position=_position(r.data.get("location", r.data)),
        updated_at=r.opt_datetime("updated_at"),
        extra_data=extra if isinstance(extra, dict) else {},
        ip_address=r.opt_str("ip_address"),
        id=r.opt_int("id"),
    )


def _device_type(data: Any) -> DeviceType:
    r = Reader(data, service=SERVICE, what="a device type")
    return DeviceType(id=r.int("id"), name=r.str("name"))


def _position(data: Any) -> Position | None:
    """GeoJSON Point ([longitude, latitude], what the service stores) or {"lat", "long"} (docs)."""
    if not isinstance(data, dict):
        return None
    coordinates = data.get("coordinates")
    if isinstance(coordinates, list) and len(coordinates) >= 2:
        longitude, latitude = coordinates[0], coordinates[1]
    else:
        latitude = data.get("lat", data.get("latitude"))
        longitude = data.get("long", data.get("lng", data.get("longitude")))
    try:
        return Position(latitude=float(latitude), longitude=float(longitude))
    except (TypeError, ValueError):
        if latitude is None and longitude is None:
            return None
        raise BadResponse(
            "Pulsetracker sent a location that is not a pair of numbers.", service=SERVICE
        ) from None


# Geofences
#
# A geofence names its app by the app's numeric id, which no app endpoint returns; the portal
# keeps it per app (`integrations.models.GeofenceApp`). Polygons are GeoJSON, longitude first.

Polygon = dict[str, Any]  # {"type": "Polygon", "coordinates": [[[lng, lat], ...]]}


@dataclass(frozen=True)
class Geofence:
    id: int
    name: str
    app_id: int
    webhook_url: str | None
    polygon: Polygon
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def ring(self) -> list[tuple[float, float]]:
        """The outer ring as (latitude, longitude) pairs, the order maps draw in."""
        return [(point[1], point[0]) for point in self.polygon["coordinates"][0]]


def _geometry_field(polygon: Polygon) -> str:
    """What the service reads from `geometry`: a JSON string of `{"geometry": <Polygon>}`."""
    return json.dumps({"geometry": polygon}, separators=(",", ":"))


def polygon_from(data: Any) -> Polygon:
    """A GeoJSON Polygon checked ring by ring (closed rings of at least four [lng, lat] points
    within range), or ValueError saying what is wrong. Takes a Polygon, a Feature holding one,
    or `{"geometry": Polygon}` (the service's own wrapping)."""
    if isinstance(data, dict) and (data.get("type") == "Feature" or "type" not in data):
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") != "Polygon":
        raise ValueError("That is not a GeoJSON Polygon (its “type” must be “Polygon”).")
    rings = data.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise ValueError("The polygon has no coordinates.")
    checked = []
    for ring in rings:
        if not isinstance(ring, list):
            raise ValueError("Each ring of the polygon must be a list of [longitude, latitude].")
        points = []
        for point in ring:
            if not isinstance(point, list | tuple) or len(point) < 2 or not _numbers(point[:2]):
                raise ValueError("Each point must be [longitude, latitude], two numbers.")
            longitude, latitude = float(point[0]), float(point[1])
            if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
                raise ValueError(f"The point [{longitude}, {latitude}] is off the map.")
            points.append([longitude, latitude])
        if len(points) >= 3 and points[0] != points[-1]:
            points.append(list(points[0]))  # GeoJSON rings end where they start
        if len(points) < 4:
            raise ValueError("A polygon needs at least three distinct points.")
        checked.append(points)
    return {"type": "Polygon", "coordinates": checked}


def _numbers(values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _geofence(data: Any) -> Geofence:
    r = Reader(data, service=SERVICE, what="a geofence")
    geometry = r.data.get("geometry")
    if isinstance(geometry, str):  # stored as sent: a JSON string, possibly still wrapped
        try:
            geometry = json.loads(geometry)
        except ValueError:
            geometry = None
    try:
        polygon = polygon_from(geometry)
    except ValueError as exc:
        raise BadResponse(
            f"Pulsetracker sent a geofence whose shape the portal cannot read: {exc}",
            service=SERVICE,
        ) from None
    webhook_url = r.opt_str("webhook_url")
    return Geofence(
        id=r.int("id"),
        name=r.str("name"),
        app_id=r.int("app_id"),
        webhook_url=webhook_url or None,
        polygon=polygon,
        created_at=r.opt_datetime("created_at"),
        updated_at=r.opt_datetime("updated_at"),
    )


def _decoded_validation(
    message: str | None, errors: dict[str, list[str]]
) -> tuple[str | None, dict[str, list[str]]]:
    """A 422 whose `message` is itself JSON (the geofence endpoints encode it once more): the
    decoded text, or the decoded field errors merged with any sent beside it."""
    text = (message or "").strip()
    if not text or text[0] not in '{["':
        return message, errors
    try:
        decoded = json.loads(text)
    except ValueError:
        return message, errors
    if isinstance(decoded, str):
        return decoded, errors
    if isinstance(decoded, list):
        return "; ".join(str(item) for item in decoded) or message, errors
    if isinstance(decoded, dict):
        found = _field_errors(decoded)
        merged = {**found, **errors}
        first = next((m for messages in merged.values() for m in messages), None)
        return first or message, merged
    return message, errors
