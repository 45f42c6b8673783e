"""Protecting the upstreams (and the portal) when things go wrong, across every instance.

Both pieces keep their state in the cache, which is Redis when several instances run, so they
hold for the whole deployment rather than per process:

- a circuit breaker per upstream: after BREAKER_FAILURES unavailable answers within
  BREAKER_WINDOW_SECONDS, calls fail fast with a clear message for BREAKER_OPEN_SECONDS, then
  one call is let through to see whether the upstream is back;
- a request budget per Pulsoid credential, below Pulsoid's soft limit of 20 per second, so a
  busy team never gets its streamer's token throttled.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from integrations.errors import RateLimited, Unavailable


def _key(service: str, part: str) -> str:
    return f"breaker:{service.lower().replace(' ', '-')}:{part}"


def before_call(service: str) -> bool:
    """Fail fast while the breaker for `service` is open.

    Returns whether failures are being counted, so `succeeded` only writes when there is a count
    to reset: a healthy upstream costs one cache read per call, not a read and a write.
    """
    found = cache.get_many([_key(service, "open"), _key(service, "failures")])
    if found.get(_key(service, "open")):
        raise Unavailable(
            f"{service} kept failing, so the portal is pausing calls to it for a few seconds; "
            "try again shortly.",
            service=service,
        )
    return bool(found.get(_key(service, "failures")))


def failed(service: str) -> None:
    """Count one unavailable answer; open the breaker at the threshold."""
    key = _key(service, "failures")
    cache.add(key, 0, timeout=settings.BREAKER_WINDOW_SECONDS)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.BREAKER_WINDOW_SECONDS)
        failures = 1
    if failures >= settings.BREAKER_FAILURES:
        cache.set(_key(service, "open"), 1, timeout=settings.BREAKER_OPEN_SECONDS)
        cache.delete(key)


def succeeded(service: str, counting: bool = True) -> None:
    """Reset the failure count after a good answer (`counting` as `before_call` returned)."""
    if counting:
        cache.delete(_key(service, "failures"))


def spend(credential_id: int, per_second: int) -> None:
    """Take one request from this credential's budget for the current second."""
    key = f"budget:{credential_id}:{int(time.time())}"
    cache.add(key, 0, timeout=2)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=2)
        used = 1
    if used > per_second:
        raise RateLimited(
            "The portal is pacing calls made with this Pulsoid token (Pulsoid allows about 20 a "
            "second); try again in a moment.",
            retry_after=1,
        )
