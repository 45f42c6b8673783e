"""Alerts: what state a credential is in, telling the team's channels when that changes, and
delivering what was told (retried with backoff, each attempt's outcome kept).

A credential's condition is its health, or a warning before trouble (a token that expires within
a week and cannot be refreshed, a token that never expires and is due for rotation). An alert goes
out once per transition: the condition last announced is kept on the credential, and nothing is
sent while it holds. "Unreachable" is announced only after a grace period, so a short upstream
outage does not page anyone. No alert, webhook body or delivery record holds a token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.crypto import DecryptionFailed, Secret, decrypt, encrypt
from accounts.models import Team
from integrations import http
from integrations.errors import UpstreamError
from integrations.models import (
    Channel,
    Condition,
    Credential,
    Delivery,
    Health,
    PulsoidGrant,
    Watch,
)
from integrations.registry import upstream
from portal.logging import redact

logger = logging.getLogger(__name__)

EXPIRY_WARNING = timedelta(days=7)
MAX_ATTEMPTS = 5
SIGNATURE_HEADER = "X-Portal-Signature"

# What each health means as an alert condition (ok is decided with the warnings below).
HEALTH_CONDITIONS = {
    Health.REJECTED: Condition.REJECTED,
    Health.EXPIRED: Condition.EXPIRED,
    Health.MISSING_SCOPE: Condition.MISSING_SCOPE,
    Health.NEEDS_RELINKING: Condition.NEEDS_RELINKING,
}


def watch_of(team: Team) -> Watch:
    watch, _ = Watch.objects.get_or_create(team=team)
    return watch


def condition(credential: Credential, watch: Watch, now: datetime, refreshes: bool) -> Condition:
    """The credential's condition now. `refreshes`: whether its token renews itself (OAuth)."""
    if credential.health in HEALTH_CONDITIONS:
        return HEALTH_CONDITIONS[Health(credential.health)]
    if credential.health == Health.UNREACHABLE:
        grace = timedelta(minutes=settings.PORTAL_UNREACHABLE_GRACE_MINUTES)
        since = credential.unreachable_since
        if since is not None and now - since >= grace:
            return Condition.UNREACHABLE
        return Condition(credential.announced or Condition.OK)  # not yet: as last said
    expires = credential.expires_at
    renewable = refreshes or credential.never_expires
    if expires is not None and not renewable and expires - now <= EXPIRY_WARNING:
        return Condition.EXPIRING
    rotation = timedelta(days=watch.rotation_days) if watch.rotation_days else None
    never_expires = not upstream(credential.service).tokens_expire
    if never_expires and rotation is not None and now - credential.linked_at >= rotation:
        return Condition.ROTATE
    return Condition.OK


def conditions(team: Team, now: datetime | None = None) -> dict[int, Condition]:
    """Every credential of the team (by id) with its condition: two queries."""
    now = now or timezone.now()
    watch = watch_of(team)
    credentials = list(Credential.objects.filter(team=team))
    refreshing = set(
        PulsoidGrant.objects.filter(credential__team=team).values_list("credential_id", flat=True)
    )
    return {c.pk: condition(c, watch, now, c.pk in refreshing) for c in credentials}


def needing_attention(team: Team) -> int:
    """How many of the team's credentials are in any condition but OK (the badge on every page)."""
    return sum(1 for found in conditions(team).values() if found != Condition.OK)


def announce_changes(team: Team, now: datetime | None = None) -> int:
    """Tell the team's channels about every credential whose condition changed since it was last
    announced. Returns the number of alerts queued."""
    now = now or timezone.now()
    queued = 0
    channels = list(Channel.objects.filter(team=team))
    for credential_id, found in conditions(team, now).items():
        with transaction.atomic():
            credential = Credential.objects.select_for_update().get(pk=credential_id)
            said = Condition(credential.announced or Condition.OK)
            if found == said:
                continue
            credential.announced = found
            credential.save(update_fields=["announced"])
            text = _alert_text(credential, found)
            for channel in channels:
                Delivery.objects.create(
                    channel=channel,
                    credential_id=credential.pk,
                    credential_label=credential.label,
                    condition=found,
                    text=text,
                )
                queued += 1
    return queued


def _alert_text(credential: Credential, found: Condition) -> str:
    service = credential.get_service_display()
    text = f"{credential.team}: the {service} credential “{credential.label}” is {found.label}."
    if found == Condition.EXPIRING and credential.expires_at:
        text += f" Its token expires on {credential.expires_at:%d %b %Y, %H:%M} UTC."
    elif found == Condition.ROTATE:
        text += " Its token has not been replaced for a long time; replace it."
    elif found != Condition.OK and credential.health_detail:
        text += f" {credential.health_detail}"
    return redact(text)[:500]


