"""The portal watching credentials on its own: scheduled checks, background refresh, alerts on
transitions to every channel of the team, deliveries retried, and pruning. Time is moved by the
tests (the jobs take `now`; Django's clock is patched where the code reads it), never slept."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Activity
from integrations import alerts, watch
from integrations.models import Channel, Credential, Delivery, Health, Watch


class Receiver:
    """A webhook endpoint on a loopback port: records each request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def clock(monkeypatch):
    """Django's clock, as the portal's code reads it, moved by the test."""
    now = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    return now


def webhook(team, receiver, secret="whsec_test-secret") -> Channel:
    channel = Channel(team=team, kind=Channel.Kind.WEBHOOK, name="Ops hook")
    alerts.set_url(channel, receiver.url)
    alerts.set_secret(channel, secret)
    channel.save()
    return channel


def email_channel(team, *people) -> Channel:
    channel = Channel.objects.create(team=team, kind=Channel.Kind.EMAIL, name="On call")
    channel.recipients.set(people)
    return channel


def run(now, minutes: int = 0):
    """One minute of the cluster: the watch, then deliveries."""
    now[0] += timedelta(minutes=minutes)
    done = watch.watch(now[0])
    watch.deliver(now[0])
    return done


def test_a_revoked_token_is_announced_once_to_every_channel_and_recovery_once(
    acme, alice, bob, pulsetracker_credential, sandbox_settings, receiver, clock
):
    hook = webhook(acme, receiver)
    email_channel(acme, alice, bob)
    run(clock, minutes=16)  # every credential has had its first check
    assert receiver.requests == []  # healthy: nothing to say

    sandbox_settings.pulsetracker.revoke(sandbox_settings.seed.pulsetracker_paid_token)
    for _ in range(15):  # one check period, minute by minute
        run(clock, minutes=1)
    assert Credential.objects.get(pk=pulsetracker_credential.pk).health == Health.REJECTED
    [alert] = receiver.bodies()
    assert alert["event"] == "credential.rejected"
    assert alert["credential"] == {"id": pulsetracker_credential.pk, "label": "Acme Live"}
    assert "“Acme Live” is rejected" in alert["text"]
    rejected_mails = [m for m in mail.outbox if "is rejected" in m.body]
    assert len(rejected_mails) == 1
    assert sorted(rejected_mails[0].to) == ["alice@acme.test", "bob@acme.test"]
    changed = Activity.objects.get(action="credential health changed")
    assert changed.actor is None
    assert changed.detail.startswith("OK → Rejected")

    for _ in range(30):  # it stays rejected: never said again
        run(clock, minutes=1)
    assert len(receiver.requests) == 1

    # An admin links a working token again: one "back to OK".
    from accounts.crypto import Secret
    from integrations import credentials

    credential = Credential.objects.get(pk=pulsetracker_credential.pk)
    credentials.replace(credential, alice, Secret(sandbox_settings.seed.pulsetracker_free_token))
    run(clock, minutes=1)
    assert [b["event"] for b in receiver.bodies()] == ["credential.rejected", "credential.ok"]
    assert Delivery.objects.filter(channel=hook, state=Delivery.State.SENT).count() == 2


def test_a_webhooks_body_is_signed_with_its_secret(acme, receiver):
    channel = webhook(acme, receiver, secret="whsec_abc123")
    delivery = alerts.send_test(channel)
    assert delivery.state == Delivery.State.SENT
    [(headers, body)] = receiver.requests
    expected = hmac.new(b"whsec_abc123", body, hashlib.sha256).hexdigest()
    assert headers["X-Portal-Signature"] == f"sha256={expected}"
    assert json.loads(body)["event"] == "test"
    # A receiver with another secret would not accept it.
    wrong = hmac.new(b"whsec_other", body, hashlib.sha256).hexdigest()
    assert headers["X-Portal-Signature"] != f"sha256={wrong}"


