"""The portal's API (/api/v1/, django-ninja; schema at /api/v1/openapi.json, docs at /api/v1/docs).

A script acts as a person through one of their access tokens (`accounts.api_tokens`): the
upstream work is done with the team's credential, which never leaves the portal, and every call
is in the team's activity log under the person, with "API token <name>" beside it. What a token
may do is its scopes as far as its owner's role allows now. Errors are RFC 9457 problem details
(`application/problem+json`) naming the upstream's kind and status when the upstream said no.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.responses import NinjaJSONEncoder, Status
from ninja.security import HttpBearer

from accounts import activity
from accounts.api_tokens import Bearer, authenticate
from accounts.models import Activity
from integrations import cache as upstream_cache
from integrations.errors import (
    BadResponse,
    MissingScope,
    NotFound,
    PremiumRequired,
    QuotaExceeded,
    RateLimited,
    TokenRejected,
    Unavailable,
    UpstreamError,
    ValidationFailed,
)
from integrations.models import Credential, Service
from integrations.pulsetracker.client import NAME_MAX_LENGTH, App, Device, PulsetrackerClient
from integrations.pulsoid.client import Widget
from integrations.pulsoid.oauth import call_pulsoid
from integrations.tokens import CredentialUnusable, using


class Problem(Exception):
    """An RFC 9457 problem: answered as application/problem+json."""

    def __init__(self, status: int, kind: str, title: str, detail: str = "", **extra: Any):
        self.status, self.kind, self.title, self.detail, self.extra = (
            status,
            kind,
            title,
            detail,
            extra,
        )
        super().__init__(title)


def problem_response(problem: Problem) -> HttpResponse:
    body = {
        "type": f"/api/v1/problems/{problem.kind}",
        "title": problem.title,
        "status": problem.status,
        "kind": problem.kind,
        **({"detail": problem.detail} if problem.detail else {}),
        **problem.extra,
    }
    response = HttpResponse(
        json.dumps(body), status=problem.status, content_type="application/problem+json"
    )
    if "retry_after" in problem.extra and problem.extra["retry_after"] is not None:
        response["Retry-After"] = str(int(problem.extra["retry_after"]))
    return response


# How each upstream refusal reaches an API client: (HTTP status, kind).
UPSTREAM_PROBLEMS: list[tuple[type[Exception], int, str]] = [
    (ValidationFailed, 422, "upstream-validation"),
    (QuotaExceeded, 403, "upstream-quota"),
    (MissingScope, 403, "upstream-scope"),
    (PremiumRequired, 402, "upstream-premium"),
    (TokenRejected, 502, "upstream-token-rejected"),
    (NotFound, 404, "upstream-not-found"),
    (RateLimited, 429, "upstream-rate-limited"),
    (Unavailable, 503, "upstream-unavailable"),
    (BadResponse, 502, "upstream-bad-response"),
    (UpstreamError, 502, "upstream-error"),
]


def upstream_problem(exc: UpstreamError | CredentialUnusable) -> Problem:
    if isinstance(exc, CredentialUnusable):
        return Problem(409, "credential-unusable", "The credential needs re-linking", exc.message)
    error: UpstreamError = exc
    for kind_of, status, kind in UPSTREAM_PROBLEMS:
        if isinstance(error, kind_of):
            extra: dict[str, Any] = {"upstream_status": error.status, "service": error.service}
            if isinstance(error, ValidationFailed) and error.errors:
                extra["errors"] = error.errors
            if isinstance(error, RateLimited):
                extra["retry_after"] = error.retry_after
            return Problem(status, kind, "The upstream refused", error.message, **extra)
    raise AssertionError("unreachable")  # pragma: no cover


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Bearer | None:
        bearer = authenticate(token, request.META.get("REMOTE_ADDR"))
        if bearer is None:
            return None
        _rate_limit(bearer)
        request.user = bearer.token.user
        return bearer


def _rate_limit(bearer: Bearer) -> None:
    """At most PORTAL_API_REQUESTS_PER_MINUTE per token (upstream calls also share each
    credential's own budget with the pages)."""
    minute = int(time.time() // 60)
    key = f"api-rate:{bearer.token.pk}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        used = 1
    if used > settings.PORTAL_API_REQUESTS_PER_MINUTE:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests with this token",
            f"At most {settings.PORTAL_API_REQUESTS_PER_MINUTE} a minute.",
            retry_after=60 - int(time.time()) % 60,
        )


class PortalAPI(NinjaAPI):
    """The API, whose schema says what it sends: problem details as application/problem+json."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for methods in schema["paths"].values():
            for operation in methods.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        response["content"] = {
                            "application/problem+json": content.pop("application/json")
                        }
        return schema


api = PortalAPI(
    title="Pulse team portal API",
    version="1",
    description=(
        "Work with the team's Pulsetracker and Pulsoid accounts through the team's credentials, "
        "with a personal access token (Authorization: Bearer ptp_…). Errors are RFC 9457 "
        "problem details."
    ),
    auth=TokenAuth(),
    urls_namespace="api",
)


@api.exception_handler(Problem)
def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(exc)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    response = problem_response(
        Problem(
            401,
            "unauthenticated",
            "A valid access token is needed",
            "Send Authorization: Bearer <token>; a revoked or expired token, or one whose owner "
            "left the team, no longer works.",
        )
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        field = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
        errors.setdefault(field, []).append(str(error.get("msg", "invalid")))
    return problem_response(Problem(422, "validation", "The request is not valid", errors=errors))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(Problem(exc.status_code, "error", str(exc)))


@api.exception_handler(UpstreamError)
def _upstream(request: HttpRequest, exc: UpstreamError) -> HttpResponse:
    return problem_response(upstream_problem(exc))


@api.exception_handler(CredentialUnusable)
def _unusable(request: HttpRequest, exc: CredentialUnusable) -> HttpResponse:
    return problem_response(upstream_problem(exc))


# Who and what


def bearer_of(request: HttpRequest) -> Bearer:
    bearer = request.auth  # type: ignore[attr-defined]
    assert isinstance(bearer, Bearer)
    return bearer


def need(request: HttpRequest, scope: str) -> Bearer:
    bearer = bearer_of(request)
    if scope not in bearer.scopes:
        raise Problem(
            403,
            "missing-scope",
            f"This token lacks the “{scope}” scope",
            "Either the token was not given it, or its owner's role in the team no longer "
            "allows it.",
            scope=scope,
        )
    return bearer


def credential_of(bearer: Bearer, cid: int, service: str) -> Credential:
    """One of the token's team's credentials; another team's (or none) is a 404."""
    found = Credential.objects.filter(pk=cid, team=bearer.membership.team, service=service).first()
    if found is None:
        raise Problem(404, "not-found", "No such credential in this team")
    return found


def record(
    request: HttpRequest,
    action: str,
    *,
    credential: Credential | None = None,
    target: str = "",
    error: Exception | None = None,
    detail: str = "",
) -> None:
    bearer = bearer_of(request)
    activity.record(
        bearer.membership.team,
        bearer.token.user,
        action,
        credential=credential,
        target=target,
        error=error,
        detail=detail,
        via=bearer.via,
    )


def read(view: Callable[..., Any]) -> Callable[..., Any]:
    """A read endpoint: its call goes to the activity log too ("API read", the path)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        result = view(request, *args, **kwargs)
        record(request, "API read", target=f"GET {request.get_full_path()}")
        return result

    return wrapped


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Creates: a retry with the same Idempotency-Key returns the first answer again, and makes
    no second upstream call. Keys are per token and kept for a day."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("Idempotency-Key", "").strip()[:200]
        if not key:
            return view(request, *args, **kwargs)
        slot = f"idempotency:{bearer_of(request).token.pk}:{request.path}:{key}"
        stored = cache.get(slot)
        if stored is None and not cache.add(f"{slot}:busy", 1, timeout=60):
            raise Problem(409, "in-progress", "A request with this Idempotency-Key is running")
        if stored is None:
            try:
                result = view(request, *args, **kwargs)
                status, body = (
                    (result.status_code, result.value)
                    if isinstance(result, Status)
                    else (200, result)
                )
                data = body.model_dump() if isinstance(body, Schema) else body
                # Kept as the API renders it, so a replay is byte for byte the first answer.
                stored = (status, json.loads(json.dumps(data, cls=NinjaJSONEncoder)))
                cache.set(slot, stored, timeout=24 * 3600)
            finally:
                cache.delete(f"{slot}:busy")
            return result
        response = HttpResponse(
            json.dumps(stored[1], cls=NinjaJSONEncoder),
            status=stored[0],
            content_type="application/json",
        )
        response["Idempotent-Replayed"] = "true"
        return response

    return wrapped


# Schemas


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    kind: str
    detail: str | None = None


class CredentialOut(Schema):
    id: int
    label: str
    service: str
    health: str
    health_detail: str
    checked_at: datetime | None
    scopes: list[str]
    expires_at: datetime | None


class AppOut(Schema):
    key: str
    name: str
    devices_count: int | None
    messages_this_month: int
    created_at: datetime | None


class AppPageOut(Schema):
    items: list[AppOut]
    current_page: int
    last_page: int
    total: int


class DeviceOut(Schema):
    key: str
    name: str
    type: str | None
    latitude: float | None
    longitude: float | None
    last_seen: datetime | None


class NameIn(Schema):
    name: str


class WidgetOut(Schema):
    id: str
    name: str
    configuration: dict[str, Any]


class WidgetIn(Schema):
    name: str
    configuration: dict[str, Any] = {}


class ConfigurationIn(Schema):
    configuration: dict[str, Any]


class HeartRateOut(Schema):
    bpm: int | None
    measured_at: datetime | None


class ActivityOut(Schema):
    id: int
    created_at: datetime
    who: str
    via: str
    action: str
    credential: str
    target: str
    outcome: str
    error: str
    status: int | None
    detail: str


# What any endpoint may answer besides success (each a problem), and what those that work
# through a credential may answer when the upstream, or the stored token, fails.
ERRORS = {
    400: ProblemOut,
    401: ProblemOut,
    402: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
    502: ProblemOut,
    503: ProblemOut,
}


def app_out(app: App) -> AppOut:
    return AppOut(
        key=app.key,
        name=app.name,
        devices_count=app.devices_count,
        messages_this_month=app.messages_this_month,
        created_at=app.created_at,
    )


def device_out(device: Device) -> DeviceOut:
    location = device.last_location
    position = location.position if location else None
    return DeviceOut(
        key=device.key,
        name=device.name,
        type=device.type,
        latitude=position.latitude if position else None,
        longitude=position.longitude if position else None,
        last_seen=location.updated_at if location else None,
    )


def widget_out(widget: Widget) -> WidgetOut:
    return WidgetOut(id=widget.id, name=widget.name, configuration=widget.configuration)


# Credentials


@api.get("/credentials", response={200: list[CredentialOut], **ERRORS}, tags=["credentials"])
@read
def list_credentials(request: HttpRequest) -> list[CredentialOut]:
    """The team's credentials with their health, scopes and expiry (never a token)."""
    bearer = need(request, "credentials:read")
    return [
        CredentialOut(
            id=c.pk,
            label=c.label,
            service=c.service,
            health=c.health,
            health_detail=c.health_detail,
            checked_at=c.checked_at,
            scopes=list(c.scopes),
            expires_at=c.expires_at,
        )
        for c in Credential.objects.filter(team=bearer.membership.team)
    ]


# Pulsetracker apps


def _app_name(data: NameIn) -> str:
    """An app's name as the pages accept it: 1 to 255 characters, not only spaces."""
    name = data.name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise Problem(
            422, "validation", "The request is not valid", errors={"name": ["1 to 255 characters"]}
        )
    return name


@api.get("/apps/{cid}", response={200: AppPageOut, **ERRORS}, tags=["apps"])
@read
def list_apps(request: HttpRequest, cid: int, page: int = 1) -> AppPageOut:
    """One page of the account's apps, newest first, as Pulsetracker pages them (12 a page)."""
    bearer = need(request, "apps:read")
    credential = credential_of(bearer, cid, Service.PULSETRACKER)
    number = max(page, 1)

    def load() -> Any:
        with using(credential, bearer.token.user) as token:
            return PulsetrackerClient(token).list_apps(page=number)

    found = upstream_cache.cached(credential.pk, f"apps:{number}", load)
    return AppPageOut(
        items=[app_out(a) for a in found.items],
        current_page=found.current_page,
        last_page=found.last_page,
        total=found.total,
    )


@api.get("/apps/{cid}/{key}", response={200: AppOut, **ERRORS}, tags=["apps"])
@read
def get_app(request: HttpRequest, cid: int, key: str) -> AppOut:
    bearer = need(request, "apps:read")
    credential = credential_of(bearer, cid, Service.PULSETRACKER)
    with using(credential, bearer.token.user) as token:
        return app_out(PulsetrackerClient(token).get_app(key))


@api.get("/apps/{cid}/{key}/devices", response={200: list[DeviceOut], **ERRORS}, tags=["apps"])
@read
def list_devices(request: HttpRequest, cid: int, key: str) -> list[DeviceOut]:
    bearer = need(request, "apps:read")
    credential = credential_of(bearer, cid, Service.PULSETRACKER)
    with using(credential, bearer.token.user) as token:
        return [device_out(d) for d in PulsetrackerClient(token).list_devices(app_key=key).items]


@api.post("/apps/{cid}", response={201: AppOut, 400: ProblemOut, **ERRORS}, tags=["apps"])
@idempotent
def create_app(request: HttpRequest, cid: int, data: NameIn) -> Status[AppOut]:
    """Create an app. Send an Idempotency-Key to make retries safe."""
    bearer = need(request, "apps:write")
    credential = credential_of(bearer, cid, Service.PULSETRACKER)
    name = _app_name(data)
    try:
        with using(credential, bearer.token.user) as token:
            app = PulsetrackerClient(token).create_app(name)
    except (UpstreamError, CredentialUnusable) as exc:
        record(request, "app created", credential=credential, target=name, error=exc)
        raise
    upstream_cache.invalidate(credential.pk)
    record(request, "app created", credential=credential, target=f"{app.name} ({app.key})")
    return Status(201, app_out(app))


@api.patch("/apps/{cid}/{key}", response={200: AppOut, 400: ProblemOut, **ERRORS}, tags=["apps"])
def rename_app(request: HttpRequest, cid: int, key: str, data: NameIn) -> AppOut:
    bearer = need(request, "apps:write")
    credential = credential_of(bearer, cid, Service.PULSETRACKER)
    name = _app_name(data)
    try:
        with using(credential, bearer.token.user) as token:
            client = PulsetrackerClient(token)
            client.rename_app(key, name)
            app = client.get_app(key)
    except (UpstreamError, CredentialUnusable) as exc:
        record(request, "app renamed", credential=credential, target=key, error=exc)
        raise
    upstream_cache.invalidate(credential.pk)
    record(request, "app renamed", credential=credential, target=key, detail=f"→ “{name}”")
    return app_out(app)


# Pulsoid widgets


@api.get("/widgets/{cid}", response={200: list[WidgetOut], **ERRORS}, tags=["widgets"])
@read
def list_widgets(request: HttpRequest, cid: int) -> list[WidgetOut]:
    bearer = need(request, "widgets:read")
    credential = credential_of(bearer, cid, Service.PULSOID)
    widgets = call_pulsoid(credential, bearer.token.user, lambda c: c.list_widgets())
    return [widget_out(w) for w in widgets]


@api.post("/widgets/{cid}", response={201: WidgetOut, 400: ProblemOut, **ERRORS}, tags=["widgets"])
@idempotent
def create_widget(request: HttpRequest, cid: int, data: WidgetIn) -> Status[WidgetOut]:
    """Create a heart-rate (BPM) widget. Send an Idempotency-Key to make retries safe."""
    bearer = need(request, "widgets:write")
    credential = credential_of(bearer, cid, Service.PULSOID)
    try:
        widget = call_pulsoid(
            credential,
            bearer.token.user,
            lambda c: c.create_widget(data.name, data.configuration),
        )
    except (UpstreamError, CredentialUnusable) as exc:
        record(request, "widget created", credential=credential, target=data.name, error=exc)
        raise
    upstream_cache.invalidate(credential.pk)
    record(request, "widget created", credential=credential, target=f"{widget.name} ({widget.id})")
    return Status(201, widget_out(widget))


@api.get("/widgets/{cid}/heart-rate", response={200: HeartRateOut, **ERRORS}, tags=["widgets"])
@read
def heart_rate(request: HttpRequest, cid: int) -> HeartRateOut:
    """The latest heart rate (empty when none was measured lately)."""
    bearer = need(request, "widgets:read")
    credential = credential_of(bearer, cid, Service.PULSOID)
    reading = call_pulsoid(credential, bearer.token.user, lambda c: c.latest_heart_rate())
    if reading is None:
        return HeartRateOut(bpm=None, measured_at=None)
    return HeartRateOut(bpm=reading.bpm, measured_at=reading.measured_at)


@api.put(
    "/widgets/{cid}/{wid}", response={200: WidgetOut, 400: ProblemOut, **ERRORS}, tags=["widgets"]
)
def update_widget(request: HttpRequest, cid: int, wid: str, data: ConfigurationIn) -> WidgetOut:
    """Replace a widget's whole configuration."""
    bearer = need(request, "widgets:write")
    credential = credential_of(bearer, cid, Service.PULSOID)
    try:
        widget = call_pulsoid(
            credential, bearer.token.user, lambda c: c.update_widget(wid, data.configuration)
        )
    except (UpstreamError, CredentialUnusable) as exc:
        record(request, "widget updated", credential=credential, target=wid, error=exc)
        raise
    upstream_cache.invalidate(credential.pk)
    record(request, "widget updated", credential=credential, target=f"{widget.name} ({widget.id})")
    return widget_out(widget)


# Activity


def _entries(request: HttpRequest, params: dict[str, Any]) -> Any:
    from accounts.views_activity import ActivityFilter

    bearer = need(request, "activity:read")
    form = ActivityFilter(params or None, team=bearer.membership.team)
    entries = Activity.objects.filter(team=bearer.membership.team).order_by("-id")
    if form.is_bound and not form.is_valid():
        raise Problem(
            422,
            "validation",
            "The filters are not valid",
            errors={k: [str(m) for m in v] for k, v in form.errors.items()},
        )
    return form.apply(entries) if form.is_bound else entries


def _filters(**given: Any) -> dict[str, Any]:
    """The activity page's filters that were given, as its form takes them."""
    return {name: value for name, value in given.items() if value}


def _activity_out(entry: Activity) -> ActivityOut:
    return ActivityOut(
        id=entry.pk,
        created_at=entry.created_at,
        who=entry.actor_email,
        via=entry.via,
        action=entry.action,
        credential=entry.credential_label,
        target=entry.target,
        outcome=entry.outcome,
        error=entry.error_kind,
        status=entry.upstream_status,
        detail=entry.detail,
    )


@api.get("/activity", response={200: list[ActivityOut], **ERRORS}, tags=["activity"])
@read
def list_activity(
    request: HttpRequest,
    person: int | None = None,
    credential: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[ActivityOut]:
    """Newest first, with the activity page's filters; page with `before` (an entry's id)."""
    params = _filters(person=person, credential=credential, action=action, since=since, until=until)
    entries = _entries(request, params)
    if before:
        entries = entries.filter(id__lt=before)
    return [_activity_out(e) for e in entries[: max(1, min(limit, 500))]]


@api.get(
    "/activity.csv",
    tags=["activity"],
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
@read
def activity_csv(
    request: HttpRequest,
    person: int | None = None,
    credential: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
) -> HttpResponse:
    """Every entry the filters select, as CSV (spreadsheet formulas neutralised)."""
    from accounts.views_activity import _cell

    params = _filters(person=person, credential=credential, action=action, since=since, until=until)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["when", "who", "via", "action", "credential", "target", "outcome", "error"])
    for e in _entries(request, params).iterator(chunk_size=2000):
        writer.writerow(
            [
                e.created_at.isoformat(),
                e.actor_email,
                e.via,
                e.action,
                e.credential_label,
                _cell(e.target),
                e.outcome,
                e.error_kind,
            ]
        )
    return HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
