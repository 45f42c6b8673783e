"""Portal middleware."""

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone

from portal.views import healthz, readyz


class HealthCheckMiddleware:
    """Answer `/healthz` (liveness) and `/readyz` (readiness) before anything else runs.

    Load balancers and Docker's HEALTHCHECK call the portal by its IP address, which is rarely in
    ALLOWED_HOSTS, and over plain HTTP from inside the network, which SECURE_SSL_REDIRECT would
    turn away. The checks reveal only whether the process, the database, the cache and the
    migrations are in order, so they are safe to serve to any Host header; and answered here they
    cost no session, user or CSRF work.
    """

    CHECKS = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        check = self.CHECKS.get(request.path)
        if check is not None and request.method in ("GET", "HEAD"):
            return check(request)
        return self.get_response(request)


class HtmxRedirectMiddleware:
    """Never answer an htmx request with a redirect.

    htmx would follow a 302 inside the swap target and paint a whole page (often the login page)
    into a table cell. Instead the browser is told to navigate with `HX-Redirect`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if htmx and not htmx.boosted and response.status_code in (301, 302, 303, 307, 308):
            redirect = HttpResponse(status=204)
            redirect["HX-Redirect"] = response["Location"]
            return redirect
        return response


class FreshPagesMiddleware:
    """Keep pages out of the browser's cache (`Cache-Control: no-cache, no-store, private`).

    Otherwise Back shows a page as it was before the person changed something on it in place (a
    rename swapped in by htmx): Chromium reuses its cached copy on Back even when told `no-cache`,
    so only `no-store` makes it ask again. Only HTML is concerned, and a view that says how it is
    cached (`never_cache`) keeps its own header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-cache, no-store, private"
        return response


class LastActiveMiddleware:
    """Note when a signed-in person was last seen, at most once every few minutes."""

    EVERY_SECONDS = 300

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now()
            seen = user.last_active_at
            if seen is None or (now - seen).total_seconds() > self.EVERY_SECONDS:
                get_user_model().objects.filter(pk=user.pk).update(last_active_at=now)
        return response


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def tile_origin(url: str) -> str:
    """The map tile server's origin for img-src; a `{s}` subdomain template becomes `*`."""
    return origin(url.replace("{s}", "*"))


def sign_on_origins() -> list[str]:
    """The origins of the configured OpenID Connect providers (their issuers: the sign-in page
    lives there for every common provider)."""
    provider: dict[str, Any] = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {})
    apps: list[dict[str, Any]] = provider.get("APPS") or []
    urls = [str(app.get("settings", {}).get("server_url", "")) for app in apps]
    return [origin(url) for url in urls if urlsplit(url).scheme in ("http", "https")]


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp, with the directives that depend on where upstreams live read per response.

    The widget preview frames Pulsoid's viewer, "Connect with Pulsoid" is redirected to its
    consent page, and device maps load tiles from the configured tile server; these origins come
    from settings, which may point at the sandbox.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        # Single sign-on: the log-in button goes on to the provider's sign-in page.
        form_action = ["'self'", origin(settings.PULSOID_OAUTH_URL), *sign_on_origins()]
        dynamic = {
            "img-src": ["'self'", "data:", tile_origin(settings.PULSETRACKER_MAP_TILES_URL)],
            "frame-src": [origin(settings.PULSOID_WIDGET_VIEWER_URL)],
            "form-action": form_action,
        }
        return dataclasses.replace(parts, replace={**dynamic, **(parts.replace or {})})