def test_a_channel_answering_500_is_retried_with_backoff_and_its_failure_kept(
    acme, pulsetracker_credential, receiver, clock
):
    channel = webhook(acme, receiver)
    receiver.status = 500
    Credential.objects.filter(pk=pulsetracker_credential.pk).update(health=Health.REJECTED)
    alerts.announce_changes(acme, clock[0])
    sent_at = []
    for _ in range(40):  # forty minutes
        before = len(receiver.requests)
        watch.deliver(clock[0])
        if len(receiver.requests) > before:
            sent_at.append(clock[0])
        clock[0] += timedelta(minutes=1)
    # Five attempts in all (the first, then after 1, 2, 4 and 8 minutes), then it gives up.
    # (Each attempt is one POST: a POST is never retried on its own.)
    assert len(sent_at) == 5
    gaps = [round((b - a).total_seconds() / 60) for a, b in itertools.pairwise(sent_at)]
    assert gaps == [1, 2, 4, 8]
    delivery = Delivery.objects.get(channel=channel)
    assert delivery.state == Delivery.State.FAILED
    assert "500" in delivery.outcome


def test_background_refresh_keeps_an_unused_oauth_credential_healthy(
    as_user, alice, acme, sandbox_settings, clock
):
    from accounts.crypto import decrypt
    from tests.test_pulsoid_oauth import oauth_credential

    credential = oauth_credential(as_user(alice))
    tokens = [decrypt(credential.ciphertext).reveal()]
    for _period in range(4):  # four expiry periods of an access token (an hour each)
        expires_at = Credential.objects.get(pk=credential.pk).expires_at
        clock[0] = expires_at - timedelta(minutes=20)
        assert run(clock)["refreshed"] == 0  # not yet
        clock[0] = expires_at - timedelta(minutes=10)
        assert run(clock)["refreshed"] == 1  # ten minutes before expiry, untouched by anyone
        tokens.append(decrypt(Credential.objects.get(pk=credential.pk).ciphertext).reveal())
    credential.refresh_from_db()
    assert len(set(tokens)) == 5  # a new access token each period
    assert credential.health == Health.OK
    working = sandbox_settings.pulsoid.tokens_of(sandbox_settings.seed.pulsoid_user_id)
    assert tokens[-1] in working
    assert tokens[0] not in working  # Pulsoid retired each pair it replaced
    refreshes = Activity.objects.filter(action="credential refreshed", outcome="ok").count()
    assert refreshes == 4


def test_checks_are_spread_over_the_interval_and_follow_the_teams_choice(
    acme, alice, sandbox_settings, clock
):
    from accounts.crypto import Secret
    from integrations import credentials

    for number in range(6):
        credentials.link(
            acme,
            alice,
            "pulsetracker",
            f"Key {number}",
            Secret(sandbox_settings.seed.pulsetracker_paid_token),
        )
    first_checks = []
    for _ in range(15):
        first_checks.append(run(clock, minutes=1)["checked"])
    assert sum(first_checks) == 6
    assert max(first_checks) < 6  # not all in the same minute
    Watch.objects.update_or_create(team=acme, defaults={"check_minutes": 60})
    checks = [run(clock, minutes=1)["checked"] for _ in range(60)]
    assert sum(checks) == 6  # each once in the team's hour


def test_expiring_tokens_and_old_tokens_are_flagged_before_trouble(
    acme, alice, pulsetracker_credential, sandbox_settings, clock
):
    Watch.objects.update_or_create(team=acme, defaults={"rotation_days": 90})
    assert alerts.conditions(acme)[pulsetracker_credential.pk] == "ok"
    clock[0] += timedelta(days=91)
    assert alerts.conditions(acme)[pulsetracker_credential.pk] == "rotate"
    assert alerts.needing_attention(acme) == 1


