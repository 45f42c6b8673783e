"""People of the portal. They log in with their email address and a password."""

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone

from accounts import crypto
from accounts.crypto import Secret


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by email instead of a username."""

    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if extra["is_staff"] is not True or extra["is_superuser"] is not True:
            raise ValueError("A superuser needs is_staff and is_superuser.")
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person using the portal; the email address is the login."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    name = models.CharField("name", max_length=150, blank=True)
    last_active_at = models.DateTimeField("last active", null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.name or self.email


class Role(models.TextChoices):
    """Roles in a team, weakest first. Each role may do everything the ones before it may."""

    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Team(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"


# Beyond this, an expiry is a formality (manual Pulsoid tokens report roughly twenty years).
LONG_LIVED = timedelta(days=5 * 365)


class Invitation(models.Model):
    """A single-use link that brings one person into a team with a role.

    Only a hash of the link's secret is stored: the link is shown once to the owner who sent it.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} as {self.role}"

    @property
    def state(self) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class Service(models.TextChoices):
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
    ciphertext = models.TextField(editable=False)
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
    scopes = models.JSONField(default=list, blank=True)  # Pulsoid only
    expires_at = models.DateTimeField(null=True, blank=True)  # Pulsoid only
    channel = models.CharField(max_length=200, blank=True)  # Pulsoid profile, with profile:read
    # Linked through Pulsoid's OAuth sign-in: the refresh token, encrypted like the access token.
    via_oauth = models.BooleanField(default=False, editable=False)
    refresh_ciphertext = models.TextField(blank=True, editable=False)

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


class Activity(models.Model):
    """One line of a team's append-only activity log. Never holds a token."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.EmailField(blank=True)  # kept when the person is deleted
    action = models.CharField(max_length=40)
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credential_label = models.CharField(max_length=80, blank=True)
    target = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    error_kind = models.CharField(max_length=40, blank=True)
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "activity"
        indexes = [
            models.Index(fields=["team", "-id"], name="activity_team_newest"),
            models.Index(fields=["team", "actor", "-id"], name="activity_team_actor_newest"),
            models.Index(fields=["team", "action", "-id"], name="activity_team_action_newest"),
            models.Index(
                fields=["team", "credential_label", "-id"], name="activity_team_label_newest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Activity entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("Activity entries are append-only.")
