"""Portal-wide pages: the home page, its status panel, and the health check."""

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.htmx import PortalRequest, render_screen


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


@require_GET
def home(request: PortalRequest) -> HttpResponse:
    return render(request, "home.html", {"deferred_status": True})


@require_GET
def status(request: PortalRequest) -> HttpResponse:
    """The home page's status panel; a full page on its own, the panel for htmx."""
    context = {
        "database_ok": database_ok(),
        "database_vendor": connection.vendor,
        "cache_backend": "Redis" if settings.REDIS_URL else "in-process memory",
        "upstreams": [
            ("Pulsetracker API", settings.PULSETRACKER_API_URL),
            ("Pulsoid API", settings.PULSOID_API_URL),
            ("Pulsoid OAuth", settings.PULSOID_OAUTH_URL),
        ],
    }
    return render_screen(request, "home.html", "system-status", context)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 otherwise (for load balancers and Docker)."""
    if database_ok():
        return JsonResponse({"status": "ok", "database": "ok"})
    return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