def test_pruning_removes_expired_sessions_and_activity_past_the_retention(
    acme, alice, settings, clock
):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    old = SessionStore()
    old.set_expiry(60)
    old.create()
    Activity.objects.create(team=acme, action="member joined", created_at=clock[0])
    clock[0] += timedelta(days=400)
    Activity.objects.create(team=acme, action="member left", created_at=clock[0])
    assert watch.prune(clock[0])["activity"] == 0  # the default keeps everything
    settings.PORTAL_ACTIVITY_RETENTION_DAYS = 365
    done = watch.prune(clock[0])
    assert done["activity"] == 1
    assert list(Activity.objects.values_list("action", flat=True)) == ["member left"]
    assert not Session.objects.filter(session_key=old.session_key).exists()


# What people see


def test_every_page_shows_how_many_credentials_need_attention(
    as_user, carol, pulsetracker_credential
):
    from django.urls import reverse

    client = as_user(carol)
    assert 'data-testid="attention-badge"' not in client.get(reverse("apps")).content.decode()
    Credential.objects.filter(pk=pulsetracker_credential.pk).update(health=Health.REJECTED)
    page = client.get(reverse("accounts:members")).content.decode()
    assert 'data-testid="attention-badge"' in page
    assert ">1</span>" in page.split('data-testid="attention-badge"')[1][:120]


def test_operators_see_each_job_with_its_last_and_next_run(client, db):
    from django.urls import reverse
    from django_q.models import Schedule

    from accounts.models import User

    names = set(Schedule.objects.values_list("name", flat=True))
    assert {"Watch credentials", "Deliver alerts", "Prune old records"} <= names
    operator = User.objects.create_superuser("ops@portal.test", "Pw-for-operators-77")
    client.force_login(operator)
    page = client.get(reverse("admin:django_q_schedule_changelist")).content.decode()
    assert "Watch credentials" in page
    assert "Next Run" in page or "next run" in page.lower()


def test_a_webhook_added_on_the_alerts_page_shows_its_secret_once_and_tests_in_place(
    as_user, alice, acme, receiver
):
    from django.urls import reverse

    client = as_user(alice)
    added = client.post(
        reverse("alert-channel-add"),
        {"kind": "webhook", "name": "Ops hook", "url": receiver.url},
    ).content.decode()
    secret = added.split('data-testid="webhook-secret"')[1].split('<code class="key">')[1]
    secret = secret.split("<")[0]
    assert secret.startswith("whsec_")
    assert receiver.url not in added  # the URL is a secret too: only its host is shown
    again = client.get(reverse("alerts")).content.decode()
    assert secret not in again
    channel = Channel.objects.get(team=acme)
    row = client.post(reverse("alert-channel-test", args=[channel.pk]), HTTP_HX_REQUEST="true")
    body = row.content.decode()
    assert body.lstrip().startswith(f'<tr id="channel-{channel.pk}"')
    assert "Sent: Delivered on attempt 1." in body
    [(headers, raw)] = receiver.requests
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Portal-Signature"] == f"sha256={expected}"
    receiver.status = 500
    failed = client.post(reverse("alert-channel-test", args=[channel.pk]), HTTP_HX_REQUEST="true")
    assert "Failed: Attempt 1:" in failed.content.decode()


def test_members_cannot_manage_alerts(as_user, bob):
    from django.urls import reverse

    assert as_user(bob).get(reverse("alerts")).status_code == 403


def test_admins_see_each_background_job_with_its_last_run_outcome_and_next_run(as_user, ada):
    from django.urls import reverse
    from django_q.models import Schedule, Task

    client = as_user(ada)
    rows = client.get(reverse("alerts")).content.decode().split('data-testid="job-row"')[1:]
    assert len(rows) == 3
    assert "Watch credentials" in rows[0]
    assert "not yet" in rows[0]
    watch_schedule = Schedule.objects.get(name="Watch credentials")
    now = timezone.now()
    Task.objects.create(
        id="task-1",
        name="watch-run",
        func="integrations.watch.watch",
        started=now,
        stopped=now,
        success=False,
    )
    Schedule.objects.filter(pk=watch_schedule.pk).update(task="task-1")
    row = client.get(reverse("alerts")).content.decode().split('data-testid="job-row"')[1]
    assert "failed" in row
    assert "not yet" not in row
