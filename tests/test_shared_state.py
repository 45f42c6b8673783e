"""State every worker must share is shared without Redis: the cache is a table in the portal's
database, and the double-submit guard is a unique row there.

The end-to-end test starts two gunicorn processes on the test database (SQLite file, or
PostgreSQL when the suite runs there) with REDIS_URL unset, as the image runs two workers.
Each is its own gunicorn with one worker, so a request sent to each port is known to reach a
different process (one gunicorn's two workers would share requests as the kernel pleases).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.checks import Warning, run_checks
from django.db import connection
from django.utils import timezone

from integrations import watch
from integrations.cache import PortalDatabaseCache
from integrations.models import Submission
from portal.checks import cache_is_shared
from tests.conftest import PASSWORD, linked

ROOT = Path(__file__).resolve().parent.parent
CACHE_TABLE = "portal_cache"
APPS_API = "/pulsetracker/api/apps"
ROUNDS = 20


def table_cache(prefix: str | None = None) -> PortalDatabaseCache:
    """The portal's database cache on its table, under a prefix of this test's own."""
    return PortalDatabaseCache(CACHE_TABLE, {"KEY_PREFIX": prefix or uuid.uuid4().hex})


def stored_expiry(cache: PortalDatabaseCache, key: str):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT expires FROM {CACHE_TABLE} WHERE cache_key = %s", [cache.make_key(key)]
        )
        return cursor.fetchone()[0]


# The table and the backend


@pytest.mark.django_db
def test_migrate_makes_the_cache_table_whatever_the_cache_setting():
    assert CACHE_TABLE in connection.introspection.table_names()
    if not os.environ.get("REDIS_URL"):
        assert isinstance(caches["default"], PortalDatabaseCache)
        assert django_settings.CACHES["default"]["LOCATION"] == CACHE_TABLE


@pytest.mark.django_db
def test_counting_on_the_database_cache_keeps_the_entrys_expiry():
    """Django's own `incr` re-sets the entry with the default timeout (300 s): a breaker's
    30-second failure window would last five minutes."""
    cache = table_cache()
    assert cache.add("failures", 0, timeout=30)
    before = stored_expiry(cache, "failures")
    assert [cache.incr("failures") for _ in range(3)] == [1, 2, 3]
    assert cache.decr("failures") == 2
    assert cache.get("failures") == 2
    assert stored_expiry(cache, "failures") == before
    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-set")
    cache.set("gone", 5, timeout=-1)  # already expired
    with pytest.raises(ValueError, match="not found"):
        cache.incr("gone")


@pytest.mark.django_db(transaction=True)
def test_increments_from_concurrent_threads_are_all_counted():
    cache = table_cache()
    cache.add("budget", 0, timeout=60)
    start = threading.Barrier(4)

    def count() -> None:
        start.wait()
        for _ in range(25):
            cache.incr("budget")
        connection.close()

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert cache.get("budget") == 100


# The double-submit guard


@pytest.mark.django_db
def test_a_form_submission_goes_ahead_once_per_credential(
    acme, alice, pulsetracker_credential, sandbox_settings
):
    other = linked(
        acme, alice, "pulsetracker", "Second", sandbox_settings.seed.pulsetracker_free_token
    )
    assert Submission.first(pulsetracker_credential, "form-1")
    assert not Submission.first(pulsetracker_credential, "form-1")
    assert Submission.first(other, "form-1")  # ids are per credential
    assert Submission.first(pulsetracker_credential, "")  # a form without an id is not held
    assert Submission.first(pulsetracker_credential, "")
    long = "x" * 500  # not the portal's form; stored hashed to fit the column
    assert Submission.first(pulsetracker_credential, long)
    assert not Submission.first(pulsetracker_credential, long)


@pytest.mark.django_db
def test_pruning_forgets_old_submissions_and_expired_cache_entries(pulsetracker_credential):
    Submission.objects.create(
        credential=pulsetracker_credential,
        submission_id="old",
        created_at=timezone.now() - timedelta(days=2),
    )
    Submission.objects.create(credential=pulsetracker_credential, submission_id="recent")
    cache = table_cache()
    cache.set("stale", 1, timeout=-1)
    cache.set("fresh", 1, timeout=60)
    done = watch.prune()
    assert done["submissions"] == 1
    assert list(Submission.objects.values_list("submission_id", flat=True)) == ["recent"]
    if isinstance(caches["default"], PortalDatabaseCache):  # not with REDIS_URL
        assert done["cache_entries"] >= 1
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT cache_key FROM {CACHE_TABLE} WHERE cache_key LIKE %s",
                [cache.make_key("%")],
            )
            assert [row[0] for row in cursor.fetchall()] == [cache.make_key("fresh")]


# The system check


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_a_per_process_cache_in_production_is_reported(settings):
    settings.DEBUG = False
    settings.CACHES = LOCMEM
    [warning] = cache_is_shared()
    assert isinstance(warning, Warning)
    assert warning.id == "portal.W001"
    assert "every worker process" in warning.msg
    assert "portal.W001" in [m.id for m in run_checks(tags=["caches"])]  # registered
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert [m.id for m in cache_is_shared()] == ["portal.W002"]


def test_shared_caches_and_development_are_not_reported(settings):
    settings.DEBUG = False
    settings.CACHES = {
        "default": {
            "BACKEND": "integrations.cache.PortalDatabaseCache",
            "LOCATION": CACHE_TABLE,
        }
    }
    assert cache_is_shared() == []
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
        }
    }
    assert cache_is_shared() == []
    settings.DEBUG = True
    settings.CACHES = LOCMEM
    assert cache_is_shared() == []


# Two workers for real


def database_url() -> str:
    """The test database, as the portal's DATABASE_URL reads it."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorns(env: dict[str, str], logs: Path, count: int = 2) -> Iterator[list[str]]:
    """`count` portals of one gunicorn worker each; their base URLs."""
    ports = [free_port() for _ in range(count)]
    log_files = [(logs / f"gunicorn-{port}.log").open("w") for port in ports]
    servers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "portal.wsgi:application"),
                *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
                *("--worker-class", "gthread", "--threads", "4", "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for port, log in zip(ports, log_files, strict=True)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, server, log in zip(bases, servers, log_files, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or busy starting
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"{base} did not start:\n{Path(log.name).read_text()[-3000:]}")
                time.sleep(0.1)
        yield bases
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        for log in log_files:
            log.close()


