"""Backups, restores and the keys they need: the README's procedure (Deploying, "Backups and
restores") walked on the test database, and SECRET_KEY rotation with SECRET_KEY_FALLBACKS.

On SQLite the backup is SQLite's online copy of the database file (what `sqlite3 db.sqlite3
".backup ..."` makes), restored by copying it back over the file with the portal stopped; when
the suite runs on PostgreSQL it is `pg_dump --format=custom`, restored with `pg_restore --clean`.
Between backup and restore the database is wiped (`flush`). Restored beside the same
PORTAL_ENCRYPTION_KEYS, every stored secret opens and each credential works upstream; beside other
keys, every credential fails closed ("needs re-linking") and nothing is sent upstream.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.crypto import decrypt
from accounts.models import User
from integrations import credentials
from integrations.management.commands.rotate_encryption_keys import encrypted_columns
from integrations.models import Credential, Health
from integrations.tokens import open_token

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- the procedure


def libpq_url() -> str:
    """The test database as a libpq URL, for pg_dump and pg_restore."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{user}{password}@{db['HOST'] or 'localhost'}{port}/{db['NAME']}"


def run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def back_up(to: Path) -> None:
    """README: back up the database while the portal runs."""
    if connection.vendor == "sqlite":
        # SQLite's online backup: a consistent copy even while the portal writes.
        source = sqlite3.connect(connection.settings_dict["NAME"])
        target = sqlite3.connect(to)
        with target:
            source.backup(target)
        source.close()
        target.close()
    elif connection.vendor == "postgresql":
        run("pg_dump", "--format=custom", f"--file={to}", f"--dbname={libpq_url()}")
    else:
        pytest.fail(f"The README has no backup procedure for {connection.vendor}.")


def restore(backup: Path) -> None:
    """README: stop the portal and the worker, put the backup back, start them again."""
    connection.close()  # the portal, stopped: no connection holds the database
    if connection.vendor == "sqlite":
        shutil.copyfile(backup, connection.settings_dict["NAME"])
    else:
        run(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            f"--dbname={libpq_url()}",
            str(backup),
        )


def wipe() -> None:
    call_command("flush", interactive=False, verbosity=0)
    assert not Credential.objects.exists()
    assert not User.objects.exists()


# ----------------------------------------------------------------------------- the tests


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_with_its_keys_opens_every_token_and_without_them_sends_nothing(
    pulsetracker_credential, pulsoid_credential, sandbox_settings, settings, tmp_path
):
    linked = {c.pk: decrypt(c.ciphertext).reveal() for c in Credential.objects.all()}
    assert len(linked) == 2
    backup = tmp_path / "portal.backup"
    back_up(backup)

    # Lost, then restored beside the same PORTAL_ENCRYPTION_KEYS.
    wipe()
    restore(backup)
    secrets = 0
    for model, field in encrypted_columns():
        for ciphertext in model._default_manager.exclude(**{field: ""}).values_list(
            field, flat=True
        ):
            decrypt(ciphertext)  # raises DecryptionFailed if a key is missing
            secrets += 1
    assert secrets >= 2
    alice = User.objects.get(email="alice@acme.test")
    for credential in Credential.objects.all():
        with open_token(credential) as token:
            assert token.reveal() == linked[credential.pk]
        sent = len(sandbox_settings.requests)
        assert credentials.recheck(credential, alice).health == Health.OK
        assert len(sandbox_settings.requests) > sent  # really checked upstream, and accepted

    # Lost again, and restored beside other keys (the old ones were not kept).
    wipe()
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    restore(backup)
    alice = User.objects.get(email="alice@acme.test")
    browser = Client()
    browser.force_login(alice)
    sent = len(sandbox_settings.requests)
    tracker, pulsoid = (Credential.objects.get(service=s) for s in ("pulsetracker", "pulsoid"))
    apps = browser.get(reverse("app-list", args=[tracker.pk]))
    assert apps.status_code == 200
    for credential in (tracker, pulsoid):
        checked = browser.post(
            reverse("credential-check", args=[credential.pk]), HTTP_HX_REQUEST="true"
        )
        assert "Needs re-linking" in checked.content.decode()
    page = browser.get(reverse("credentials")).content.decode()
    assert page.count("Needs re-linking") == 2
    assert set(Credential.objects.values_list("health", flat=True)) == {Health.NEEDS_RELINKING}
    assert len(sandbox_settings.requests) == sent  # not one call upstream


# ----------------------------------------------------------------------------- SECRET_KEY


OLD_KEY = "old-signing-key-" + "o" * 40 + "0123456789"
NEW_KEY = "new-signing-key-" + "n" * 40 + "9876543210"


@pytest.mark.django_db
def test_a_new_secret_key_keeps_people_signed_in_while_the_old_one_is_a_fallback(
    alice, bob, settings
):
    settings.SECRET_KEY = OLD_KEY
    settings.SECRET_KEY_FALLBACKS = []
    kept, dropped = Client(), Client()
    kept.force_login(alice)
    dropped.force_login(bob)
    page = reverse("credentials")
    assert kept.get(page).status_code == 200

    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]
    assert kept.get(page).status_code == 200

    # Without the fallback, a session signed with the old key no longer counts.
    settings.SECRET_KEY_FALLBACKS = []
    response = dropped.get(page)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_secret_key_fallbacks_come_from_the_environment():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY_FALLBACKS"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "1",
            "SECRET_KEY_FALLBACKS": f" {OLD_KEY} , {NEW_KEY} ",
        }
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SECRET_KEY_FALLBACKS)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str([OLD_KEY, NEW_KEY])
