"""The portal's own settings guards (the home page: test_dashboard.py; health: test_health.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    clean.pop("PORTAL_ENCRYPTION_KEYS", None)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD_KEY = "x" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789"
FERNET_KEY = "ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q="


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DEBUG": "0", "PORTAL_ENCRYPTION_KEYS": FERNET_KEY}, "SECRET_KEY is not set"),
        ({"DEBUG": "0", "SECRET_KEY": "short", "PORTAL_ENCRYPTION_KEYS": FERNET_KEY}, "too weak"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY}, "PORTAL_ENCRYPTION_KEYS is not set"),
        (
            {"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "PORTAL_ENCRYPTION_KEYS": f"{FERNET_KEY},nope"},
            "key number 2 is not a valid Fernet key",
        ),
    ],
)
def test_production_start_stops_with_a_clear_message_on_missing_or_bad_secrets(env, complaint):
    result = run_settings(env)
    assert result.returncode != 0
    assert complaint in result.stderr


def test_production_start_succeeds_with_good_secrets():
    result = run_settings(
        {"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "PORTAL_ENCRYPTION_KEYS": FERNET_KEY}
    )
    assert result.returncode == 0, result.stderr
