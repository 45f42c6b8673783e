"""System checks of the deployment's shape (`manage.py check`, and every `migrate`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.checks import CheckMessage, Tags, Warning, register
from django.utils.module_loading import import_string

HINT = "Remove the CACHES override so the portal uses its database cache, or set REDIS_URL."


@register(Tags.caches)
def cache_is_shared(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, warn when the default cache is kept per process, or not kept at all.

    Log-in throttling, the circuit breakers, the Pulsoid budgets and the upstream cache's
    invalidation live in this cache. A per-process one (LocMemCache) gives every gunicorn worker
    its own: each allows its own failed log-ins, and a rename still shows the old name through
    the others. (The double-submit guard is in the database, so it holds either way.)
    """
    if settings.DEBUG:
        return []
    backend = str(settings.CACHES.get("default", {}).get("BACKEND", ""))
    try:
        kind = import_string(backend)
    except ImportError:
        return []  # Django's own cache checks report a backend that does not import
    if issubclass(kind, LocMemCache):
        return [
            Warning(
                f"The default cache ({backend}) is kept separately by every worker process: "
                "with more than one worker, log-in throttling, the circuit breakers, the Pulsoid "
                "request budgets and the clearing of cached upstream lists after a change each "
                "hold only in the worker that saw them.",
                hint=HINT,
                id="portal.W001",
            )
        ]
    if issubclass(kind, DummyCache):
        return [
            Warning(
                f"The default cache ({backend}) keeps nothing: log-in throttling, the circuit "
                "breakers and the Pulsoid request budgets never engage.",
                hint=HINT,
                id="portal.W002",
            )
        ]
    return []
