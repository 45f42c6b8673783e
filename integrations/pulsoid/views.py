"""Pulsoid: create, list and reconfigure widgets with a live preview; connect through OAuth.

A click travels: the template → a view here (role, credential, form) → `oauth.call_pulsoid`
(keeps an OAuth token fresh) → `PulsoidClient` → `integrations/http.py` → Pulsoid.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import activity
from accounts.access import Action, may, team_object_or_404, team_view
from integrations import cache
from integrations.errors import MissingScope, PremiumRequired, TokenRejected, UpstreamError
from integrations.models import Credential, Service
from integrations.pulsoid.checks import SCOPE_FEATURES
from integrations.pulsoid.client import (
    SCOPE_HEART_RATE_READ,
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    Widget,
)
from integrations.pulsoid.forms import WidgetEditor, summary
from integrations.pulsoid.oauth import OAUTH_SCOPES, call_pulsoid, link_oauth, pulsoid_oauth
from integrations.tokens import CredentialUnusable
from portal.htmx import PortalRequest, render_screen

SESSION_OAUTH_KEY = "pulsoid_oauth"


def _credential(request: PortalRequest, cid: int) -> Credential:
    return team_object_or_404(Credential, request, pk=cid, service=Service.PULSOID)


def blocked(credential: Credential) -> dict[str, str]:
    """Why a control is disabled, per scope this credential lacks: `{"widgets_update": "..."}`."""
    reasons = {}
    for scope in (SCOPE_WIDGETS_READ, SCOPE_WIDGETS_UPDATE, SCOPE_HEART_RATE_READ):
        if scope not in credential.scopes:
            key = scope.replace(":", "_").replace("data_", "")
            reasons[key] = (
                f"Disabled: the token lacks “{scope}”, needed for {SCOPE_FEATURES[scope]}."
            )
    return reasons


def viewer_url(widget_id: str) -> str:
    return f"{settings.PULSOID_WIDGET_VIEWER_URL}{widget_id}"


def advice(exc: Exception) -> str:
    """What the person should do about a failed widget action."""
    if isinstance(exc, MissingScope):
        return (
            f"{exc.message} Link a token that has it (or connect with Pulsoid again) on the "
            "credentials page."
        )
    if isinstance(exc, PremiumRequired):
        return f"{exc.message} Upgrade the Pulsoid account, or use the basic options only."
    if isinstance(exc, TokenRejected):
        return f"{exc.message} An admin can replace it on the credentials page."
    return getattr(exc, "message", str(exc))


def _widgets_loader(request: PortalRequest, credential: Credential) -> Callable[[], list[Widget]]:
    return lambda: call_pulsoid(credential, request.user, lambda client: client.list_widgets())


def _load_widgets(request: PortalRequest, credential: Credential) -> list[Widget]:
    return cache.cached(credential.pk, "widgets", _widgets_loader(request, credential))


# Choosing a credential and listing widgets


@require_GET
@login_required
@team_view(Action.READ)
def widgets_home(request: PortalRequest) -> HttpResponse:
    credentials = list(Credential.objects.filter(team=request.team, service=Service.PULSOID))
    if len(credentials) == 1:
        return redirect("widget-list", cid=credentials[0].pk)
    return render(request, "pulsoid/widgets_pick.html", {"credentials": credentials})


@require_GET
@login_required
@team_view(Action.READ)
def widget_list(request: PortalRequest, cid: int) -> HttpResponse:
    credential = _credential(request, cid)
    context: dict[str, Any] = {
        "credential": credential,
        "credentials": Credential.objects.filter(team=request.team, service=Service.PULSOID),
        "blocked": blocked(credential),
        "widgets": None,
        "error": None,
    }
    if "widgets_read" not in context["blocked"]:
        try:
            found = cache.read(
                credential.pk,
                "widgets",
                _widgets_loader(request, credential),
                fresh=bool(request.GET.get("fresh")),
            )
            context["freshness"] = found
            context["widgets"] = [(w, viewer_url(w.id)) for w in found.value]
        except (CredentialUnusable, UpstreamError) as exc:
            context["error"] = advice(exc)
    return render_screen(request, "pulsoid/widgets.html", "widget-table", context)


# Creating and reconfiguring: the editor is kept in step in the browser (widget-editor.js); the
# server sees it only when it is saved.


def _editor_page(
    request: PortalRequest,
    credential: Credential,
    editor: WidgetEditor | None,
    *,
    widget: Widget | None = None,
    status: int = 200,
    notice: str = "",
) -> HttpResponse:
    """The editor, or for those who may not change widgets (`editor` None) a summary."""
    context = {
        "credential": credential,
        "editor": editor,
        "widget": widget,
        "summary": summary(widget.configuration) if widget and editor is None else None,
        "viewer": viewer_url(widget.id) if widget else "",
        "blocked": blocked(credential),
        "notice": notice,
        "poll_seconds": settings.PULSOID_POLL_SECONDS,
    }
    return render(request, "pulsoid/widget_edit.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def widget_create(request: PortalRequest, cid: int) -> HttpResponse:
    credential = _credential(request, cid)
    if request.method == "GET":
        return _editor_page(request, credential, WidgetEditor())
    editor = WidgetEditor(request.POST.dict())
    if not editor.is_valid():
        return _editor_page(request, credential, editor)
    name, configuration = editor.form.cleaned_data["name"], editor.configuration()
    try:
        widget = call_pulsoid(
            credential, request.user, lambda client: client.create_widget(name, configuration)
        )
    except (CredentialUnusable, UpstreamError) as exc:
        _log(request, credential, "widget created", name, exc)
        editor.form.add_error(None, advice(exc))
        return _editor_page(request, credential, editor)
    cache.invalidate(credential.pk)
    _log(request, credential, "widget created", f"{widget.name} ({widget.id})")
    messages.success(
        request, f"Created the widget “{widget.name}”. Its viewer URL: {viewer_url(widget.id)}"
    )
    return redirect("widget-edit", cid=credential.pk, wid=widget.id)


@never_cache
@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.READ)
def widget_edit(request: PortalRequest, cid: int, wid: str) -> HttpResponse:
    """The widget's configuration in the form; saving sends the whole configuration."""
    credential = _credential(request, cid)
    try:
        widget = next((w for w in _load_widgets(request, credential) if w.id == wid), None)
    except (CredentialUnusable, UpstreamError) as exc:
        if request.method != "POST" or not may(request.membership, Action.CHANGE_UPSTREAM):
            return render(
                request,
                "pulsoid/widget_missing.html",
                {"credential": credential, "message": advice(exc)},
            )
        # A save needs only the widget's id: try it, and on failure the editor comes back with
        # everything typed (a list that will not load must not throw the person's work away).
        widget = _unread_widget(credential, wid)
    if widget is None:
        message = "Pulsoid has no widget with that id for this credential."
        return render(
            request,
            "pulsoid/widget_missing.html",
            {"credential": credential, "message": message},
            status=404,
        )
    if request.method == "GET":
        editor = _showing(widget) if may(request.membership, Action.CHANGE_UPSTREAM) else None
        return _editor_page(request, credential, editor, widget=widget)
    if not may(request.membership, Action.CHANGE_UPSTREAM):
        raise PermissionDenied("Viewers cannot reconfigure widgets.")
    editor = WidgetEditor({**request.POST.dict(), "name": widget.name}, name_editable=False)
    if not editor.is_valid():
        return _editor_page(request, credential, editor, widget=widget)
    configuration = editor.configuration()
    try:
        updated = call_pulsoid(
            credential, request.user, lambda client: client.update_widget(widget.id, configuration)
        )
    except (CredentialUnusable, UpstreamError) as exc:
        _log(request, credential, "widget updated", f"{widget.name} ({widget.id})", exc)
        editor.form.add_error(None, advice(exc))
        return _editor_page(request, credential, editor, widget=widget)
    cache.invalidate(credential.pk)
    _log(request, credential, "widget updated", f"{updated.name} ({updated.id})")
    notice = f"Saved the configuration of “{updated.name}”."
    return _editor_page(request, credential, _showing(updated), widget=updated, notice=notice)


