"""The portal as the receiver of Pulsetracker's geofence events: a signed event is kept, logged
and sent to the team's channels; unsigned, wrongly signed, replayed or stale ones are refused
and counted. Signatures here are computed independently of the portal's code."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.crypto import Secret
from accounts.models import Activity
from integrations.models import (
    Channel,
    Condition,
    Delivery,
    GeofenceApp,
    GeofenceEvent,
    GeofenceSlot,
)
from portal.metrics import GEOFENCE_WEBHOOKS

SECRET = "pt_whsec_0123456789abcdef0123456789abcdef"
DEVICE = "6f1c2b9e-1111-4222-8333-944445555666"


@pytest.fixture
def receiver(pulsetracker_credential, sandbox_settings, alice) -> GeofenceApp:
    """The receiving end of one of Acme's apps, with the account's webhook secret pasted."""
    key = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0][
        "key"
    ]
    app = GeofenceApp(credential=pulsetracker_credential, app_key=key, app_id=31)
    app.set_secret(Secret(SECRET), alice)
    app.save()
    return app


def event_body(
    kind: str = "inside",
    *,
    sent: datetime | None = None,
    geofence: int = 7,
    device: str = DEVICE,
) -> bytes:
    sent = sent or datetime.now(UTC)
    return json.dumps(
        {
            "event": kind,
            "point": {"type": "Point", "coordinates": [3.055, 36.755]},
            "device_id": device,
            "geofence_id": geofence,
            "location_received_at": sent.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "event_sent_at": sent.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    ).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    client: Client, app: GeofenceApp, body: bytes, signature: str | None, slot: str | None = None
):
    """POST to the app-wide address, or with `slot` to one geofence's own."""
    headers = {"HTTP_P_SIGNATURE": signature} if signature is not None else {}
    if slot is None:
        url = reverse("geofence-webhook", args=[app.hook])
    else:
        url = reverse("geofence-webhook-slot", args=[app.hook, slot])
    return client.post(url, body, content_type="application/json", **headers)


def refused(outcome: str) -> float:
    return GEOFENCE_WEBHOOKS.labels(outcome)._value.get()


def test_a_signed_event_is_kept_logged_and_queued_for_the_teams_channels(receiver, acme):
    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    accepted = refused("accepted")
    # CSRF checks on: the receiver is the one view that does without them.
    body = event_body()
    response = post(Client(enforce_csrf_checks=True), receiver, body, sign(body))
    assert response.status_code == 200
    [event] = GeofenceEvent.objects.all()
    assert (event.kind, event.geofence_id, event.device) == ("inside", 7, DEVICE)
    assert (event.latitude, event.longitude) == (36.755, 3.055)
    [entry] = Activity.objects.filter(action="geofence event")
    assert entry.team == acme
    assert entry.detail == f"Device {DEVICE} went inside geofence #7 at 36.75500, 3.05500."
    assert entry.via == "Pulsetracker webhook"
    [delivery] = Delivery.objects.filter(channel=channel)
    assert delivery.condition == Condition.GEOFENCE
    assert "went inside geofence #7" in delivery.text
    assert refused("accepted") == accepted + 1
    receiver.refresh_from_db()
    assert receiver.refused == 0


@pytest.mark.parametrize(
    ("signature", "status", "outcome"),
    [
        (None, 401, "unsigned"),
        ("", 401, "unsigned"),
        ("0" * 64, 401, "bad_signature"),
        ("signed-with-the-wrong-secret", 401, "bad_signature"),
    ],
)
def test_unsigned_or_wrongly_signed_events_are_refused_and_counted(
    client, receiver, signature, status, outcome
):
    body = event_body()
    if signature == "signed-with-the-wrong-secret":
        signature = sign(body, "pt_whsec_not-the-accounts-secret")
    before = refused(outcome)
    response = post(client, receiver, body, signature)
    assert response.status_code == status
    assert not GeofenceEvent.objects.exists()
    assert not Activity.objects.filter(action="geofence event").exists()
    receiver.refresh_from_db()
    assert receiver.refused == 1
    assert receiver.last_refusal
    assert refused(outcome) == before + 1


