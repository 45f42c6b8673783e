"""The credentials page: list, link, check, replace and unlink a team's upstream tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Action, team_object_or_404, team_view
from accounts.crypto import Secret
from accounts.models import Activity, Credential, Health
from integrations import credentials as service
from integrations.forms import LinkCredentialForm, ReplaceTokenForm
from portal.htmx import PortalRequest, render_screen

ACTIVITY_PAGE_SIZE = 50


def _credentials_context(request: PortalRequest, form: LinkCredentialForm | None = None, **extra):
    return {
        "credentials": Credential.objects.filter(team=request.team).select_related(
            "linked_by", "last_used_by"
        ),
        "form": form or LinkCredentialForm(team=request.team),
        "oauth_enabled": service.pulsoid_oauth() is not None,
        "scope_features": service.PULSOID_SCOPE_FEATURES,
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
    notice = None
    if form.is_valid():
        data = form.cleaned_data
        credential, result = service.link(
            request.team, request.user, data["service"], data["label"], Secret(data["token"])
        )
        if credential is None:
            form.add_error("token", _refusal(result))
        else:
            notice = {
                "level": "warning" if result.health == Health.MISSING_SCOPE else "success",
                "text": f"Linked “{credential.label}”. " + (result.detail or "The token works."),
            }
            form = LinkCredentialForm(team=request.team)
            if not request.htmx:
                messages.success(request, notice["text"])
                return redirect("credentials")
    context = _credentials_context(request, form, notice=notice)
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
    service.recheck(credential, request.user)
    credential.refresh_from_db()
    if not request.htmx:
        messages.info(request, f"Checked “{credential.label}”: {credential.get_health_display()}.")
        return redirect("credentials")
    context = {"credential": credential, "scope_features": service.PULSOID_SCOPE_FEATURES}
    return render(request, "credentials.html#credential-row", context)


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_replace(request: PortalRequest, pk: int) -> HttpResponse:
    credential = team_object_or_404(Credential, request, pk=pk)
    form = ReplaceTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = service.replace(credential, request.user, Secret(form.cleaned_data["token"]))
        if result.accepted:
            messages.success(request, f"Replaced the token of “{credential.label}”.")
            return redirect("credentials")
        # The token input never renders its value, so the bound form is safe to show again.
        form.add_error("token", _refusal(result))
    return render(request, "credential_replace.html", {"credential": credential, "form": form})


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def credential_unlink(request: PortalRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST unlinks."""
    credential = team_object_or_404(Credential, request, pk=pk)
    if request.method == "POST":
        label = credential.label
        warning = service.unlink(credential, request.user)
        messages.success(request, f"Unlinked “{label}”. The portal no longer holds its token.")
        if warning:
            messages.warning(request, warning)
        return redirect("credentials")
    return render(request, "credential_unlink.html", {"credential": credential})


@require_GET
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def activity_list(request: PortalRequest) -> HttpResponse:
    """The team's activity, newest first, paged by id (keyset) so deep pages stay fast."""
    entries = Activity.objects.filter(team=request.team).order_by("-id")
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(id__lt=int(before))
    page = list(entries[: ACTIVITY_PAGE_SIZE + 1])
    more = len(page) > ACTIVITY_PAGE_SIZE
    page = page[:ACTIVITY_PAGE_SIZE]
    context = {
        "entries": page,
        "next_before": page[-1].id if more and page else None,
        "first_page": not before,
    }
    return render_screen(request, "activity.html", "activity-table", context)
