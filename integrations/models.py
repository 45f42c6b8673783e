"""A team's upstream credentials: the token (only as ciphertext), its label, health and use.

What only one upstream needs lives in a model of its own beside `Credential` (Pulsoid's OAuth
refresh token in `PulsoidGrant`), so a third upstream adds a service and, at most, a model.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

from accounts import crypto
from accounts.crypto import Secret
from accounts.models import Team, User

# Beyond this, an expiry is a formality (manual Pulsoid tokens report roughly twenty years).
LONG_LIVED = timedelta(days=5 * 365)


class Service(models.TextChoices):
    """The upstreams a credential can belong to; each has an entry in `integrations.registry`."""

    PULSETRACKER = "pulsetracker", "Pulsetracker"
    PULSOID = "pulsoid", "Pulsoid"


class Health(models.TextChoices):
    OK = "ok", "OK"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    MISSING_SCOPE = "missing_scope", "Missing scope"
    UNREACHABLE = "unreachable", "Unreachable"
    NEEDS_RELINKING = "needs_relinking", "Needs re-linking"


class Credential(models.Model):
    """An upstream token shared by a team, stored only as ciphertext.

    `ciphertext` is not editable in any form or admin page; the token is set with `set_token` and
    read only through `accounts.crypto.decrypt`, inside a masked `Secret`.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    service = models.CharField(max_length=20, choices=Service.choices)
    label = models.CharField(max_length=80)
    ciphertext = crypto.EncryptedText()
    last4 = models.CharField(max_length=4, editable=False)
    linked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.OK)
    health_detail = models.CharField(max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # What the upstream reports about the token, where it does (Pulsoid's validate endpoint).
    scopes = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=200, blank=True)  # the upstream account's name
    # Background watching: when the portal last checked it on its own, since when it has been
    # unreachable, and the condition last announced to the team's channels ("" = none yet).
    watched_at = models.DateTimeField(null=True, blank=True)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    announced = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["service", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "service", "label"], name="unique_label_per_team_and_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_service_display()} · {self.label} (…{self.last4})"

    def set_token(self, secret: Secret) -> None:
        self.ciphertext = crypto.encrypt(secret)
        self.last4 = secret.last4

    @property
    def masked(self) -> str:
        return f"…{self.last4}"

    @property
    def never_expires(self) -> bool:
        """Manual Pulsoid tokens report an expiry decades away: treat them as long-lived."""
        return self.expires_at is not None and self.expires_at > timezone.now() + LONG_LIVED


class PulsoidGrant(models.Model):
    """A Pulsoid credential connected through OAuth: its refresh token, encrypted like the access
    token. A credential without one was pasted by hand and cannot be refreshed."""

    credential = models.OneToOneField(
        Credential, on_delete=models.CASCADE, primary_key=True, related_name="pulsoid_grant"
    )
    refresh_ciphertext = crypto.EncryptedText(blank=True)

    def __str__(self) -> str:
        return f"OAuth grant of {self.credential}"


class Watch(models.Model):
    """How a team's credentials are watched in the background (one row per team, made on use)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="watch")
    # Each credential is checked upstream this often (spread over the interval, not all at once).
    check_minutes = models.PositiveSmallIntegerField(default=15)
    # Remind to rotate tokens that never expire (Pulsetracker's) once they are this old.
    rotation_days = models.PositiveSmallIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Watch of {self.team}"


class Condition(models.TextChoices):
    """What an alert says about a credential: its health, or a warning before trouble."""

    OK = "ok", "back to OK"
    REJECTED = "rejected", "rejected"
    EXPIRED = "expired", "expired"
    MISSING_SCOPE = "missing_scope", "missing a scope"
    UNREACHABLE = "unreachable", "unreachable"
    NEEDS_RELINKING = "needs_relinking", "needs re-linking"
    EXPIRING = "expiring", "expiring soon"
    ROTATE = "rotate", "due for rotation"
    GEOFENCE = "geofence", "a geofence event"  # not a credential's condition: an app's event


class Channel(models.Model):
    """Where a team's alerts go. URLs of chat webhooks are secrets (anyone holding one can post),
    so they are stored encrypted like tokens; a generic webhook also has a signing secret."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        DISCORD = "discord", "Discord"
        WEBHOOK = "webhook", "Webhook"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=80)
    recipients = models.ManyToManyField(User, blank=True, related_name="+")  # email
    url_ciphertext = crypto.EncryptedText(blank=True)  # Slack, Discord, webhook
    url_hint = models.CharField(max_length=120, blank=True)  # the host, to recognise it
    secret_ciphertext = crypto.EncryptedText(blank=True)  # webhook signing secret
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"


