"""Pulsetracker apps: list, open, create and rename, through one of the team's credentials."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache as django_cache
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import activity
from accounts.access import Action, team_view
from accounts.models import Credential, Service
from accounts.prepared import Prepared
from integrations import cache
from integrations.charts import monthly_chart
from integrations.credentials import CredentialUnusable, using
from integrations.errors import NotFound, TokenRejected, UpstreamError, ValidationFailed
from integrations.forms import AppNameForm
from integrations.pulsetracker import App, Page, PulsetrackerClient
from portal import pagecache
from portal.htmx import PortalRequest, render_screen

# Every apps view reads this list (the picker and the credential itself); built once, see
# accounts/prepared.
_credentials_query = Prepared(
    lambda team_id: Credential.objects.filter(team_id=team_id, service=Service.PULSETRACKER),
    "team_id",
)


def _team_credentials(request: PortalRequest) -> list[Credential]:
    """The active team's Pulsetracker credentials, read once per request."""
    if not hasattr(request, "_pulsetracker_credentials"):
        request._pulsetracker_credentials = _credentials_query(  # type: ignore[attr-defined]
            team_id=request.team.pk
        )
    return request._pulsetracker_credentials  # type: ignore[attr-defined]


def _credential(request: PortalRequest, cid: int) -> Credential:
    """One of the team's Pulsetracker credentials; another team's (or none) is a 404."""
    found = next((c for c in _team_credentials(request) if c.pk == cid), None)
    if found is None:
        raise Http404("No such Pulsetracker credential in this team.")
    return found


def _page_number(request: PortalRequest) -> int:
    value = request.GET.get("page", "1")
    return max(1, int(value)) if value.isdigit() else 1


def _fresh_form(data: QueryDict | None = None) -> AppNameForm:
    """A create form; re-shown forms get a new submission id so a retry is not a duplicate."""
    if data is None:
        return AppNameForm(initial={"submission": uuid.uuid4().hex})
    data = data.copy()
    data["submission"] = uuid.uuid4().hex
    form = AppNameForm(data)
    form.is_valid()
    return form


def _failure(exc: Exception) -> dict[str, str]:
    """How the apps table shows a failed read."""
    if isinstance(exc, CredentialUnusable):
        return {"kind": "relink", "message": exc.message}
    if isinstance(exc, TokenRejected):
        return {"kind": "rejected", "message": exc.message}
    assert isinstance(exc, UpstreamError)
    return {"kind": "unavailable", "message": exc.message}


def _error_fields(exc: CredentialUnusable | UpstreamError) -> dict[str, Any]:
    """Activity-log fields describing a failed upstream action."""
    return {
        "error_kind": type(exc).__name__,
        "upstream_status": getattr(exc, "status", None),
        "detail": exc.message,
    }


def load_page(
    request: PortalRequest, credential: Credential, number: int, generation: int | None = None
) -> tuple[Page[App], float]:
    """One upstream call per page view at most; repeat views come from the cache.

    Also says for how many more seconds the cache will serve this page of data.
    """

    def load() -> Page[App]:
        with using(credential, request.user) as token:
            return PulsetrackerClient(token).list_apps(page=number)

    return cache.cached_for(credential.pk, f"apps:{number}", load, generation=generation)


def _list_context(
    request: PortalRequest, credential: Credential, number: int, generation: int | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "credential": credential,
        "credentials": _team_credentials(request),
        "page": None,
        "error": None,
        "page_number": number,
    }
    # The rendered table is cached like the data it shows, and forgotten with it: both are keyed
    # by the credential's cache generation, read once per request.
    if generation is None and settings.UPSTREAM_CACHE_SECONDS > 0:
        generation = cache.version(credential.pk)
    context["cache_seconds"] = settings.UPSTREAM_CACHE_SECONDS
    context["cache_version"] = generation
    context["fresh_for"] = 0.0
    try:
        context["page"], context["fresh_for"] = load_page(request, credential, number, generation)
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = _failure(exc)
    return context


@require_GET
@login_required
@team_view(Action.READ)
def apps_home(request: PortalRequest) -> HttpResponse:
    """The only Pulsetracker credential is chosen by itself; several get a picker."""
    credentials = _team_credentials(request)
    if len(credentials) == 1:
        return redirect("app-list", cid=credentials[0].pk)
    return render(request, "apps_pick.html", {"credentials": credentials})


@require_GET
@login_required
@team_view(Action.READ)
def app_list(request: PortalRequest, cid: int) -> HttpResponse:
    """The apps page. Repeat views are served whole from the page cache (portal/pagecache)."""
    number = _page_number(request)
    if settings.UPSTREAM_CACHE_SECONDS <= 0 or not pagecache.cacheable(request):
        context = _list_context(request, _credential(request, cid), number)
        context["form"] = _fresh_form()
        return render_screen(request, "apps.html", "apps-table", context)
    # The key names what the page shows besides the layout (which pagecache.layout_key covers:
    # the person, their teams and roles, the active team): the credential, the role (controls)
    # and the page number. The entry is valid while the data's generation and the team's
    # credentials version (bumped on any credential save or delete, so also on a new label or an
    # unlink) are those it was stored under. A page is only stored after `_credential` found
    # this credential in this team, so a valid entry needs no credentials query.
    key = pagecache.page_key(request, "apps", [cid, request.membership.role, number])
    generation, team_version, stored = cache.page_versions_and(cid, request.team.pk, key)
    if stored is not None and stored["versions"] == [generation, team_version]:
        return pagecache.respond(request, stored)
    credential = _credential(request, cid)
    context = _list_context(request, credential, number, generation)
    form = context["form"] = _fresh_form()
    values = pagecache.per_request_values(request)
    context["csrf_token"] = values["csrf_token"]
    response = render_screen(request, "apps.html", "apps-table", context)
    if context["error"] is None and context["fresh_for"] >= 1:
        stored = pagecache.entry(response, values, fresh=[form.initial["submission"]])
        stored["versions"] = [generation, team_version]
        django_cache.set(key, stored, timeout=int(context["fresh_for"]))
    return response


