"""`pulse-portal`, the command line client: against the portal served on a loopback port (which
talks to the upstream sandbox), in-process through `main()` and once as the installed program.

Every run goes through `run()`, which also checks that the token is in neither output.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts import api_tokens
from accounts.crypto import Secret
from accounts.models import Activity
from portal import cli

pytestmark = pytest.mark.django_db(transaction=True)

ALL = list(api_tokens.SCOPES)
PROGRAM = Path(sys.executable).with_name("pulse-portal")


@pytest.fixture
def portal(live_server, monkeypatch):
    """The running portal as PORTAL_URL; `portal(token)` sets PORTAL_TOKEN and returns it."""
    monkeypatch.setenv("PORTAL_URL", live_server.url)
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)

    def use(token: str) -> str:
        monkeypatch.setenv("PORTAL_TOKEN", token)
        return token

    return use


def token_for(person, team, scopes=ALL, name="Laptop") -> str:
    return api_tokens.create(person, team, name, scopes, days=30)[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """`pulse-portal ARGV` in-process: exit code, stdout, stderr (never holding the token)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    token = os.environ.get("PORTAL_TOKEN")
    if token:
        assert token not in out
        assert token not in err
    return code, out, err


# Doing things


def test_apps_are_listed_as_an_aligned_table_with_the_page(
    capsys, portal, bob, acme, pulsetracker_credential
):
    portal(token_for(bob, acme, ["apps:read"]))
    code, out, err = run(capsys, "apps", "list", str(pulsetracker_credential.pk), "--page", "2")
    assert (code, err) == (0, "")
    header, *rows, footer = out.splitlines()
    assert header.split() == ["KEY", "NAME", "DEVICES", "MESSAGES", "THIS", "MONTH", "CREATED"]
    assert len(rows) == 12
    assert all("Fleet" in row for row in rows)
    # Aligned: every row's name starts in the column where the header's NAME does.
    assert {row.index("Fleet") for row in rows} == {header.index("NAME")}
    assert footer == "Page 2 of 3 (30 apps)."


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_is_the_apis_own_answer_wherever_the_flag_is_given(
    capsys, portal, bob, acme, pulsetracker_credential, where
):
    portal(token_for(bob, acme, ["apps:read"]))
    command = ["apps", "list", str(pulsetracker_credential.pk)]
    argv = ["--json", *command] if where == "before" else [*command, "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    page = json.loads(out)
    assert (page["current_page"], page["last_page"], page["total"]) == (1, 3, 30)
    assert len(page["items"]) == 12


def test_an_app_is_created_and_renamed_and_shown_as_a_table(
    capsys, portal, bob, acme, pulsetracker_credential
):
    portal(token_for(bob, acme, ["apps:read", "apps:write"]))
    cid = str(pulsetracker_credential.pk)
    code, out, _ = run(capsys, "--json", "apps", "create", cid, "From the terminal")
    assert code == 0
    key = json.loads(out)["key"]
    code, out, _ = run(capsys, "apps", "rename", cid, key, "Renamed from the terminal")
    assert code == 0
    assert "Renamed from the terminal" in out
    assert key in out
    _, out, _ = run(capsys, "apps", "list", cid)
    assert "Renamed from the terminal" in out
    renamed = Activity.objects.get(team=acme, action="app renamed")
    assert (renamed.actor, renamed.via) == (bob, "API token Laptop")


def test_control_characters_from_upstream_names_cannot_drive_the_terminal(
    capsys, portal, bob, acme, pulsetracker_credential
):
    portal(token_for(bob, acme))
    cid = str(pulsetracker_credential.pk)
    code, out, _ = run(capsys, "apps", "create", cid, "Red\x1b[2J")
    assert code == 0
    assert "\x1b" not in out
    assert "Red?[2J" in out
    _, as_json, _ = run(capsys, "--json", "apps", "list", cid)
    assert json.loads(as_json)["items"][0]["name"] == "Red\x1b[2J"  # scripts get it as it is


def test_a_create_retried_with_the_same_idempotency_key_makes_one_app(
    capsys, portal, bob, acme, pulsetracker_credential, sandbox_settings
):
    portal(token_for(bob, acme))
    argv = ["--json", "apps", "create", str(pulsetracker_credential.pk), "Once"]
    first = run(capsys, *argv, "--idempotency-key", "nightly-1")
    again = run(capsys, *argv, "--idempotency-key", "nightly-1")
    assert first[0] == again[0] == 0
    assert json.loads(first[1]) == json.loads(again[1])
    assert "already made" in again[2]
    assert len(sandbox_settings.requests_to("POST", "/pulsetracker/api/apps")) == 1
    # Without a key each run sends a fresh one: two runs, two apps.
    run(capsys, *argv)
    run(capsys, *argv)
    assert len(sandbox_settings.requests_to("POST", "/pulsetracker/api/apps")) == 3


def test_widgets_are_created_updated_and_listed(capsys, portal, bob, acme, pulsoid_credential):
    portal(token_for(bob, acme, ["widgets:read", "widgets:write"]))
    cid = str(pulsoid_credential.pk)
    code, out, _ = run(
        capsys,
        "--json",
        "widgets",
        "create",
        cid,
        "Raid",
        "--configuration",
        '{"heartEnabled": true}',
    )
    assert code == 0
    created = json.loads(out)
    assert created["configuration"]["heartEnabled"] is True
    code, out, _ = run(
        capsys,
        "widgets",
        "update",
        cid,
        created["id"],
        "--configuration",
        '{"heartEnabled": false}',
    )
    assert code == 0
    assert '"heartEnabled":false' in out
    code, out, _ = run(capsys, "widgets", "list", cid)
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "NAME", "CONFIGURATION"]
    assert any(line.startswith(created["id"]) and "Raid" in line for line in out.splitlines())