class Delivery(models.Model):
    """One alert (or a test) sent, or being sent, to one channel. Never holds a token."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    credential_id = models.BigIntegerField(null=True, blank=True)
    credential_label = models.CharField(max_length=80, blank=True)
    condition = models.CharField(max_length=20, choices=Condition.choices, blank=True)
    test = models.BooleanField(default=False)
    text = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel}: {self.text[:40]}"


class Submission(models.Model):
    """A create form sent through a credential, by the id its form carried: the double-submit
    guard. The unique constraint decides which of two copies sent at once goes ahead, whichever
    worker or instance each reaches; the daily prune removes old rows."""

    #: Longer ids (never the portal's own forms, which send 32 hex digits) are stored hashed.
    ID_LENGTH = 64

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="+")
    submission_id = models.CharField(max_length=ID_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "submission_id"], name="unique_submission_per_credential"
            )
        ]

    def __str__(self) -> str:
        return f"Submission {self.submission_id} through {self.credential_id}"

    @classmethod
    def first(cls, credential: Credential, submission_id: str) -> bool:
        """True the first time this form submission reaches the portal, false for any copy; a
        form without an id is never held back."""
        if not submission_id:
            return True
        if len(submission_id) > cls.ID_LENGTH:
            submission_id = hashlib.sha256(submission_id.encode()).hexdigest()
        # An insert that loses to a concurrent one gets the unique violation, then finds the row.
        _, created = cls.objects.get_or_create(credential=credential, submission_id=submission_id)
        return created


def _new_hook() -> str:
    return secrets.token_urlsafe(24)


class GeofenceApp(models.Model):
    """What the portal keeps about one Pulsetracker app's geofences, per credential.

    Geofences name their app by a numeric id that no app endpoint returns, so the portal keeps
    it once it is known (learnt from an existing geofence, or entered by a member). Events are
    received at each geofence's own address, `/hooks/pulsetracker/<hook>/<slot>/` (the slot is
    the geofence's id, or a `GeofenceSlot` handed out by the create form), or at the app-wide
    `/hooks/pulsetracker/<hook>/` that earlier geofences were given; all are verified with the
    account's webhook secret, which an admin pastes: stored only as ciphertext, never shown again.
    """

    class IdSource(models.TextChoices):
        LEARNT = "learnt", "learnt from an existing geofence"
        ENTERED = "entered", "entered by hand"

    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="geofence_apps"
    )
    app_key = models.CharField(max_length=64)
    app_id = models.PositiveBigIntegerField(null=True, blank=True)
    app_id_source = models.CharField(max_length=10, choices=IdSource.choices, blank=True)
    app_id_set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hook = models.CharField(max_length=40, unique=True, default=_new_hook, editable=False)
    secret_ciphertext = crypto.EncryptedText(blank=True)
    secret_set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    secret_set_at = models.DateTimeField(null=True, blank=True)
    # Events refused (unsigned, wrongly signed, replayed, too old, malformed): a count and the
    # last reason, shown on the app page.
    refused = models.PositiveIntegerField(default=0)
    last_refused_at = models.DateTimeField(null=True, blank=True)
    last_refusal = models.CharField(max_length=120, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "app_key"], name="unique_geofence_app_per_credential"
            )
        ]

    def __str__(self) -> str:
        return f"Geofences of app {self.app_key} through {self.credential_id}"

    def set_secret(self, secret: Secret, by: User) -> None:
        self.secret_ciphertext = crypto.encrypt(secret)
        self.secret_set_by = by
        self.secret_set_at = timezone.now()

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_ciphertext)


class GeofenceEvent(models.Model):
    """A geofence event the portal received and verified. The body's signature is its identity:
    the same event sent again carries the same signature and is refused as a replay."""

    class Kind(models.TextChoices):
        INSIDE = "inside", "went inside"
        OUTSIDE = "outside", "went outside"

    app = models.ForeignKey(GeofenceApp, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    geofence_id = models.PositiveBigIntegerField()
    device = models.CharField(max_length=64)  # `device_id` as sent
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_received_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    signature = models.CharField(max_length=64)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "signature"], name="unique_geofence_event_signature"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device} {self.get_kind_display()} geofence {self.geofence_id}"


class GeofenceSlot(models.Model):
    """A receiving address handed out by the create form before the geofence has an id
    (`/hooks/pulsetracker/<hook>/new-<random>/`), and the geofence it became once created: events
    posted there are taken only for that geofence."""

    app = models.ForeignKey(GeofenceApp, on_delete=models.CASCADE, related_name="slots")
    slot = models.CharField(max_length=40)
    geofence_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "slot"], name="unique_geofence_slot_per_app")
        ]

    def __str__(self) -> str:
        return f"{self.slot} → geofence {self.geofence_id}"
