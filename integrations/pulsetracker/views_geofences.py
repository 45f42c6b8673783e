"""Pulsetracker geofences of one app: list them on a map, create and edit them (drawn on the map
or pasted as GeoJSON), and receive their events in the portal.

Geofences name their app by a numeric id that no app endpoint returns. The portal learns it from
an existing geofence when that can only be this app's (every other app of the account already
has its id), and otherwise asks a member once, saying why; it is kept per credential and app
(`GeofenceApp`). The API cannot delete a geofence: the pages say so. Each geofence has its own
receiving address (webhooks.py), an absolute URL built from the request that the form fills in:
the edit form's ends in the geofence's id; the create form's in a fresh `new-<random>` slot,
carried in a hidden field and recorded as the new geofence once Pulsetracker made it. An address
of this portal that belongs to another geofence is refused before anything is sent.

Viewers read; members create and edit; admins paste the account's webhook secret. Every change
is written to the activity log. Forms post whole pages and redirect after success, so Back and
reload never send anything twice.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import activity
from accounts.access import Action, team_view
from accounts.crypto import Secret
from integrations import cache
from integrations.errors import NotFound, UpstreamError
from integrations.models import (
    Credential,
    GeofenceApp,
    GeofenceEvent,
    GeofenceSlot,
    Submission,
)
from integrations.pulsetracker.client import App, Geofence, Page, PulsetrackerClient
from integrations.pulsetracker.forms_geofences import AppIdForm, GeofenceForm, WebhookSecretForm
from integrations.pulsetracker.listing import every_page
from integrations.pulsetracker.screens import (
    credential_or_404,
    failure,
    page_number,
    upstream_errors,
)
from integrations.pulsetracker.views_devices import every_device
from integrations.pulsetracker.webhooks import slot_geofence
from integrations.tokens import CredentialUnusable, using
from portal.htmx import PortalRequest

LIST = "pulsetracker/geofences.html"
FORM = "pulsetracker/geofence_form.html"
#: How many pages of the account's geofences are read to learn an app's numeric id.
LEARN_PAGES = 5
#: Events shown on the app page and the geofences page.
LATEST_EVENTS = 10


def _client_call(request: PortalRequest, credential: Credential, call: Any) -> Any:
    with using(credential, request.user) as token:
        return call(PulsetrackerClient(token))


def _app(request: PortalRequest, credential: Credential, key: str) -> App:
    """The app (its name for the headings); NotFound for a key this account does not have."""
    return cache.cached(
        credential.pk,
        f"app:{key}",
        lambda: _client_call(request, credential, lambda c: c.get_app(key)),
    )


def geofence_app(credential: Credential, key: str) -> GeofenceApp:
    found, _ = GeofenceApp.objects.get_or_create(credential=credential, app_key=key)
    return found


#: The slot of a receiving address the create form hands out (the geofence has no id yet).
NEW_SLOT = re.compile(r"new-[0-9a-f]{16}")


def new_slot() -> str:
    return f"new-{secrets.token_hex(8)}"


def receiving_url(request: PortalRequest, found: GeofenceApp, slot: str | None = None) -> str:
    """Where Pulsetracker should post a geofence's events (absolute, from the request): the
    geofence's own address when `slot` names it, else the app-wide one of earlier geofences."""
    if slot is None:
        return request.build_absolute_uri(reverse("geofence-webhook", args=[found.hook]))
    return request.build_absolute_uri(reverse("geofence-webhook-slot", args=[found.hook, slot]))


def portal_slot(found: GeofenceApp, url: str) -> str | None:
    """The slot when `url` is one of this app's per-geofence receiving addresses, else None."""
    path = urlsplit(url).path
    rest = path.removeprefix(reverse("geofence-webhook", args=[found.hook]))
    if rest == path:
        return None
    match = re.fullmatch(r"([-\w]+)/", rest, flags=re.ASCII)
    return match[1] if match else None


def _address_problem(found: GeofenceApp, url: str, gid: int | None) -> str | None:
    """Why `url` cannot be the webhook URL of geofence `gid` (None: a geofence being created):
    it is this portal's address of another geofence, or one the portal never handed out."""
    slot = portal_slot(found, url)
    if slot is None:
        return None
    owner = slot_geofence(found, slot)
    if owner is not None and owner != gid:
        return (
            f"That is the receiving URL of geofence #{owner}: events for this one would be "
            "refused there. Use this geofence's own (the button below)."
        )
    if owner is None and not NEW_SLOT.fullmatch(slot):
        return "This portal gave no geofence that receiving URL. Use the button below."
    return None


