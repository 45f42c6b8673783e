"""What every page needs: the active team, the person's other teams, what they may do, and
one navigation entry per upstream (from the service registry)."""

from typing import Any

from django.http import HttpRequest

from accounts.access import active_membership, allowed_actions, memberships_of
from integrations.alerts import needing_attention
from integrations.registry import UPSTREAMS


def team(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = active_membership(request)
    return {
        "active_membership": membership,
        "active_team": membership.team if membership else None,
        "memberships": memberships_of(request),
        "can": allowed_actions(membership),
        "upstreams": UPSTREAMS.values(),
        # The badge on every page: the team's credentials needing attention.
        "attention": needing_attention(membership.team) if membership else 0,
    }
