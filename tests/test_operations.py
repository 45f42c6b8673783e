"""What operators see: request ids on every log line and response, JSON logs with the upstream
calls' fields (tokens redacted there too), error reports to Sentry scrubbed before they leave,
and Prometheus metrics for the operator's scraper only."""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from portal.logging import RedactTokens, RequestIdFilter

TOKEN = "2|sandboxPaidPlanUserToken0000000000000000"


def json_formatter() -> logging.Formatter:
    """The production formatter, built from the portal's own LOGGING setting."""
    from django.conf import settings

    options = dict(settings.LOGGING["formatters"]["json"])
    factory = options.pop("()")
    if isinstance(factory, str):
        module, _, name = factory.rpartition(".")
        factory = getattr(__import__(module, fromlist=[name]), name)
    return factory(**options)


@pytest.fixture
def json_log():
    """The portal's console handler as production configures it, writing into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactTokens())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.django_db(transaction=True)  # outside a transaction pages 2 and 3 go on threads
def test_every_log_line_of_a_request_carries_its_id_and_the_response_returns_it(
    as_user, bob, pulsetracker_credential, json_log
):
    response = as_user(bob).get(reverse("app-list", args=[pulsetracker_credential.pk]))
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = json_log()
    # The apps page reads all three pages of the account, the last two at once on their own
    # threads: each call's line still carries the request's id.
    upstream = [line for line in lines if line.get("service") == "Pulsetracker"]
    assert len(upstream) == 3
    for line in upstream:
        assert line["request_id"] == request_id
        assert (line["method"], line["path"], line["outcome"]) == (
            "GET",
            "/pulsetracker/api/apps",
            "200",
        )
        assert line["latency_ms"] >= 0
        assert line["level"] == "info"


def test_a_request_id_from_the_client_is_used_only_behind_a_trusted_proxy(db, client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    forged = client.get("/accounts/login/", HTTP_X_REQUEST_ID="from-the-client-1234")
    assert forged["X-Request-ID"] != "from-the-client-1234"
    settings.TRUSTED_PROXY_COUNT = 1
    proxied = client.get("/accounts/login/", HTTP_X_REQUEST_ID="from-the-proxy-1234")
    assert proxied["X-Request-ID"] == "from-the-proxy-1234"


def test_structured_fields_are_redacted_like_messages(json_log):
    logging.getLogger("portal.test").warning(
        "upstream said no", extra={"answer": f"Quota exceeded for token {TOKEN}"}
    )
    [line] = [entry for entry in json_log() if entry["logger"] == "portal.test"]
    assert TOKEN not in json.dumps(line)
    assert "[redacted" in line["answer"]


class Receiver:
    """A Sentry ingest stand-in on a loopback port: keeps every envelope it is sent."""

    def __init__(self) -> None:
        self.envelopes: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                elif self.headers.get("Content-Encoding") == "deflate":
                    body = zlib.decompress(body)
                receiver.envelopes.append(body.decode("utf-8", "replace"))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_port}/1"


def test_errors_reach_sentry_with_tokens_scrubbed(settings):
    import sentry_sdk

    from portal.observability import start_sentry

    receiver = Receiver()
    settings.SENTRY_DSN = receiver.dsn
    start_sentry()
    try:

        def link(token: str) -> None:
            raise RuntimeError(f"Pulsetracker refused the token {token}")

        try:
            link(TOKEN)
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init(dsn=None)  # back to no error reporting for the other tests
        receiver.server.shutdown()
    sent = "".join(receiver.envelopes)
    assert "Pulsetracker refused the token" in sent  # the error did arrive
    assert TOKEN not in sent
    assert "sandboxPaidPlanUserToken" not in sent


def test_metrics_are_for_the_operators_scraper_only(
    client, as_user, bob, pulsetracker_credential, settings
):
    as_user(bob).get(reverse("app-list", args=[pulsetracker_credential.pk]))
    client.logout()
    settings.PORTAL_METRICS_ALLOW = ["127.0.0.1/32"]
    body = client.get("/metrics").content.decode()
    assert 'portal_request_seconds_count{status="2xx",view="app-list"}' in body
    assert 'portal_upstream_calls_total{outcome="200",service="Pulsetracker"}' in body
    assert 'portal_breaker_open{service="Pulsetracker"} 0.0' in body
    assert "portal_job_runs" in body
    assert "portal_alert_deliveries" in body
    assert TOKEN not in body
    elsewhere = client.get("/metrics", REMOTE_ADDR="203.0.113.5")
    assert elsewhere.status_code == 404
    settings.PORTAL_METRICS_TOKEN = "scrape-secret-1234567890"
    bearer = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer scrape-secret-1234567890"
    )
    assert bearer.status_code == 200