def test_a_signature_over_other_bytes_is_refused(client, receiver):
    body = event_body()
    # The same event re-encoded (spaces after the separators) is not what was signed.
    tampered = json.dumps(json.loads(body), separators=(", ", ": ")).encode()
    assert (
        post(client, receiver, tampered.replace(b"inside", b"outside"), sign(body)).status_code
        == 401
    )
    receiver.refresh_from_db()
    assert receiver.refused == 1


def test_a_geofences_own_address_takes_its_events_and_refuses_anothers(client, receiver):
    mine, theirs = event_body(geofence=7), event_body(geofence=8)
    before = refused("wrong_geofence")
    assert post(client, receiver, mine, sign(mine), slot="7").status_code == 200
    wrong = post(client, receiver, theirs, sign(theirs), slot="7")
    assert wrong.status_code == 403
    assert list(GeofenceEvent.objects.values_list("geofence_id", flat=True)) == [7]
    receiver.refresh_from_db()
    assert receiver.refused == 1
    assert receiver.last_refusal == "The event was sent to another geofence's address."
    assert refused("wrong_geofence") == before + 1


def test_a_create_forms_address_takes_the_events_of_the_geofence_it_became(client, receiver):
    GeofenceSlot.objects.create(app=receiver, slot="new-0123456789abcdef", geofence_id=7)
    mine, theirs = event_body(geofence=7), event_body(geofence=8)
    assert post(client, receiver, mine, sign(mine), slot="new-0123456789abcdef").status_code == 200
    wrong = post(client, receiver, theirs, sign(theirs), slot="new-0123456789abcdef")
    assert wrong.status_code == 403
    assert GeofenceEvent.objects.count() == 1


@pytest.mark.parametrize("slot", ["new-fedcba9876543210", "anything"])
def test_an_address_the_portal_never_gave_a_geofence_is_refused_and_counted(client, receiver, slot):
    body = event_body()
    before = refused("unknown_slot")
    assert post(client, receiver, body, sign(body), slot=slot).status_code == 404
    assert not GeofenceEvent.objects.exists()
    receiver.refresh_from_db()
    assert receiver.refused == 1
    assert refused("unknown_slot") == before + 1


def test_the_app_wide_address_still_takes_any_of_the_apps_geofences(client, receiver):
    for geofence in (7, 8):
        body = event_body(geofence=geofence)
        assert post(client, receiver, body, sign(body)).status_code == 200
    assert GeofenceEvent.objects.count() == 2


def test_the_same_event_twice_is_a_replay_refused_and_counted(client, receiver):
    body = event_body()
    assert post(client, receiver, body, sign(body)).status_code == 200
    before = refused("replayed")
    again = post(client, receiver, body, sign(body))
    assert again.status_code == 409
    assert GeofenceEvent.objects.count() == 1
    assert Activity.objects.filter(action="geofence event").count() == 1
    receiver.refresh_from_db()
    assert receiver.refused == 1
    assert receiver.last_refusal == "This event was received before."
    assert refused("replayed") == before + 1


@pytest.mark.parametrize("age", [timedelta(minutes=10), timedelta(minutes=-10)])
def test_an_event_sent_outside_the_window_is_refused_even_when_signed(client, receiver, age):
    body = event_body(sent=datetime.now(UTC) - age)
    response = post(client, receiver, body, sign(body))
    assert response.status_code == 403
    assert not GeofenceEvent.objects.exists()
    receiver.refresh_from_db()
    assert receiver.refused == 1


def test_the_window_comes_from_the_settings(client, receiver, settings):
    settings.PULSETRACKER_WEBHOOK_WINDOW_SECONDS = 3600
    body = event_body(sent=datetime.now(UTC) - timedelta(minutes=10))
    assert post(client, receiver, body, sign(body)).status_code == 200


