"""Writing the team's append-only activity log."""

from __future__ import annotations

from typing import Any, Protocol

from accounts.models import Activity, Team, User

# Every action the portal records, for the activity page's filter.
ACTIONS = (
    "member joined",
    "member left",
    "member removed",
    "role changed",
    "sign-in policy changed",
    "member signed out",
    "API token created",
    "API token revoked",
    "API read",
    "invitation sent",
    "invitation revoked",
    "credential linked",
    "credential replaced",
    "credential checked",
    "credential health changed",
    "credential refreshed",
    "credential unlinked",
    "alert settings changed",
    "alert channel added",
    "alert channel removed",
    "app created",
    "app renamed",
    "device created",
    "device renamed",
    "widget created",
    "widget updated",
    "geofence created",
    "geofence updated",
    "geofence app id set",
    "geofence secret set",
    "geofence event",
)


class Labelled(Protocol):
    """What the log keeps of a credential: its id and its label (kept after it is unlinked)."""

    @property
    def pk(self) -> Any: ...

    @property
    def label(self) -> str: ...


def record(
    team: Team,
    actor: User | None,
    action: str,
    *,
    credential: Labelled | None = None,
    target: str = "",
    error: Exception | None = None,
    detail: str = "",
    via: str = "",
) -> Activity:
    """Append one entry; with `error`, a failed one.

    This is the one place a failure becomes log fields: its kind (the error's class name), the
    upstream's HTTP status when it had one, and its message as the detail unless one is given.
    """
    error_kind = type(error).__name__ if error is not None else ""
    message = getattr(error, "message", "") or (str(error) if error is not None else "")
    return Activity.objects.create(
        team=team,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        credential_id=credential.pk if credential is not None else None,
        credential_label=credential.label if credential is not None else "",
        target=target[:300],
        outcome=Activity.Outcome.FAILED if error is not None else Activity.Outcome.OK,
        error_kind=error_kind,
        upstream_status=getattr(error, "status", None),
        detail=(detail or message)[:500],
        via=via[:100],
    )