def field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_without_redis_create_each_form_once_and_show_a_rename_at_once(
    acme, alice, sandbox_settings, settings, tmp_path
):
    sandbox = sandbox_settings
    # The workers verify passwords with the portal's own hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    alice.set_password(PASSWORD)
    alice.save()
    token = sandbox.pulsetracker.add_user(app_limit=100)  # an account with no apps yet
    credential = linked(acme, alice, "pulsetracker", "Shared", token)
    prefix = f"shared-{uuid.uuid4().hex}"
    unset = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        CACHE_KEY_PREFIX=prefix,
        PYTHONPATH=str(ROOT),
        **sandbox.env(),
    )
    apps_page, create = f"/apps/{credential.pk}/", f"/apps/{credential.pk}/create/"

    try:
        with gunicorns(env, tmp_path) as bases, ThreadPoolExecutor(2) as pool:
            # Log in through the first worker; one session (and CSRF cookie) for both.
            browser = requests.Session()
            browser.trust_env = False
            login = browser.get(f"{bases[0]}/accounts/login/", timeout=10).text
            logged_in = browser.post(
                f"{bases[0]}/accounts/login/",
                data={
                    "csrfmiddlewaretoken": field(login, "csrfmiddlewaretoken"),
                    "login": alice.email,
                    "password": PASSWORD,
                },
                allow_redirects=False,
                timeout=10,
            )
            assert logged_in.status_code == 302, logged_in.text[:500]
            tabs = []
            for _ in bases:
                tab = requests.Session()
                tab.trust_env = False
                tab.cookies.update(browser.cookies)
                tabs.append(tab)

            # The same create form sent to both workers at once, twenty times.
            for number in range(ROUNDS):
                page = tabs[number % 2].get(f"{bases[number % 2]}{apps_page}", timeout=10).text
                form = {
                    "csrfmiddlewaretoken": field(page, "csrfmiddlewaretoken"),
                    "submission": field(page, "submission"),
                    "name": f"Twice {number:02d}",
                }
                together = threading.Barrier(2)

                def send(worker: int, form: dict[str, str] = form, together=together) -> str:
                    together.wait()
                    answer = tabs[worker].post(
                        f"{bases[worker]}{create}",
                        data=form,
                        headers={"HX-Request": "true"},
                        timeout=20,
                    )
                    assert answer.status_code == 200, answer.text[:500]
                    return answer.text

                answers = list(pool.map(send, range(2)))
                created = [f"Created the app “Twice {number:02d}”." in a for a in answers]
                refused = ["already created (sent twice)" in a for a in answers]
                assert sorted(created) == [False, True], answers
                assert sorted(refused) == [False, True], answers

            names = sorted(app["name"] for app in sandbox.pulsetracker.apps(token))
            assert names == [f"Twice {number:02d}" for number in range(ROUNDS)]
            assert len(sandbox.requests_to("POST", APPS_API)) == ROUNDS

            # A rename through one worker, then the list through both, twice each: every view
            # shows the new name, though both workers had the old list cached a moment before.
            key = sandbox.pulsetracker.apps(token)[0]["key"]
            current = sandbox.pulsetracker.apps(token)[0]["name"]
            for number in range(10):
                for worker, base in enumerate(bases):
                    listed = tabs[worker].get(f"{base}{apps_page}", timeout=10).text
                    assert f'data-testid="app-name">{current}</a>' in listed
                renamer = number % 2
                renamed_to = f"Renamed {number}"
                answer = tabs[renamer].post(
                    f"{bases[renamer]}/apps/{credential.pk}/{key}/rename/",
                    data={
                        "csrfmiddlewaretoken": field(page, "csrfmiddlewaretoken"),
                        "name": renamed_to,
                        "original": current,
                    },
                    headers={"HX-Request": "true"},
                    timeout=10,
                )
                assert answer.status_code == 200, answer.text[:500]
                assert renamed_to in answer.text
                for worker, base in [*enumerate(bases), *enumerate(bases)]:
                    listed = tabs[worker].get(f"{base}{apps_page}", timeout=10).text
                    assert f'data-testid="app-name">{renamed_to}</a>' in listed, (worker, number)
                    assert f'data-testid="app-name">{current}</a>' not in listed
                current = renamed_to
    finally:
        # The workers' cache entries are committed rows of the test database: remove them.
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {CACHE_TABLE} WHERE cache_key LIKE %s", [f"{prefix}:%"])
