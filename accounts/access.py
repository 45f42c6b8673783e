"""The one place that answers "may this person do this in this team".

viewers read; members also create and rename upstream things; admins also manage credentials;
owners also manage members. Every view goes through `team_view(...)`, which loads the person's
active team, answers 403 when the role is missing, and hands the view `request.membership`.
Objects are always looked up inside the active team (`team_object_or_404`), so another team's
objects answer 404 whatever their id.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from accounts.models import Activity, Membership, Role, Team, User
from portal.htmx import PortalRequest

SESSION_TEAM_KEY = "active_team_id"

M = TypeVar("M", bound=Model)


class Action(StrEnum):
    READ = "read"
    CHANGE_UPSTREAM = "change upstream apps and widgets"
    MANAGE_CREDENTIALS = "manage credentials"
    MANAGE_MEMBERS = "manage members"


# The weakest role allowed to take each action.
MINIMUM_ROLE: dict[Action, Role] = {
    Action.READ: Role.VIEWER,
    Action.CHANGE_UPSTREAM: Role.MEMBER,
    Action.MANAGE_CREDENTIALS: Role.ADMIN,
    Action.MANAGE_MEMBERS: Role.OWNER,
}


def may(membership: Membership | None, action: Action) -> bool:
    """Whether this membership's role allows `action` in its team."""
    if membership is None:
        return False
    return Role(membership.role).rank >= MINIMUM_ROLE[action].rank


def refusal(membership: Membership, action: Action, page: str = "") -> str:
    """Why this membership may not take `action` (or open `page`), as the 403 page says it:
    "Activity is for the team's admins and owners; you are a member of Acme." or "Only the
    team's admins and owners may manage credentials; you are a member of Acme."."""
    allowed = [f"{role.label.lower()}s" for role in Role if may_role(role, action)]
    who = allowed[0] if len(allowed) == 1 else f"{', '.join(allowed[:-1])} and {allowed[-1]}"
    role = Role(membership.role).label.lower()
    article = "an" if role[:1] in "aeiou" else "a"
    you = f"you are {article} {role} of {membership.team}."
    if page:
        return f"{page} is for the team's {who}; {you}"
    return f"Only the team's {who} may {action}; {you}"


def may_role(role: Role, action: Action) -> bool:
    return role.rank >= MINIMUM_ROLE[action].rank


def allowed_actions(membership: Membership | None) -> dict[str, bool]:
    """`{"manage_credentials": True, ...}` for templates, which cannot call `may`."""
    return {action.name.lower(): may(membership, action) for action in Action}


def active_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team the person is working in (their first team by default).

    Read fresh on every request, so a removed membership stops working at once.
    """
    if not hasattr(request, "_active_membership"):
        request._active_membership = _load_active_membership(request)  # type: ignore[attr-defined]
    return request._active_membership  # type: ignore[attr-defined]


def memberships_of(request: HttpRequest) -> list[Membership]:
    """All of the person's memberships with their teams, read once per request (one query)."""
    if not hasattr(request, "_memberships"):
        user = request.user
        request._memberships = (  # type: ignore[attr-defined]
            list(
                Membership.objects.filter(user_id=user.pk)
                .select_related("team")
                .order_by("joined_at", "id")
            )
            if user.is_authenticated
            else []
        )
    return request._memberships  # type: ignore[attr-defined]


def _load_active_membership(request: HttpRequest) -> Membership | None:
    memberships = memberships_of(request)
    wanted = request.session.get(SESSION_TEAM_KEY) if hasattr(request, "session") else None
    chosen = next((m for m in memberships if m.team_id == wanted), None)
    if chosen is None and wanted is not None:
        _say_team_is_gone(request, wanted)
        request.session.pop(SESSION_TEAM_KEY)
    if chosen is None and memberships:
        chosen = memberships[0]
        request.session[SESSION_TEAM_KEY] = chosen.team_id
    return chosen


def _say_team_is_gone(request: HttpRequest, team_id: int) -> None:
    """The team the person was working in is no longer theirs (an owner removed them, or they
    left in another browser): say so once, on the next page; `team_view` then sends them on."""
    request._team_gone = True  # type: ignore[attr-defined]
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        return
    # The log says whether they left or were removed.
    email = getattr(request.user, "email", "")
    ended = (
        Activity.objects.filter(
            team=team, target=email, action__in=("member removed", "member left")
        )
        .order_by("-id")
        .values_list("action", flat=True)
        .first()
    )
    text = f"You left {team}." if ended == "member left" else f"You were removed from {team}."
    messages.warning(request, text, fail_silently=True)


def switch_team(request: HttpRequest, team_id: int) -> Membership:
    membership = get_object_or_404(
        Membership.objects.select_related("team"), user=request.user, team_id=team_id
    )
    request.session[SESSION_TEAM_KEY] = membership.team_id
    request._active_membership = membership  # type: ignore[attr-defined]
    return membership


def create_team(user: User, name: str) -> Membership:
    """A new team with `user` as its owner."""
    team = Team.objects.create(name=name)
    return Membership.objects.create(user=user, team=team, role=Role.OWNER)


def team_view(
    action: Action, page: str = ""
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Require a logged-in person whose role in the active team allows `action`.

    Place it after the method and login decorators. A person without any team is sent to
    create one; a missing role is a 403 whose page says why (naming `page`, the screen, when
    given).
    """

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: PortalRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = active_membership(request)
            if membership is None:
                return redirect("accounts:team-create")
            if getattr(request, "_team_gone", False) and (
                request.method != "GET" or request.htmx or request.path != reverse("home")
            ):
                # This address (or this action) was about the team that is gone: start from the
                # dashboard of the team they are now in.
                return redirect("home")
            if not may(membership, action):
                raise PermissionDenied(refusal(membership, action, page))
            if membership.team.require_two_factor and not is_mfa_enabled(request.user):
                messages.warning(
                    request,
                    f"{membership.team} requires two-factor authentication: set up a second "
                    "factor to see its pages.",
                )
                return redirect("mfa_index")
            request.membership = membership
            request.team = membership.team
            return view(request, *args, **kwargs)

        # Read by the role-matrix test, which walks the URLconf: every team route says who may.
        wrapped.team_action = action  # type: ignore[attr-defined]
        return wrapped

    return decorate


def team_object_or_404(model: type[M], request: PortalRequest, **lookup: Any) -> M:
    """An object of the active team; another team's object is a 404, never a 403.

    The one way views load a team's object (credentials, members, invitations).
    """
    return get_object_or_404(model, team=request.team, **lookup)