def _unread_widget(credential: Credential, wid: str) -> Widget:
    """A widget whose list could not be read just now: as an earlier read saw it, or its id."""
    earlier = cache.peek(credential.pk, "widgets")
    for widget in earlier.value if earlier is not None else ():
        if widget.id == wid:
            return widget
    return Widget(id=wid, meta_id="", name=f"widget {wid}", configuration={})


def _showing(widget: Widget) -> WidgetEditor:
    """The editor filled with a widget as Pulsoid has it (its name cannot change)."""
    return WidgetEditor(name=widget.name, configuration=widget.configuration, name_editable=False)


def _log(
    request: PortalRequest,
    credential: Credential,
    action: str,
    target: str,
    exc: Exception | None = None,
) -> None:
    activity.record(
        request.team, request.user, action, credential=credential, target=target, error=exc
    )


# The live heart rate, polled by the open page; the token never leaves the server


@never_cache
@require_GET
@login_required
@team_view(Action.READ)
def heart_rate(request: PortalRequest, cid: int) -> HttpResponse:
    credential = _credential(request, cid)
    context: dict[str, Any] = {"credential": credential, "reading": None, "problem": ""}
    reasons = blocked(credential)
    if "heart_rate_read" in reasons:
        context["problem"] = reasons["heart_rate_read"]
    else:
        try:
            context["reading"] = call_pulsoid(
                credential, request.user, lambda client: client.latest_heart_rate()
            )
        except (CredentialUnusable, UpstreamError) as exc:
            context["problem"] = advice(exc)
    return render_screen(request, "pulsoid/heart_rate.html", "heart-rate", context)


