"""What every benchmark script shares: environment, database, gunicorn, sandbox data, logins,
statistics and the result line `bench/run.py` collects.

Nothing here imports Django at module level: load-generator processes import this module too,
and they must stay light. Call `setup_django()` once the environment is final.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")

#: The benchmark database (created and migrated by `bench/run.py`, dropped at the end).
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Every cache key this script writes starts with this, so Redis can be cleaned afterwards and
#: never mixes with the test suite's or another run's keys.
CACHE_PREFIX = f"bench-{uuid.uuid4().hex[:10]}"
#: Distinguishes the people and teams of this run from any left in the database.
RUN_TAG = uuid.uuid4().hex[:6]

#: One gunicorn shape for every benchmark: a worker per core, a few threads each (gthread keeps
#: connections alive, so the load generator's keep-alive connections are honoured).
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", str(os.cpu_count() or 2)))
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "4"))

RESULT_MARK = "BENCH-RESULT "


# ------------------------------------------------------------------------------ environment


#: Static files collected once per run, as the Docker image does at build time.
STATIC_ROOT = str(ROOT / ".bench-static")


def portal_env(**extra: str | None) -> dict[str, str]:
    """The environment of the portal (gunicorn) and of the script's own Django: production
    settings (DEBUG off, cached templates, no query recording, compressed static files) with
    fixed benchmark keys, PostgreSQL and Redis, over plain HTTP on loopback. A value of None
    removes that variable."""
    env = dict(os.environ)
    env.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
        PORTAL_ENCRYPTION_KEYS="ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q=",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        STATIC_ROOT=STATIC_ROOT,
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=CACHE_PREFIX,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PYTHONUNBUFFERED="1",
    )
    # Left over from a developer's shell, these would change what is measured.
    env.pop("UPSTREAM_CACHE_SECONDS", None)
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the portal (same database, cache and keys) and quiet it."""
    import logging

    os.environ.update(env)
    for name in [n for n in os.environ if n not in env]:
        del os.environ[name]
    import django

    django.setup()
    # The sandbox, the upstream client and the login guard log lines per request at INFO; only
    # the figures matter here (gunicorn's own logs are kept, in a file).
    logging.getLogger().setLevel(logging.WARNING)
    for name in ("integrations.sandbox", "integrations.http", "axes", "django", "django.request"):
        logging.getLogger(name).setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def on_sigterm_exit() -> None:
    """SIGTERM (from bench/run.py on a timeout) unwinds the script, so cleanups still run."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def admin_url(url: str = DATABASE_URL) -> tuple[str, str]:
    """(URL of the server's `postgres` database, name of the benchmark database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def reset_database() -> None:
    """Drop and create the benchmark database (PostgreSQL), then migrate it."""
    import psycopg

    server, name = admin_url()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate()


def ensure_database() -> None:
    """For a script run on its own: create the database when missing, and migrate it."""
    if os.environ.get("BENCH_DB_READY") == "1":
        return
    import psycopg

    server, name = admin_url()
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    migrate()


def drop_database() -> None:
    import psycopg

    server, name = admin_url()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate() -> None:
    """Migrate the benchmark database and collect static files (production serves them)."""
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--clear"]):
        done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [PYTHON, "manage.py", *command],
            cwd=ROOT,
            env=portal_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}")