def _claim(found: GeofenceApp, url: str, gid: int) -> None:
    """Record a create form's receiving address as geofence `gid`'s, once it exists."""
    slot = portal_slot(found, url)
    if slot is not None and NEW_SLOT.fullmatch(slot):
        GeofenceSlot.objects.get_or_create(app=found, slot=slot, defaults={"geofence_id": gid})


def _to_portal(found: GeofenceApp, geofences: list[Geofence]) -> set[int]:
    """The geofences whose events come to this portal: at their own address or the app-wide one."""
    app_wide = reverse("geofence-webhook", args=[found.hook])
    sent_here = set()
    for geofence in geofences:
        url = geofence.webhook_url or ""
        slot = portal_slot(found, url)
        if urlsplit(url).path == app_wide or (
            slot is not None and slot_geofence(found, slot) == geofence.id
        ):
            sent_here.add(geofence.id)
    return sent_here


def _learn_app_id(request: PortalRequest, credential: Credential, found: GeofenceApp) -> None:
    """Take the app's numeric id from an existing geofence, when it can only be this app's: the
    account's geofences name exactly one app id that no other app is known by, and every other
    app of the account has its id already (a one-app account needs just one geofence)."""
    known = {
        app_id
        for app_id in GeofenceApp.objects.filter(credential=credential, app_id__isnull=False)
        .exclude(pk=found.pk)
        .values_list("app_id", flat=True)
        if app_id is not None
    }
    total, seen = cache.cached(
        credential.pk, "geofence-app-ids", lambda: _account_app_ids(request, credential)
    )
    if total - len(known) != 1:
        return
    candidates = seen - known
    if len(candidates) == 1:
        [found.app_id] = candidates
        found.app_id_source = GeofenceApp.IdSource.LEARNT
        found.app_id_set_by = None
        found.save(update_fields=["app_id", "app_id_source", "app_id_set_by"])
        activity.record(
            credential.team,
            request.user,
            "geofence app id set",
            credential=credential,
            target=found.app_key,
            detail=f"Learnt app id {found.app_id} from an existing geofence.",
        )


def _account_app_ids(request: PortalRequest, credential: Credential) -> tuple[int, frozenset[int]]:
    """How many apps the account has, and the app ids its geofences name (the first
    LEARN_PAGES pages, read at once like every paged list: `listing.every_page`)."""
    with using(credential, request.user) as token:
        total = PulsetrackerClient(token).list_apps().total

        def page(number: int) -> Page[Geofence]:
            return PulsetrackerClient(token).list_geofences(page=number)

        pages = every_page(credential, "geofences", page, LEARN_PAGES)
    return total, frozenset(g.app_id for found in pages for g in found.items)


def latest_events(found: GeofenceApp, names: dict[int, str] | None = None) -> list[GeofenceEvent]:
    """The newest events, each with `geofence_name` when `names` knows its geofence."""
    events = list(GeofenceEvent.objects.filter(app=found)[:LATEST_EVENTS])
    for event in events:
        event.geofence_name = (names or {}).get(event.geofence_id, "")  # type: ignore[attr-defined]
    return events


def app_page_context(credential: Credential, key: str) -> dict[str, Any]:
    """What the app page shows of its geofences: the latest events and the refusals (no
    upstream call; nothing is made when the portal keeps nothing for this app yet)."""
    found = GeofenceApp.objects.filter(credential=credential, app_key=key).first()
    return {"geofence_app": found, "geofence_events": latest_events(found) if found else []}


def _polygons(geofences: list[Geofence]) -> dict[str, Any]:
    """The map's data (map.js): each geofence as a labelled polygon, latitude first."""
    return {
        "polygons": [
            {"id": str(g.id), "label": g.name, "points": [list(p) for p in g.ring]}
            for g in geofences
        ]
    }


def _map_settings() -> dict[str, Any]:
    return {
        "tiles": settings.PULSETRACKER_MAP_TILES_URL,
        "attribution": settings.PULSETRACKER_MAP_ATTRIBUTION,
    }


def _list_context(
    request: PortalRequest, credential: Credential, key: str, number: int = 1
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "credential": credential,
        "key": key,
        "app": None,
        "error": None,
        "geofences": None,
        "map": _map_settings(),
        "map_data": {"polygons": []},
        "app_id_form": AppIdForm(),
        "secret_form": WebhookSecretForm(),
    }
    try:
        context["app"] = _app(request, credential, key)
    except (CredentialUnusable, UpstreamError) as exc:
        context["error"] = failure(exc)
        return context
    found = geofence_app(credential, key)
    context.update(found=found, receiving_url=receiving_url(request, found))
    try:
        if found.app_id is None:
            _learn_app_id(request, credential, found)
        if found.app_id is not None:
            app_id = found.app_id
            page: Page[Geofence] = cache.cached(
                credential.pk,
                f"geofences:{app_id}:{number}",
                lambda: _client_call(
                    request, credential, lambda c: c.list_geofences(page=number, app_id=app_id)
                ),
            )
            context["geofences"] = page
            context["map_data"] = _polygons(list(page.items))
    except (CredentialUnusable, UpstreamError) as exc:
        context["geofences_error"] = failure(exc)
    geofences = context["geofences"]
    names = {g.id: g.name for g in geofences.items} if geofences else {}
    context["to_portal"] = _to_portal(found, list(geofences.items)) if geofences else set()
    context["events"] = latest_events(found, names)
    return context


