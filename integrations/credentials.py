"""A credential's lifecycle: link (check first, then save), replace, check again, unlink.

Each step asks the service's registry entry for what differs between upstreams (how a token is
checked, what to refresh first, what to revoke), so nothing here branches on the service. Using a
token for a call is `integrations.tokens`.
"""

from __future__ import annotations

import contextlib

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import activity
from accounts.crypto import Secret
from accounts.models import Membership, Team, User
from integrations import cache
from integrations.errors import UpstreamError
from integrations.models import Credential, Health
from integrations.registry import upstream
from integrations.tokens import CredentialUnusable, open_token
from integrations.upstreams import CheckResult, run_check

__all__ = [
    "CheckResult",
    "check_token",
    "departed_linkers",
    "link",
    "recheck",
    "replace",
    "unlink",
]


@sensitive_variables("token")
def check_token(service: str, token: Secret) -> CheckResult:
    """Ask the upstream whether `token` works (each service says how, in its registry entry)."""
    return run_check(upstream(service).check, token)


@sensitive_variables("token")
def link(
    team: Team, actor: User, service: str, label: str, token: Secret
) -> tuple[Credential | None, CheckResult]:
    """Check `token` upstream and save it when it works; returns (credential or None, result)."""
    result = check_token(service, token)
    if not result.accepted:
        return None, result
    credential = Credential(team=team, service=service, label=label, linked_by=actor)
    credential.set_token(token)
    result.apply_to(credential, actor)
    with transaction.atomic():
        credential.save()
        activity.record(
            team, actor, "credential linked", credential=credential, detail=result.detail
        )
    return credential, result


@sensitive_variables("token")
def replace(credential: Credential, actor: User, token: Secret) -> CheckResult:
    """Swap in a new token after checking it; the old one stays when the new one fails.

    Everything cached for the credential is forgotten: the new token may see another account.
    """
    result = check_token(credential.service, token)
    if not result.accepted:
        return result
    credential.set_token(token)
    credential.linked_by = actor
    credential.linked_at = timezone.now()
    result.apply_to(credential, actor)
    with transaction.atomic():
        credential.save()
        activity.record(
            credential.team,
            actor,
            "credential replaced",
            credential=credential,
            detail=result.detail,
        )
    cache.invalidate(credential.pk)
    return result


def recheck(credential: Credential, actor: User | None, *, background: bool = False) -> CheckResult:
    """Validate the stored token again and record the answer on the credential.

    A person's "Check now" is logged every time; the portal's own background check (`actor`
    None) only when the health changes, as "credential health changed".
    """
    before = credential.health
    # A failure here needs no report of its own: the check below says what is wrong.
    with contextlib.suppress(UpstreamError, CredentialUnusable):
        upstream(credential.service).prepare(credential, actor)
    try:
        with open_token(credential) as token:
            result = check_token(credential.service, token)
    except CredentialUnusable as exc:
        result = CheckResult(Health.NEEDS_RELINKING, CredentialUnusable.message)
        if background:
            Credential.objects.filter(pk=credential.pk).update(watched_at=timezone.now())
        if not background or before != Health.NEEDS_RELINKING:
            action = "credential health changed" if background else "credential checked"
            activity.record(credential.team, actor, action, credential=credential, error=exc)
        return result
    result.apply_to(credential, actor, use=not background)
    if background:
        credential.watched_at = timezone.now()
    credential.save()
    if background and credential.health == before:
        return result
    activity.record(
        credential.team,
        actor,
        "credential health changed" if background else "credential checked",
        credential=credential,
        error=None if result.accepted else result.error,
        detail=(
            f"{Health(before).label} → {credential.get_health_display()}"
            + (f": {result.detail}" if result.detail else "")
            if background
            else result.detail or f"Health: {credential.get_health_display()}"
        ),
    )
    return result


def unlink(credential: Credential, actor: User) -> str:
    """Forget a credential, and everything cached for it. The service may revoke the token
    upstream first (best effort): returns a warning to show when that failed."""
    detail, warning = upstream(credential.service).forget(credential)
    with transaction.atomic():
        activity.record(
            credential.team, actor, "credential unlinked", credential=credential, detail=detail
        )
        credential.delete()
    cache.invalidate(credential.pk)
    return warning


def departed_linkers(team: Team) -> set[int]:
    """Ids of the team's credentials linked by someone no longer in it (to flag for replacing)."""
    members = Membership.objects.filter(team=team).values("user_id")
    return set(
        Credential.objects.filter(team=team)
        .exclude(linked_by__in=members)
        .values_list("pk", flat=True)
    )
