"""The members page: invitations, roles, removal and leaving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import sudo, team
from accounts.access import Action, team_object_or_404, team_view
from accounts.models import Invitation, Membership, Role
from accounts.team import SESSION_INVITATION, with_article
from portal.htmx import PortalRequest

# A new invitation's link, kept from the POST that made it to the page it redirects to, which
# shows it once (a reload then neither repeats the POST nor shows the link again).
SESSION_NEW_INVITATION = "new_invitation"


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


def _members_context(
    request: PortalRequest, role_problem: tuple[int, str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The members page. `role_problem` is (membership id, role chosen, why it was not made):
    that row's role picker keeps the choice and says why beside it."""
    if request.method == "GET":
        # Back from confirming it is them: the role they had chosen is still chosen.
        kept = sudo.restore(request) or {}
        if str(kept.get("member", "")).isdigit() and kept.get("role") in Role.values:
            role_problem = (int(kept["member"]), kept["role"], "")
        extra.update(request.session.pop(SESSION_NEW_INVITATION, None) or {})
    factors = team.second_factors(request.team)
    people = list(
        Membership.objects.filter(team=request.team).select_related("user").order_by("joined_at")
    )
    for membership in people:
        membership.factors = factors.get(membership.user_id, [])  # type: ignore[attr-defined]
        membership.chosen_role = membership.role  # type: ignore[attr-defined]
        if role_problem and role_problem[0] == membership.pk:
            membership.chosen_role, membership.role_error = role_problem[1:]  # type: ignore[attr-defined]
    return {
        # Not `memberships`: every page's context has that name for the person's own teams.
        "people": people,
        "invitations": Invitation.objects.filter(
            team=request.team, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
        ),
        "invite_form": extra.pop("invite_form", None) or InviteForm(),
        "roles": Role.choices,
        **sudo.context(request, reverse("accounts:members")),
        **extra,
    }


@require_GET
@login_required
@team_view(Action.READ)
def members(request: PortalRequest) -> HttpResponse:
    return _members_page(request)


@require_POST
@login_required
@team_view(Action.MANAGE_MEMBERS)
def invite(request: PortalRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return render(request, "members.html", _members_context(request, invite_form=form))
    email = form.cleaned_data["email"].lower()
    if Membership.objects.filter(team=request.team, user__email__iexact=email).exists():
        form.add_error("email", f"{email} is already in the team.")
        return render(request, "members.html", _members_context(request, invite_form=form))
    invited = team.send_invitation(
        request.team,
        request.user,
        email,
        form.cleaned_data["role"],
        lambda secret: request.build_absolute_uri(reverse("accounts:invitation", args=[secret])),
    )
    request.session[SESSION_NEW_INVITATION] = {
        "new_link": invited.link,
        "new_email": email,
        "new_mailed": invited.mailed,
    }
    return redirect("accounts:members")


@require_POST
@login_required
@team_view(Action.MANAGE_MEMBERS)
def invitation_revoke(request: PortalRequest, pk: int) -> HttpResponse:
    invitation = team_object_or_404(Invitation, request, pk=pk)
    return _change(
        request,
        lambda: team.revoke_invitation(invitation, request.user),
        f"Revoked the invitation to {invitation.email}.",
    )


@require_POST
@login_required
@team_view(Action.MANAGE_MEMBERS)
def member_role(request: PortalRequest, pk: int) -> HttpResponse:
    membership = team_object_or_404(Membership, request, pk=pk)
    role = request.POST.get("role", "")
    if role not in Role.values:
        return _members_page(request, role_problem=(membership.pk, role, "Pick one of the roles."))
    problem = sudo.confirm(request, reverse("accounts:members"))
    if problem:
        return _members_page(request, role_problem=(membership.pk, role, problem))
    return _change(
        request,
        lambda: team.change_role(membership, role, request.user),
        f"{membership.user.email} is now {Role(role).label.lower()}.",
    )


@require_POST
@login_required
@team_view(Action.MANAGE_MEMBERS)
def member_remove(request: PortalRequest, pk: int) -> HttpResponse:
    membership = team_object_or_404(Membership, request, pk=pk)
    sign_out = request.POST.get("sign_out") == "on"

    def remove() -> None:
        team.remove(membership, request.user)
        if sign_out:
            team.sign_out_everywhere(request.team, membership.user, request.user)

    done = f"Removed {membership.user.email} from the team."
    if sign_out:
        done += " They are signed out everywhere."
    return _sensitive_member_change(request, remove, done)


@require_POST
@login_required
@team_view(Action.MANAGE_MEMBERS)
def team_policy(request: PortalRequest) -> HttpResponse:
    """Owners require (or stop requiring) a second factor of everyone in the team."""
    required = request.POST.get("require_two_factor") == "on"
    state = "now requires" if required else "no longer requires"
    return _sensitive_member_change(
        request,
        lambda: team.require_two_factor(request.team, required, request.user),
        f"{request.team} {state} two-factor authentication.",
    )


def _sensitive_member_change(
    request: PortalRequest, change: Callable[[], None], success: str
) -> HttpResponse:
    """Ask the person to confirm it is them when they have not lately, then make the change or
    say why not."""
    problem = sudo.confirm(request, reverse("accounts:members"))
    if problem:
        return _members_page(request, sudo_error=problem)
    return _change(request, change, success)


def _change(request: PortalRequest, change: Callable[[], None], success: str) -> HttpResponse:
    """Make a change to the team, then send the person back to the members page (a GET, so
    reloading it sends nothing again), which says how it went."""
    try:
        change()
    except team.TeamRuleBroken as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("accounts:members")


def _members_page(request: PortalRequest, **extra: Any) -> HttpResponse:
    return render(request, "members.html", _members_context(request, **extra))


@require_POST
@login_required
@team_view(Action.READ)
def leave(request: PortalRequest) -> HttpResponse:
    try:
        team.remove(request.membership, request.user)
    except team.TeamRuleBroken:
        messages.error(request, "You are the last owner: make someone else owner before leaving.")
        return redirect("accounts:members")
    request.session.pop("active_team_id", None)
    messages.info(request, f"You left {request.team}.")
    return redirect("home")


# Opening an invitation link


@require_http_methods(["GET", "POST"])
def invitation(request: PortalRequest, secret: str) -> HttpResponse:
    found = team.find_invitation(secret)
    if found is None or found.state != "pending":
        state = found.state if found else "unknown"
        return render(
            request,
            "invitation.html",
            {"invitation": found, "state": state},
            status=410 if found else 404,
        )
    if not request.user.is_authenticated:
        # Remembered so that sign-up (even when closed to the public) can bring them in.
        request.session[SESSION_INVITATION] = secret
        return render(
            request, "invitation.html", {"invitation": found, "state": "pending", "secret": secret}
        )
    if request.method == "POST":
        try:
            membership = team.accept(found, request.user)
        except team.TeamRuleBroken as exc:
            return render(
                request,
                "invitation.html",
                {"invitation": found, "state": "refused", "problem": exc.message},
            )
        request.session.pop(SESSION_INVITATION, None)
        request.session["active_team_id"] = membership.team_id
        messages.success(
            request,
            f"Welcome to {membership.team}! You are {with_article(membership.get_role_display())}.",
        )
        return redirect("credentials")
    return render(
        request, "invitation.html", {"invitation": found, "state": "pending", "secret": secret}
    )