def send_test(channel: Channel) -> Delivery:
    """A test alert, sent now (no retries): the result is shown beside the channel."""
    delivery = Delivery.objects.create(
        channel=channel,
        test=True,
        text=f"{channel.team}: a test alert from the Pulse team portal to “{channel.name}”.",
    )
    _attempt(delivery, timezone.now(), retry=False)
    return delivery


def deliver_due(now: datetime | None = None) -> int:
    """Send every delivery that is due; a failure is retried with backoff (1, 2, 4, 8 minutes),
    then given up on. Returns how many were attempted."""
    now = now or timezone.now()
    due = Delivery.objects.filter(
        state=Delivery.State.PENDING, next_attempt_at__lte=now
    ).select_related("channel", "channel__team")
    count = 0
    for delivery in due:
        _attempt(delivery, now, retry=True)
        count += 1
    return count


def _attempt(delivery: Delivery, now: datetime, *, retry: bool) -> None:
    delivery.attempts += 1
    try:
        _send(delivery)
    except (UpstreamError, OSError, DecryptionFailed, ValueError) as exc:
        message = getattr(exc, "message", "") or str(exc) or type(exc).__name__
        delivery.outcome = redact(f"Attempt {delivery.attempts}: {message}")[:300]
        logger.warning(
            "Alert delivery %s to channel %s failed: %s", delivery.pk, delivery.channel_id, message
        )
        if retry and delivery.attempts < MAX_ATTEMPTS:
            delivery.next_attempt_at = now + timedelta(minutes=2 ** (delivery.attempts - 1))
        else:
            delivery.state = Delivery.State.FAILED
    else:
        delivery.state = Delivery.State.SENT
        delivery.sent_at = now
        delivery.outcome = f"Delivered on attempt {delivery.attempts}."
    delivery.save()


def _send(delivery: Delivery) -> None:
    channel = delivery.channel
    if channel.kind == Channel.Kind.EMAIL:
        emails = [u.email for u in channel.recipients.filter(is_active=True)]
        if not emails:
            raise OSError("the channel has no recipients")
        # A subject is one line (a label may hold a line break; mail refuses those).
        subject = " ".join(f"[{channel.team}] {delivery.text[:80]}".split())
        send_mail(
            subject=subject,
            message=delivery.text,
            from_email=None,
            recipient_list=emails,
        )
        return
    url = decrypt(channel.url_ciphertext).reveal()
    # Each address has its own circuit breaker: one team's dead webhook pauses only itself.
    service = f"{channel.get_kind_display()} at {urlsplit(url).netloc}"
    if channel.kind == Channel.Kind.SLACK:
        response = http.send("POST", url, service=service, json_body={"text": delivery.text})
    elif channel.kind == Channel.Kind.DISCORD:
        response = http.send("POST", url, service=service, json_body={"content": delivery.text})
    else:
        body = json.dumps(_webhook_payload(delivery), separators=(",", ":")).encode()
        secret = decrypt(channel.secret_ciphertext).reveal().encode()
        signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: f"sha256={signature}"}
        response = http.send("POST", url, service=service, body=body, headers=headers)
    # http.send has raised for 5xx, 429 and redirects; any other refusal is a failure too.
    if not response.ok:
        raise UpstreamError(f"It answered with status {response.status}.", status=response.status)


def _webhook_payload(delivery: Delivery) -> dict[str, object]:
    if delivery.test:
        event = "test"
    elif delivery.condition == Condition.GEOFENCE:
        event = "geofence"
    else:
        event = f"credential.{delivery.condition}"
    return {
        "event": event,
        "team": delivery.channel.team.name,
        "credential": (
            {"id": delivery.credential_id, "label": delivery.credential_label}
            if delivery.credential_id
            else None
        ),
        "condition": delivery.condition or None,
        "text": delivery.text,
        "sent_at": timezone.now().isoformat(),
        "delivery": delivery.pk,
    }


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def set_url(channel: Channel, url: str) -> None:
    channel.url_ciphertext = encrypt(Secret(url))
    channel.url_hint = urlsplit(url).netloc[:120]


def set_secret(channel: Channel, secret: str) -> None:
    channel.secret_ciphertext = encrypt(Secret(secret))