# Connect with Pulsoid (OAuth authorization code)


@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def pulsoid_connect(request: PortalRequest) -> HttpResponse:
    """Send the browser to Pulsoid's consent page, with a `state` bound to this session."""
    oauth = pulsoid_oauth()
    if oauth is None:
        messages.error(request, "Connecting with Pulsoid is not configured on this portal.")
        return redirect("credentials")
    label = (request.POST.get("label") or "").strip()[:80] or "Pulsoid account"
    state = secrets.token_urlsafe(32)
    request.session[SESSION_OAUTH_KEY] = {"state": state, "label": label, "team": request.team.pk}
    redirect_uri = request.build_absolute_uri(reverse("pulsoid-callback"))
    return redirect(oauth.authorize_url(redirect_uri, OAUTH_SCOPES, state))


@never_cache
@require_GET
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def pulsoid_callback(request: PortalRequest) -> HttpResponse:
    """Pulsoid sends the browser back here with a one-time code; trade it server-side."""
    pending = request.session.pop(SESSION_OAUTH_KEY, None)
    state = request.GET.get("state", "")
    if (
        not pending
        or not state
        or not secrets.compare_digest(str(pending.get("state", "")), state)
        or pending.get("team") != request.team.pk
    ):
        message = (
            "This sign-in could not be verified (it does not match the one this browser "
            "started), so nothing was linked. Start again from the credentials page."
        )
        return render(request, "pulsoid/oauth_problem.html", {"message": message}, status=400)
    if request.GET.get("error") or not request.GET.get("code"):
        messages.warning(request, "Pulsoid sign-in was cancelled; nothing was linked.")
        return redirect("credentials")
    oauth = pulsoid_oauth()
    if oauth is None:
        messages.error(request, "Connecting with Pulsoid is not configured on this portal.")
        return redirect("credentials")
    redirect_uri = request.build_absolute_uri(reverse("pulsoid-callback"))
    try:
        tokens = oauth.exchange_code(request.GET["code"], redirect_uri)
    except UpstreamError as exc:
        activity.record(
            request.team,
            request.user,
            "credential linked",
            target=pending.get("label", ""),
            error=exc,
            detail=f"Pulsoid sign-in: {exc.message}",
        )
        messages.error(request, f"Nothing was linked: {exc.message}")
        return redirect("credentials")
    credential = link_oauth(request.team, request.user, pending["label"], tokens)
    messages.success(request, f"Connected the Pulsoid account as “{credential.label}”.")
    return redirect("credentials")