def clean_redis(prefix: str = CACHE_PREFIX) -> int:
    """Delete every cache key this script wrote (the version keys never expire by themselves)."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        return len(keys)
    except Exception as exc:  # cleaning up must never hide the benchmark's own outcome
        print(f"  (could not clean Redis keys {prefix}:*: {exc})", file=sys.stderr)
        return 0


# ------------------------------------------------------------------------------ gunicorn


class Gunicorn:
    """The portal under gunicorn on a free loopback port; stopped on `stop()` or context exit."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        settings_module: str = "portal.settings",
        workers: int = GUNICORN_WORKERS,
        threads: int = GUNICORN_THREADS,
    ) -> None:
        self.env = {**env, "DJANGO_SETTINGS_MODULE": settings_module}
        self.port = free_port()
        self.command = [
            GUNICORN,
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--chdir",
            str(ROOT),
            "--log-level",
            "warning",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="bench-gunicorn-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def describe(self) -> str:
        args = " ".join(self.command[1:])
        return f"DJANGO_SETTINGS_MODULE={self.env['DJANGO_SETTINGS_MODULE']} gunicorn {args}"

    def start(self, timeout: float = 40) -> Gunicorn:
        self.proc = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        import requests

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the master stops its workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._log.close()
            Path(self._log.name).unlink()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None and self.proc is not None:
            tail = self.log_tail()
            if tail.strip():
                print(f"  gunicorn log (last lines):\n{tail}", file=sys.stderr)
        self.stop()


# ------------------------------------------------------------------------------ sandbox data


def seed_apps(sandbox: Any, token: str, count: int = 30) -> list[str]:
    """Give a sandbox Pulsetracker user `count` apps over the past months, with usage history
    and a few devices, like the seeded paid user. Returns the names, newest first."""
    now = datetime.now(UTC)
    names = []
    for number in range(1, count + 1):
        created = now - timedelta(days=6 * (count - number) + 1)
        months = []
        year, month = created.year, created.month
        while (year, month) <= (now.year, now.month):
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        quota = [
            {"year": y, "month": m, "messages_sent": 100 + (number * 7919 + i * 104729) % 1900}
            for i, (y, m) in enumerate(months)
        ]
        name = f"Bench app {number:03d}"
        sandbox.pulsetracker.add_app(
            token, name, created_at=created, quota=quota, devices=number % 3
        )
        names.append(name)
    return names[::-1]


def start_sandbox() -> Any:
    from integrations.sandbox import Sandbox

    return Sandbox().start("127.0.0.1", 0)


# ------------------------------------------------------------------------------ people


def make_team(name: str, owner_email: str) -> tuple[Any, Any]:
    """A team and its owner (no usable password: the benchmarks log in by session)."""
    from accounts.models import Membership, Role, Team, User

    team = Team.objects.create(name=f"{name} {RUN_TAG}")
    owner = User.objects.create_user(email=tagged(owner_email), password=None, name="Owner")
    Membership.objects.create(user=owner, team=team, role=Role.OWNER)
    return team, owner


def add_member(team: Any, email: str, role: str = "member") -> Any:
    from accounts.models import Membership, User

    user = User.objects.create_user(email=tagged(email), password=None)
    Membership.objects.create(user=user, team=team, role=role)
    return user


def tagged(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local}+{RUN_TAG}@{domain}"


def link_pulsetracker(team: Any, actor: Any, token: str, label: str = "Bench") -> Any:
    """Link a Pulsetracker token through the portal's own flow (checked upstream first)."""
    from accounts.crypto import Secret
    from integrations import credentials

    credential, result = credentials.link(team, actor, "pulsetracker", label, Secret(token))
    if credential is None:
        raise RuntimeError(f"linking the sandbox token failed: {result}")
    return credential


def session_cookies(user: Any) -> dict[str, str]:
    """Cookies of a logged-in session for `user`, made like the test client's force_login
    (a real session row; no password check, so no hashing cost and no lockout rules)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


# ------------------------------------------------------------------------------ statistics


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction 0.95 is p95)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ------------------------------------------------------------------------------ results


@dataclass
class Figure:
    """One printed figure; `met` is None when the figure has no target."""

    name: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", met: bool | None = None) -> None:
        figure = Figure(name, value, target, met)
        self.figures.append(figure)
        verdict = "" if met is None else ("  -> target met" if met else "  -> TARGET MISSED")
        aim = f"   (target {target})" if target else ""
        print(f"[{self.bench}] {name}: {value}{aim}{verdict}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"[{self.bench}] note: {text}", flush=True)

    def emit(self) -> None:
        payload = {
            "bench": self.bench,
            "figures": [asdict(f) for f in self.figures],
            "notes": self.notes,
        }
        print(RESULT_MARK + json.dumps(payload), flush=True)


@contextlib.contextmanager
def bench_script(name: str) -> Iterator[tuple[Report, contextlib.ExitStack]]:
    """Run a benchmark body: prints the report line even when the body fails part-way, and
    runs every registered cleanup (gunicorn, sandbox, Redis keys) whatever happens."""
    on_sigterm_exit()
    report = Report(name)
    with contextlib.ExitStack() as stack:
        stack.callback(clean_redis)
        try:
            yield report, stack
        finally:
            report.emit()


@dataclass
class AppsPortal:
    """What the apps-page benchmarks stand on: the sandbox, the portal's environment, and a
    team whose one Pulsetracker credential sees 30 apps."""

    sandbox: Any
    env: dict[str, str]
    token: str
    names: list[str]
    owner: Any
    credential: Any


def apps_portal(stack: Any, name: str, *, latency: float = 0.0, **env: str) -> AppsPortal:
    """Prepare the database, start the sandbox (stopped by `stack`), set this process up like
    the portal, and link a credential over 30 seeded apps (upstream latency `latency`)."""
    ensure_database()
    sandbox = start_sandbox()
    stack.callback(sandbox.stop)
    portal = portal_env(**env, **sandbox.env())
    setup_django(portal)
    token = sandbox.pulsetracker.add_user(app_limit=100, latency=latency)
    names = seed_apps(sandbox, token, 30)
    team, owner = make_team(name, f"owner@{name.lower()}.test")
    credential = link_pulsetracker(team, owner, token)
    return AppsPortal(sandbox, portal, token, names, owner, credential)
