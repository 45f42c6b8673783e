"""Writing the team's append-only activity log."""

from __future__ import annotations

from accounts.models import Activity, Credential, Team, User

# Every action the portal records, for the activity page's filter.
ACTIONS = (
    "member joined",
    "member left",
    "member removed",
    "role changed",
    "invitation sent",
    "invitation revoked",
    "credential linked",
    "credential replaced",
    "credential checked",
    "credential refreshed",
    "credential unlinked",
    "app created",
    "app renamed",
    "widget created",
    "widget updated",
)


def record(
    team: Team,
    actor: User | None,
    action: str,
    *,
    credential: Credential | None = None,
    target: str = "",
    error_kind: str = "",
    upstream_status: int | None = None,
    detail: str = "",
) -> Activity:
    """Append one entry. `error_kind` empty means the action succeeded."""
    return Activity.objects.create(
        team=team,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        credential=credential,
        credential_label=credential.label if credential is not None else "",
        target=target[:300],
        outcome=Activity.Outcome.FAILED if error_kind else Activity.Outcome.OK,
        error_kind=error_kind,
        upstream_status=upstream_status,
        detail=detail[:500],
    )
