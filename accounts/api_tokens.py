"""Personal access tokens for the portal's API: made, recognised, and limited to what their
owner's role allows now.

A token reads `ptp_<30 random characters><6-character checksum>`: the prefix lets secret scanners
(and people) recognise a leaked one, the checksum lets them tell a real one from a typo without
asking the portal. Only its SHA-256 is stored; it is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts import activity
from accounts.access import Action, may
from accounts.models import AccessToken, Membership, Team, User

PREFIX = "ptp_"
ALPHABET = string.ascii_letters + string.digits
MAX_DAYS = 365

#: Each scope, and the weakest action (so role) it needs in the team.
SCOPES: dict[str, Action] = {
    "apps:read": Action.READ,
    "apps:write": Action.CHANGE_UPSTREAM,
    "widgets:read": Action.READ,
    "widgets:write": Action.CHANGE_UPSTREAM,
    "credentials:read": Action.READ,
    "activity:read": Action.MANAGE_CREDENTIALS,
}


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), 6)


def well_formed(token: str) -> bool:
    """Whether `token` looks like one of the portal's (prefix, length, checksum)."""
    if not token.startswith(PREFIX) or len(token) != len(PREFIX) + 36:
        return False
    body, check = token[len(PREFIX) : -6], token[-6:]
    return secrets.compare_digest(_checksum(PREFIX + body), check)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    user: User, team: Team, name: str, scopes: list[str], days: int
) -> tuple[AccessToken, str]:
    """A new token, and its value (shown once, never stored)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(30))
    value = PREFIX + body + _checksum(PREFIX + body)
    token = AccessToken.objects.create(
        user=user,
        team=team,
        name=name,
        scopes=sorted(set(scopes) & set(SCOPES)),
        token_hash=_hash(value),
        prefix=value[:8],
        expires_at=timezone.now() + timedelta(days=min(days, MAX_DAYS)),
    )
    activity.record(team, user, "API token created", target=name, detail=" ".join(token.scopes))
    return token, value


def revoke(token: AccessToken, by: User) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        activity.record(token.team, by, "API token revoked", target=f"{token} of {token.user}")


@dataclass(frozen=True)
class Bearer:
    """Who an API request acts as: the token, its owner's membership now, and what it may do."""

    token: AccessToken
    membership: Membership
    scopes: frozenset[str]

    @property
    def via(self) -> str:
        return f"API token {self.token.name}"


def authenticate(value: str, address: str | None) -> Bearer | None:
    """The bearer of a token that works now, or None (unknown, revoked, expired, owner gone)."""
    if not well_formed(value):
        return None
    token = (
        AccessToken.objects.select_related("user", "team").filter(token_hash=_hash(value)).first()
    )
    if token is None or not token.active or not token.user.is_active:
        return None
    membership = (
        Membership.objects.select_related("team", "user")
        .filter(user=token.user, team=token.team)
        .first()
    )
    if membership is None:  # they left the team: the token stops working
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=60):
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=address)
    allowed = frozenset(s for s in token.scopes if s in SCOPES and may(membership, SCOPES[s]))
    return Bearer(token, membership, allowed)


def assignable(membership: Membership | None) -> list[str]:
    """The scopes a person may give a token in this team (what their role allows now)."""
    return [scope for scope, action in SCOPES.items() if may(membership, action)]