def test_a_configuration_that_is_not_a_json_object_is_a_usage_error(
    capsys, portal, bob, acme, pulsoid_credential
):
    portal(token_for(bob, acme))
    cid = str(pulsoid_credential.pk)
    code, _, err = run(capsys, "widgets", "create", cid, "Raid", "--configuration", "{heart")
    assert code == 2
    assert "not JSON" in err
    code, _, err = run(capsys, "widgets", "update", cid, "w1", "--configuration", "[1]")
    assert code == 2
    assert "JSON object" in err


def test_credentials_are_listed_with_health_and_never_a_token(
    capsys, portal, carol, acme, pulsoid_credential, pulsetracker_credential, sandbox_settings
):
    portal(token_for(carol, acme, ["credentials:read"]))
    code, out, _ = run(capsys, "credentials")
    assert code == 0
    assert out.splitlines()[0].split()[:4] == ["ID", "LABEL", "SERVICE", "HEALTH"]
    assert "Acme Live" in out
    assert "Streamer" in out
    _, as_json, _ = run(capsys, "credentials", "--json")
    assert {c["label"] for c in json.loads(as_json)} == {"Acme Live", "Streamer"}
    for upstream_token in (
        sandbox_settings.seed.pulsoid_full_token,
        sandbox_settings.seed.pulsetracker_paid_token,
    ):
        assert upstream_token not in out + as_json


def test_the_activity_log_is_filtered_as_a_table_and_exported_as_csv(
    capsys, portal, alice, acme, pulsetracker_credential
):
    portal(token_for(alice, acme, name="Audit"))
    run(capsys, "apps", "create", str(pulsetracker_credential.pk), "Logged")
    code, out, _ = run(capsys, "activity", "--action", "app created", "--credential", "Acme Live")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["WHEN", "WHO", "VIA", "ACTION", "CREDENTIAL", "TARGET", "OUTCOME"]
    [row] = rows
    assert "alice@acme.test" in row
    assert "API token Audit" in row
    assert "Logged (" in row
    code, out, _ = run(capsys, "activity", "--csv", "--action", "app created")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "when,who,via,action,credential,target,outcome,error"
    assert len(lines) == 2
    assert "API token Audit" in lines[1]
    code, out, _ = run(capsys, "--json", "activity", "--since", "2000-01-01")
    assert code == 0
    assert "app created" in {e["action"] for e in json.loads(out)}


