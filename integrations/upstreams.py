"""What the portal knows about an upstream, in one record per service (see `registry`).

A service's package fills in an `Upstream` (its `entry.py`); the shared code asks the registry
instead of branching on the service: how a token is checked, what to do before a check (Pulsoid
refreshes an OAuth token that is about to expire), what to do on unlink (Pulsoid revokes it), and
what the top navigation shows, and what the dashboard says of each credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.crypto import Secret
from accounts.models import User
from integrations.errors import TokenRejected, UpstreamError
from integrations.models import Health

if TYPE_CHECKING:
    from integrations.cache import Read
    from integrations.models import Credential


@dataclass(frozen=True)
class CheckResult:
    """What the upstream said about a token."""

    health: Health
    detail: str = ""
    scopes: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    error: UpstreamError | None = None
    channel: str = ""

    @property
    def accepted(self) -> bool:
        """Whether a token with this result may be saved (a missing scope only warns)."""
        return self.health in (Health.OK, Health.MISSING_SCOPE)

    def apply_to(self, credential: Credential, actor: User | None, *, use: bool = True) -> None:
        """Write this answer onto the credential (not saved); `use` off for the portal's own
        background checks, which are nobody's use of the token."""
        now = timezone.now()
        credential.health = self.health
        credential.health_detail = self.detail[:300]
        credential.checked_at = now
        if self.health == Health.UNREACHABLE:
            credential.unreachable_since = credential.unreachable_since or now
        else:
            credential.unreachable_since = None
        if use:
            credential.last_used_at = now
            credential.last_used_by = actor
        if self.accepted:
            credential.scopes = self.scopes
            credential.expires_at = self.expires_at
            credential.channel = self.channel[:200]


@sensitive_variables("token")
def run_check(check: Callable[[Secret], CheckResult], token: Secret) -> CheckResult:
    """A service's check, with the upstream's refusals turned into results instead of errors."""
    try:
        return check(token)
    except TokenRejected as exc:
        return CheckResult(
            Health.EXPIRED if exc.expired else Health.REJECTED, exc.message, error=exc
        )
    except UpstreamError as exc:  # unavailable, rate limited, unreadable, ...
        return CheckResult(Health.UNREACHABLE, exc.message, error=exc)


@dataclass(frozen=True)
class Fact:
    """One line of a credential's card on the dashboard: "Apps" "30"."""

    label: str
    value: str


@dataclass(frozen=True)
class Summary:
    """What the dashboard shows of a credential: a few facts and the screen they come from."""

    facts: tuple[Fact, ...]
    url: str


def _nothing_to_prepare(credential: Credential, actor: User | None) -> None:
    return None


def _nothing_to_forget(credential: Credential) -> tuple[str, str]:
    return "", ""


def _nothing_to_refresh(credential: Credential, ahead: timedelta) -> None:
    return None


@dataclass(frozen=True)
class Upstream:
    """One service the portal talks to."""

    key: str  # the `Service` value stored on credentials
    label: str
    #: Asks the upstream about a token: a CheckResult, or an UpstreamError raised.
    check: Callable[[Secret], CheckResult]
    #: The top navigation's entry for this service: its text and the URL name it opens.
    nav_label: str
    nav_url: str
    #: Run before a check, to bring the stored token up to date (e.g. an OAuth refresh).
    prepare: Callable[[Credential, User | None], None] = _nothing_to_prepare
    #: Run when a credential is unlinked (e.g. revoke the token upstream); returns what the
    #: activity log should say and a warning to show the person, each possibly "".
    forget: Callable[[Credential], tuple[str, str]] = _nothing_to_forget
    #: Run by the background watch: renew a token that expires within `ahead` (Pulsoid's OAuth
    #: refresh), so an unused credential stays usable.
    refresh_ahead: Callable[[Credential, timedelta], None] = _nothing_to_refresh
    #: Whether the service's tokens ever expire (those that do not get a rotation reminder).
    tokens_expire: bool = False
    #: What each scope of a token enables in the portal, for the credentials page.
    scope_features: Mapping[str, str] = field(default_factory=dict)
    #: The dashboard's card of a credential, read through the upstream cache (`cache.read`:
    #: `fresh` asks upstream again); raises UpstreamError or CredentialUnusable.
    summarize: Callable[[Credential, User, bool], Read[Summary]] | None = None
