"""Pulsetracker devices: on their app's page (a table, a map of their last positions that the
page keeps current, and how to connect one), created and renamed in place, and a page each with
its location history and a day's track.

As for apps, a click travels: the template's `hx-get`/`hx-post` → a view here (role, credential,
form) → `PulsetrackerClient` → Pulsetracker, and back as a dataclass or a typed error → a partial
of the same template. The app page's map shows every device of the app, not only the table's
page: page 1, then the other pages at once (`integrations.fanout`), up to MAP_PAGES, kept under
one cache entry (`every_device`) that the table's first page, the map's polling and the geofence
form's map share. Reads go through the per-credential cache, so the map's polling shares one
budget with every other screen of that credential; every change clears it and is written to the
activity log. Nothing here hands the browser a token: the map asks the portal, never Pulsetracker.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts import activity
from accounts.access import Action, team_view
from integrations import cache, fanout
from integrations.errors import NotFound, UpstreamError
from integrations.models import Credential, Submission
from integrations.pulsetracker.client import (
    App,
    Device,
    DeviceType,
    LastLocation,
    Page,
    PulsetrackerClient,
)
from integrations.pulsetracker.forms import DeviceForm, DeviceNameForm
from integrations.pulsetracker.listing import every_page
from integrations.pulsetracker.screens import (
    credential_or_404,
    failure,
    page_number,
    upstream_errors,
)
from integrations.tokens import CredentialUnusable, using
from portal.htmx import PortalRequest, render_screen

DEVICES = "pulsetracker/app_devices.html"
DEVICE = "pulsetracker/device.html"
#: A day's track is looked for in at most this many pages of history (50 positions each).
TRACK_PAGES = 10
#: The app page's map reads at most this many pages of devices (12 each): 600 devices. An app
#: with more shows its newest 600 on the map, and the page says so.
MAP_PAGES = 50

T = TypeVar("T")


def _call(
    request: PortalRequest, credential: Credential, call: Callable[[PulsetrackerClient], T]
) -> Callable[[], T]:
    """A loader: `call` with a client holding the credential's token for just that call."""

    def load() -> T:
        with using(credential, request.user) as token:
            return call(PulsetrackerClient(token))

    return load


# Reads (cached per credential; the app page reads page 1 of devices under the same name)


def app_devices(
    request: PortalRequest, credential: Credential, key: str, page: int = 1
) -> Page[Device]:
    name = f"devices:{key}" if page == 1 else f"devices:{key}:{page}"
    load = _call(request, credential, lambda c: c.list_devices(page=page, app_key=key))
    return cache.cached(credential.pk, name, load)


@dataclass(frozen=True)
class AppDevices:
    """Every device of an app (up to MAP_PAGES pages), newest first, and page 1 as Pulsetracker
    gave it (the table's first page)."""

    first: Page[Device]
    devices: tuple[Device, ...]

    @property
    def complete(self) -> bool:
        """False when the app has more devices than MAP_PAGES pages hold."""
        return len(self.devices) >= self.first.total


def every_device_name(key: str) -> str:
    """The cache entry of an app's every device (the app page reads it with `cache.read`)."""
    return f"devices:{key}:all"


def load_every_device(
    request: PortalRequest, credential: Credential, key: str
) -> Callable[[], AppDevices]:
    """A loader of every device of the app: every page at once (`listing.every_page`)."""

    def load() -> AppDevices:
        with using(credential, request.user) as token:

            def page(number: int) -> Page[Device]:
                return PulsetrackerClient(token).list_devices(page=number, app_key=key)

            pages = every_page(credential, f"devices:{key}", page, MAP_PAGES)
        devices: dict[str, Device] = {}
        # A device created while the pages were read pushes the others one place down, so one
        # may show up on two pages: keep its first (newest) sighting.
        first = pages[0]
        for found in pages:
            for device in found.items:
                devices.setdefault(device.key, device)
        return AppDevices(first, tuple(devices.values()))

    return load


def every_device(request: PortalRequest, credential: Credential, key: str) -> AppDevices:
    """Every device of the app (up to MAP_PAGES pages), cached for the credential."""
    return cache.cached(
        credential.pk, every_device_name(key), load_every_device(request, credential, key)
    )


def device_types(request: PortalRequest, credential: Credential) -> tuple[DeviceType, ...]:
    load = _call(request, credential, lambda c: c.device_types())
    return cache.cached(credential.pk, "device-types", load)


