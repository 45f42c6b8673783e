"""Production hardening: deploy checks, headers and cookies, log-in throttling, hashing, and
tokens kept out of logs and error reports by construction."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from accounts.crypto import Secret
from accounts.models import Activity, Invitation
from integrations import alerts, http, upstreams
from integrations.models import Channel, Delivery
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.pulsoid.client import PulsoidClient, PulsoidOAuth
from portal.logging import RedactTokens, redact
from tests.conftest import PASSWORD
from tests.test_token_secrecy import log_text

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "q8Vw2-production-like-secret-key-with-enough-entropy-91xZ!Lk3",
    "PORTAL_ENCRYPTION_KEYS": "ZGV2LW9ubHktcG9ydGFsLWtleS1ub3QtZm9yLXByb2Q=",
    "ALLOWED_HOSTS": "portal.example.com",
}


def test_the_deploy_check_passes_with_production_settings():
    skip = {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the last is the tests' own
    env = {k: v for k, v in os.environ.items() if k not in skip}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_every_page_carries_a_nonce_policy_without_inline_or_eval_scripts(client):
    first = client.get("/accounts/login/")
    second = client.get("/accounts/login/")
    policy = first["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "'self'" in script_src
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)
    assert f'nonce="{nonce}"' in first.content.decode()
    assert nonce not in second["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


@pytest.mark.django_db
def test_framing_sniffing_and_referrers_are_locked_down(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_hsts_is_sent_over_https_in_production(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(client, settings, alice):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    page = client.get("/accounts/login/", secure=True)
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"]
    assert csrf["httponly"]
    assert csrf["samesite"] == "Lax"
    logged_in = client.post(
        "/accounts/login/", {"login": alice.email, "password": PASSWORD}, secure=True
    )
    session = logged_in.cookies["sessionid"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"


def test_pages_showing_credentials_are_never_stored(as_user, alice, pulsetracker_credential):
    client = as_user(alice)
    for url in (
        reverse("credentials"),
        reverse("credential-replace", args=[pulsetracker_credential.pk]),
        reverse("credential-unlink", args=[pulsetracker_credential.pk]),
    ):
        assert "no-store" in client.get(url)["Cache-Control"]


# Log-in throttling


def attempt(client: Client, email: str, password: str, address: str, forwarded: str = ""):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def logged_in(response) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


LOCKED = "Too many failed login attempts"


@pytest.mark.django_db
def test_five_failures_lock_the_account_even_with_the_right_password(alice):
    client = Client()
    for _ in range(5):
        assert LOCKED not in attempt(client, alice.email, "wrong", "203.0.113.9").content.decode()
    locked = attempt(client, alice.email, PASSWORD, "203.0.113.9")
    assert not logged_in(locked)
    assert LOCKED in locked.content.decode()
    # From anywhere else too: the lock is on the account.
    assert LOCKED in attempt(Client(), alice.email, PASSWORD, "192.0.2.200").content.decode()


def spray(address: str, forwarded_from: str = "") -> None:
    """Twenty wrong passwords from one client, over many accounts (none locked by itself)."""
    client = Client()
    for number in range(20):
        forwarded = f"{forwarded_from}{number}" if forwarded_from else ""
        attempt(client, f"someone{number % 5}@acme.test", "wrong", address, forwarded)


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_escape_the_address_limit(
    alice, bob, settings
):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    spray("203.0.113.9", forwarded_from="198.51.100.")
    # Whatever the header claims, the real address has used up its failures for the minute.
    refused = attempt(Client(), bob.email, PASSWORD, "203.0.113.9", forwarded="192.0.2.77")
    assert not logged_in(refused)
    # Someone else, elsewhere, is not affected.
    assert logged_in(attempt(Client(), bob.email, PASSWORD, "192.0.2.201"))


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(alice, bob, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"
    # Five failures for alice from 1.2.3.N, all through the same load balancer.
    for number in range(5):
        attempt(Client(), alice.email, "wrong", proxy, forwarded=f"1.2.3.{number}")
    # bob, logging in correctly from 9.9.9.9 through the same proxy, is let in.
    assert logged_in(attempt(Client(), bob.email, PASSWORD, proxy, forwarded="9.9.9.9"))
    # One client spraying many accounts is stopped by its own address limit, not everyone's.
    spray(proxy, forwarded_from="")  # (REMOTE_ADDR only: the proxy's own address)
    client_ip = "1.2.3.4"
    for number in range(20):
        attempt(Client(), f"other{number % 5}@acme.test", "wrong", proxy, forwarded=client_ip)
    assert not logged_in(attempt(Client(), bob.email, PASSWORD, proxy, forwarded=client_ip))
    assert logged_in(attempt(Client(), bob.email, PASSWORD, proxy, forwarded="9.9.9.8"))


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(settings):
    from portal import settings as portal_settings

    settings.PASSWORD_HASHERS = portal_settings.PASSWORD_HASHERS
    assert make_password("Correct-horse-1").startswith("argon2$")


# Tokens out of logs and error reports


def test_the_redaction_filter_hides_every_token_shape_but_the_last_four():
    text = redact(
        "Bearer 2|sandboxPaidPlanUserToken0000000000000000 "
        "uuid 11111111-1111-4111-8111-111111111111 "
        "refresh_token=abcdefghijkl&client_secret=s3cr3tvalue"
    )
    assert "sandboxPaidPlan" not in text
    assert "11111111-1111" not in text
    assert "abcdefghijkl" not in text
    assert "s3cr3tvalue" not in text
    assert "…1111" in text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s", ("2|" + "a" * 40,), None)
    RedactTokens().filter(record)
    assert "a" * 40 not in record.getMessage()


PT_TOKEN = "7|knownPulsetrackerTokenForLeakTests00000000"
PSD_TOKEN = "deadbeef-0000-4000-8000-00000000c0de"
CLIENT_SECRET = "known-client-secret-for-leak-tests"
REFRESH = "feedface-0000-4000-8000-0000000ff00d"


def every_client_call():
    tracker = PulsetrackerClient(Secret(PT_TOKEN), base_url="http://127.0.0.1:9/api")
    pulsoid = PulsoidClient(Secret(PSD_TOKEN), base_url="http://127.0.0.1:9/api/v1")
    oauth = PulsoidOAuth(
        "client",
        Secret(CLIENT_SECRET),
        oauth_url="http://127.0.0.1:9/oauth2",
        revoke_url="http://127.0.0.1:9/oauth2/revoke",
    )
    key = "0b8e0000-0000-4000-8000-000000000001"
    return {
        "list_apps": lambda: tracker.list_apps(),
        "get_app": lambda: tracker.get_app(key),
        "create_app": lambda: tracker.create_app("x"),
        "rename_app": lambda: tracker.rename_app(key, "y"),
        "list_devices": lambda: tracker.list_devices(app_key=key),
        "get_device": lambda: tracker.get_device(key),
        "validate_token": lambda: pulsoid.validate_token(),
        "list_widgets": lambda: pulsoid.list_widgets(),
        "create_widget": lambda: pulsoid.create_widget("w", {"heartEnabled": True}),
        "update_widget": lambda: pulsoid.update_widget(key, {}),
        "get_profile": lambda: pulsoid.get_profile(),
        "latest_heart_rate": lambda: pulsoid.latest_heart_rate(),
        "exchange_code": lambda: oauth.exchange_code(PSD_TOKEN, "http://x/cb"),
        "refresh": lambda: oauth.refresh(Secret(REFRESH)),
        "revoke": lambda: oauth.revoke(Secret(PSD_TOKEN)),
    }


@pytest.mark.django_db
def test_a_crash_in_every_client_call_leaves_no_token_in_logs_or_error_emails(
    monkeypatch, settings, caplog
):
    """Force an unexpected error deep in the HTTP library, where the headers (with the token)
    are local variables, then report it as Django reports a 500: log record and error email."""
    settings.ADMINS = [("Operators", "ops@portal.test")]
    settings.DEBUG = False
    caplog.set_level(logging.DEBUG)

    def exploding_request(self, method, url, headers=None, data=None, json=None, **kwargs):
        authorization = (headers or {}).get("Authorization")  # the token, as a local
        raise RuntimeError(f"library bug while sending {method} with {len(authorization or '')}")

    monkeypatch.setattr(requests.Session, "request", exploding_request)
    request = RequestFactory().get("/apps/1/")
    reporter = logging.getLogger("django.request")
    calls = every_client_call()

    html_reports: list[str] = []

    def crash_and_report(name: str, call) -> None:
        try:
            call()
        except RuntimeError:
            extra = {"status_code": 500, "request": request}
            reporter.error("Internal Server Error: %s", name, exc_info=True, extra=extra)
            # The HTML report, with every frame's local variables, as an HTML error email or
            # the debug 500 page would show it.
            html_reports.append(
                ExceptionReporter(request, *sys.exc_info(), is_email=True).get_traceback_html()
            )
            raise

    for name, call in calls.items():
        with pytest.raises(RuntimeError):
            crash_and_report(name, call)
    assert len(mail.outbox) == len(calls)
    haystack = "\n".join(
        [m.subject + m.body + "".join(str(a[0]) for a in m.alternatives) for m in mail.outbox]
        + [r.getMessage() + (r.exc_text or "") for r in caplog.records]
        + html_reports
    )
    assert "exploding_request" in haystack  # the reports do show the failing frames
    assert "authorization" in "".join(html_reports)  # ...and their local variables
    for secret in (PT_TOKEN, PSD_TOKEN, CLIENT_SECRET, REFRESH, PT_TOKEN.split("|")[1]):
        assert secret not in haystack, secret


def test_failing_upstream_calls_log_no_token(sandbox, caplog, fast_timeouts):
    caplog.set_level(logging.DEBUG)
    tracker = PulsetrackerClient(
        Secret(sandbox.seed.pulsetracker_paid_token),
        base_url=sandbox.pulsetracker_url,
        timeouts=fast_timeouts,
    )
    pulsoid = PulsoidClient(
        Secret(sandbox.seed.pulsoid_full_token),
        base_url=sandbox.pulsoid_api_url,
        timeouts=fast_timeouts,
    )
    for fault in (
        {"status": 500, "times": 3},
        {"timeout": True},
        {"non_json": True},
        {"status": 401},
    ):
        sandbox.fault("*", "/", **fault)
        for call in (tracker.list_apps, pulsoid.list_widgets):
            with pytest.raises(Exception):  # noqa: B017, PT011 - each fault raises its own kind
                call()
            sandbox.clear_faults()
            sandbox.fault("*", "/", **fault)
        sandbox.clear_faults()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Pulsetracker GET" in text
    assert sandbox.seed.pulsetracker_paid_token not in text
    assert sandbox.seed.pulsoid_full_token not in text


# A server error while a token is being linked, with DEBUG on (what `make run` uses) and off.
# Django's own filter stands down under DEBUG, so `sensitive_post_parameters` and
# `sensitive_variables` would be ignored by the 500 page; the portal's filter never does, and its
# reporter scrubs the exact secrets of the failing request and frames from the whole report. The
# mail to ADMINS is kept with DEBUG on as well (a staging box still tells its operators), and is
# the same scrubbed report.

PASTED = "pasted_plain_token_4242_for_crash_tests"  # not token-shaped: only its value betrays it
VALIDATE = "/pulsoid/api/v1/token/validate"


def file_the_refusal_crash(*args, **kwargs):
    """Crashes where the portal files Pulsoid's refusal: inside `except UpstreamError`, so the
    report also shows the refusal and its frames (the client holding the token, the raw answer
    quoting it)."""
    raise RuntimeError(f"the refusal could not be filed: {kwargs.get('error')!r}")


def read_the_refusal_crash(self, clean):
    """Crashes while reading the raw refusal, the upstream's words (and the token) in hand and in
    the exception's own message."""
    raise RuntimeError(f"the refusal could not be read: {self.body!r}")


