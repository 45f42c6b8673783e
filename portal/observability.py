"""What operators see of a running portal: request ids on every log line, JSON logs in
production, error reports to Sentry, and Prometheus metrics.

- Every request gets an id: the trusted proxy's `X-Request-ID` when TRUSTED_PROXY_COUNT says
  there is one, a new one otherwise. It is on every log line the request causes (the
  `request_id` field) and returned in the response's `X-Request-ID`.
- Logs are JSON lines in production (`LOG_FORMAT=json`, the default without DEBUG) and plain text
  in development, both through `portal.logging.RedactTokens`, which redacts structured fields too.
- With SENTRY_DSN set, errors go to Sentry, scrubbed by the same redaction before they leave.
- `/metrics` (Prometheus text format) answers the addresses in PORTAL_METRICS_ALLOW, or a request
  bearing PORTAL_METRICS_TOKEN; anyone else gets 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily

from portal.logging import redact, request_id
from portal.metrics import REGISTRY, REQUEST_SECONDS

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class RequestIdMiddleware:
    """Give the request an id for its log lines and the response; time it for /metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        given = request.headers.get("X-Request-ID", "")
        trusted = settings.TRUSTED_PROXY_COUNT > 0 and REQUEST_ID.match(given)
        token = request_id.set(given if trusted else uuid.uuid4().hex)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id.get()
            REQUEST_SECONDS.labels(_view_name(request), f"{response.status_code // 100}xx").observe(
                time.monotonic() - started
            )
            return response
        finally:
            request_id.reset(token)


def _view_name(request: HttpRequest) -> str:
    try:
        return resolve(request.path_info).view_name or "unnamed"
    except Resolver404:
        return "not-found"


class _StateCollector:
    """Read at scrape time from the cache and the database: breaker state per upstream, and the
    background jobs' and alert deliveries' outcomes."""

    def describe(self) -> list[Any]:
        return []  # nothing to read when registered (the database may not be there yet)

    def collect(self) -> Any:
        from django.core.cache import cache
        from django_q.models import Failure, Success

        from integrations.models import Delivery
        from integrations.protection import _key
        from integrations.registry import UPSTREAMS

        breaker = GaugeMetricFamily(
            "portal_breaker_open", "1 while calls to the upstream are paused.", labels=["service"]
        )
        for entry in UPSTREAMS.values():
            opened = cache.get(_key(entry.label, "open")) is not None
            breaker.add_metric([entry.label], 1.0 if opened else 0.0)
        yield breaker
        jobs = GaugeMetricFamily(
            "portal_job_runs", "Background job runs kept, by outcome.", labels=["outcome"]
        )
        jobs.add_metric(["success"], float(Success.objects.count()))
        jobs.add_metric(["failure"], float(Failure.objects.count()))
        yield jobs
        deliveries = GaugeMetricFamily(
            "portal_alert_deliveries", "Alert deliveries, by state.", labels=["state"]
        )
        for state in Delivery.State:
            deliveries.add_metric(
                [state.value], float(Delivery.objects.filter(state=state).count())
            )
        yield deliveries


REGISTRY.register(_StateCollector())


def _allowed(request: HttpRequest) -> bool:
    token = settings.PORTAL_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given, f"Bearer {token}"):
        return True
    address = request.META.get("REMOTE_ADDR", "")
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(net) for net in settings.PORTAL_METRICS_ALLOW)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the operator's scraper only (404 to anyone else)."""
    if not _allowed(request):
        return HttpResponse("Not found", status=404, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def _redacted(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact(value)
    if depth > 30:
        return value
    if isinstance(value, dict):
        return {key: _redacted(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, depth + 1) for item in value]
    return value


def _scrubbed(event: Any, hint: Any) -> Any:
    """Sentry's event, with every token-shaped text in it redacted before it is sent (messages,
    exception values, frame variables, request data)."""
    return _redacted(event)


def start_sentry() -> None:
    """Send errors to Sentry when SENTRY_DSN is set (no personal data, tokens redacted)."""
    if not settings.SENTRY_DSN:
        return
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        before_send=_scrubbed,
        traces_sample_rate=0.0,
    )
