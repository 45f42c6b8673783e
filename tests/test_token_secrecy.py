"""A linked token never shows up again: not in pages, logs, sessions, cache or the database. A
second factor's secret or a reset key shows only to its owner, at the moment it is issued."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path

import pytest
from allauth.account.forms import UserTokenForm
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal import auth as totp_auth
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from integrations.models import Credential, Service
from tests.conftest import PASSWORD, fresh_totp_code, totp_code, verify_email, wrong_totp_code


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
    # Devices: the app page and its map's JSON, a device's page, the new-device form, a create
    # and a rename (their activity entries are in the database searched below).
    tracker = Credential.objects.get(service=Service.PULSETRACKER)
    app = sandbox_settings.pulsetracker.apps(tokens["pulsetracker"])[0]["key"]
    devices = sandbox_settings.pulsetracker.devices(tokens["pulsetracker"])
    device = next(d["key"] for d in devices if d["app_key"] == app and d["lastLocation"])
    htmx = {"HTTP_HX_REQUEST": "true"}
    responses += [
        client.get(reverse("app-detail", args=[tracker.pk, app])),
        client.get(reverse("device-positions", args=[tracker.pk, app])),
        client.get(reverse("device-detail", args=[tracker.pk, app, device])),
        client.get(reverse("device-create", args=[tracker.pk, app]), **htmx),
        client.post(
            reverse("device-create", args=[tracker.pk, app]), {"name": "Van", "type_id": 1}, **htmx
        ),
        client.post(
            reverse("device-rename", args=[tracker.pk, app, device]),
            {"name": "Renamed", "original": "Phone 1"},
            **htmx,
        ),
    ]

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
    haystacks.update(stored_everywhere())

    for token in tokens.values():
        for where, haystack in haystacks.items():
            assert token.encode() not in haystack, f"token found in {where}"


def stored_everywhere() -> dict[str, bytes]:
    """Everything the portal keeps, as bytes to search: sessions, every table (through the ORM's
    dump and raw SQL), the raw SQLite file and its write-ahead log, and Redis when it is used.
    Committed data only reaches the file: use it with `django_db(transaction=True)`."""
    haystacks: dict[str, bytes] = {}
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
    return haystacks


# Second factors and password resets: a secret is shown to its owner at the moment it is issued
# (the authenticator app's secret while activating it, the recovery codes on their own page, the
# reset link in its mail) and nowhere else.

SECRET_ON_PAGE = re.compile(r'id="authenticator_secret"\s+value="([A-Z2-7]{32})"')
RECOVERY_CODE = re.compile(r"\b\d{8}\b")
RESET_LINK = re.compile(r"https?://testserver(/accounts/password/reset/key/[0-9a-z]+-(\S+)/)")
NEW_PASSWORD = "A-fresh-pass-7731"


@pytest.fixture
def every_log(caplog):
    """caplog, also fed by the `django` loggers (they do not propagate to the root), after the
    portal's own handlers have seen each record."""
    caplog.set_level(logging.DEBUG)
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    yield caplog
    django_logger.removeHandler(caplog.handler)


def log_text(caplog) -> str:
    return "\n".join(r.getMessage() + str(r.args) + (r.exc_text or "") for r in caplog.records)


def sessions_text() -> str:
    return "".join(str(s.get_decoded()) + s.session_data for s in Session.objects.all())


def holds_number(text: str, digits: str) -> bool:
    """Whether `digits` stand in `text` as a number of their own (a timestamp or a token may hold
    any eight digits by chance)."""
    return re.search(rf"(?<!\d){digits}(?!\d)", text) is not None


def response_text(response) -> str:
    return response.content.decode() + str(response.headers) + str(response.cookies)


