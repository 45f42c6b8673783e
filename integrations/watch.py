"""The portal's background work, run by django-q2's cluster (`manage.py qcluster`) on the
schedules in `SCHEDULES`, and callable directly (tests, an operator's shell).

- `watch`, every minute: check upstream each credential whose turn has come (each team's
  interval, spread by credential so they are not all checked at once), refresh OAuth tokens
  before they expire, then tell the team's channels about every change of condition.
- `deliver`, every minute: send the alerts that are due, retrying failures with backoff.
- `prune`, daily: expired sessions, sessions no longer tracked, activity older than the
  operator's retention, old double-submit guards and expired cache entries.
"""

from __future__ import annotations

import logging
import zlib
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db.models import Q
from django.utils import timezone

from accounts.models import Activity, Team
from integrations import alerts, credentials
from integrations.cache import PortalDatabaseCache
from integrations.errors import UpstreamError
from integrations.models import Credential, GeofenceEvent, Submission, Watch
from integrations.registry import upstream
from integrations.tokens import CredentialUnusable

logger = logging.getLogger(__name__)

#: Checked in one run at most; the rest wait for the next minute.
BATCH = 50
#: OAuth tokens expiring within this are refreshed by the watch (above a minute, its period).
REFRESH_AHEAD = timedelta(minutes=15)

#: (name, function, minutes between runs) of the cluster's schedules (see integrations/apps.py).
SCHEDULES = [
    ("Watch credentials", "integrations.watch.watch", 1),
    ("Deliver alerts", "integrations.watch.deliver", 1),
    ("Prune old records", "integrations.watch.prune", 24 * 60),
]


def _offset(credential: Credential, interval: timedelta) -> timedelta:
    """A fixed offset within the interval per credential, so first checks are spread out."""
    seconds = max(int(interval.total_seconds()), 1)
    return timedelta(seconds=zlib.crc32(str(credential.pk).encode()) % seconds)


def due(credential: Credential, interval: timedelta, now: datetime) -> bool:
    if credential.watched_at is None:
        return now >= credential.linked_at + _offset(credential, interval)
    return now >= credential.watched_at + interval


def watch(now: datetime | None = None) -> dict[str, int]:
    """One round of watching; returns what it did (for the cluster's result and the tests)."""
    now = now or timezone.now()
    intervals = {w.team_id: timedelta(minutes=w.check_minutes) for w in Watch.objects.all()}
    default = timedelta(minutes=settings.PORTAL_CHECK_MINUTES)
    checked = refreshed = 0
    for credential in Credential.objects.select_related("team").order_by("watched_at", "pk"):
        service = upstream(credential.service)
        try:
            before = credential.ciphertext
            service.refresh_ahead(credential, REFRESH_AHEAD)
            refreshed += credential.ciphertext != before
        except (UpstreamError, CredentialUnusable) as exc:
            logger.info("Background refresh of credential %s failed: %s", credential.pk, exc)
        interval = intervals.get(credential.team_id, default)
        if checked < BATCH and due(credential, interval, now):
            credentials.recheck(credential, None, background=True)
            checked += 1
    announced = sum(alerts.announce_changes(team, now) for team in _teams_with_credentials())
    return {"checked": checked, "refreshed": refreshed, "alerts": announced}


def _teams_with_credentials() -> list[Team]:
    return list(Team.objects.filter(credentials__isnull=False).distinct())


def deliver(now: datetime | None = None) -> dict[str, int]:
    return {"attempted": alerts.deliver_due(now)}


#: How long a create form's submission id is remembered (the double-submit guard's rows).
KEEP_SUBMISSIONS = timedelta(days=1)


def prune(now: datetime | None = None) -> dict[str, int]:
    """Remove what grows forever: expired sessions (and the session list's rows for them),
    activity and received geofence events past PORTAL_ACTIVITY_RETENTION_DAYS (0, the default,
    keeps everything; a retention of days is far past the events' replay window, so forgetting
    their signatures lets no replay in), the double-submit guard's rows older than a day, and
    expired entries of the database cache."""
    from allauth.usersessions.models import UserSession

    now = now or timezone.now()
    sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
    live = Session.objects.values("session_key")
    tracked, _ = UserSession.objects.filter(~Q(session_key__in=live)).delete()
    activity = geofence_events = 0
    if settings.PORTAL_ACTIVITY_RETENTION_DAYS:
        cutoff = now - timedelta(days=settings.PORTAL_ACTIVITY_RETENTION_DAYS)
        # The operator's retention: a bulk delete (entries themselves refuse `delete()`).
        activity, _ = Activity.objects.filter(created_at__lt=cutoff).delete()
        geofence_events, _ = GeofenceEvent.objects.filter(received_at__lt=cutoff).delete()
    submissions, _ = Submission.objects.filter(created_at__lt=now - KEEP_SUBMISSIONS).delete()
    store = caches["default"]
    cache_entries = store.delete_expired() if isinstance(store, PortalDatabaseCache) else 0
    return {
        "sessions": sessions,
        "tracked_sessions": tracked,
        "activity": activity,
        "geofence_events": geofence_events,
        "submissions": submissions,
        "cache_entries": cache_entries,
    }