def test_activity_dates_are_checked_by_the_cli_and_their_order_by_the_portal(
    capsys, portal, alice, acme
):
    portal(token_for(alice, acme))
    code, _, err = run(capsys, "activity", "--since", "1 May")
    assert code == 2
    assert "YYYY-MM-DD" in err
    code, _, err = run(capsys, "activity", "--since", "2025-05-02", "--until", "2025-05-01")
    assert code == 3
    assert "The filters are not valid" in err
    assert "until:" in err


# The required journey: the installed program, as a person types it.


def test_the_installed_program_creates_an_app_and_the_log_names_the_person_and_token(
    live_server, bob, acme, pulsetracker_credential
):
    assert PROGRAM.exists(), "pulse-portal is not installed: pip install -e '.[test]'"
    token = token_for(bob, acme, ["apps:write"], name="Deploy script")
    env = {**os.environ, "PORTAL_URL": live_server.url, "PORTAL_TOKEN": token}
    done = subprocess.run(
        [str(PROGRAM), "apps", "create", str(pulsetracker_credential.pk), "Made by a program"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Made by a program" in done.stdout
    assert token not in done.stdout + done.stderr
    entry = Activity.objects.get(team=acme, action="app created")
    assert (entry.actor, entry.via) == (bob, "API token Deploy script")
    assert entry.target.startswith("Made by a program (")
    assert entry.outcome == "ok"


def test_the_cli_imports_nothing_from_django_or_the_portals_apps():
    probe = (
        "import sys, portal.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'django', 'ninja', 'accounts', 'integrations'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


# Whose "no" it was: the exit code


def test_a_bad_token_is_refused_by_the_portal_with_exit_3(capsys, portal, acme):
    portal("ptp_" + "x" * 36)
    code, out, err = run(capsys, "credentials")
    assert (code, out) == (3, "")
    assert "A valid access token is needed" in err


def test_a_missing_scope_is_exit_3_and_names_the_scope(
    capsys, portal, bob, acme, pulsetracker_credential
):
    portal(token_for(bob, acme, ["apps:read"]))
    code, _, err = run(capsys, "apps", "create", str(pulsetracker_credential.pk), "Nope")
    assert code == 3
    assert "apps:write" in err


def test_invalid_input_and_unknown_credentials_are_exit_3_with_the_fields(
    capsys, portal, bob, acme, pulsetracker_credential
):
    portal(token_for(bob, acme))
    code, _, err = run(capsys, "apps", "create", str(pulsetracker_credential.pk), "   ")
    assert code == 3
    assert "name: 1 to 255 characters" in err
    code, _, err = run(capsys, "apps", "list", str(pulsetracker_credential.pk + 1000))
    assert code == 3
    assert "No such credential" in err


def test_a_full_upstream_quota_is_exit_4_with_the_upstreams_message(
    capsys, portal, alice, bob, acme, sandbox_settings
):
    from integrations import credentials

    free, _ = credentials.link(
        acme, alice, "pulsetracker", "Free", Secret(sandbox_settings.seed.pulsetracker_free_token)
    )
    portal(token_for(bob, acme))
    code, out, err = run(capsys, "apps", "create", str(free.pk), "Second")
    assert (code, out) == (4, "")
    assert "You have exceeded your monthly quota" in err
    assert "(Pulsetracker answered 403)" in err
    # Scripts get the problem itself, to read its kind.
    code, out, _ = run(capsys, "--json", "apps", "create", str(free.pk), "Second")
    assert code == 4
    assert json.loads(out)["kind"] == "upstream-quota"


def test_a_credential_that_needs_re_linking_is_exit_4(
    capsys, portal, bob, acme, pulsetracker_credential
):
    type(pulsetracker_credential).objects.filter(pk=pulsetracker_credential.pk).update(
        ciphertext="no key opens this"
    )
    portal(token_for(bob, acme))
    code, _, err = run(capsys, "apps", "create", str(pulsetracker_credential.pk), "Anything")
    assert code == 4
    assert "needs re-linking" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_portal_where_nothing_listens_is_exit_5(capsys, monkeypatch):
    monkeypatch.setenv("PORTAL_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("PORTAL_TOKEN", "ptp_" + "x" * 36)
    code, out, err = run(capsys, "credentials")
    assert (code, out) == (5, "")
    assert "Cannot reach the portal" in err


def test_a_create_whose_answer_never_comes_is_exit_5_with_the_key_to_retry_with(
    capsys, monkeypatch
):
    # Accepts connections (the kernel's backlog) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(cli, "TIMEOUT", (0.5, 0.5))
        monkeypatch.setenv("PORTAL_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("PORTAL_TOKEN", "ptp_" + "x" * 36)
        code, _, err = run(capsys, "apps", "create", "1", "Lost", "--idempotency-key", "k-7")
    assert code == 5
    assert "did not answer in time" in err
    assert "--idempotency-key k-7" in err


class Broken(http.server.BaseHTTPRequestHandler):
    """A portal that fails without a problem body, a proxy that redirects, or a server that is
    not the portal but answers JSON."""

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(301)
            self.send_header("Location", "https://portal.example.com/api/v1/credentials")
        elif self.path.startswith("/other"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"something": "else"}')
            return
        else:
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>Server Error</h1>")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def broken() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("", "answered 500 Internal Server Error"),
        ("/redirect", "redirects"),
        ("/other", "not what this client expects"),
    ],
)
def test_a_5xx_without_a_problem_a_redirect_or_an_unknown_answer_is_exit_5(
    capsys, monkeypatch, broken, path, said
):
    monkeypatch.setenv("PORTAL_URL", broken + path)
    monkeypatch.setenv("PORTAL_TOKEN", "ptp_" + "x" * 36)
    code, _, err = run(capsys, "apps", "list", "1")
    assert code == 5
    assert said in err
    assert "<h1>" not in err


def test_without_portal_token_or_url_it_is_a_usage_error_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("PORTAL_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("PORTAL_TOKEN", raising=False)
    code, _, err = run(capsys, "credentials")
    assert code == 2
    assert "PORTAL_TOKEN" in err
    monkeypatch.delenv("PORTAL_URL")
    monkeypatch.setenv("PORTAL_TOKEN", "ptp_" + "x" * 36)
    code, _, err = run(capsys, "credentials")
    assert code == 2
    assert "PORTAL_URL" in err
    assert run(capsys, "apps", "frobnicate")[0] == 2


def test_a_token_pasted_with_a_line_break_is_refused_without_being_echoed(capsys, monkeypatch):
    pasted = "ptp_" + "y" * 20 + "\n" + "y" * 16
    monkeypatch.setenv("PORTAL_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PORTAL_TOKEN", pasted)
    code, out, err = run(capsys, "credentials")
    assert code == 2
    assert "y" * 16 not in out + err


def test_help_documents_the_exit_codes_and_safe_retries(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for line in ["0  done", "2  usage error", "3  refused by the portal", "4  refused by the"]:
        assert line in out
    assert "5  the portal is unreachable" in out
    assert "PORTAL_TOKEN" in out
    code, out, _ = run(capsys, "apps", "create", "--help")
    assert code == 0
    assert "Safe to retry" in out
    assert "Idempotency-Key" in out