def test_a_signed_body_that_is_not_an_event_is_refused(client, receiver):
    body = json.dumps({"event": "teleported", "event_sent_at": "2026-01-01T00:00:00Z"}).encode()
    assert post(client, receiver, body, sign(body)).status_code == 400
    receiver.refresh_from_db()
    assert receiver.refused == 1


def test_without_a_pasted_secret_every_event_is_refused(client, receiver):
    receiver.secret_ciphertext = ""
    receiver.save()
    body = event_body()
    assert post(client, receiver, body, sign(body)).status_code == 403
    receiver.refresh_from_db()
    assert receiver.refused == 1


def test_an_unknown_receiver_is_404_and_a_get_is_405(client, db):
    body = event_body()
    url = reverse("geofence-webhook", args=["no-such-receiver"])
    assert client.post(url, body, content_type="application/json").status_code == 404
    assert client.get(url).status_code == 405


def test_a_refusal_is_logged_without_the_secret_or_the_body(client, receiver, caplog):
    body = event_body()
    post(client, receiver, body, sign(body, "pt_whsec_wrong"))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "bad_signature" in text
    assert SECRET not in text
    assert DEVICE not in text


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_posts_a_crossing_to_the_portal_which_accepts_it(
    live_server, sandbox_settings, pulsetracker_credential, alice
):
    api = sandbox_settings.pulsetracker
    token = sandbox_settings.seed.pulsetracker_paid_token
    key = api.apps(token)[0]["key"]
    app = GeofenceApp(credential=pulsetracker_credential, app_key=key, app_id=api.app_id(key))
    app.set_secret(Secret(api.webhook_secret(token)), alice)
    app.save()
    url = live_server.url + reverse("geofence-webhook", args=[app.hook])
    ring = [(3.05, 36.75), (3.06, 36.75), (3.06, 36.76), (3.05, 36.76)]
    geofence = api.add_geofence(token, key, "Depot", ring, webhook_url=url)
    device = api.add_device(token, key, "Van 7", last_location=(3.055, 36.755))
    [left] = api.move_device(device["key"], 36.80, 3.10)
    assert left["status"] == 200
    [event] = GeofenceEvent.objects.all()
    assert (event.kind, event.geofence_id, event.device) == (
        "outside",
        geofence["id"],
        device["key"],
    )


def test_an_accepted_event_reaches_the_teams_email_channel_when_alerts_are_sent(
    receiver, acme, alice, mailoutbox
):
    from integrations import alerts

    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    channel.recipients.add(alice)
    body = event_body("outside")
    assert post(Client(), receiver, body, sign(body)).status_code == 200
    assert alerts.deliver_due() == 1
    [mail] = mailoutbox
    assert mail.to == [alice.email]
    # The device's key, not taken for a token: no device list is cached to name it.
    assert f"Device {DEVICE} went outside geofence #7 at 36.75500, 3.05500." in mail.body
    assert Delivery.objects.get(channel=channel).state == Delivery.State.SENT


@pytest.mark.django_db(transaction=True)
def test_with_a_secret_per_app_each_apps_receiver_checks_its_own(
    live_server, sandbox_settings, pulsetracker_credential, alice
):
    api = sandbox_settings.pulsetracker
    api.webhook_secrets = "app"
    token = sandbox_settings.seed.pulsetracker_paid_token
    ring = [(3.05, 36.75), (3.06, 36.75), (3.06, 36.76), (3.05, 36.76)]
    receivers = []
    for app in api.apps(token)[2:4]:  # two apps without seeded devices
        key = app["key"]
        found = GeofenceApp(credential=pulsetracker_credential, app_key=key, app_id=api.app_id(key))
        found.set_secret(Secret(api.webhook_secret(token, key)), alice)
        found.save()
        hook = live_server.url + reverse("geofence-webhook", args=[found.hook])
        api.add_geofence(token, key, "Depot", ring, webhook_url=hook)
        van = api.add_device(token, key, "Van", last_location=(3.055, 36.755))
        receivers.append((found, van))
    first, second = receivers
    assert api.webhook_secret(token, first[0].app_key) != api.webhook_secret(
        token, second[0].app_key
    )
    for _, van in receivers:
        [delivery] = api.move_device(van["key"], 36.9, 3.3)
        assert delivery["status"] == 200
    assert GeofenceEvent.objects.filter(app=first[0]).count() == 1
    assert GeofenceEvent.objects.filter(app=second[0]).count() == 1


