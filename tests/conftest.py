"""Shared fixtures: the upstream sandbox on a loopback port, and headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.crypto import Secret
from integrations.http import Timeouts
from integrations.sandbox import Sandbox

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures
# and live_server are still synchronous, so Django's async guard would misfire.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    """One sandbox per test process, on a free loopback port."""
    server = Sandbox().start(host="127.0.0.1", port=0)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The sandbox in its seeded state, with no faults left over from another test."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def sandbox_settings(sandbox: Sandbox, settings) -> Sandbox:
    """Point the portal's settings at the sandbox."""
    settings.PULSETRACKER_API_URL = sandbox.pulsetracker_url
    settings.PULSOID_API_URL = sandbox.pulsoid_api_url
    settings.PULSOID_OAUTH_URL = sandbox.pulsoid_oauth_url
    settings.PULSOID_REVOKE_URL = sandbox.pulsoid_revoke_url
    return sandbox


@pytest.fixture
def fast_timeouts() -> Timeouts:
    """Short timeouts so timeout tests finish quickly."""
    return Timeouts(connect=0.5, read=0.6)


def secret(value: str) -> Secret:
    return Secret(value)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch Debian's Chromium: Playwright cannot download its own browser here."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: install it (Debian: apt-get install chromium) or set "
            "PORTAL_CHROMIUM; `make test` does this for you when run as root."
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }
