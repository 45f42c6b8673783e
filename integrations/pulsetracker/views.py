"""Pulsetracker apps: list, open, create and rename, through one of the team's credentials.

A click travels: the template's `hx-post` → a view here (role, credential, form) →
`PulsetrackerClient` → `integrations/http.py` → Pulsetracker, and back as a dataclass or a typed
error → a partial of the same template. Feedback is inline, in the partial that was swapped; with
htmx off the same screen is rendered whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import activity
from accounts.access import Action, team_view
from integrations import cache, fanout
from integrations.errors import (
    NotFound,
    UpstreamError,
)
from integrations.models import Credential, Service, Submission
from integrations.pulsetracker import listing
from integrations.pulsetracker.charts import monthly_chart, sparkline
from integrations.pulsetracker.client import (
    NAME_MAX_LENGTH,
    App,
    PulsetrackerClient,
)
from integrations.pulsetracker.forms import AppNameForm
from integrations.pulsetracker.screens import (
    credential_or_404,
    failure,
    page_number,
    upstream_errors,
)
from integrations.pulsetracker.views_devices import (
    devices_context,
    every_device_name,
    load_every_device,
)
from integrations.pulsetracker.views_geofences import app_page_context
from integrations.tokens import CredentialUnusable, using
from portal.htmx import PortalRequest, render_screen

APPS = "pulsetracker/apps.html"
PER_PAGE = 12  # apps to a page of the list (the portal's pages, over the whole cached list)


def _team_credentials(request: PortalRequest) -> list[Credential]:
    return list(Credential.objects.filter(team=request.team, service=Service.PULSETRACKER))


def _fresh_form(data: QueryDict | None = None) -> AppNameForm:
    """A create form; re-shown forms get a new submission id so a retry is not a duplicate."""
    if data is None:
        return AppNameForm(initial={"submission": uuid.uuid4().hex})
    data = data.copy()
    data["submission"] = uuid.uuid4().hex
    form = AppNameForm(data)
    form.is_valid()
    return form


def _list_query(request: PortalRequest) -> dict[str, Any]:
    """What the list's URL asks for: the search, the order and the page (all kept in the URL, so
    reload and Back show the same)."""
    sort = request.GET.get("sort", "")
    sort = sort if sort in listing.ORDERS else listing.DEFAULT_ORDER
    order = listing.ORDERS[sort]
    return {
        "q": request.GET.get("q", "").strip()[:NAME_MAX_LENGTH],
        "sort": sort,
        "sort_column": order.column,
        "sort_direction": "descending" if order.descending else "ascending",
        "page_number": page_number(request),
    }


def _list_context(
    request: PortalRequest, credential: Credential, query: dict[str, Any]
) -> dict[str, Any]:
    """The list as the URL asks for it: every app of the account (cached as one list),
    searched, sorted and cut into pages here."""
    context: dict[str, Any] = {
        "credential": credential,
        "credentials": _team_credentials(request),
        "orders": listing.ORDERS,
        "apps": None,
        "page": None,
        "error": None,
        **query,
    }
    try:
        fresh = bool(request.GET.get("fresh"))
        read = listing.read_all_apps(credential, request.user, fresh=fresh)
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = failure(exc)
        return context
    found = read.value
    context["freshness"] = read
    shown = listing.ordered(listing.matching(found.apps, query["q"]), query["sort"])
    paginator = Paginator(shown, PER_PAGE)
    number = query["page_number"]
    context.update(apps=found, matches=len(shown), page_count=paginator.num_pages)
    if number <= paginator.num_pages:
        context["page"] = page = paginator.page(number)
        context["rows"] = [(app, sparkline(app.quota)) for app in page.object_list]
        context["page_links"] = list(
            paginator.get_elided_page_range(number, on_each_side=2, on_ends=1)
        )
    return context


@require_GET
@login_required
@team_view(Action.READ)
def apps_home(request: PortalRequest) -> HttpResponse:
    """The only Pulsetracker credential is chosen by itself; several get a picker."""
    credentials = _team_credentials(request)
    if len(credentials) == 1:
        return redirect("app-list", cid=credentials[0].pk)
    return render(request, "pulsetracker/apps_pick.html", {"credentials": credentials})


@require_GET
@login_required
@team_view(Action.READ)
def app_list(request: PortalRequest, cid: int) -> HttpResponse:
    """The apps page; for htmx (paging, retry, refresh after a create) only its table."""
    context = _list_context(request, credential_or_404(request, cid), _list_query(request))
    context["form"] = _fresh_form()
    return render_screen(request, APPS, "apps-table", context)


@require_POST
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def app_create(request: PortalRequest, cid: int) -> HttpResponse:
    """Create an app. The form answers for itself and sends `app-created`, which the list on
    the page listens for to show page 1 again (where the new app is, newest first)."""
    credential = credential_or_404(request, cid)
    form = AppNameForm(request.POST)
    if not form.is_valid():
        return _create_answer(request, credential, form)
    name = form.cleaned_data["name"]
    if not Submission.first(credential, form.cleaned_data["submission"]):
        notice = "That app was already created (sent twice)."
        return _create_answer(request, credential, _fresh_form(), notice=notice)
    try:
        with using(credential, request.user) as token:
            app = PulsetrackerClient(token).create_app(name)
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team, request.user, "app created", credential=credential, target=name, error=exc
        )
        retry = _fresh_form(request.POST)
        upstream_errors(retry, exc)
        return _create_answer(request, credential, retry)
    listing.remember_created(credential, app)
    activity.record(
        request.team,
        request.user,
        "app created",
        credential=credential,
        target=f"{app.name} ({app.key})",
    )
    notice = f"Created the app “{app.name}”."
    return _create_answer(request, credential, _fresh_form(), notice=notice)


def _create_answer(
    request: PortalRequest, credential: Credential, form: AppNameForm, *, notice: str = ""
) -> HttpResponse:
    if request.htmx:
        context = {"credential": credential, "form": form, "notice": notice}
        response = render(request, f"{APPS}#create-form", context)
        if notice:
            response["HX-Trigger"] = "app-created"
        return response
    context = _list_context(request, credential, _list_query(request))
    context.update(form=form, notice=notice)
    return render(request, APPS, context)


@require_GET
@login_required
@team_view(Action.READ)
def app_detail(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    credential = credential_or_404(request, cid)
    context: dict[str, Any] = {
        "credential": credential,
        "app": None,
        "devices": None,
        "error": None,
    }
    context.update(app_page_context(credential, key))  # no upstream call

    def load_app() -> App:
        with using(credential, request.user) as token:
            return PulsetrackerClient(token).get_app(key)

    status = 200
    fresh = bool(request.GET.get("fresh"))
    try:
        # The app and its devices at once: the page waits about one round trip (two for an
        # app with more than a page of devices, all on the map).
        load_devices = load_every_device(request, credential, key)
        reads: list[Callable[[], cache.Read[Any]]] = [
            lambda: cache.read(credential.pk, f"app:{key}", load_app, fresh=fresh),
            lambda: cache.read(credential.pk, every_device_name(key), load_devices, fresh=fresh),
        ]
        app_read, devices_read = fanout.gather(reads)
        context["app"] = app = app_read.value
        context["chart"] = monthly_chart(app.quota)
        context["devices"] = devices_read.value.first
        context.update(devices_context(credential, app, devices_read.value))
        context["freshness"] = cache.oldest([app_read, devices_read])
    except NotFound as exc:
        context["error"] = {"kind": "not-found", "message": exc.message}
        # A painted page's refresh (htmx) swaps in the news that the app is gone: htmx swaps no
        # 4xx answer, which would leave the old copy saying "refreshing" for good.
        status = 200 if request.htmx else 404
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = failure(exc)
    return render_screen(request, "pulsetracker/app.html", "app-detail", context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def app_rename(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """Rename in place. GET shows the editor holding the current name (`?cancel=1`: the name as
    text again, nothing sent upstream); POST renames upstream, and on any failure the editor
    stays open with the typed text and the reason."""
    credential = credential_or_404(request, cid)
    if not request.htmx:
        return redirect("app-detail", cid=credential.pk, key=key)
    context: dict[str, Any] = {"credential": credential, "key": key}
    if request.method == "GET":
        name = request.GET.get("name", "")
        if request.GET.get("cancel"):
            return render(request, f"{APPS}#app-name", {**context, "name": name})
        form = AppNameForm(initial={"name": name})
        return render(
            request, f"{APPS}#rename-form", {**context, "original": name, "rename_form": form}
        )
    original = request.POST.get("original", "")
    form = AppNameForm(request.POST)
    context.update(original=original, rename_form=form)
    if not form.is_valid():
        return render(request, f"{APPS}#rename-form", context)
    name = form.cleaned_data["name"]
    change = f"“{original}” → “{name}”"
    try:
        with using(credential, request.user) as token:
            PulsetrackerClient(token).rename_app(key, name)
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "app renamed",
            credential=credential,
            target=key,
            error=exc,
            detail=f"{change}: {exc.message}",
        )
        upstream_errors(form, exc, field="name")
        return render(request, f"{APPS}#rename-form", context)
    listing.remember_renamed(credential, key, name)
    activity.record(
        request.team, request.user, "app renamed", credential=credential, target=key, detail=change
    )
    return render(request, f"{APPS}#app-name", {**context, "name": name, "renamed": True})
