"""Liveness (/healthz) and readiness (/readyz), and the image that serves them: its entrypoint
(migrations when asked), gunicorn's settings (a quiet access log, forwarded headers trusted only
as configured) and Docker's HEALTHCHECK.

The image's tests run the Dockerfile's own ENTRYPOINT, CMD and HEALTHCHECK lines (read from the
Dockerfile, with /app/ standing for this checkout) in a subprocess with production settings, as
the container would, since no image can be built here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import runpy
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import override_settings

from portal import views

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
FERNET_KEY = "ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q="
ALL_OK = {"status": "ok", "database": "ok", "cache": "ok", "migrations": "ok"}


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def broken_cursor(*args, **kwargs):
    raise OperationalError("database is down")


@pytest.fixture(autouse=True)
def fresh_readiness(monkeypatch):
    """Readiness changes are logged per process; each test starts from "nothing failing"."""
    monkeypatch.setattr(views._Readiness, "failing", ())


# ----------------------------------------------------------------------------- liveness


@pytest.mark.django_db
def test_healthz_answers_200_without_asking_the_database(client, monkeypatch):
    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.head("/healthz").status_code == 200


@pytest.mark.django_db
def test_healthz_makes_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_health_checks_answer_any_host_over_plain_http(client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.1.2.3:8000")
        assert response.status_code == 200, (path, response.content)
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/", HTTP_HOST="portal.example.com").status_code == 301


# ----------------------------------------------------------------------------- readiness


@pytest.mark.django_db
def test_readyz_answers_200_when_database_cache_and_migrations_are_in_order(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == ALL_OK
    assert "no-cache" in response["Cache-Control"]
    assert client.head("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_does_not_answer(client, monkeypatch):
    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert "database" in body["failing"]
    assert body["database"] == "unreachable"
    # Migrations cannot be read without it: not reported as a failure of their own.
    assert body["migrations"] == "unchecked"
    assert "migrations" not in body["failing"]


@pytest.mark.django_db
def test_readyz_names_the_cache_when_redis_cannot_be_reached(client, caplog):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }
    with caplog.at_level(logging.INFO):
        with override_settings(CACHES=unreachable):
            first = client.get("/readyz")
            second = client.get("/readyz")
        again = client.get("/readyz")
    for response in (first, second):
        assert response.status_code == 503
        assert response.json() == {
            "status": "unready",
            "failing": ["cache"],
            "database": "ok",
            "cache": "failed",
            "migrations": "ok",
        }
    assert again.status_code == 200
    # Said once in the log when it changed, not at every probe, and never as an error (which
    # would be mailed to the operators).
    assert [r.getMessage() for r in caplog.records if r.name == "portal.views"] == [
        "Not ready: cache",
        "Ready again",
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
def test_readyz_names_migrations_until_every_one_is_applied(client):
    # admin's last migration only changes choices: cheap to take back on any database.
    call_command("migrate", "admin", "0002_logentry_remove_auto_add", verbosity=0)
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["migrations"]
        assert body["migrations"] == "1 unapplied"
    finally:
        call_command("migrate", "admin", verbosity=0)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == ALL_OK


# ----------------------------------------------------------------------------- gunicorn's settings


def gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in ("TRUSTED_PROXY_COUNT", "FORWARDED_ALLOW_IPS", "PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DOCKER / "gunicorn.conf.py"))


def test_gunicorn_trusts_no_forwarded_headers_unless_told(monkeypatch):
    # gunicorn's own default would trust 127.0.0.1 and ::1.
    assert gunicorn_settings(monkeypatch)["forwarded_allow_ips"] == ""
    assert gunicorn_settings(monkeypatch, TRUSTED_PROXY_COUNT="1")["forwarded_allow_ips"] == ""
    behind = gunicorn_settings(
        monkeypatch, TRUSTED_PROXY_COUNT="1", FORWARDED_ALLOW_IPS="10.0.0.0/8"
    )
    assert behind["forwarded_allow_ips"] == "10.0.0.0/8"


def test_gunicorn_refuses_trusted_forwarders_when_the_portal_trusts_no_proxy(monkeypatch):
    with pytest.raises(SystemExit, match="TRUSTED_PROXY_COUNT is 0"):
        gunicorn_settings(monkeypatch, FORWARDED_ALLOW_IPS="10.0.0.5")


def test_gunicorn_reads_port_workers_and_threads_from_the_environment(monkeypatch):
    defaults = gunicorn_settings(monkeypatch)
    assert (defaults["bind"], defaults["workers"], defaults["threads"]) == (["0.0.0.0:8000"], 2, 4)
    tuned = gunicorn_settings(monkeypatch, PORT="9000", WEB_CONCURRENCY="5")
    assert (tuned["bind"], tuned["workers"]) == (["0.0.0.0:9000"], 5)
    assert tuned["worker_class"] == "gthread"
    assert tuned["control_socket_disable"] is True


def test_the_health_check_in_the_workers_container_only_says_it_is_the_worker(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("healthcheck", DOCKER / "healthcheck.py")
    assert spec is not None
    assert spec.loader is not None
    healthcheck = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(healthcheck)
    monkeypatch.setattr(healthcheck, "is_worker", lambda: True)
    monkeypatch.setenv("PORT", str(closed_port()))  # nothing serves HTTP there
    assert healthcheck.main() == 0
    assert "worker" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the image


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form array of the Dockerfile's ENTRYPOINT, CMD or HEALTHCHECK, with /app/
    (the image's WORKDIR) mapped to this checkout."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(lines) == 1, f"one {name} in the Dockerfile"
    form = lines[0][lines[0].index("[") :]
    return [part.replace("/app/", f"{ROOT}/") for part in json.loads(form)]


def image_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production settings on a SQLite file of this test's own, as the container sees them."""
    bin_dir = str(Path(sys.executable).parent)
    left_out = {
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "REDIS_URL",
        "DEBUG",
        "SECRET_KEY",
        "PORTAL_ENCRYPTION_KEYS",
        "TRUSTED_PROXY_COUNT",
        "FORWARDED_ALLOW_IPS",
        "PORTAL_MIGRATE_ON_START",
    }
    env = {k: v for k, v in os.environ.items() if k not in left_out}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "DEBUG": "0",
            "SECRET_KEY": "image-test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex,
            "PORTAL_ENCRYPTION_KEYS": FERNET_KEY,
            "ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "PORT": str(closed_port()),
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "2",
            **extra,
        }
    )
    return env