def test_a_webhook_channel_gets_the_event_as_a_geofence_alert(receiver, acme):
    from integrations import alerts
    from tests.test_watch import Receiver, webhook

    catcher = Receiver()
    try:
        webhook(acme, catcher)
        body = event_body("inside")
        assert post(Client(), receiver, body, sign(body)).status_code == 200
        assert alerts.deliver_due() == 1
        [sent] = catcher.bodies()
    finally:
        catcher.server.shutdown()
    assert sent["event"] == "geofence"
    assert sent["credential"]["label"] == "Acme Live"
    assert "went inside geofence #7" in sent["text"]


def test_the_daily_prune_forgets_events_past_the_activity_retention(receiver, settings):
    from django.utils import timezone

    from integrations import watch

    old, recent = (event_body(geofence=n) for n in (1, 2))
    for body in (old, recent):
        assert post(Client(), receiver, body, sign(body)).status_code == 200
    GeofenceEvent.objects.filter(geofence_id=1).update(
        received_at=timezone.now() - timedelta(days=40)
    )
    assert watch.prune()["geofence_events"] == 0  # the default keeps everything
    settings.PORTAL_ACTIVITY_RETENTION_DAYS = 30
    assert watch.prune()["geofence_events"] == 1
    assert list(GeofenceEvent.objects.values_list("geofence_id", flat=True)) == [2]


def test_alerts_name_the_device_from_the_apps_devices_the_portal_read(
    as_user, carol, receiver, acme, alice, mailoutbox, pulsetracker_credential, sandbox_settings
):
    from integrations import alerts
    from tests.test_watch import Receiver, webhook

    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_paid_token
    van = api.add_device(token, receiver.app_key, "Van 7", last_location=(3.055, 36.755))
    # Someone looks at the app page: the portal now knows the app's devices.
    as_user(carol).get(reverse("app-detail", args=[pulsetracker_credential.pk, receiver.app_key]))
    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    channel.recipients.add(alice)
    catcher = Receiver()
    try:
        webhook(acme, catcher)
        body = event_body("outside", device=van["key"])
        assert post(Client(), receiver, body, sign(body)).status_code == 200
        assert alerts.deliver_due() == 2
        [sent] = catcher.bodies()
    finally:
        catcher.server.shutdown()
    line = f"Device “Van 7” ({van['key']}) went outside geofence #7 at 36.75500, 3.05500."
    [mail] = mailoutbox
    assert line in mail.body
    assert line in sent["text"]
    assert "redacted" not in mail.body
    [entry] = Activity.objects.filter(action="geofence event")
    assert entry.detail == line


def test_a_token_in_a_team_or_device_name_is_still_redacted_in_the_alert(
    as_user, carol, receiver, acme, pulsetracker_credential, sandbox_settings
):
    sanctum = "12|" + "aB3" * 14
    acme.name = f"Acme {sanctum}"
    acme.save()
    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_paid_token
    van = api.add_device(token, receiver.app_key, f"Bearer {sanctum}", last_location=(3.0, 36.0))
    as_user(carol).get(reverse("app-detail", args=[pulsetracker_credential.pk, receiver.app_key]))
    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    for device in (van["key"], f"token={sanctum}"):  # a key that is no UUID is redacted too
        body = event_body(device=device)
        assert post(Client(), receiver, body, sign(body)).status_code == 200
    texts = list(Delivery.objects.filter(channel=channel).values_list("text", flat=True))
    assert len(texts) == 2
    for text in texts:
        assert sanctum not in text
        assert "aB3" * 14 not in text
        assert text.startswith(f"Acme [redacted …{sanctum[-4:]}]: Device ")
