"""Shared fixtures: the upstream sandbox on a loopback port, and headless Chromium."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import os
import struct
import time
import uuid
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
    settings.PULSETRACKER_MAP_TILES_URL = sandbox.map_tiles_url
    settings.PULSOID_API_URL = sandbox.pulsoid_api_url
    settings.PULSOID_OAUTH_URL = sandbox.pulsoid_oauth_url
    settings.PULSOID_REVOKE_URL = sandbox.pulsoid_revoke_url
    settings.PULSOID_WIDGET_VIEWER_URL = sandbox.pulsoid_viewer_url
    settings.PULSOID_CLIENT_ID = sandbox.seed.pulsoid_client_id
    settings.PULSOID_CLIENT_SECRET = sandbox.seed.pulsoid_client_secret
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


# Personas: alice owns team Acme, ada is its admin, bob a member, carol a viewer; mallory owns
# another team and must never see Acme's things.
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def acme(db):
    from accounts.models import Team

    return Team.objects.create(name="Acme Fleet")


@pytest.fixture
def other_team(db):
    from accounts.models import Team

    return Team.objects.create(name="Mallory Inc")


def make_person(email: str, team, role: str):
    from accounts.models import Membership, User

    user = User.objects.create_user(
        email=email, password=PASSWORD, name=email.split("@")[0].title()
    )
    Membership.objects.create(user=user, team=team, role=role)
    return user


@pytest.fixture
def alice(acme):
    return make_person("alice@acme.test", acme, "owner")


@pytest.fixture
def ada(acme):
    return make_person("ada@acme.test", acme, "admin")


@pytest.fixture
def bob(acme):
    return make_person("bob@acme.test", acme, "member")


@pytest.fixture
def carol(acme):
    return make_person("carol@acme.test", acme, "viewer")


@pytest.fixture
def mallory(other_team):
    return make_person("mallory@evil.test", other_team, "owner")


@pytest.fixture
def as_user(client):
    """`as_user(person)` logs the test client in as that person and returns the client."""

    def login(user):
        client.force_login(user)
        return client

    return login


def linked(team, person, service: str, label: str, token: str):
    """A credential linked through the real flow (checked against the sandbox first)."""
    from integrations import credentials

    credential, result = credentials.link(team, person, service, label, Secret(token))
    assert credential is not None, result
    return credential


@pytest.fixture
def pulsetracker_credential(acme, alice, sandbox_settings):
    """A working Pulsetracker credential of Acme (30 apps), linked by alice."""
    return linked(
        acme, alice, "pulsetracker", "Acme Live", sandbox_settings.seed.pulsetracker_paid_token
    )


@pytest.fixture
def pulsoid_credential(acme, alice, sandbox_settings):
    """A Pulsoid credential of Acme with every scope, linked by alice."""
    return linked(acme, alice, "pulsoid", "Streamer", sandbox_settings.seed.pulsoid_full_token)


@pytest.fixture
def page(page):
    """Playwright's page, failing after 10 s instead of 30 so a broken journey reports quickly."""
    page.set_default_timeout(10_000)
    return page


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is the portal's hasher, and slow on purpose; tests that need it ask for it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


#: A test using any of these has the database (pytest-django's fixtures, and Playwright's
#: live server, which is transactional).
DATABASE_FIXTURES = {
    "_django_db_helper",
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def uses_database(request) -> bool:
    return request.node.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES & set(request.fixturenames)
    )


def pytest_collection_modifyitems(config, items) -> None:
    """Without Redis the cache is a table in the database, so every test may touch it: mark each
    test as using the database. pytest-django sets up only the databases the collected tests
    declare, so a file of tests that reach the cache without declaring it (an upstream client's
    circuit breaker), run on its own, would otherwise find no test database at all."""
    from django.conf import settings

    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        for item in items:
            if item.get_closest_marker("django_db") is None:
                item.add_marker(pytest.mark.django_db)


@pytest.fixture(autouse=True)
def isolated_cache(request, settings):
    """Each test gets its own cache namespace (and its own in-memory store).

    Database rows are rolled back between tests and their ids reused, and Redis is shared by
    every test process, so without this a cached page of one test could answer another. The
    database cache (the default without REDIS_URL) keeps its table, LOCATION, and is set apart by
    KEY_PREFIX alone; a test that did not ask for the database gets it all the same, in a
    transaction rolled back at its end like any other, since that is where its cache lives.
    """
    namespace = f"test-{uuid.uuid4().hex}"
    caches = copy.deepcopy(settings.CACHES)
    backend = caches["default"]["BACKEND"]
    caches["default"]["KEY_PREFIX"] = namespace
    if backend.endswith("LocMemCache"):
        caches["default"]["LOCATION"] = namespace
    settings.CACHES = caches
    if backend.endswith("DatabaseCache") and not uses_database(request):
        request.getfixturevalue("db")
    from django.core.cache import caches as handler

    store = handler["default"]  # this test's, even if the test configures another
    yield
    if backend.endswith("RedisCache"):
        # Some keys (a credential's cache generation) never expire: remove this test's own.
        client = store._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)


def settled(page) -> None:
    """Wait until htmx has finished a swap and wired up the swapped-in elements.

    A person cannot act in the moment before htmx processes new content; Playwright can, so
    browser tests wait here after anything that swaps.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


# Second factors: what a person's authenticator app does, computed here independently of allauth.


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for `secret` (RFC 6238: HMAC-SHA1 over the count of
    30-second steps since the epoch, dynamically truncated to 6 digits)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def fresh_totp_code(secret: str) -> str:
    """The current code, read as a person would with a few seconds of its 30 still to go (the
    portal accepts only the current step), so it is still current when the server checks it."""
    left = 30 - time.time() % 30
    if left < 2:
        time.sleep(left + 0.1)
    return totp_code(secret)


def wrong_totp_code(secret: str) -> str:
    """A code that differs from the current one (and so is refused)."""
    return f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"


def verify_email(person) -> None:
    """As if the person clicked the link in their verification mail; allauth refuses to turn on
    a second factor for an unverified address."""
    from allauth.account.models import EmailAddress

    assert EmailAddress.objects.filter(user=person).update(verified=True) == 1
