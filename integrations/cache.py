"""Short-lived caching of upstream reads, per credential, with invalidation on change.

Keys carry a per-credential version number; a create or rename bumps the version, so every cached
page of that credential is stale at once without having to find and delete each key. Values are
the clients' dataclasses, which never hold a token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


def version(credential_id: int) -> int:
    """The credential's current cache generation (bumped by `invalidate`)."""
    key = f"upstream:v:{credential_id}"
    return _current(key, {key: cache.get(key)})


def page_versions_and(credential_id: int, team_id: int, page_key: str) -> tuple[int, int, Any]:
    """The credential's generation, the team's credentials version and a stored page, at once."""
    keys = [f"upstream:v:{credential_id}", _team_key(team_id)]
    found = cache.get_many([*keys, page_key])
    return _current(keys[0], found), _current(keys[1], found), found.get(page_key)


def _current(key: str, found: dict[str, Any]) -> int:
    current = found.get(key)
    if current is None:
        cache.add(key, _fresh_version(), timeout=None)
        current = cache.get(key, 0)
    return int(current)


def _fresh_version() -> int:
    """A starting version no earlier one had, so a version key lost from the cache (eviction, a
    Redis restart) can never come back equal to what old entries were stored under."""
    return secrets.randbits(62)


def _team_key(team_id: int) -> str:
    return f"team-credentials:v:{team_id}"


def credentials_changed(team_id: int) -> None:
    """A credential of this team was linked, changed or removed: pages showing them are stale.

    Called from the Credential save/delete signals (see integrations/apps.py), so every path
    counts, the admin and cascades included.
    """
    _bump(_team_key(team_id))


def cached(
    credential_id: int, name: str, load: Callable[[], T], *, generation: int | None = None
) -> T:
    """`load()` once per UPSTREAM_CACHE_SECONDS for this credential; errors are not cached.

    Pass `generation` when the caller has already read `version()`, to save a round trip.
    """
    return cached_for(credential_id, name, load, generation=generation)[0]


def cached_for(
    credential_id: int, name: str, load: Callable[[], T], *, generation: int | None = None
) -> tuple[T, float]:
    """`cached()`, and for how many more seconds the value will be served from the cache."""
    ttl = settings.UPSTREAM_CACHE_SECONDS
    if ttl <= 0:
        return load(), 0.0
    if generation is None:
        generation = version(credential_id)
    # Entries are (stored at, value); the "at" in the key keeps them apart from plain values.
    key = f"upstream:{credential_id}:{generation}:at:{name}"
    found = cache.get(key)
    if found is None:
        found = (time.time(), load())
        cache.set(key, found, timeout=ttl)
    stored_at, value = found
    return value, max(0.0, stored_at + ttl - time.time())


def invalidate(credential_id: int) -> None:
    """Forget everything cached for this credential (after a create or rename)."""
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
