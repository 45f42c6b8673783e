"""Short-lived caching of upstream reads, per credential, with invalidation on change.

Keys carry a per-credential version number; a create, rename, replace or unlink bumps it, so
everything cached for that credential is stale at once without finding and deleting each key.
Values are the clients' dataclasses, which never hold a token. Only upstream data is cached here:
pages are always rendered afresh, so what they show of the portal itself is never stale.

The cache is Redis when REDIS_URL is set, else a table in the portal's database
(`PortalDatabaseCache` below): either way one cache for every worker and instance, so an
invalidation in one process is seen by all.
"""

from __future__ import annotations

import base64
import pickle
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

T = TypeVar("T")


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


def cached(credential_id: int, name: str, load: Callable[[], T]) -> T:
    """`load()` once per UPSTREAM_CACHE_SECONDS for this credential; errors are not cached."""
    ttl = settings.UPSTREAM_CACHE_SECONDS
    if ttl <= 0:
        return load()
    key = f"upstream:{credential_id}:{version(credential_id)}:{name}"
    found = cache.get(key)
    if found is None:
        found = load()
        cache.set(key, found, timeout=ttl)
    return found


def invalidate(credential_id: int) -> None:
    """Forget everything cached for this credential (after a create, rename, replace or unlink)."""
    _bump(f"upstream:v:{credential_id}")


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, _fresh_version(), timeout=None)
