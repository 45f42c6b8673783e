"""Short-lived caching of upstream reads, per credential, with invalidation on change.

Keys carry a per-credential version number; a create, rename, replace or unlink bumps it, so
everything cached for that credential is stale at once without finding and deleting each key.
Values are the clients' dataclasses, which never hold a token. Only upstream data is cached here:
pages are always rendered afresh, so what they show of the portal itself is never stale.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


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


def first_submission(credential_id: int, submission: str) -> bool:
    """True the first time a form submission id is seen (guards against double submits)."""
    if not submission:
        return True
    return cache.add(f"submission:{credential_id}:{submission}", 1, timeout=600)
