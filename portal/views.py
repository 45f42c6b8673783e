"""Portal-wide pages: the home page, its status panel, and the liveness and readiness checks."""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from portal.htmx import PortalRequest, render_screen

logger = logging.getLogger(__name__)


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
        "cache_backend": "Redis" if settings.REDIS_URL else "the database (shared)",
        "upstreams": [
            ("Pulsetracker API", settings.PULSETRACKER_API_URL),
            ("Pulsoid API", settings.PULSOID_API_URL),
            ("Pulsoid OAuth", settings.PULSOID_OAUTH_URL),
        ],
    }
    return render_screen(request, "home.html", "system-status", context)


def cache_ok() -> bool:
    """Whether the cache keeps a value and gives it back (a round trip to wherever it lives)."""
    value = uuid.uuid4().hex
    key = f"readyz:{value}"
    try:
        cache.set(key, value, timeout=10)
        return cache.get(key) == value
    # Redis's errors are not Django's, and a database cache raises DatabaseError: whatever the
    # backend, a cache that fails means this instance is not ready.
    except Exception:
        return False


def unapplied_migrations() -> int:
    """How many migrations in the code are not applied to the database (`migrate`'s plan)."""
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


class _Readiness:
    """What the last readiness check of this process found, so the log says when it changes
    instead of repeating itself at every probe."""

    failing: tuple[str, ...] = ()


def _note_readiness(failing: tuple[str, ...]) -> None:
    if failing != _Readiness.failing:
        if failing:
            logger.warning("Not ready: %s", ", ".join(failing))
        else:
            logger.info("Ready again")
        _Readiness.failing = failing


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: 200 whenever the process answers, touching nothing else.

    No database or cache call: an outage of either must not get healthy processes restarted (that
    is what an orchestrator does to a process whose liveness check fails). Whether this instance
    should receive traffic is /readyz.
    """
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: 200 when this instance can serve, 503 naming what is not ready.

    The database answers, the cache keeps a value, and no migration is waiting (so an image
    started before `migrate` ran stays out of the load balancer). Load balancers, Docker's
    HEALTHCHECK and rolling deploys ask this. Each check says only "ok" or what failed, never an
    error message: the endpoint answers anyone.
    """
    checks = {
        "database": "ok" if database_ok() else "unreachable",
        "cache": "ok" if cache_ok() else "failed",
        "migrations": "unchecked",
    }
    if checks["database"] == "ok":
        try:
            pending = unapplied_migrations()
        except DatabaseError:
            checks["migrations"] = "unreadable"
        else:
            checks["migrations"] = f"{pending} unapplied" if pending else "ok"
    # Migrations cannot be read without the database: that is the database's failure, not theirs.
    failing = tuple(name for name, state in checks.items() if state not in ("ok", "unchecked"))
    _note_readiness(failing)
    if not failing:
        return JsonResponse({"status": "ok", **checks})
    response = JsonResponse({"status": "unready", "failing": list(failing), **checks}, status=503)
    # Django logs every 5xx as an error (mailed to ADMINS_EMAILS): a probe every few seconds
    # would repeat it all through an outage. The change itself is logged once, above.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response