def _history(
    request: PortalRequest, credential: Credential, device: str, page: int
) -> Page[LastLocation]:
    load = _call(request, credential, lambda c: c.location_history(device, page=page))
    return cache.cached(credential.pk, f"history:{device}:{page}", load)


# What the app page shows of its devices


@dataclass(frozen=True)
class DeviceRow:
    """A device as the tables show it: `stale` once not heard from for PULSETRACKER_STALE_MINUTES
    (a device that never reported is not stale, it is "never seen")."""

    device: Device
    stale: bool

    @property
    def stale_minutes(self) -> int:
        return int(settings.PULSETRACKER_STALE_MINUTES)

    @property
    def last_seen(self) -> datetime | None:
        location = self.device.last_location
        return location.updated_at if location is not None else None


def _rows(devices: Sequence[Device]) -> list[DeviceRow]:
    threshold = timezone.now() - timedelta(minutes=settings.PULSETRACKER_STALE_MINUTES)
    rows = []
    for device in devices:
        seen = device.last_location.updated_at if device.last_location is not None else None
        rows.append(DeviceRow(device, stale=seen is not None and seen < threshold))
    return rows


def _device_url(credential: Credential, app_key: str, device_key: str) -> str:
    """Joined rather than reversed: a key the upstream sends odd must not break the page."""
    return f"{reverse('device-list', args=[credential.pk, app_key])}{quote(device_key, safe='')}/"


def _markers(credential: Credential, app_key: str, rows: Sequence[DeviceRow]) -> list[dict]:
    """The map's markers: each device's last position, named, linked to its page."""
    markers = []
    for row in rows:
        location = row.device.last_location
        if location is None or location.position is None:
            continue
        markers.append(
            {
                "id": row.device.key,
                "label": row.device.name + (" (stale)" if row.stale else ""),
                "lat": location.position.latitude,
                "lon": location.position.longitude,
                "url": _device_url(credential, app_key, row.device.key),
                "stale": row.stale,
            }
        )
    return markers


def map_settings() -> dict[str, Any]:
    """The tile server and how often a map asks again, for templates/ map.js."""
    return {
        "tiles": settings.PULSETRACKER_MAP_TILES_URL,
        "attribution": settings.PULSETRACKER_MAP_ATTRIBUTION,
        "poll_seconds": settings.PULSETRACKER_MAP_POLL_SECONDS,
    }


def device_message(app_key: str, device: Device) -> str:
    """What a device sends over UDP or WebSocket, ready to copy: its app's and its own key and
    a GeoJSON Point (longitude first; the last position it sent, else 0, 0)."""
    position = device.last_location.position if device.last_location is not None else None
    coordinates = [position.longitude, position.latitude] if position else [0.0, 0.0]
    message = {
        "appId": app_key,
        "clientId": device.key,
        "data": {"type": "Point", "coordinates": coordinates},
        "extra": {},
    }
    text = json.dumps(message, indent=2)
    # The coordinate pair on one line, as people write it.
    pair = re.compile(r"\[\s+([^\[\]]*?)\s+\]")
    return pair.sub(lambda m: "[" + ", ".join(p.strip() for p in m[1].split(",")) + "]", text)


def connect_settings() -> dict[str, Any]:
    return {
        "udp_host": settings.PULSETRACKER_UDP_HOST,
        "udp_port": settings.PULSETRACKER_UDP_PORT,
        "websocket_url": settings.PULSETRACKER_WEBSOCKET_URL,
    }


def devices_context(credential: Credential, app: App, devices: AppDevices) -> dict[str, Any]:
    """What app.html needs for its devices: the table's first page, the map of every device and
    the "Connect a device" panel."""
    rows = _rows(devices.first.items)
    return {
        "device_rows": rows,
        "devices_page": devices.first,
        "every_device": devices,
        "map": map_settings(),
        "map_data": {"markers": _markers(credential, app.key, _rows(devices.devices))},
        "connect": connect_settings(),
        "device_messages": [(row.device, device_message(app.key, row.device)) for row in rows],
    }


# Views