@contextmanager
def container(env: dict[str, str], logs: Path) -> Iterator[str]:
    """The image's ENTRYPOINT and CMD, serving until the block ends; yields its base URL."""
    command = dockerfile_instruction("ENTRYPOINT") + dockerfile_instruction("CMD")
    with (logs / "stdout").open("w") as out, (logs / "stderr").open("w") as err:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        base = f"http://127.0.0.1:{env['PORT']}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert server.poll() is None, (logs / "stderr").read_text()[-3000:]
                assert time.monotonic() < deadline, "the portal did not start"
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def docker_healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    command = dockerfile_instruction("HEALTHCHECK")
    command = [sys.executable if part == "python" else part for part in command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


def test_the_dockerfile_runs_as_a_number_and_checks_readiness_in_exec_form():
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    healthcheck = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK "))
    assert " CMD [" in healthcheck  # exec form: no shell in between
    assert dockerfile_instruction("HEALTHCHECK")[-1].endswith("docker/healthcheck.py")
    assert "/readyz" in (DOCKER / "healthcheck.py").read_text()
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users == ["10001:10001"]
    # The code stays root's: nothing hands /app to the portal's user.
    assert "chown" not in text


def test_without_migrate_on_start_the_image_is_live_but_unready_until_migrated(tmp_path):
    env = image_env(tmp_path)
    with container(env, tmp_path) as base:
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        unready = requests.get(f"{base}/readyz", timeout=5)
        assert unready.status_code == 503
        assert "migrations" in unready.json()["failing"]
        check = docker_healthcheck(env)
        assert check.returncode == 1
        assert "migrations" in check.stdout

        # The README's step: migrate (in the image: docker run ... python manage.py migrate).
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrate.returncode == 0, migrate.stderr
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert docker_healthcheck(env).returncode == 0


def test_with_migrate_on_start_the_image_migrates_then_serves_ready_and_quietly(tmp_path):
    env = image_env(tmp_path, PORTAL_MIGRATE_ON_START="1")
    with container(env, tmp_path) as base:
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json() == ALL_OK
        assert docker_healthcheck(env).returncode == 0
        # From 127.0.0.1, the address gunicorn trusts by default, a forged X-Forwarded-Proto
        # does not make the request HTTPS: with TRUSTED_PROXY_COUNT 0 it is redirected.
        forged = requests.get(
            f"{base}/accounts/login/",
            headers={"Host": "portal.example.com", "X-Forwarded-Proto": "https"},
            allow_redirects=False,
            timeout=5,
        )
        assert forged.status_code == 301
        assert forged.headers["Location"] == "https://portal.example.com/accounts/login/"
        for _ in range(3):
            requests.get(f"{base}/healthz", timeout=5)
            requests.get(f"{base}/readyz", timeout=5)
    access_log = (tmp_path / "stdout").read_text()
    assert "Applying" in access_log  # the entrypoint's migrate ran first
    assert '"GET /accounts/login/ HTTP/1.1" 301' in access_log
    assert "/healthz" not in access_log
    assert "/readyz" not in access_log


# ----------------------------------------------------------------------------- migrating at start

PG = "postgres://postgres@127.0.0.1:5432"


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    try:
        psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL must run on 127.0.0.1 for this test ({exc}); .ci/run starts it, or see "
            "the README."
        )
    name = f"portal_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG}/{name}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_containers_starting_together_on_postgresql_migrate_once_in_turn(tmp_path, empty_postgres):
    env = image_env(tmp_path, PORTAL_MIGRATE_ON_START="1", DATABASE_URL=empty_postgres)
    command = [*dockerfile_instruction("ENTRYPOINT"), "python", "-c", "print('started')"]

    def start(_: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(start, range(3)))
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.rstrip().endswith("started")
    # One of them applied the migrations; the others waited, then found nothing to do.
    applied = [result for result in results if "Applying" in result.stdout]
    assert len(applied) == 1
    with psycopg.connect(empty_postgres) as conn:
        plan = conn.execute("SELECT count(*) FROM django_migrations").fetchone()
    assert plan[0] > 0
