"""The one HTTP layer: headers, timeouts, retries, size caps and shared statuses, over real HTTP."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from accounts.crypto import Secret
from integrations.errors import BadResponse, RateLimited, Unavailable
from integrations.http import USER_AGENT, Timeouts, parse_retry_after
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.pulsoid.client import PulsoidClient
from integrations.sandbox.faults import TIMEOUT_SECONDS

APPS = "/pulsetracker/api/apps"
#: How long a `slow_body` fault dribbles its answer: far longer than the clients' deadline
#: (`fast_timeouts`, 1.1 s), with pieces (1/50th of it) well within their read timeout, so only the
#: deadline on the whole answer can end the call early.
DRIBBLE_SECONDS = 10.0


def wait_for(condition, seconds: float = 10.0) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False); returns at once when it
    already holds, so a generous limit costs nothing when things work."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def pulsetracker(sandbox, token: str | None = None, timeouts: Timeouts | None = None):
    token = token or sandbox.seed.pulsetracker_paid_token
    return PulsetrackerClient(Secret(token), base_url=sandbox.pulsetracker_url, timeouts=timeouts)


def test_every_call_names_the_portal_asks_for_json_and_sends_the_bearer_token(sandbox):
    pulsetracker(sandbox).list_apps()
    [received] = sandbox.requests_to("GET", APPS)
    assert received.headers["accept"] == "application/json"
    assert received.headers["user-agent"] == USER_AGENT
    assert received.headers["authorization"] == f"Bearer {sandbox.seed.pulsetracker_paid_token}"


def test_get_is_retried_after_a_503_and_then_succeeds(sandbox):
    sandbox.fault("GET", APPS, status=503, times=2)
    page = pulsetracker(sandbox).list_apps()
    assert page.total == 30
    assert len(sandbox.requests_to("GET", APPS)) == 3


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_gives_up_after_two_retries_with_a_clear_message(sandbox, status):
    sandbox.fault("GET", APPS, status=status, times=3)
    with pytest.raises(Unavailable) as caught:
        pulsetracker(sandbox).list_apps()
    assert f"status {status}" in caught.value.message
    assert len(sandbox.requests_to("GET", APPS)) == 3


def test_post_is_not_retried_after_a_503(sandbox):
    client = pulsetracker(sandbox)
    sandbox.fault("POST", APPS, status=503)
    with pytest.raises(Unavailable):
        client.create_app("Fleet B")
    assert len(sandbox.requests_to("POST", APPS)) == 1
    assert "Fleet B" not in [
        app["name"] for app in sandbox.pulsetracker.apps(client._token.reveal())
    ]


def test_put_is_not_retried_after_a_502(sandbox):
    token = sandbox.seed.pulsetracker_paid_token
    key = sandbox.pulsetracker.apps(token)[0]["key"]
    sandbox.fault("PUT", f"{APPS}/{key}", status=502)
    with pytest.raises(Unavailable):
        pulsetracker(sandbox).rename_app(key, "Renamed")
    assert len(sandbox.requests_to("PUT", f"{APPS}/{key}")) == 1


def test_a_500_is_not_retried_and_reads_as_unavailable(sandbox):
    sandbox.fault("GET", APPS, status=500, body=b'{"message": "Server Error"}')
    with pytest.raises(Unavailable):
        pulsetracker(sandbox).list_apps()
    assert len(sandbox.requests_to("GET", APPS)) == 1


def test_refused_connection_is_unavailable_after_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PulsetrackerClient(Secret("1|" + "x" * 40), base_url=f"http://127.0.0.1:{port}/api")
    with pytest.raises(Unavailable) as caught:
        client.list_apps()
    assert "could not be reached" in caught.value.message


def test_an_upstream_that_never_answers_times_out_within_the_configured_bound(
    sandbox, fast_timeouts
):
    sandbox.fault("GET", APPS, timeout=True)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        pulsetracker(sandbox, timeouts=fast_timeouts).list_apps()
    elapsed = time.monotonic() - started
    # The timeout, with the bound the client was given, not the fault's silence ending.
    assert f"did not answer within {fast_timeouts.total:g} seconds" in caught.value.message
    # A read timeout is not retried: waiting three times as long helps nobody.
    assert len(sandbox.requests_to("GET", APPS)) == 1
    # The sandbox stays silent for 30 s; the client gave up long before (generous for busy CI).
    assert elapsed < TIMEOUT_SECONDS / 3


def test_a_dribbling_body_is_cut_off_at_the_deadline(sandbox, fast_timeouts):
    sandbox.fault("GET", APPS, slow_body=DRIBBLE_SECONDS)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        pulsetracker(sandbox, timeouts=fast_timeouts).list_apps()
    elapsed = time.monotonic() - started
    assert f"did not answer within {fast_timeouts.total:g} seconds" in caught.value.message
    # Every piece came within the read timeout, so only the deadline ended the call, and the
    # portal hung up then instead of leaving the connection to finish dribbling.
    [request] = sandbox.requests_to("GET", APPS)
    assert wait_for(lambda: request in sandbox.hangups), "the sandbox saw the connection closed"
    assert elapsed < DRIBBLE_SECONDS / 2


def test_a_post_that_times_out_is_reported_and_not_sent_again(sandbox, fast_timeouts):
    sandbox.fault("POST", APPS, timeout=True)
    with pytest.raises(Unavailable):
        pulsetracker(sandbox, timeouts=fast_timeouts).create_app("Fleet C")
    assert len(sandbox.requests_to("POST", APPS)) == 1


def test_non_json_answer_is_a_bad_response(sandbox):
    sandbox.fault("GET", APPS, non_json=True)
    with pytest.raises(BadResponse) as caught:
        pulsetracker(sandbox).list_apps()
    assert "text/html instead of JSON" in caught.value.message


def test_oversized_answer_is_refused(sandbox, settings):
    settings.UPSTREAM_MAX_BODY_BYTES = 50_000
    sandbox.fault("GET", APPS, oversized=200_000)
    with pytest.raises(BadResponse) as caught:
        pulsetracker(sandbox).list_apps()
    assert "larger than 50,000 bytes" in caught.value.message


def test_redirects_are_not_followed(sandbox):
    sandbox.fault("GET", APPS, status=302, headers={"Location": "/login"})
    with pytest.raises(BadResponse) as caught:
        pulsetracker(sandbox).list_apps()
    assert "redirect" in caught.value.message
    assert sandbox.requests_to("GET", "/login") == []


def test_rate_limit_reports_retry_after_without_sleeping_or_retrying(sandbox):
    sandbox.fault(
        "GET",
        "/pulsoid/api/v1/widgets",
        status=429,
        headers={"Retry-After": "60"},
        body=b'{"error_code": 429, "error_message": "too_many_requests"}',
    )
    client = PulsoidClient(
        Secret(sandbox.seed.pulsoid_full_token), base_url=sandbox.pulsoid_api_url
    )
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        client.list_widgets()
    assert caught.value.retry_after == 60
    assert "60 seconds" in caught.value.message
    assert len(sandbox.requests_to("GET", "/pulsoid/api/v1/widgets")) == 1
    # Sleeping on the Retry-After would take a minute; generous for a busy machine.
    assert time.monotonic() - started < 30


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("12") == 12
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_the_token_never_reaches_logs_errors_or_reprs(sandbox, caplog, fast_timeouts):
    token = sandbox.seed.pulsetracker_paid_token
    client = pulsetracker(sandbox, timeouts=fast_timeouts)
    caplog.set_level(logging.DEBUG)
    failures = []
    for fault in ({"status": 503, "times": 3}, {"timeout": True}, {"non_json": True}):
        sandbox.fault("GET", APPS, **fault)
        with pytest.raises(Exception) as caught:  # noqa: PT011 - each fault raises its own type
            client.list_apps()
        failures.append(caught.value)
    assert caplog.records, "the HTTP layer logs each call"
    text = "\n".join(r.getMessage() for r in caplog.records)
    text += "\n".join(f"{e}{e!r}" for e in failures) + repr(client) + str(client._token)
    assert token not in text
    assert token.split("|")[1] not in text
