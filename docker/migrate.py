"""`manage.py migrate --noinput` for docker/entrypoint.sh (PORTAL_MIGRATE_ON_START=1).

Several containers may start at once: a rolling deploy, replicas, or the web and the worker
sharing one env file. On PostgreSQL they take turns through an advisory lock, so the first
applies the migrations and the others find nothing left to do instead of racing to create the
same tables. (The lock is held by the database session: run this against PostgreSQL itself, not
through a pgbouncer in transaction mode.) SQLite serves one host and locks its file itself.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Any fixed 64-bit number, the same in every container: "portalmg".
LOCK = int.from_bytes(b"portalmg", "big")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK])
    try:
        call_command("migrate", interactive=False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK])


if __name__ == "__main__":
    main()
