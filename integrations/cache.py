"""Caching of upstream reads, per credential, with invalidation on change.

Keys carry a per-credential version number; a create, rename, replace or unlink bumps it, so
everything cached for that credential is gone at once without finding and deleting each key.
Values are the clients' dataclasses, which never hold a token. Only upstream data is cached here:
pages are always rendered afresh, so what they show of the portal itself is never stale.

Two ways to read:

`cached(credential_id, name, load) -> T`
    The value, fetched with `load()` at most once per UPSTREAM_CACHE_SECONDS. Older entries are
    fetched again before answering (the API and anything that must not show old data).

`read(credential_id, name, load, *, fresh=False) -> Read[T]` (stale-while-revalidate)
    For screens. Within UPSTREAM_CACHE_SECONDS of its fetch the stored value is simply fresh.
    After that, and for up to UPSTREAM_STALE_SECONDS (a day), it is answered at once with
    `stale=True` and no upstream call: the screen paints it, labelled with its age, and asks for
    itself again with `?fresh=1` (templates/includes/freshness.html does both). `fresh=True`
    (that second request) always calls `load()` and stores the answer; if the upstream is down,
    slow to the point of timing out or rate limiting (`Unavailable`, `RateLimited`,
    `BadResponse`), the stored value comes back instead, still stale, with `refresh_failed`
    holding the reason, so a page never trades what it showed for an error. Any other error
    (rejected token, not found, ...) is raised, as is every error when nothing is stored.

    A view using it:

        found = cache.read(cred.pk, f"apps:{page}", load, fresh=bool(request.GET.get("fresh")))
        context.update(page=found.value, freshness=found)
        # in the template, inside the region htmx swaps (id="apps-table"):
        {% include "includes/freshness.html" with freshness=freshness target="apps-table" %}

    The include renders nothing for a fresh value; for a stale one, "as of 3 minutes ago" and
    an `hx-get` of the same URL plus `fresh=1` (`hx-trigger="load"`, swapping `#<target>`'s
    outerHTML, taking `#<target>` from the answer), so the view may answer that htmx request with
    the region (render_screen) or the whole page.

`oldest(reads) -> Read[None]`
    A screen built from several reads is as old as its oldest, and stale if any part is.

`peek(credential_id, name) -> Read | None`, `store(credential_id, name, value)`
    What is stored, without loading; and a value kept as if just fetched (a create's answer
    merged into a cached list: peek, invalidate, store the merged list).

`invalidate(credential_id)`
    After every create, rename, replace or unlink: both kinds of read then fetch afresh, so a
    person never sees their own change undone by a stale copy.

Both kinds of read share their entries (a value fetched by one is seen by the other). The cache
is Redis when REDIS_URL is set, else a table in the portal's database (`PortalDatabaseCache`
below): either way one cache for every worker and instance, so an invalidation in one process is
seen by all.
"""

from __future__ import annotations

import base64
import pickle
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from integrations.errors import BadResponse, RateLimited, Unavailable

T = TypeVar("T")

# Failures of a refresh that leave the stored value standing: the upstream is away, not saying no.
PASSING_FAILURES = (Unavailable, RateLimited, BadResponse)


class PortalDatabaseCache(DatabaseCache):
    """Django's database cache (the portal's cache without REDIS_URL), with an `incr` that keeps
    the entry's expiry and loses no increment.

    Django's own `incr` is a read and then a `set`, and that `set` gives the entry the default
    timeout: a circuit breaker's 30-second failure window, or a one-second Pulsoid budget, would
    last five minutes; and two workers counting at once would both write the same number. Here
    the row is locked, read and rewritten in one transaction with its expiry untouched, as Redis's
    INCR does.
    """

    _table: str  # the table's name (LOCATION), set by Django's __init__

    def _database(self) -> tuple[str, BaseDatabaseWrapper]:
        alias = router.db_for_write(self.cache_model_class)
        return alias, connections[alias]

    def _now(self, connection: BaseDatabaseWrapper) -> Any:
        """Now, as Django's `has_key` compares it with `expires` (so expired means the same)."""
        now = timezone.now().replace(microsecond=0, tzinfo=None)
        return connection.ops.adapt_datetimefield_value(now)

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        alias, connection = self._database()
        q = connection.ops.quote_name
        table = q(self._table)
        # SQLite locks no rows; its transactions take the write lock when they begin
        # (settings.py: transaction_mode IMMEDIATE), which serialises increments instead.
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {q('value')} FROM {table} "  # noqa: S608 (names quoted, values bound)
                f"WHERE {q('cache_key')} = %s AND {q('expires')} > %s{lock}",
                [key, self._now(connection)],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found")
            # Stored as Django's backend stores every value: pickled, then base64.
            stored = connection.ops.process_clob(row[0]).encode()
            number = pickle.loads(base64.b64decode(stored)) + delta  # noqa: S301 (our own row)
            encoded = base64.b64encode(pickle.dumps(number, self.pickle_protocol)).decode("latin1")
            cursor.execute(
                f"UPDATE {table} SET {q('value')} = %s WHERE {q('cache_key')} = %s",  # noqa: S608
                [encoded, key],
            )
        return number

    def delete_expired(self) -> int:
        """Remove expired entries (the daily prune): Django's backend removes them only when
        read, or when the table is over MAX_ENTRIES, and counts the table at every write."""
        _, connection = self._database()
        q = connection.ops.quote_name
        table = q(self._table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {q('expires')} < %s",  # noqa: S608
                [self._now(connection)],
            )
            return cursor.rowcount


