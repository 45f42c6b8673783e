"""Portal-wide pages: the home page (the team's dashboard, or a welcome for visitors), and the
liveness and readiness checks."""

import logging
import uuid

from allauth.account.views import login as allauth_login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from accounts.access import Action, may, team_view
from accounts.models import Activity
from integrations.dashboard import dashboard
from integrations.models import Service
from portal.htmx import PortalRequest, render_screen

logger = logging.getLogger(__name__)

#: How many of the newest activity entries the dashboard shows.
RECENT_ACTIVITY = 10


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


@never_cache
@require_GET
def home(request: PortalRequest) -> HttpResponseBase:
    """The team's dashboard; a visitor gets the sign-in page (what the portal is, and the log-in
    form, which posts to the log-in address)."""
    if not request.user.is_authenticated:
        return allauth_login(request)
    return _dashboard(request)


@login_required
@team_view(Action.READ)
def _dashboard(request: PortalRequest) -> HttpResponse:
    """Credentials by condition with their upstream facts, recent activity, quick actions.

    The facts come through the upstream cache: a repeat view paints at once, labelled with its
    age, and asks for itself again with `?fresh=1` (the htmx request gets the cards alone)."""
    board = dashboard(request.team, request.user, fresh=bool(request.GET.get("fresh")))
    sees_team_activity = may(request.membership, Action.MANAGE_CREDENTIALS)
    entries = Activity.objects.filter(team=request.team)
    if not sees_team_activity:
        entries = entries.filter(actor=request.user)  # the log is for admins: one's own only
    context = {
        "cards": board.cards,
        "freshness": board.freshness,
        "attention_count": sum(1 for card in board.cards if card.attention),
        "activity": entries.order_by("-id")[:RECENT_ACTIVITY],
        "team_activity": sees_team_activity,
        "first_pulsoid": next(
            (c.credential for c in board.cards if c.credential.service == Service.PULSOID), None
        ),
        "has_pulsetracker": any(c.credential.service == Service.PULSETRACKER for c in board.cards),
    }
    return render_screen(request, "home.html", "credential-cards", context)


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
