"""A linked token never shows up again: not in pages, logs, sessions, cache or the database."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.models import User
from integrations.models import Credential


@pytest.mark.django_db(transaction=True)
def test_a_linked_token_is_absent_from_every_response_log_session_cache_and_the_raw_database(
    client, sandbox_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    tokens = {
        "pulsetracker": sandbox_settings.seed.pulsetracker_paid_token,
        "pulsoid": sandbox_settings.seed.pulsoid_full_token,
    }
    responses = []
    signup = client.post(
        reverse("accounts:signup"),
        {
            "email": "owner@secret.test",
            "name": "Owner",
            "password1": "Pw-for-tests-991",
            "password2": "Pw-for-tests-991",
        },
    )
    responses.append(signup)
    for service, token in tokens.items():
        responses.append(
            client.post(
                reverse("credential-link"), {"service": service, "label": service, "token": token}
            )
        )
        responses.append(
            client.post(
                reverse("credential-link"),
                {"service": service, "label": service, "token": token},
                HTTP_HX_REQUEST="true",
            )
        )  # a duplicate label: the form comes back with errors, still without the token
    for credential in Credential.objects.all():
        responses.append(
            client.post(reverse("credential-check", args=[credential.pk]), HTTP_HX_REQUEST="true")
        )
        responses.append(client.get(reverse("credential-replace", args=[credential.pk])))
        responses.append(client.get(reverse("credential-unlink", args=[credential.pk])))
    responses.append(client.get(reverse("credentials")))
    responses.append(client.get(reverse("accounts:activity")))

    admin = User.objects.create_superuser("operator@secret.test", "Pw-for-operators-77")
    client.force_login(admin)
    for credential in Credential.objects.all():
        responses.append(
            client.get(reverse("admin:integrations_credential_change", args=[credential.pk]))
        )
    responses.append(client.get(reverse("admin:integrations_credential_changelist")))
    responses.append(client.get(reverse("admin:accounts_activity_changelist")))

    assert Credential.objects.count() == 2
    haystacks: dict[str, bytes] = {}
    for number, response in enumerate(responses):
        assert response.status_code in (200, 302), (number, response.status_code)
        haystacks[f"response {number}"] = (
            response.content + str(response.headers).encode() + str(response.cookies).encode()
        )
    haystacks["logs"] = "\n".join(r.getMessage() + str(r.args) for r in caplog.records).encode()
    haystacks["sessions"] = "".join(
        str(s.get_decoded()) + s.session_data for s in Session.objects.all()
    ).encode()
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    haystacks["dumpdata"] = dump.getvalue().encode()
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            rows.extend(cursor.fetchall())
    haystacks["every table"] = repr(rows).encode()
    if connection.vendor == "sqlite":
        database_file = Path(settings.DATABASES["default"]["NAME"])
        assert database_file.exists()
        haystacks["raw database file"] = database_file.read_bytes()
        wal = database_file.with_name(database_file.name + "-wal")
        if wal.exists():
            haystacks["raw database wal"] = wal.read_bytes()
    if settings.REDIS_URL:
        client_ = cache._cache.get_client()
        haystacks["redis"] = b"".join(client_.dump(k) or b"" for k in client_.keys("*"))

    for token in tokens.values():
        for where, haystack in haystacks.items():
            assert token.encode() not in haystack, f"token found in {where}"
