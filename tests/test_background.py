"""The background engine for real: two `manage.py qcluster` processes (as two portal instances
would run) on the test database, and a schedule that falls due. It runs once per period, not
once per process, and a job that fell due while no worker ran is done after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def start_cluster() -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PORTAL_WORKERS": "1",
        "DEBUG": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)  # the queue is the database either way
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(clusters: list[subprocess.Popen]) -> None:
    for cluster in clusters:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGTERM)
    for cluster in clusters:
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)


def runs_of(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_for(path: Path, count: int, limit: float = 75) -> None:
    """Until the job has run `count` times (a cluster looks at its schedules every 30 s)."""
    deadline = time.monotonic() + limit
    while len(runs_of(path)) < count and time.monotonic() < deadline:
        time.sleep(0.5)


def test_two_clusters_run_a_due_schedule_once_and_a_restart_loses_no_due_job(tmp_path):
    from django_q.models import Schedule

    runs = tmp_path / "runs.txt"
    schedule = Schedule.objects.create(
        name="test: note a run",
        func="tests.jobs.note_run",
        args=repr(str(runs)),
        schedule_type=Schedule.MINUTES,
        minutes=60,
        next_run=timezone.now() - timedelta(seconds=1),
    )
    clusters = [start_cluster(), start_cluster()]
    try:
        wait_for(runs, 1)
        time.sleep(5)  # time for a second, duplicate run to show up, were there one
        assert len(runs_of(runs)) == 1, runs_of(runs)
        schedule.refresh_from_db()
        assert schedule.next_run > timezone.now() + timedelta(minutes=50)  # the next period
    finally:
        stop(clusters)

    # While no worker runs, the next period falls due; one cluster starting later does it.
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now() - timedelta(minutes=1))
    clusters = [start_cluster()]
    try:
        wait_for(runs, 2)
        assert len(runs_of(runs)) == 2
    finally:
        stop(clusters)