@require_GET
@login_required
@team_view(Action.READ)
def device_list(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """The app page's devices table (paging, and again after a create); htmx only, else the
    app page."""
    credential = credential_or_404(request, cid)
    if not request.htmx:
        return redirect("app-detail", cid=credential.pk, key=key)
    context: dict[str, Any] = {"credential": credential, "app_key": key, "devices_error": None}
    try:
        devices = app_devices(request, credential, key, page_number(request))
    except (CredentialUnusable, UpstreamError) as exc:
        context["devices_error"] = failure(exc)
    else:
        context.update(device_rows=_rows(devices.items), devices_page=devices)
    return render(request, f"{DEVICES}#devices-table", context)


@require_GET
@login_required
@team_view(Action.READ)
def device_positions(request: PortalRequest, cid: int, key: str) -> JsonResponse:
    """The app page map's markers (every device), as JSON for map.js, from the same cached read
    as the page."""
    credential = credential_or_404(request, cid)
    data: dict[str, Any]
    try:
        rows = _rows(every_device(request, credential, key).devices)
        data = {"markers": _markers(credential, key, rows)}
    except (CredentialUnusable, UpstreamError) as exc:
        data = {"error": f"Could not refresh the map: {exc.message}"}
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


def _fresh_form(types: Sequence[DeviceType], data: QueryDict | None = None) -> DeviceForm:
    """A create form; one shown again gets a new submission id so a retry is not a duplicate."""
    if data is None:
        return DeviceForm(initial={"submission": uuid.uuid4().hex}, types=types)
    data = data.copy()
    data["submission"] = uuid.uuid4().hex
    form = DeviceForm(data, types=types)
    form.is_valid()
    return form


@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def device_create(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """GET: the new-device form (its types read from Pulsetracker). POST: create the device;
    the form answers for itself, and on success sends `device-created`, which the devices table
    listens for to show itself again."""
    credential = credential_or_404(request, cid)
    context: dict[str, Any] = {"credential": credential, "app_key": key}
    try:
        types = device_types(request, credential)
    except (CredentialUnusable, UpstreamError) as exc:
        types = ()
        context["types_error"] = exc.message
    if request.method == "GET":
        if not request.htmx:
            return redirect("app-detail", cid=credential.pk, key=key)
        return render(request, f"{DEVICES}#device-form", {**context, "form": _fresh_form(types)})
    form = DeviceForm(request.POST, types=types)
    if not form.is_valid() or not types:
        return _create_answer(request, context, form)
    name = form.cleaned_data["name"]
    if not Submission.first(credential, form.cleaned_data["submission"]):
        notice = "That device was already created (sent twice)."
        return _create_answer(request, context, _fresh_form(types), notice=notice)
    type_id = form.cleaned_data["type_id"]
    try:
        with using(credential, request.user) as token:
            device = PulsetrackerClient(token).create_device(
                name=name, app_key=key, type_id=type_id
            )
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "device created",
            credential=credential,
            target=f"{name} (app {key})",
            error=exc,
        )
        retry = _fresh_form(types, request.POST)
        upstream_errors(retry, exc)
        return _create_answer(request, context, retry)
    cache.invalidate(credential.pk)
    activity.record(
        request.team,
        request.user,
        "device created",
        credential=credential,
        target=f"{device.name} ({device.key})",
        detail=f"{device.type or 'no type'}, in app {key}",
    )
    notice = f"Created the device “{device.name}”."
    return _create_answer(request, context, _fresh_form(types), notice=notice)


def _create_answer(
    request: PortalRequest, context: dict[str, Any], form: DeviceForm, *, notice: str = ""
) -> HttpResponse:
    if not request.htmx:  # the form is an htmx one; without htmx, back to the app page
        if notice:
            messages.success(request, notice)
        elif form.errors:
            problems = [str(e) for errors in form.errors.values() for e in errors]
            messages.error(request, "The device was not created: " + " ".join(problems))
        return redirect("app-detail", cid=context["credential"].pk, key=context["app_key"])
    response = render(
        request, f"{DEVICES}#device-form", {**context, "form": form, "notice": notice}
    )
    if notice:
        response["HX-Trigger"] = "device-created"
    return response


@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def device_rename(request: PortalRequest, cid: int, key: str, device: str) -> HttpResponse:
    """Rename in place. GET shows the editor holding the current name (`?cancel=1`: the name as
    text again, nothing sent upstream); POST renames upstream (it answers `1`, so the name shown
    is the one sent), and on any failure the editor stays open with the typed text and why."""
    credential = credential_or_404(request, cid)
    if not request.htmx:
        return redirect("device-detail", cid=credential.pk, key=key, device=device)
    context: dict[str, Any] = {"credential": credential, "app_key": key, "device_key": device}
    if request.method == "GET":
        name = request.GET.get("name", "")
        if request.GET.get("cancel"):
            return render(request, f"{DEVICES}#device-name", {**context, "name": name})
        form = DeviceNameForm(initial={"name": name})
        return render(
            request, f"{DEVICES}#device-rename-form", {**context, "original": name, "form": form}
        )
    original = request.POST.get("original", "")
    form = DeviceNameForm(request.POST)
    context.update(original=original, form=form)
    if not form.is_valid():
        return render(request, f"{DEVICES}#device-rename-form", context)
    name = form.cleaned_data["name"]
    change = f"“{original}” → “{name}”"
    try:
        with using(credential, request.user) as token:
            PulsetrackerClient(token).rename_device(device, name)
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "device renamed",
            credential=credential,
            target=device,
            error=exc,
            detail=f"{change}: {exc.message}",
        )
        upstream_errors(form, exc, field="name")
        return render(request, f"{DEVICES}#device-rename-form", context)
    cache.invalidate(credential.pk)
    activity.record(
        request.team,
        request.user,
        "device renamed",
        credential=credential,
        target=device,
        detail=change,
    )
    return render(request, f"{DEVICES}#device-name", {**context, "name": name, "renamed": True})


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _track(
    request: PortalRequest, credential: Credential, device: str, day: date
) -> tuple[list[LastLocation], bool]:
    """The device's positions received on `day` (the portal's time zone), newest first, read
    page by page from the newest; True as well when TRACK_PAGES pages did not reach the day's
    start (the track then holds only the day's newest positions)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = start + timedelta(days=1)
    points: list[LastLocation] = []
    for number in range(1, TRACK_PAGES + 1):
        page = _history(request, credential, device, number)
        for row in page.items:
            if row.updated_at is None or row.position is None or row.updated_at >= end:
                continue
            if row.updated_at < start:
                return points, False
            points.append(row)
        if not page.has_next:
            return points, False
    return points, True


@require_GET
@login_required
@team_view(Action.READ)
def device_detail(request: PortalRequest, cid: int, key: str, device: str) -> HttpResponse:
    """A device: what it is, its location history (the upstream's pages, newest first, within
    the plan's retention, each position's extra data as sent) and its track on one day (`?day=`,
    by default the day of its newest position)."""
    credential = credential_or_404(request, cid)
    number = page_number(request)
    context: dict[str, Any] = {
        "credential": credential,
        "app_key": key,
        "device_key": device,
        "device": None,
        "error": None,
        "page_number": number,
    }
    status = 200
    try:
        found, history = fanout.gather(
            [
                _call(request, credential, lambda c: c.get_device(device)),
                lambda: _history(request, credential, device, number),
            ]
        )
        assert isinstance(found, Device)
        assert isinstance(history, Page)
        if found.app_key is not None and found.app_key != key:
            raise NotFound("That device belongs to another app.", service="Pulsetracker")
        newest = history.items[0] if number == 1 and history.items else None
        if newest is None and number != 1:
            first = _history(request, credential, device, 1).items
            newest = first[0] if first else None
        day = _day(request.GET.get("day"))
        if day is None:
            seen = newest.updated_at if newest is not None else None
            day = timezone.localdate(seen) if seen is not None else timezone.localdate()
        track, capped = _track(request, credential, device, day)
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = failure(exc)
        status = 404 if isinstance(exc, NotFound) else 200
        return render_screen(request, DEVICE, "history", context, status=status)
    row = _rows([found])[0]
    points = [[p.position.latitude, p.position.longitude] for p in track if p.position]
    markers = _markers(credential, key, [row])
    for marker in markers:
        marker.pop("url")  # this is its page
    context.update(
        device=found,
        row=row,
        history=history,
        history_rows=[
            (p, json.dumps(p.extra_data, indent=2, sort_keys=True)) for p in history.items
        ],
        day=day,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1) if day < timezone.localdate() else None,
        track_count=len(track),
        track_capped=capped,
        map=map_settings(),
        map_data={
            "markers": markers,
            "tracks": [{"id": found.key, "label": found.name, "points": points}],
        },
        connect=connect_settings(),
        message=device_message(key, found),
    )
    return render_screen(request, DEVICE, "history", context, status=status)
