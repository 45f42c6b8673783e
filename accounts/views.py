"""Sign-up, log-in, log-out, password change, and choosing the active team."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import team
from accounts.access import SESSION_TEAM_KEY, create_team, switch_team
from accounts.forms import LoginForm, SignupForm, TeamForm
from accounts.views_team import SESSION_INVITATION, pending_invitation
from portal.htmx import PortalRequest


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: PortalRequest) -> HttpResponse:
    """Open sign-up: the person's first team is created with them as its owner."""
    invitation = pending_invitation(request)
    if not settings.PORTAL_OPEN_SIGNUP and invitation is None:
        raise Http404("Sign-up is closed on this portal; ask an owner for an invitation.")
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if invitation is not None:
            membership = team.accept(invitation, user)
            request.session.pop(SESSION_INVITATION, None)
            request.session[SESSION_TEAM_KEY] = membership.team_id
            messages.success(
                request,
                f"Welcome to {membership.team}! You are a {membership.get_role_display().lower()}.",
            )
            return redirect("credentials")
        team_name = form.cleaned_data["team_name"].strip() or f"{user}'s team"
        create_team(user, team_name)
        messages.success(request, f"Welcome! You own the team “{team_name}”.")
        return redirect("credentials")
    return render(request, "accounts/signup.html", {"form": form, "invitation": invitation})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        open_signup = settings.PORTAL_OPEN_SIGNUP or pending_invitation(self.request) is not None
        return {**super().get_context_data(**kwargs), "open_signup": open_signup}


class LogoutView(auth_views.LogoutView):
    next_page = "accounts:login"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-changed")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_changed.html"


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
