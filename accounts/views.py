"""Sign-up and log-in (django-allauth's, fitted to invitations), and choosing the active team.

Log-out, password change and reset, email change, second factors and sessions are allauth's own
views (`allauth.urls`), in the portal's templates.
"""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import create_team, switch_team
from accounts.forms import TeamForm
from accounts.team import pending_invitation
from portal.htmx import PortalRequest


class SignupView(allauth_views.SignupView):
    """allauth's sign-up; an invitation opened in this browser fills in the address and the team."""

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "invitation": pending_invitation(self.request)}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "invitation": pending_invitation(self.request),
        }


class LoginView(allauth_views.LoginView):
    """allauth's log-in, saying whether sign-up is open here."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        open_signup = get_adapter(self.request).is_open_for_signup(self.request)
        return {**super().get_context_data(**kwargs), "open_signup": open_signup}


@require_http_methods(["GET", "POST"])
@login_required
def team_create(request: PortalRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        membership = create_team(request.user, form.cleaned_data["name"])
        switch_team(request, membership.team_id)
        messages.success(request, f"Team “{membership.team}” created; you are its owner.")
        return redirect("credentials")
    return render(request, "accounts/team_create.html", {"form": form})


@require_POST
@login_required
def team_switch(request: PortalRequest) -> HttpResponse:
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError as exc:
        raise Http404("No such team.") from exc
    membership = switch_team(request, team_id)
    messages.info(request, f"Now working in “{membership.team}”.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    return redirect(target)


@require_POST
@login_required
def session_end(request: PortalRequest, pk: int) -> HttpResponse:
    """Sign one of your own sessions out (the sessions page lists them)."""
    from allauth.usersessions.models import UserSession

    session = get_object_or_404(UserSession, pk=pk, user=request.user)
    session.end()
    messages.success(request, "That session is signed out.")
    return redirect("usersessions_list")
