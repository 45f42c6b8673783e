"""Protecting the upstreams (and the portal) when things go wrong, across every instance.

Both pieces keep their state in the cache, which is Redis when several instances run, so they
hold for the whole deployment rather than per process:

- a circuit breaker per upstream: after BREAKER_FAILURES unavailable answers within
  BREAKER_WINDOW_SECONDS, calls fail fast with a clear message for BREAKER_OPEN_SECONDS; then
  exactly one trial call is let through: if it works the breaker closes, if not it pauses again;
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


def _now() -> float:
    return time.time()


def _paused(service: str) -> Unavailable:
    return Unavailable(
        f"{service} kept failing, so the portal is pausing calls to it for a few seconds; "
        "try again shortly.",
        service=service,
    )


def before_call(service: str) -> bool:
    """Fail fast while the breaker for `service` is open; once its pause is over, let exactly one
    trial call through (across every instance), whose outcome closes or re-opens it.

    Returns whether this call's outcome must be written (failures are being counted, or it is the
    trial), so a healthy upstream costs one cache read per call, not a read and a write.
    """
    open_key, failures_key = _key(service, "open"), _key(service, "failures")
    found = cache.get_many([open_key, failures_key])
    reopens_at = found.get(open_key)
    if reopens_at is not None:
        # Open: the pause runs until `reopens_at`; after it, the first caller to claim the trial
        # goes through and everyone else still fails fast until the trial has answered.
        trial_seconds = int(settings.UPSTREAM_CONNECT_TIMEOUT + settings.UPSTREAM_READ_TIMEOUT) + 5
        if _now() < reopens_at or not cache.add(_key(service, "trial"), 1, trial_seconds):
            raise _paused(service)
        return True
    return bool(found.get(failures_key))


def _open(service: str) -> None:
    """Open the breaker: it stays open (not just for a TTL) until a trial call succeeds."""
    reopens_at = _now() + settings.BREAKER_OPEN_SECONDS
    cache.set(_key(service, "open"), reopens_at, timeout=None)
    cache.delete_many([_key(service, "failures"), _key(service, "trial")])


def failed(service: str) -> None:
    """Count one unavailable answer; open the breaker at the threshold, or again when the trial
    call failed."""
    if cache.get(_key(service, "open")) is not None:
        _open(service)  # the trial failed: pause again
        return
    key = _key(service, "failures")
    cache.add(key, 0, timeout=settings.BREAKER_WINDOW_SECONDS)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.BREAKER_WINDOW_SECONDS)
        failures = 1
    if failures >= settings.BREAKER_FAILURES:
        _open(service)


def succeeded(service: str, counting: bool = True) -> None:
    """A good answer: reset the count, and close the breaker when this was the trial call
    (`counting` as `before_call` returned)."""
    if counting:
        cache.delete_many(
            [_key(service, "failures"), _key(service, "open"), _key(service, "trial")]
        )


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
