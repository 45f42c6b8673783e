"""Two portal instances behind one database and one Redis: log in on one, act on the other.

Starts real gunicorn processes with production settings on the machine's PostgreSQL and Redis
(the ones .ci/run makes sure are running), with the sandbox standing in for the upstreams.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/14"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def services_up() -> None:
    try:
        psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
        redis.Redis.from_url(REDIS, socket_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as exc:
        pytest.fail(
            f"PostgreSQL and Redis must run on 127.0.0.1 for this test ({exc}); "
            ".ci/run starts them, or see the README."
        )


@pytest.fixture
def database() -> Iterator[str]:
    services_up()
    name = f"portal_scaleout_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG}/{name}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        **kwargs,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


SETUP = """
from accounts.access import create_team
from accounts.crypto import Secret
from accounts.models import User
from integrations import credentials
owner = User.objects.create_user("owner@scale.test", "{password}")
team = create_team(owner, "Scale team").team
credential, result = credentials.link(team, owner, "pulsetracker", "Shared", Secret("{token}"))
print("CREDENTIAL", credential.pk)
"""


def test_two_instances_share_sessions_cache_and_see_each_others_changes(
    database, sandbox, tmp_path
):
    prefix = f"scaleout-{uuid.uuid4().hex}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "scale-out-test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex,
            "PORTAL_ENCRYPTION_KEYS": "ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q=",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "DATABASE_URL": database,
            "REDIS_URL": REDIS,
            "CACHE_KEY_PREFIX": prefix,
            "STATIC_ROOT": str(tmp_path / "static"),
            **sandbox.env(),
        }
    )
    run(env, "migrate", "--noinput")
    run(env, "collectstatic", "--noinput")
    out = run(
        env,
        "shell",
        "-c",
        SETUP.format(password=PASSWORD, token=sandbox.seed.pulsetracker_paid_token),
    ).stdout
    credential_id = int(re.search(r"CREDENTIAL (\d+)", out).group(1))

    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        a, b = (f"http://127.0.0.1:{port}" for port in ports)
        for base in (a, b):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    pass  # not listening yet, or still loading the portal for its first request
                assert time.monotonic() < deadline, f"{base} did not start"
                time.sleep(0.2)

        browser = requests.Session()
        login_page = browser.get(f"{a}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
        logged_in = browser.post(
            f"{a}/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "login": "owner@scale.test",
                "password": PASSWORD,
            },
            allow_redirects=False,
            timeout=10,
        )
        assert logged_in.status_code == 302, logged_in.text[:500]

        # Logged in on A, acting on B: the session is shared.
        on_b = browser.get(f"{b}/apps/{credential_id}/", timeout=10)
        assert on_b.status_code == 200
        assert "Fleet 30" in on_b.text
        assert "owner@scale.test" in on_b.text
        calls_before = len(sandbox.requests_to("GET", "/pulsetracker/api/apps"))
        assert "Fleet 30" in browser.get(f"{a}/apps/{credential_id}/", timeout=10).text
        # A answered from the cache B filled: one cache for both.
        assert len(sandbox.requests_to("GET", "/pulsetracker/api/apps")) == calls_before

        # A rename through A is seen at once through B's list.
        key = sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"]
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', on_b.text).group(1)
        renamed = browser.post(
            f"{a}/apps/{credential_id}/{key}/rename/",
            data={"name": "Renamed on A", "original": "Fleet 30"},
            headers={"X-CSRFToken": csrf, "HX-Request": "true", "Referer": f"{a}/"},
            timeout=10,
        )
        assert renamed.status_code == 200, renamed.text[:500]
        assert "Renamed on A" in renamed.text
        listed = browser.get(f"{b}/apps/{credential_id}/", timeout=10).text
        assert "Renamed on A" in listed
        assert "Fleet 30</a>" not in listed
    finally:
        store = redis.Redis.from_url(REDIS)
        leftovers = list(store.scan_iter(match=f"{prefix}:*", count=1000))
        if leftovers:
            store.delete(*leftovers)
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