def version(credential_id: int) -> int:
    """The credential's current cache generation (bumped by `invalidate`)."""
    key = f"upstream:v:{credential_id}"
    current = cache.get(key)
    if current is None:
        cache.add(key, _fresh_version(), timeout=None)
        current = cache.get(key, 0)
    return int(current)


def _fresh_version() -> int:
    """A starting version no earlier one had, so a version key lost from the cache (eviction, a
    Redis restart) can never come back equal to what old entries were stored under."""
    return secrets.randbits(62)


@dataclass(frozen=True)
class _Entry:
    """What is stored: the value and when it came from upstream (seconds since the epoch)."""

    value: Any
    fetched: float


@dataclass(frozen=True)
class Read(Generic[T]):
    """A value as `read` found it: `stale` when older than UPSTREAM_CACHE_SECONDS (the screen
    shows its age and asks for a fresh one), `refresh_failed` when a fresh one was asked for
    and the upstream could not give it (the message to show beside the old value)."""

    value: T
    fetched: float
    stale: bool = False
    refresh_failed: str = ""

    @property
    def fetched_at(self) -> datetime:
        return datetime.fromtimestamp(self.fetched, tz=UTC)

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.fetched)


def oldest(reads: list[Read[Any]]) -> Read[None]:
    """How fresh a screen built from several reads is: the oldest fetch, stale if any is, and
    the first failed refresh's reason (what the freshness label of the whole screen shows)."""
    if not reads:
        return Read(None, time.time())
    return Read(
        None,
        min(r.fetched for r in reads),
        stale=any(r.stale for r in reads),
        refresh_failed=next((r.refresh_failed for r in reads if r.refresh_failed), ""),
    )


def _key(credential_id: int, name: str) -> str:
    return f"upstream:{credential_id}:{version(credential_id)}:{name}"


def _stored(key: str) -> _Entry | None:
    found = cache.get(key)
    return found if isinstance(found, _Entry) else None


def _fetch(key: str, load: Callable[[], T]) -> Read[T]:
    value = load()
    entry = _Entry(value, time.time())
    cache.set(key, entry, timeout=max(settings.UPSTREAM_STALE_SECONDS, 1))
    return Read(value, entry.fetched)


def cached(credential_id: int, name: str, load: Callable[[], T]) -> T:
    """`load()` once per UPSTREAM_CACHE_SECONDS for this credential; errors are not cached."""
    ttl = settings.UPSTREAM_CACHE_SECONDS
    if ttl <= 0:
        return load()
    key = _key(credential_id, name)
    entry = _stored(key)
    if entry is not None and time.time() - entry.fetched < ttl:
        return entry.value
    return _fetch(key, load).value


def read(credential_id: int, name: str, load: Callable[[], T], *, fresh: bool = False) -> Read[T]:
    """Stale-while-revalidate (see the module's docstring): the stored value, fresh or stale,
    without an upstream call when there is one; `fresh=True` fetches it again."""
    if settings.UPSTREAM_CACHE_SECONDS <= 0:
        return Read(load(), time.time())
    key = _key(credential_id, name)
    entry = _stored(key)
    if entry is None:
        return _fetch(key, load)
    if fresh:
        try:
            return _fetch(key, load)
        except PASSING_FAILURES as exc:
            return Read(entry.value, entry.fetched, stale=True, refresh_failed=exc.message)
    stale = time.time() - entry.fetched >= settings.UPSTREAM_CACHE_SECONDS
    return Read(entry.value, entry.fetched, stale=stale)


def peek(credential_id: int, name: str) -> Read[Any] | None:
    """What is stored under `name`, fresh or stale, without loading anything; None if nothing."""
    entry = _stored(_key(credential_id, name))
    if entry is None:
        return None
    stale = time.time() - entry.fetched >= settings.UPSTREAM_CACHE_SECONDS
    return Read(entry.value, entry.fetched, stale=stale)


def store(credential_id: int, name: str, value: Any) -> None:
    """Keep `value` as if just fetched (a create's answer merged into a cached list, after
    `invalidate`, so the next read shows it without another upstream call)."""
    if settings.UPSTREAM_CACHE_SECONDS > 0:
        entry = _Entry(value, time.time())
        cache.set(_key(credential_id, name), entry, timeout=max(settings.UPSTREAM_STALE_SECONDS, 1))


def invalidate(credential_id: int) -> None:
    """Forget everything cached for this credential (after a create, rename, replace or unlink)."""
    _bump(f"upstream:v:{credential_id}")


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, _fresh_version(), timeout=None)
