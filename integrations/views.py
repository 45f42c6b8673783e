"""The credentials page: list, link, check, replace and unlink a team's upstream tokens.

What an action did is said in the credentials panel (`includes/notices.html`): inline when the
panel is answered directly (link, check, with or without htmx), or as the message left by the
replace and unlink pages, which lead back to it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import sudo
from accounts.access import Action, team_object_or_404, team_view
from accounts.crypto import Secret
from integrations import alerts
from integrations import credentials as service
from integrations.forms import LinkCredentialForm, ReplaceTokenForm
from integrations.models import Credential, Health
from integrations.pulsoid.oauth import pulsoid_oauth
from integrations.registry import UPSTREAMS
from portal.htmx import PortalRequest, render_screen


def _scope_features() -> dict[str, str]:
    """What each scope enables, over every service (the credentials page shows a token's)."""
    return {scope: what for u in UPSTREAMS.values() for scope, what in u.scope_features.items()}


def _credentials_context(
    request: PortalRequest, form: LinkCredentialForm | None = None, **extra: Any
) -> dict[str, Any]:
    back = reverse("credentials")
    if form is None:
        # Back from confirming it is them: the link form as they had filled it (never the token).
        kept = sudo.restore(request) if request.method == "GET" else None
        form = LinkCredentialForm(initial=kept or None, team=request.team)
    return {
        **sudo.context(request, back),
        "departed": service.departed_linkers(request.team),
        "credentials": Credential.objects.filter(team=request.team).select_related(
            "linked_by", "last_used_by", "pulsoid_grant"
        ),
        "form": form,
        "oauth_enabled": pulsoid_oauth() is not None,
        "scope_features": _scope_features(),
        "conditions": alerts.conditions(request.team),
        **extra,
    }


@never_cache
@require_GET
@login_required
@team_view(Action.READ)
def credential_list(request: PortalRequest) -> HttpResponse:
    return render_screen(
        request, "credentials.html", "credentials-panel", _credentials_context(request)
    )


@never_cache
@sensitive_post_parameters("token")
@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_link(request: PortalRequest) -> HttpResponse:
    """Check the token upstream, then save it; a rejected token is not saved."""
    form = LinkCredentialForm(request.POST, team=request.team)
    context: dict[str, Any] = {}
    sudo_error = sudo.confirm(request, reverse("credentials")) if form.is_valid() else ""
    if sudo_error:
        context["sudo_error"] = sudo_error
    elif form.is_valid():
        data = form.cleaned_data
        credential, result = service.link(
            request.team, request.user, data["service"], data["label"], Secret(data["token"])
        )
        if credential is None:
            form.add_error("token", _refusal(result))
        else:
            context["notice"] = f"Linked “{credential.label}”. " + (
                result.detail or "The token works."
            )
            if result.health == Health.MISSING_SCOPE:
                context["notice_level"] = "warning"
            form = LinkCredentialForm(team=request.team)
    context = _credentials_context(request, form, **context)
    return render_screen(request, "credentials.html", "credentials-panel", context)


def _refusal(result: service.CheckResult) -> str:
    if result.health == Health.UNREACHABLE:
        return f"The token could not be checked, so it was not saved: {result.detail}"
    return f"Not saved: {result.detail}"


@never_cache
@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_check(request: PortalRequest, pk: int) -> HttpResponse:
    credential = team_object_or_404(Credential, request, pk=pk)
    service.recheck(credential, request.user)  # updates `credential` in place
    if not request.htmx:  # the same screen, with the answer where actions answer
        notice = f"Checked “{credential.label}”: {credential.get_health_display()}."
        context = _credentials_context(request, notice=notice, notice_level="info")
        return render(request, "credentials.html", context)
    # The row itself is the answer: its health, detail and "checked" time are new.
    context = {
        "credential": credential,
        "scope_features": _scope_features(),
        "conditions": alerts.conditions(request.team),
    }
    return render(request, "credentials.html#credential-row", context)


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_replace(request: PortalRequest, pk: int) -> HttpResponse:
    credential = team_object_or_404(Credential, request, pk=pk)
    form = ReplaceTokenForm(request.POST or None)
    back = request.path
    posted = request.method == "POST" and form.is_valid()
    sudo_error = sudo.confirm(request, back) if posted else ""
    if request.method == "POST" and form.is_valid() and not sudo_error:
        result = service.replace(credential, request.user, Secret(form.cleaned_data["token"]))
        if result.accepted:
            messages.success(request, f"Replaced the token of “{credential.label}”.")
            return redirect("credentials")
        # The token input never renders its value, so the bound form is safe to show again.
        form.add_error("token", _refusal(result))
    context = {
        "credential": credential,
        "form": form,
        **sudo.context(request, back),
        "sudo_error": sudo_error,
    }
    return render(request, "credential_replace.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_unlink(request: PortalRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST unlinks."""
    credential = team_object_or_404(Credential, request, pk=pk)
    sudo_error = sudo.confirm(request, request.path) if request.method == "POST" else ""
    if request.method == "POST" and not sudo_error:
        label = credential.label
        warning = service.unlink(credential, request.user)
        messages.success(request, f"Unlinked “{label}”. The portal no longer holds its token.")
        if warning:
            messages.warning(request, warning)
        return redirect("credentials")
    context = {"credential": credential, **sudo.context(request, request.path)}
    context["sudo_error"] = sudo_error
    return render(request, "credential_unlink.html", context)