def test_second_factor_secrets_and_reset_keys_are_shown_only_to_their_owner_when_issued(
    client, alice, every_log, mailoutbox
):
    verify_email(alice)
    elsewhere = []  # every response that is not the moment a secret is shown to its owner
    elsewhere.append(
        client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    )
    elsewhere.append(client.post(reverse("account_reauthenticate"), {"password": PASSWORD}))

    # Activating the authenticator app: the secret is on the page (and stays the same when a
    # wrong code sends the form back, so the app already set up keeps working).
    activate = reverse("mfa_activate_totp")
    first = client.get(activate).content.decode()
    secret = SECRET_ON_PAGE.search(first).group(1)
    # allauth keeps the secret in the server-side session for the minutes of activation...
    assert secret in str(dict(client.session))
    again = client.post(activate, {"code": wrong_totp_code(secret)}).content.decode()
    assert "Incorrect code." in again
    assert SECRET_ON_PAGE.search(again).group(1) == secret
    elsewhere.append(client.post(activate, {"code": fresh_totp_code(secret)}))
    # ...and drops it once the app is active.
    assert secret not in str(dict(client.session))

    # The recovery codes: on their page and in their download.
    codes = RECOVERY_CODE.findall(client.get(reverse("mfa_view_recovery_codes")).content.decode())
    assert len(codes) == 10
    download = client.get(reverse("mfa_download_recovery_codes")).content.decode()
    assert RECOVERY_CODE.findall(download) == codes

    for name in (
        "mfa_index",
        "mfa_deactivate_totp",
        "mfa_generate_recovery_codes",
        "mfa_reauthenticate",
        "account_reauthenticate",
        "account_email",
        "account_change_password",
        "usersessions_list",
        "credentials",
        "accounts:members",
        "accounts:activity",
        "home",
    ):
        elsewhere.append(client.get(reverse(name)))

    # Logging in with a recovery code: the 2FA page, a wrong code, the right one.
    elsewhere.append(client.post(reverse("account_logout")))
    elsewhere.append(
        client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    )
    elsewhere.append(client.get(reverse("mfa_authenticate")))
    elsewhere.append(client.post(reverse("mfa_authenticate"), {"code": "00000000"}))
    elsewhere.append(client.post(reverse("mfa_authenticate"), {"code": codes[0]}))
    elsewhere.append(client.get(reverse("mfa_index")))
    elsewhere.append(client.post(reverse("account_logout")))

    # A password reset: the key is in the mail, then (allauth's design, so it stays out of the
    # address bar and the Referer header) in the session while the new password is chosen.
    elsewhere.append(client.post(reverse("account_reset_password"), {"email": alice.email}))
    [reset_mail] = [m for m in mailoutbox if RESET_LINK.search(m.body)]
    link, key = RESET_LINK.search(reset_mail.body).groups()
    opened = client.get(link)
    elsewhere.append(opened)
    assert key not in opened["Location"]
    assert key in str(dict(client.session))
    elsewhere.append(client.get(opened["Location"]))
    done = client.post(opened["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    elsewhere.append(done)
    elsewhere.append(client.get(done["Location"]))
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)

    for number, response in enumerate(elsewhere):
        assert response.status_code in (200, 302), (number, response.status_code)
    haystacks = {f"response {n}": response_text(r) for n, r in enumerate(elsewhere)}
    haystacks["logs"] = log_text(every_log)
    haystacks["sessions"] = sessions_text()
    # Any other mail (none today; allauth's notices, if ACCOUNT_EMAIL_NOTIFICATIONS is turned on).
    other_mails = [m for m in mailoutbox if m is not reset_mail]
    haystacks["other mails"] = "".join(m.subject + m.body for m in other_mails)
    for where, haystack in haystacks.items():
        assert secret not in haystack, f"TOTP secret in {where}"
        for code in codes:
            assert not holds_number(haystack, code), f"recovery code in {where}"
        if where != "sessions":  # see test_a_spent_reset_key_does_not_stay_in_the_session
            assert key not in haystack, f"reset key in {where}"


def with_authenticator_app(client, person) -> tuple[str, list[str]]:
    """Log in, turn on the authenticator app and read the recovery codes, as the owner does;
    returns the app's secret and the codes."""
    verify_email(person)
    client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    activate = reverse("mfa_activate_totp")
    secret = SECRET_ON_PAGE.search(client.get(activate).content.decode()).group(1)
    client.post(activate, {"code": fresh_totp_code(secret)})
    codes = RECOVERY_CODE.findall(client.get(reverse("mfa_view_recovery_codes")).content.decode())
    assert len(codes) == 10
    return secret, codes


def crash_report(client, caplog, path: str, data: dict | None = None) -> str:
    """Request `path` while allauth is made to crash, and return what Django reports of a 500
    with DEBUG off: the log records and the error email to the operators (text, as configured)."""
    mail.outbox.clear()
    caplog.clear()
    client.raise_request_exception = False
    response = client.post(path, data) if data is not None else client.get(path)
    assert response.status_code == 500
    [report] = mail.outbox
    assert "Internal Server Error" in report.subject
    assert "unavailable" in report.body  # the report does describe the crash
    return report.subject + report.body + log_text(caplog)


def crash(*args, **kwargs):
    raise RuntimeError("database unavailable")


@pytest.fixture
def operators(settings) -> None:
    settings.ADMINS = [("Operators", "ops@portal.test")]


def test_a_crash_while_activating_an_authenticator_app_leaves_its_secret_out_of_error_emails(
    client, alice, every_log, operators, monkeypatch
):
    verify_email(alice)
    client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    activate = reverse("mfa_activate_totp")
    secret = SECRET_ON_PAGE.search(client.get(activate).content.decode()).group(1)
    # The crash comes where the secret is a local variable and in the session.
    monkeypatch.setattr(totp_auth, "validate_totp_code", crash)
    report = crash_report(client, every_log, activate, {"code": totp_code(secret)})
    assert secret not in report


def test_a_crash_while_a_recovery_code_is_sent_leaves_it_out_of_error_emails(
    client, alice, every_log, operators, monkeypatch
):
    _, codes = with_authenticator_app(client, alice)
    client.post(reverse("account_logout"))
    client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    monkeypatch.setattr(RecoveryCodes, "validate_code", crash)
    report = crash_report(client, every_log, reverse("mfa_authenticate"), {"code": codes[0]})
    assert not holds_number(report, codes[0])


def test_a_crash_on_a_reset_link_leaves_its_key_out_of_error_emails_and_logs(
    client, alice, every_log, operators, monkeypatch, mailoutbox
):
    client.post(reverse("account_reset_password"), {"email": alice.email})
    link, key = RESET_LINK.search(mailoutbox[0].body).groups()
    monkeypatch.setattr(UserTokenForm, "clean", crash)
    assert key not in crash_report(client, every_log, link)


def test_a_spent_reset_key_does_not_stay_in_the_session(client, alice, mailoutbox):
    client.post(reverse("account_reset_password"), {"email": alice.email})
    link, key = RESET_LINK.search(mailoutbox[0].body).groups()
    form = client.get(link)["Location"]
    client.post(form, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert key not in sessions_text()


def test_operators_never_see_a_second_factor_secret_in_the_admin_or_the_database(client, alice):
    secret, _ = with_authenticator_app(client, alice)
    operator = User.objects.create_superuser("operator@secret.test", "Pw-for-operators-77")
    client.force_login(operator)
    admin = response_text(client.get(reverse("admin:mfa_authenticator_changelist"))) + "".join(
        response_text(client.get(reverse("admin:mfa_authenticator_change", args=[pk])))
        for pk in Authenticator.objects.values_list("pk", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM mfa_authenticator")
        stored = repr(cursor.fetchall())
    # The seed (40 random bytes in hex) is what every recovery code is computed from: whoever
    # reads it has them all.
    seed = re.compile(r"(?<![0-9a-f])[0-9a-f]{80}(?![0-9a-f])")
    assert secret not in admin, "TOTP secret in the admin"
    assert not seed.search(admin), "recovery-code seed in the admin"
    assert secret not in stored, "TOTP secret in the clear in the database"
    assert not seed.search(stored), "recovery-code seed in the clear in the database"


# The portal's own API tokens: shown once, on the answer that makes one, and kept only as a hash.
# The upstream tokens behind the team's credentials never leave the portal through the API.

API_TOKEN = re.compile(r"ptp_[A-Za-z0-9]{36}")


def answer_text(response) -> str:
    """`response_text`, for streamed answers (the CSV exports) too."""
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content).decode()
        return body + str(response.headers) + str(response.cookies)
    return response_text(response)


def in_process_cache() -> bytes:
    """What this process's cache holds (the tests' default, in memory; Redis, when configured,
    is searched by `stored_everywhere`)."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    # A database cache is a table (searched with the others), Redis is searched on its own.
    if not isinstance(caches["default"], LocMemCache):
        return b""
    return repr(list(cache._cache.items())).encode()


@pytest.mark.django_db(transaction=True)
def test_an_api_token_is_shown_once_then_in_no_page_log_session_activity_entry_or_column(
    request, client, alice, pulsetracker_credential, pulsoid_credential, every_log
):
    from accounts.models import AccessToken, Activity
    from tests.test_api_matrix import ALL_SCOPES, ENDPOINTS, bearer, send

    client.force_login(alice)
    shown = client.post(
        reverse("accounts:token-create"),
        {"name": "Deploy script", "scopes": ALL_SCOPES, "days": 30},
    )
    [value] = set(API_TOKEN.findall(shown.content.decode()))
    assert "no-store" in shown["Cache-Control"]  # the one page that shows it is never kept

    after = []  # every answer after the one that showed it
    api = bearer(value)
    for endpoint in ENDPOINTS:  # the token at work: reads, writes, each in the activity log
        after.append(send(api, request, endpoint))
    after.append(api.get("/api/v1/apps/999999"))  # refusals: no such credential, bad input
    after.append(api.post(f"/api/v1/apps/{pulsetracker_credential.pk}", {}, "application/json"))
    for name in ("accounts:tokens", "accounts:activity", "accounts:activity-csv", "credentials"):
        after.append(client.get(reverse(name)))
    after.append(client.get(reverse("home")))
    token = AccessToken.objects.get(user=alice)
    after.append(client.post(reverse("accounts:token-revoke", args=[token.pk])))
    after.append(api.get("/api/v1/credentials"))  # revoked: 401
    assert after[-1].status_code == 401
    assert all(r.status_code < 500 for r in after), [r.status_code for r in after]
    assert Activity.objects.filter(via="API token Deploy script").count() >= len(ENDPOINTS)

    haystacks = {f"answer {n}": answer_text(r).encode() for n, r in enumerate(after)}
    haystacks["logs"] = log_text(every_log).encode()
    haystacks["activity entries"] = repr(list(Activity.objects.values())).encode()
    haystacks["cache"] = in_process_cache()
    haystacks.update(stored_everywhere())
    secret_part = value[len(token.prefix) :]  # what the lists do not show of it
    for where, haystack in haystacks.items():
        assert value.encode() not in haystack, f"API token in {where}"
        assert secret_part.encode() not in haystack, f"API token (after its prefix) in {where}"
    assert token.token_hash == hashlib.sha256(value.encode()).hexdigest()  # only its hash


def upstream_secrets(sandbox) -> list[str]:
    """The tokens behind Acme's credentials, and a Pulsetracker token's part after its id."""
    paid = sandbox.seed.pulsetracker_paid_token
    return [paid, paid.split("|", 1)[1], sandbox.seed.pulsoid_full_token]


def test_no_api_answer_carries_an_upstream_token_even_when_the_upstream_quotes_it(
    request, settings, acme, alice, carol, mallory, other_team, sandbox_settings, every_log
):
    from tests.test_api_matrix import ALL_SCOPES, ENDPOINTS, bearer, send, token_for

    # Every call reaches the upstream: the portal's pacing of Pulsoid calls is not tested here.
    settings.PULSOID_REQUESTS_PER_SECOND = 10_000
    secrets = upstream_secrets(sandbox_settings)
    owner = bearer(token_for(alice, acme))
    callers = {
        "owner": owner,
        "viewer": bearer(token_for(carol, acme)),
        "owner without the endpoint's scope": None,
        "another team": bearer(token_for(mallory, other_team)),
        "no token": Client(),
    }
    answers = []
    for endpoint in ENDPOINTS:
        for who, caller in callers.items():
            if caller is None:  # every scope but one, in turn
                for scope in ALL_SCOPES:
                    rest = [s for s in ALL_SCOPES if s != scope]
                    answers.append(
                        (
                            endpoint.id,
                            who,
                            send(bearer(token_for(alice, acme, rest)), request, endpoint),
                        )
                    )
                continue
            answers.append((endpoint.id, who, send(caller, request, endpoint)))
    # An upstream that quotes the token it was sent in its refusal, in every field a client reads.
    paid, pulsoid = sandbox_settings.seed.pulsetracker_paid_token, secrets[-1]
    quotes = {"apps": f"{paid} (that is {paid.split('|', 1)[1]})", "widgets": pulsoid}
    upstreams = {"apps": "/pulsetracker/api/", "widgets": "/pulsoid/api/v1/"}
    for endpoint in ENDPOINTS:
        if "cid" not in endpoint.params:
            continue
        segment = endpoint.path.strip("/").split("/")[0]
        quoted = quotes[segment]
        for status in (400, 403, 422, 500):
            sandbox_settings.fault(
                "*",
                upstreams[segment],
                status=status,
                body={
                    "message": f"Token {quoted} may not do that",
                    "error_message": f"token {quoted} refused",
                    "errors": {"name": [f"{quoted} is not allowed here"]},
                },
                times=3,  # a read is retried after a 5xx
            )
            refused = send(owner, request, endpoint)
            sandbox_settings.clear_faults()
            # The upstream's refusal did come back (scrubbed), not an answer in its place.
            assert refused.json()["upstream_status"] == status, refused.content
            answers.append((endpoint.id, f"upstream {status}", refused))
    # Last, the activity log those refusals went to, as the API shows it.
    for endpoint in ENDPOINTS:
        if endpoint.path.startswith("/activity"):
            answers.append((endpoint.id, "after the refusals", send(owner, request, endpoint)))

    assert {r.status_code for _, _, r in answers} >= {200, 201, 401, 403, 404}
    for endpoint_id, who, response in answers:
        text = answer_text(response)
        for secret in secrets:
            assert secret not in text, f"upstream token in {endpoint_id} answered to {who}"
    logs = log_text(every_log)
    for secret in secrets:
        assert secret not in logs, "upstream token in the logs"


# The webhook secret that signs geofence events: pasted once by an admin, then only ciphertext.


@pytest.mark.django_db(transaction=True)
def test_a_pasted_webhook_secret_is_absent_from_every_page_log_and_column(
    client, ada, pulsetracker_credential, sandbox_settings, every_log
):
    import hashlib
    import hmac
    import json
    from datetime import UTC, datetime

    from integrations.models import GeofenceApp

    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_paid_token
    secret = api.webhook_secret(token)
    key = api.apps(token)[0]["key"]
    client.force_login(ada)
    geofences = reverse("geofences", args=[pulsetracker_credential.pk, key])
    paste = reverse("geofence-secret", args=[pulsetracker_credential.pk, key])
    responses = [client.get(geofences)]
    responses.append(client.post(paste, {"secret": secret}))
    responses.append(client.post(paste, {"secret": secret[:6]}))  # too short: the form is back
    responses.append(client.get(geofences))
    responses.append(client.get(reverse("app-detail", args=[pulsetracker_credential.pk, key])))
    responses.append(client.get(reverse("accounts:activity")))
    hook = reverse("geofence-webhook", args=[GeofenceApp.objects.get(app_key=key).hook])
    body = json.dumps(
        {
            "event": "inside",
            "point": {"type": "Point", "coordinates": [3.0, 36.0]},
            "device_id": "d",
            "geofence_id": 1,
            "location_received_at": datetime.now(UTC).isoformat(),
            "event_sent_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for sent in (signature, "0" * 64, signature):  # accepted, forged, replayed
        responses.append(
            client.post(hook, body, content_type="application/json", HTTP_P_SIGNATURE=sent)
        )

    assert [r.status_code for r in responses] == [200, 302, 200, 200, 200, 200, 200, 401, 409]
    haystacks = {f"response {n}": response_text(r) for n, r in enumerate(responses)}
    haystacks["logs"] = log_text(every_log)
    for where, haystack in {**haystacks, **stored_everywhere()}.items():
        found = secret in haystack if isinstance(haystack, str) else secret.encode() in haystack
        assert not found, f"webhook secret found in {where}"
