"""Upstream protection: the circuit breaker per upstream and the Pulsoid request budget."""

from __future__ import annotations

import pytest

from accounts.crypto import Secret
from integrations import protection
from integrations.errors import RateLimited, Unavailable
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.pulsoid import oauth

APPS = "/pulsetracker/api/apps"


@pytest.fixture
def breaker(settings):
    settings.BREAKER_FAILURES = 3
    settings.BREAKER_WINDOW_SECONDS = 30
    settings.BREAKER_OPEN_SECONDS = 30
    return settings


def test_repeated_unavailability_opens_the_breaker_and_calls_fail_fast(sandbox, breaker):
    client = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )
    sandbox.fault("GET", APPS, status=503, times=9)
    for _ in range(3):
        with pytest.raises(Unavailable, match="status 503"):
            client.list_apps()
    assert len(sandbox.requests_to("GET", APPS)) == 9
    with pytest.raises(Unavailable, match="pausing calls"):
        client.list_apps()
    assert len(sandbox.requests_to("GET", APPS)) == 9  # failed fast: nothing sent


@pytest.fixture
def clock(monkeypatch):
    """The breaker's clock, moved by the test instead of slept."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(protection, "_now", lambda: now[0])
    return now


def opened(client, sandbox) -> int:
    """Open the breaker with three unavailable answers; the number of requests sent so far."""
    sandbox.fault("GET", APPS, status=503, times=9)
    for _ in range(3):
        with pytest.raises(Unavailable, match="status 503"):
            client.list_apps()
    return len(sandbox.requests_to("GET", APPS))


def test_after_its_pause_the_breaker_lets_one_trial_through_and_closes_when_it_works(
    sandbox, breaker, clock
):
    client = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )
    sent = opened(client, sandbox)
    clock[0] += 29  # still paused
    with pytest.raises(Unavailable, match="pausing"):
        client.list_apps()
    assert len(sandbox.requests_to("GET", APPS)) == sent
    clock[0] += 2  # the pause is over: one trial call goes upstream, and it works
    assert client.list_apps().total == 30
    assert len(sandbox.requests_to("GET", APPS)) == sent + 1
    assert client.list_apps().total == 30  # closed: calls flow again


def test_a_failed_trial_pauses_calls_again_for_the_whole_pause(sandbox, breaker, clock):
    client = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )
    opened(client, sandbox)
    sandbox.fault("GET", APPS, status=503, times=3)  # the trial's GET and its two retries
    clock[0] += 31
    with pytest.raises(Unavailable, match="status 503"):
        client.list_apps()
    sent = len(sandbox.requests_to("GET", APPS))
    clock[0] += 29
    with pytest.raises(Unavailable, match="pausing"):
        client.list_apps()
    assert len(sandbox.requests_to("GET", APPS)) == sent  # failed fast again


def test_only_one_trial_goes_through_while_it_is_in_flight(sandbox, breaker, clock):
    for _ in range(3):
        protection.failed("Pulsetracker")
    clock[0] += 31
    assert protection.before_call("Pulsetracker")  # the trial
    for _ in range(3):  # everyone else, on any instance, still fails fast meanwhile
        with pytest.raises(Unavailable, match="pausing"):
            protection.before_call("Pulsetracker")
    protection.succeeded("Pulsetracker", True)
    assert protection.before_call("Pulsetracker") is False  # closed, nothing counted


def test_successes_reset_the_count_and_upstreams_have_their_own_breakers(sandbox, breaker):
    for _ in range(2):
        protection.failed("Pulsetracker")
    protection.succeeded("Pulsetracker")
    for _ in range(2):
        protection.failed("Pulsetracker")
    protection.before_call("Pulsetracker")  # still closed: the success reset the count
    for _ in range(3):
        protection.failed("Pulsoid")
    protection.before_call("Pulsetracker")
    with pytest.raises(Unavailable):
        protection.before_call("Pulsoid")


def test_client_errors_do_not_count_towards_the_breaker(sandbox, breaker):
    client = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )
    for _ in range(5):
        with pytest.raises(Exception):  # noqa: B017, PT011
            client.get_app("00000000-0000-4000-8000-000000000000")
    assert client.list_apps().total == 30


def test_a_pulsoid_credential_is_paced_below_twenty_calls_a_second(
    alice, pulsoid_credential, sandbox_settings, settings, monkeypatch
):
    settings.PULSOID_REQUESTS_PER_SECOND = 3
    now = [1_800_000_000.2]
    monkeypatch.setattr(protection.time, "time", lambda: now[0])
    before = len(sandbox_settings.requests)
    outcomes = []
    for _ in range(5):
        try:
            oauth.call_pulsoid(pulsoid_credential, alice, lambda c: c.latest_heart_rate())
            outcomes.append("sent")
        except RateLimited as exc:
            outcomes.append(exc.retry_after)
    assert outcomes == ["sent", "sent", "sent", 1, 1]
    assert len(sandbox_settings.requests) - before == 3
    now[0] += 1  # the next second has a fresh budget
    oauth.call_pulsoid(pulsoid_credential, alice, lambda c: c.latest_heart_rate())
    assert len(sandbox_settings.requests) - before == 4


def test_the_portal_default_budget_is_below_pulsoids_limit(settings):
    from portal import settings as portal_settings

    assert portal_settings.PULSOID_REQUESTS_PER_SECOND < 20


def test_a_success_after_failures_through_the_client_resets_the_count(sandbox, breaker):
    client = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token), base_url=sandbox.pulsetracker_url
    )
    for _ in range(2):
        protection.failed("Pulsetracker")
    assert client.list_apps().total == 30  # a good answer: the two failures are forgotten
    for _ in range(2):
        protection.failed("Pulsetracker")
    assert client.list_apps().total == 30  # still closed (2 + 2 would have opened it)