@require_GET
@login_required
@team_view(Action.READ)
def geofence_list(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """An app's geofences on a map and in a table, its receiving address and latest events."""
    context = _list_context(request, credential_or_404(request, cid), key, page_number(request))
    status = 404 if (context["error"] or {}).get("kind") == "not-found" else 200
    return render(request, LIST, context, status=status)


@require_POST
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def geofence_app_id(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """Keep the app's numeric id, entered by hand (it shows in the vendor's dashboard)."""
    credential = credential_or_404(request, cid)
    form = AppIdForm(request.POST)
    if not form.is_valid():
        context = _list_context(request, credential, key)
        context["app_id_form"] = form
        return render(request, LIST, context)
    found = geofence_app(credential, key)
    found.app_id = form.cleaned_data["app_id"]
    found.app_id_source = GeofenceApp.IdSource.ENTERED
    found.app_id_set_by = request.user
    found.save(update_fields=["app_id", "app_id_source", "app_id_set_by"])
    activity.record(
        request.team,
        request.user,
        "geofence app id set",
        credential=credential,
        target=key,
        detail=f"App id {found.app_id}, entered by hand.",
    )
    messages.success(request, f"Saved: this app's id is {found.app_id}.")
    return redirect("geofences", cid=credential.pk, key=key)


@require_POST
@login_required
@team_view(Action.MANAGE_CREDENTIALS)
def geofence_secret(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    """Keep the account's webhook secret (encrypted; never shown again)."""
    credential = credential_or_404(request, cid)
    form = WebhookSecretForm(request.POST)
    if not form.is_valid():
        context = _list_context(request, credential, key)
        context["secret_form"] = form
        return render(request, LIST, context)
    found = geofence_app(credential, key)
    found.set_secret(Secret(form.cleaned_data["secret"]), request.user)
    found.save(update_fields=["secret_ciphertext", "secret_set_by", "secret_set_at"])
    activity.record(
        request.team,
        request.user,
        "geofence secret set",
        credential=credential,
        target=key,
        detail="The webhook secret for receiving geofence events was replaced.",
    )
    messages.success(request, "Saved the webhook secret. It will not be shown again.")
    return redirect("geofences", cid=credential.pk, key=key)


def _form_context(
    request: PortalRequest,
    credential: Credential,
    key: str,
    found: GeofenceApp,
    form: Any,
    slot: str,
) -> dict[str, Any]:
    """`slot`: the geofence's receiving address, its id or a create form's `new-` slot."""
    return {
        "credential": credential,
        "key": key,
        "found": found,
        "form": form,
        "receiving_url": receiving_url(request, found, slot),
        "map": _map_settings(),
        "map_data": _device_markers(request, credential, key),
    }


def _device_markers(request: PortalRequest, credential: Credential, key: str) -> dict[str, Any]:
    """The app's devices where they last were, so the drawing map opens around them."""
    try:
        devices = every_device(request, credential, key).devices
    except (CredentialUnusable, UpstreamError):
        return {"markers": []}
    markers = []
    for device in devices:
        position = device.last_location.position if device.last_location else None
        if position is not None:
            markers.append(
                {
                    "id": device.key,
                    "label": device.name,
                    "lat": position.latitude,
                    "lon": position.longitude,
                }
            )
    return {"markers": markers}


def _known_app(request: PortalRequest, credential: Credential, key: str) -> GeofenceApp | None:
    found = GeofenceApp.objects.filter(credential=credential, app_key=key).first()
    if found is None or found.app_id is None:
        messages.warning(request, "First tell the portal this app's numeric id.")
        return None
    return found


@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def geofence_create(request: PortalRequest, cid: int, key: str) -> HttpResponse:
    credential = credential_or_404(request, cid)
    found = _known_app(request, credential, key)
    if found is None:
        return redirect("geofences", cid=credential.pk, key=key)
    if request.method == "GET":
        form = GeofenceForm(initial={"submission": uuid.uuid4().hex, "slot": new_slot()})
        slot = form.initial["slot"]
        return render(request, FORM, _form_context(request, credential, key, found, form, slot))
    posted = request.POST.get("slot", "")
    slot = posted if NEW_SLOT.fullmatch(posted) else new_slot()
    form = GeofenceForm(request.POST)
    context = _form_context(request, credential, key, found, form, slot)
    if form.is_valid() and (
        problem := _address_problem(found, form.cleaned_data["webhook_url"], None)
    ):
        form.add_error("webhook_url", problem)
    if not form.is_valid():
        return render(request, FORM, context)
    data = form.cleaned_data
    if not Submission.first(credential, data["submission"]):
        messages.info(request, "That geofence was already created (sent twice).")
        return redirect("geofences", cid=credential.pk, key=key)
    assert found.app_id is not None
    app_id = found.app_id
    try:
        made = _client_call(
            request,
            credential,
            lambda c: c.create_geofence(
                name=data["name"],
                app_id=app_id,
                polygon=data["geometry"],
                webhook_url=data["webhook_url"] or None,
            ),
        )
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "geofence created",
            credential=credential,
            target=data["name"],
            error=exc,
        )
        retry = request.POST.copy()
        retry["submission"] = uuid.uuid4().hex  # sending it again is not a duplicate
        form = GeofenceForm(retry)
        form.is_valid()
        upstream_errors(form, exc)
        context["form"] = form
        return render(request, FORM, context)
    _claim(found, data["webhook_url"], made.id)
    cache.invalidate(credential.pk)
    activity.record(
        request.team,
        request.user,
        "geofence created",
        credential=credential,
        target=f"{made.name} (#{made.id}) of app {key}",
        detail=f"Webhook URL: {made.webhook_url or 'none'}.",
    )
    messages.success(request, f"Created the geofence “{made.name}”.")
    return redirect("geofences", cid=credential.pk, key=key)


@require_http_methods(["GET", "POST"])
@login_required
@team_view(Action.CHANGE_UPSTREAM)
def geofence_edit(request: PortalRequest, cid: int, key: str, gid: int) -> HttpResponse:
    credential = credential_or_404(request, cid)
    found = _known_app(request, credential, key)
    if found is None:
        return redirect("geofences", cid=credential.pk, key=key)
    try:
        current: Geofence = _client_call(request, credential, lambda c: c.get_geofence(gid))
    except NotFound:
        raise Http404("No such geofence for this credential.") from None
    except (CredentialUnusable, UpstreamError) as exc:
        if request.method != "POST":
            messages.error(request, f"Could not read the geofence: {exc.message}")
            return redirect("geofences", cid=credential.pk, key=key)
        # Nothing is sent without first checking the geofence is this app's; what was typed
        # comes back with why, for another try.
        form = GeofenceForm(request.POST)
        form.is_valid()
        form.add_error(
            None, f"Nothing was saved: the geofence could not be read to check it: {exc.message}"
        )
        context = _form_context(request, credential, key, found, form, str(gid))
        context["geofence"] = {"id": gid, "name": f"geofence #{gid}"}
        return render(request, FORM, context)
    if current.app_id != found.app_id:
        raise Http404("That geofence belongs to another app.")
    if request.method == "GET":
        form = GeofenceForm(
            initial={
                "name": current.name,
                "webhook_url": current.webhook_url or "",
                "geometry": json.dumps(current.polygon),
            }
        )
        context = _form_context(request, credential, key, found, form, str(gid))
        context["geofence"] = current
        return render(request, FORM, context)
    form = GeofenceForm(request.POST)
    context = _form_context(request, credential, key, found, form, str(gid))
    context["geofence"] = current
    if form.is_valid() and (
        problem := _address_problem(found, form.cleaned_data["webhook_url"], gid)
    ):
        form.add_error("webhook_url", problem)
    if not form.is_valid():
        return render(request, FORM, context)
    data = form.cleaned_data
    assert found.app_id is not None
    app_id = found.app_id
    try:
        _client_call(
            request,
            credential,
            lambda c: c.update_geofence(
                gid,
                app_id=app_id,
                name=data["name"],
                polygon=data["geometry"],
                webhook_url=data["webhook_url"] or "",
            ),
        )
    except (CredentialUnusable, UpstreamError) as exc:
        activity.record(
            request.team,
            request.user,
            "geofence updated",
            credential=credential,
            target=f"#{gid} of app {key}",
            error=exc,
        )
        upstream_errors(form, exc)
        return render(request, FORM, context)
    _claim(found, data["webhook_url"], gid)
    cache.invalidate(credential.pk)
    change = f"“{current.name}” → “{data['name']}”" if current.name != data["name"] else ""
    activity.record(
        request.team,
        request.user,
        "geofence updated",
        credential=credential,
        target=f"{data['name']} (#{gid}) of app {key}",
        detail=change or "Polygon or webhook URL changed.",
    )
    messages.success(request, f"Saved the geofence “{data['name']}”.")
    return redirect("geofences", cid=credential.pk, key=key)
