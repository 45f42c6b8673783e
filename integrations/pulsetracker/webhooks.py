"""The portal as the receiver of Pulsetracker's geofence events.

Pulsetracker POSTs `{"event": "inside" | "outside", "point", "device_id", "geofence_id",
"location_received_at", "event_sent_at"}` to a geofence's webhook URL with the header
`p-signature`: the hex HMAC-SHA256 of the raw body with the account's webhook secret. Each
geofence has its own receiving address, `/hooks/pulsetracker/<hook>/<slot>/`: `<hook>` names the
app (and its stored copy of the secret, pasted by an admin, kept encrypted), `<slot>` the
geofence, either its numeric id (the edit form) or `new-<random>`, handed out by the create form
before the geofence has an id and recorded as that geofence once created (`GeofenceSlot`). An
event sent to one geofence's address that names another geofence is refused, as is one sent to
a slot the portal never recorded. The app-wide `/hooks/pulsetracker/<hook>/` that geofences were
given before still takes events of any of the app's geofences, so they keep arriving.

An event is accepted only when it is signed with that secret, was sent within
`PULSETRACKER_WEBHOOK_WINDOW_SECONDS` of now, and was not received before: the service names no
event id, so the signature (which covers the whole body, send time included) is the event's
identity, kept in a unique column. Anything else is refused, counted on the app (shown on its
page) and in the `portal_geofence_webhooks` metric, and logged without the body or the secret.
An accepted event is kept (the app page lists the latest), written to the activity log and
queued for the team's alert channels, naming the device as a person knows it: by its name when
the portal has the app's devices cached, else by its key. Alert texts are passed through the token
redactor, which would take a device's UUID key for a Pulsoid token, so only the parts that could
hold someone's text (the team's and the device's names, a key that is not a UUID) go through it;
the rest is built by the portal from a signed event.

This is the portal's only view without CSRF protection: nothing here trusts a session, only the
signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts import activity
from accounts.crypto import DecryptionFailed, decrypt
from integrations import cache
from integrations.models import (
    Channel,
    Condition,
    Delivery,
    GeofenceApp,
    GeofenceEvent,
    GeofenceSlot,
)
from integrations.parse import parse_timestamp
from integrations.pulsetracker.views_devices import every_device_name
from portal.logging import redact
from portal.metrics import GEOFENCE_WEBHOOKS

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "p-signature"
MAX_BODY_BYTES = 64 * 1024
VIA = "Pulsetracker webhook"


class Refused(Exception):
    """An event the portal will not accept: `outcome` names why (the metric's label)."""

    def __init__(self, outcome: str, status: int, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Event:
    kind: str
    geofence_id: int
    device: str
    latitude: float | None
    longitude: float | None
    location_received_at: datetime | None
    sent_at: datetime


def signature_of(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


@csrf_exempt
@require_POST
def receive(request: HttpRequest, hook: str, slot: str | None = None) -> JsonResponse:
    """Verify and keep one geofence event posted by Pulsetracker (to a geofence's own address
    when `slot` is given, else to the app-wide one)."""
    app = GeofenceApp.objects.select_related("credential", "credential__team").filter(hook=hook)
    target = app.first()
    if target is None:
        GEOFENCE_WEBHOOKS.labels("unknown").inc()
        return JsonResponse({"error": "No such receiver."}, status=404)
    try:
        geofence_id = _geofence_of(target, slot)
        event, signature = _verified(target, request)
        if geofence_id is not None and event.geofence_id != geofence_id:
            raise Refused(
                "wrong_geofence", 403, "The event was sent to another geofence's address."
            )
        stored = _store(target, event, signature)
    except Refused as refusal:
        _count_refusal(target, refusal)
        return JsonResponse({"error": refusal.reason}, status=refusal.status)
    GEOFENCE_WEBHOOKS.labels("accepted").inc()
    _announce(target, stored)
    return JsonResponse({"received": True})


def slot_geofence(app: GeofenceApp, slot: str) -> int | None:
    """The geofence a slot of this app's receiving addresses belongs to, if any: a numeric slot
    is the geofence's id; a `new-` one is whatever geofence the create form made with it."""
    if slot.isdigit():
        return int(slot)
    found = GeofenceSlot.objects.filter(app=app, slot=slot).first()
    return found.geofence_id if found else None


def _geofence_of(app: GeofenceApp, slot: str | None) -> int | None:
    """The one geofence whose events this address takes; None for the app-wide address."""
    if slot is None:
        return None
    geofence_id = slot_geofence(app, slot)
    if geofence_id is None:
        raise Refused("unknown_slot", 404, "No geofence was given this receiving address.")
    return geofence_id


def _verified(app: GeofenceApp, request: HttpRequest) -> tuple[Event, str]:
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise Refused("malformed", 413, "The event is too large.")
    if not app.has_secret:
        raise Refused("no_secret", 403, "This receiver has no webhook secret yet.")
    given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not given:
        raise Refused("unsigned", 401, "The event is not signed.")
    given = given.removeprefix("sha256=")
    try:
        secret = decrypt(app.secret_ciphertext).reveal().encode()
    except DecryptionFailed:
        raise Refused("no_secret", 403, "The stored webhook secret no longer decrypts.") from None
    expected = signature_of(secret, body)
    if not hmac.compare_digest(expected, given):
        raise Refused("bad_signature", 401, "The signature does not match.")
    event = _parse(body)
    window = timedelta(seconds=settings.PULSETRACKER_WEBHOOK_WINDOW_SECONDS)
    now = timezone.now()
    if event.sent_at < now - window:
        raise Refused("stale", 403, "The event was sent too long ago (a replay?).")
    if event.sent_at > now + window:
        raise Refused("stale", 403, "The event claims to be sent in the future.")
    return event, expected


def _parse(body: bytes) -> Event:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("malformed", 400, "The event is not JSON.") from None
    if not isinstance(data, dict):
        raise Refused("malformed", 400, "The event is not a JSON object.")
    kind = data.get("event")
    if kind not in GeofenceEvent.Kind.values:
        raise Refused("malformed", 400, "The event is neither “inside” nor “outside”.")
    geofence_id = data.get("geofence_id")
    if isinstance(geofence_id, str) and geofence_id.isdigit():
        geofence_id = int(geofence_id)
    if not isinstance(geofence_id, int) or isinstance(geofence_id, bool) or geofence_id < 0:
        raise Refused("malformed", 400, "The event names no geofence.")
    device = data.get("device_id")
    if isinstance(device, bool) or not isinstance(device, str | int):
        raise Refused("malformed", 400, "The event names no device.")
    sent_at = _timestamp(data.get("event_sent_at"))
    if sent_at is None:
        raise Refused("malformed", 400, "The event has no time it was sent.")
    latitude, longitude = _point(data.get("point"))
    return Event(
        kind=kind,
        geofence_id=geofence_id,
        device=str(device)[:64],
        latitude=latitude,
        longitude=longitude,
        location_received_at=_timestamp(data.get("location_received_at")),
        sent_at=sent_at,
    )


def _timestamp(value: Any) -> datetime | None:
    return parse_timestamp(value) if isinstance(value, str) else None


def _point(value: Any) -> tuple[float | None, float | None]:
    """(latitude, longitude) of a GeoJSON Point ([longitude, latitude]), or nothing."""
    coordinates = value.get("coordinates") if isinstance(value, dict) else None
    if isinstance(coordinates, list) and len(coordinates) >= 2:
        try:
            return float(coordinates[1]), float(coordinates[0])
        except (TypeError, ValueError):
            pass
    return None, None


def _store(app: GeofenceApp, event: Event, signature: str) -> GeofenceEvent:
    try:
        with transaction.atomic():
            return GeofenceEvent.objects.create(
                app=app,
                kind=event.kind,
                geofence_id=event.geofence_id,
                device=event.device,
                latitude=event.latitude,
                longitude=event.longitude,
                location_received_at=event.location_received_at,
                sent_at=event.sent_at,
                signature=signature,
            )
    except IntegrityError:
        raise Refused("replayed", 409, "This event was received before.") from None


def _count_refusal(app: GeofenceApp, refusal: Refused) -> None:
    GEOFENCE_WEBHOOKS.labels(refusal.outcome).inc()
    GeofenceApp.objects.filter(pk=app.pk).update(
        refused=F("refused") + 1, last_refused_at=timezone.now(), last_refusal=refusal.reason
    )
    logger.warning(
        "Refused a geofence event for receiver %s (credential %s): %s",
        app.pk,
        app.credential_id,
        refusal.outcome,
    )


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def device_name(app: GeofenceApp, device: str) -> str:
    """The device's name from the app's devices as the portal last read them ("" when none are
    cached or it is not among them): no upstream call while Pulsetracker waits for an answer."""
    found = cache.peek(app.credential_id, every_device_name(app.app_key))
    devices = getattr(found.value, "devices", ()) if found is not None else ()
    return next((d.name for d in devices if d.key == device), "")


def describe(event: GeofenceEvent, name: str = "") -> str:
    """One line for the activity log and the alert channels, safe to send as it is: the device's
    name (redacted), with its key when that is a UUID (any other key redacted), the event's kind,
    the geofence's id and the position, all built here from the signed event."""
    key = event.device if UUID.fullmatch(event.device) else redact(event.device)
    device = f"“{redact(name)}” ({key})" if name else key
    where = ""
    if event.latitude is not None and event.longitude is not None:
        where = f" at {event.latitude:.5f}, {event.longitude:.5f}"
    return f"Device {device} {event.get_kind_display()} geofence #{event.geofence_id}{where}."


def _announce(app: GeofenceApp, event: GeofenceEvent) -> None:
    credential = app.credential
    text = describe(event, device_name(app, event.device))
    activity.record(
        credential.team,
        None,
        "geofence event",
        credential=credential,
        target=f"geofence #{event.geofence_id} of app {app.app_key}",
        detail=text,
        via=VIA,
    )
    # Queued like any alert: the background worker's `deliver_due` sends them, with retries.
    for channel in Channel.objects.filter(team_id=credential.team_id):
        Delivery.objects.create(
            channel=channel,
            credential_id=credential.pk,
            credential_label=credential.label,
            condition=Condition.GEOFENCE,
            text=f"{redact(str(credential.team))}: {text}"[:500],
        )
