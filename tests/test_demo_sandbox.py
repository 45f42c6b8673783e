"""`make demo` and `make sandbox`: the sandbox keeps its state in a file across restarts, and a
port already in use is said in one line, not a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from integrations.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
APPS = "/pulsetracker/api/apps"
WIDGETS = "/pulsoid/api/v1/widgets"
BPM = "bf6bdf21-10a7-4a28-97ec-a239e6c77f8b"


def create_app(sandbox: Sandbox, name: str) -> requests.Response:
    return requests.post(
        f"{sandbox.url}{APPS}",
        json={"name": name},
        headers={
            "Accept": "application/json",
            "Authorization": f"Bearer {sandbox.seed.pulsetracker_paid_token}",
        },
        timeout=5,
    )


def app_names(sandbox: Sandbox) -> list[str]:
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {sandbox.seed.pulsetracker_paid_token}",
    }
    names: list[str] = []
    url: str | None = f"{sandbox.url}{APPS}"
    while url:
        page = requests.get(url, headers=headers, timeout=5).json()
        names += [app["name"] for app in page["data"]]
        url = page["links"]["next"]
    return names


def widget_names(sandbox: Sandbox) -> list[str]:
    answer = requests.get(
        f"{sandbox.url}{WIDGETS}",
        headers={"Authorization": f"Bearer {sandbox.seed.pulsoid_full_token}"},
        timeout=5,
    ).json()
    widgets = answer["widgets"] if isinstance(answer, dict) else answer
    return [widget["name"] for widget in widgets]


def test_a_sandbox_with_a_state_file_keeps_its_apps_and_widgets_across_a_restart(tmp_path):
    state = tmp_path / "demo-sandbox.json"
    first = Sandbox(state_file=state).start()
    try:
        assert create_app(first, "Night shift").status_code == 201
        renamed = requests.put(
            f"{first.url}{APPS}/{first.seed.pulsetracker_free_app_key}",
            json={"name": "Renamed free app"},
            headers={
                "Accept": "application/json",
                "Authorization": f"Bearer {first.seed.pulsetracker_free_token}",
            },
            timeout=5,
        )
        assert renamed.status_code == 200
        made = requests.post(
            f"{first.url}{WIDGETS}",
            json={"meta_id": BPM, "name": "Kept widget", "configuration": {}},
            headers={"Authorization": f"Bearer {first.seed.pulsoid_full_token}"},
            timeout=5,
        )
        assert made.status_code == 200
    finally:
        first.stop()
    assert state.exists()

    again = Sandbox(state_file=state).start()
    try:
        assert again.state_problem == ""
        names = app_names(again)
        assert names.count("Night shift") == 1
        assert len(names) == 31
        assert "Kept widget" in widget_names(again)
        assert again.pulsetracker.apps(again.seed.pulsetracker_free_token)[0]["name"] == (
            "Renamed free app"
        )
    finally:
        again.stop()


def test_a_sandbox_without_a_state_file_starts_from_its_seed_every_time(tmp_path):
    with Sandbox() as first:
        create_app(first, "Night shift")
    with Sandbox() as again:
        assert "Night shift" not in app_names(again)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_state_file_is_reported_and_the_seed_used(tmp_path):
    state = tmp_path / "demo-sandbox.json"
    state.write_text(json.dumps({"version": 0}), encoding="utf-8")
    sandbox = Sandbox(state_file=state)
    assert "could not be read" in sandbox.state_problem
    with sandbox:
        assert len(app_names(sandbox)) == 30
        create_app(sandbox, "Night shift")
    # The first change wrote a state this sandbox reads back.
    assert Sandbox(state_file=state).state_problem == ""


def test_reading_the_sandbox_does_not_write_its_state_file(tmp_path):
    state = tmp_path / "demo-sandbox.json"
    with Sandbox(state_file=state) as sandbox:
        app_names(sandbox)
    assert not state.exists()


# A port already taken


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port a server is listening on (as `make demo`'s sandbox would be)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def manage(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def test_make_sandbox_on_a_taken_port_says_so_in_one_line(tmp_path, taken_port):
    done = manage(tmp_path, "sandbox", "--port", str(taken_port), "--quiet")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"Port {taken_port} is in use — is `make demo` running?" in line
    assert "Set SANDBOX_PORT=" in line


def test_make_demo_with_its_sandbox_port_taken_says_so_in_one_line(tmp_path, taken_port):
    done = manage(tmp_path, "demo", "--port", "0", "--sandbox-port", str(taken_port))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"Port {taken_port} is in use" in line
    assert "Set SANDBOX_PORT=" in line


def test_make_demo_with_its_portal_port_taken_says_so_before_starting(tmp_path, taken_port):
    done = manage(tmp_path, "demo", "--port", str(taken_port), "--sandbox-port", "0")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"Port {taken_port} is in use" in line
    assert "Set PORT=" in line
    assert "Demo ready" not in done.stdout
