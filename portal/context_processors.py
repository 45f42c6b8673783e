"""What every page needs: the active team, the person's other teams, and what they may do."""

from typing import Any

from django.http import HttpRequest

from accounts.access import active_membership, allowed_actions, memberships_of


def team(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = active_membership(request)
    return {
        "active_membership": membership,
        "active_team": membership.team if membership else None,
        "memberships": memberships_of(request),
        "can": allowed_actions(membership),
    }