@require_POST
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def app_create(request: PortalRequest, cid: int) -> HttpResponse:
    """Create an app. Success swaps the whole panel (page 1, where the new app is newest)."""
    credential = _credential(request, cid)
    form = AppNameForm(request.POST)
    if not form.is_valid():
        return _create_form(request, credential, form)
    name = form.cleaned_data["name"]
    if not cache.first_submission(credential.pk, form.cleaned_data["submission"]):
        return _created(request, credential, notice="That app was already created (sent twice).")
    try:
        with using(credential, request.user) as token:
            app = PulsetrackerClient(token).create_app(name)
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "app created",
            credential=credential,
            target=name,
            **_error_fields(exc),
        )
        retry = _fresh_form(request.POST)
        if isinstance(exc, ValidationFailed) and exc.errors:
            for field, messages in exc.errors.items():
                for message in messages:
                    retry.add_error(field if field in retry.fields else None, message)
        else:
            retry.add_error(None, exc.message)
        return _create_form(request, credential, retry)
    cache.invalidate(credential.pk)
    activity.record(
        request.team,
        request.user,
        "app created",
        credential=credential,
        target=f"{app.name} ({app.key})",
    )
    return _created(request, credential, notice=f"Created the app “{app.name}”.", new_key=app.key)


def _create_form(request: PortalRequest, credential: Credential, form: AppNameForm) -> HttpResponse:
    context = {"credential": credential, "form": form}
    if request.htmx:
        return render(request, "apps.html#create-form", context)
    full = _list_context(request, credential, 1)
    return render(request, "apps.html", {**full, "form": form})


def _created(
    request: PortalRequest, credential: Credential, *, notice: str, new_key: str = ""
) -> HttpResponse:
    list_url = reverse("app-list", args=[credential.pk])
    if not request.htmx:
        messages.success(request, notice)
        return redirect(list_url)
    context = _list_context(request, credential, 1)
    context.update(form=_fresh_form(), notice=notice, new_key=new_key)
    response = render(request, "apps.html#apps-panel", context)
    response["HX-Retarget"] = "#apps-panel"
    response["HX-Reswap"] = "outerHTML"
    response["HX-Push-Url"] = f"{list_url}?page=1"
    return response


@require_GET
@login_required
@team_view(Action.READ)
def app_detail(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    credential = _credential(request, cid)
    context: dict[str, Any] = {
        "credential": credential,
        "app": None,
        "devices": None,
        "error": None,
    }

    def load_app() -> App:
        with using(credential, request.user) as token:
            return PulsetrackerClient(token).get_app(key)

    def load_devices():
        with using(credential, request.user) as token:
            return PulsetrackerClient(token).list_devices(app_key=key)

    status = 200
    try:
        context["app"] = app = cache.cached(credential.pk, f"app:{key}", load_app)
        context["chart"] = monthly_chart(app.quota)
        context["devices"] = cache.cached(credential.pk, f"devices:{key}", load_devices)
    except NotFound as exc:
        context["error"] = {"kind": "not-found", "message": exc.message}
        status = 404
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = _failure(exc)
    return render(request, "app.html", context, status=status)


@require_GET
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def app_rename_form(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """The name becomes an input holding the current name."""
    credential = _credential(request, cid)
    name = request.GET.get("name", "")
    if not request.htmx:
        return redirect("app-detail", cid=credential.pk, key=key)
    form = AppNameForm(initial={"name": name})
    return render(
        request,
        "apps.html#rename-form",
        {"credential": credential, "key": key, "original": name, "rename_form": form},
    )


@require_GET
@login_required
@team_view(Action.READ)
def app_name(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """The name shown as text again (Escape or Cancel); nothing is sent upstream."""
    credential = _credential(request, cid)
    if not request.htmx:
        return redirect("app-detail", cid=credential.pk, key=key)
    context = {"credential": credential, "key": key, "name": request.GET.get("name", "")}
    return render(request, "apps.html#app-name", context)


@require_POST
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def app_rename(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """Rename upstream; on any failure the input stays open with the typed text."""
    credential = _credential(request, cid)
    original = request.POST.get("original", "")
    form = AppNameForm(request.POST)
    context: dict[str, Any] = {"credential": credential, "key": key, "original": original}
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            with using(credential, request.user) as token:
                new_name = PulsetrackerClient(token).rename_app(key, name)
        except (CredentialUnusable, UpstreamError) as exc:
            activity.record(
                request.team,
                request.user,
                "app renamed",
                credential=credential,
                target=key,
                **{**_error_fields(exc), "detail": f"“{original}” → “{name}”: {exc.message}"},
            )
            if isinstance(exc, ValidationFailed) and exc.errors.get("name"):
                for message in exc.errors["name"]:
                    form.add_error("name", message)
            else:
                form.add_error("name", exc.message)
        else:
            cache.invalidate(credential.pk)
            activity.record(
                request.team,
                request.user,
                "app renamed",
                credential=credential,
                target=key,
                detail=f"“{original}” → “{new_name}”",
            )
            if not request.htmx:
                return redirect("app-detail", cid=credential.pk, key=key)
            context.update(name=new_name, renamed=True)
            return render(request, "apps.html#app-name", context)
    context["rename_form"] = form
    if not request.htmx:
        return redirect("app-detail", cid=credential.pk, key=key)
    return render(request, "apps.html#rename-form", context)