@pytest.fixture
def every_log(caplog):
    """caplog, also fed by the `django` loggers (they do not propagate to the root), after the
    portal's own handlers (and their filters) have seen each record."""
    caplog.set_level(logging.DEBUG)
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    yield caplog
    django_logger.removeHandler(caplog.handler)


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG on", "DEBUG off"])
@pytest.mark.parametrize(
    ("where", "crash"),
    [
        (upstreams, ("CheckResult", file_the_refusal_crash)),
        (http.RawResponse, ("scrubbed", read_the_refusal_crash)),
    ],
    ids=["filing the refusal", "reading the refusal"],
)
def test_a_crash_while_linking_shows_and_mails_no_pasted_token(
    as_user, alice, sandbox_settings, settings, monkeypatch, every_log, debug, where, crash
):
    settings.DEBUG = debug
    settings.ADMINS = [("Operators", "ops@portal.test")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = sandbox_settings.pulsoid.add_user()
    sandbox_settings.pulsoid.add_token(user, token=PASTED)
    # Pulsoid refuses, quoting the token; then the portal crashes on the refusal.
    refusal = {"error_code": 8001, "error_message": f"token_{PASTED}_is_over_its_limit"}
    sandbox_settings.fault("GET", VALIDATE, status=400, body=refusal)
    monkeypatch.setattr(where, *crash)
    client = as_user(alice)
    client.raise_request_exception = False
    mail.outbox.clear()
    response = client.post(
        reverse("credential-link"), {"service": "pulsoid", "label": "Crash", "token": PASTED}
    )

    assert response.status_code == 500
    page = response.content.decode()
    [report] = mail.outbox
    mailed = report.subject + report.body + "".join(str(a[0]) for a in report.alternatives)
    assert "Internal Server Error: /credentials/link/" in report.subject
    assert "RuntimeError" in mailed  # the report does describe the crash...
    assert "the refusal could not be" in mailed
    if debug:  # ...and so does the DEBUG page, frames and their variables with it
        assert "the refusal could not be" in page
        assert "Local vars" in page
        assert "cleaned_data" in page  # the view's frame, whose variables hold the token
        assert "********************" in page  # the token field of the POST, hidden
    else:
        assert "RuntimeError" not in page
    # Its halves too: a report that wraps a long value over two lines must not show it in two.
    pieces = (PASTED, PASTED.replace("_", " "), PASTED[:16], PASTED[-16:])
    for where_, text in {"page": page, "mail": mailed, "logs": log_text(every_log)}.items():
        for piece in pieces:
            assert piece not in text, f"the pasted token ({piece}) is in the {where_}"


# Mail: every backend Django offers, chosen from the environment; a mail that cannot be sent is
# said and logged, never dropped in silence (and its log line holds no invitation link).


def sendtestemail(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py sendtestemail` in a fresh process whose environment picks the mail backend."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    return subprocess.run(
        [sys.executable, "manage.py", "sendtestemail", "someone@portal.test"],
        cwd=ROOT,
        env={**base, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_file_mail_backend_writes_each_message_into_email_file_path(tmp_path):
    folder = tmp_path / "sent"
    backend = "django.core.mail.backends.filebased.EmailBackend"
    done = sendtestemail(tmp_path, EMAIL_BACKEND=backend, EMAIL_FILE_PATH=str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    [written] = list(folder.iterdir())
    assert "To: someone@portal.test" in written.read_text()
    # And no folder: the portal refuses to start, saying why (its settings load first everywhere).
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    refused = subprocess.run(
        [sys.executable, "-c", "import portal.settings"],
        cwd=ROOT,
        env={**base, "DEBUG": "1", "EMAIL_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "set EMAIL_FILE_PATH" in refused.stderr


def test_the_console_mail_backend_can_be_chosen_from_the_environment(tmp_path):
    backend = "django.core.mail.backends.console.EmailBackend"
    done = sendtestemail(tmp_path, EMAIL_BACKEND=backend)
    assert done.returncode == 0, done.stderr
    assert "To: someone@portal.test" in done.stdout


@pytest.fixture
def unreachable_smtp(settings) -> None:
    """The SMTP backend, pointed at a port nothing listens on: every send fails for real."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 2


def test_an_invitation_whose_mail_fails_is_made_said_inline_and_logged_without_its_link(
    as_user, alice, acme, unreachable_smtp, every_log
):
    response = as_user(alice).post(
        reverse("accounts:invite"), {"email": "newbie@acme.test", "role": "member"}, follow=True
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="invitation-not-mailed"' in page
    assert "the mail to them could not be sent" in page
    link = re.search(r'data-testid="invitation-url">([^<]+)<', page).group(1)
    secret = link.rstrip("/").rsplit("/", 1)[1]
    assert Invitation.objects.filter(team=acme, email="newbie@acme.test").exists()
    [logged] = [r for r in every_log.records if r.name == "accounts.team"]
    assert logged.levelno == logging.ERROR
    assert "was not mailed" in logged.getMessage()
    assert "ConnectionRefusedError" in logged.getMessage()  # the operator learns why
    assert secret not in log_text(every_log)
    entry = Activity.objects.get(team=acme, action="invitation sent")
    assert "the mail could not be sent" in entry.detail
    assert secret not in entry.detail


def test_an_invitation_whose_mail_went_out_says_so(as_user, alice, mailoutbox):
    page = (
        as_user(alice)
        .post(
            reverse("accounts:invite"), {"email": "newbie@acme.test", "role": "member"}, follow=True
        )
        .content.decode()
    )
    assert "created and mailed to them" in page
    assert 'data-testid="invitation-not-mailed"' not in page
    assert len(mailoutbox) == 1


def test_an_alert_mail_that_cannot_be_sent_is_a_failed_delivery_with_its_reason(
    acme, alice, unreachable_smtp
):
    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    channel.recipients.set([alice])
    tried = alerts.send_test(channel)  # a test alert: one attempt, no retry
    assert tried.state == Delivery.State.FAILED
    assert "Connection refused" in tried.outcome
    due = Delivery.objects.create(channel=channel, text="Acme: a credential is rejected.")
    alerts.deliver_due()  # an alert: retried with backoff, the reason kept
    due.refresh_from_db()
    assert due.state == Delivery.State.PENDING
    assert due.attempts == 1
    assert "Connection refused" in due.outcome
    assert due.next_attempt_at > due.created_at + timedelta(seconds=30)


def test_an_alert_mail_the_backend_refuses_is_a_failed_delivery_not_a_crash(acme, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    channel = Channel.objects.create(team=acme, kind=Channel.Kind.EMAIL, name="On call")
    channel.recipients.set([alice])
    # A label with a line break (the link form's CharField keeps inner ones) reaches the subject.
    due = Delivery.objects.create(channel=channel, text="Acme: “Night\nshift” is rejected.")
    alerts.deliver_due()
    due.refresh_from_db()
    assert due.attempts == 1
    assert due.state == Delivery.State.SENT  # the subject is folded onto one line
    assert "\n" not in mail.outbox[-1].subject
