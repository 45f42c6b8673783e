"""Short-lived caching of upstream reads, per credential, with invalidation on change.

Keys carry a per-credential version number; a create or rename bumps the version, so every cached
page of that credential is stale at once without having to find and delete each key. Values are
the clients' dataclasses, which never hold a token.
"""

from __future__ import annotations

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
        cache.add(key, 1, timeout=None)
        current = cache.get(key, 1)
    return int(current)


def cached(
    credential_id: int, name: str, load: Callable[[], T], *, generation: int | None = None
) -> T:
    """`load()` once per UPSTREAM_CACHE_SECONDS for this credential; errors are not cached.

    Pass `generation` when the caller has already read `version()`, to save a round trip.
    """
    ttl = settings.UPSTREAM_CACHE_SECONDS
    if ttl <= 0:
        return load()
    if generation is None:
        generation = version(credential_id)
    key = f"upstream:{credential_id}:{generation}:{name}"
    value = cache.get(key)
    if value is None:
        value = load()
        cache.set(key, value, timeout=ttl)
    return value


def invalidate(credential_id: int) -> None:
    """Forget everything cached for this credential (after a create or rename)."""
    key = f"upstream:v:{credential_id}"
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 2, timeout=None)


def first_submission(credential_id: int, submission: str) -> bool:
    """True the first time a form submission id is seen (guards against double submits)."""
    if not submission:
        return True
    return cache.add(f"submission:{credential_id}:{submission}", 1, timeout=600)
