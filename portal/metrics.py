"""Prometheus metrics of this process (served by portal.observability at /metrics).

With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR so they add up across workers
(prometheus_client's multiprocess mode). A shared helper: any layer may record into it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "portal_request_seconds",
    "Time to answer a request, by view and status class.",
    ["view", "status"],
    registry=REGISTRY,
)
UPSTREAM_SECONDS = Histogram(
    "portal_upstream_seconds",
    "Time of an upstream call, by service and outcome.",
    ["service", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_CALLS = Counter(
    "portal_upstream_calls",
    "Upstream calls, by service and outcome.",
    ["service", "outcome"],
    registry=REGISTRY,
)


def observe_upstream(service: str, outcome: str, seconds: float) -> None:
    UPSTREAM_CALLS.labels(service, outcome).inc()
    UPSTREAM_SECONDS.labels(service, outcome).observe(seconds)


GEOFENCE_WEBHOOKS = Counter(
    "portal_geofence_webhooks",
    "Geofence events posted to the portal, by outcome (accepted, or why refused).",
    ["outcome"],
    registry=REGISTRY,
)
