"""Upgrading loses nothing: a database on the schema from before credentials moved to
`integrations` (and Pulsoid's OAuth pair to a model of its own) is migrated forward, and every
token, health mark, OAuth pair and activity entry reads back unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.crypto import Secret, decrypt, encrypt

pytestmark = pytest.mark.django_db(transaction=True)

#: The last migrations before the move: `integrations` had none.
BEFORE = [("accounts", "0005_activity_label_index"), ("integrations", None)]

TRACKER_TOKEN = "12|" + "a" * 40
PULSOID_OAUTH_TOKEN = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PULSOID_REFRESH_TOKEN = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
PULSOID_MANUAL_TOKEN = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    named = [target for target in targets if target[1] is not None]
    return executor.loader.project_state(named).apps


def test_upgrading_keeps_every_token_its_health_the_oauth_pair_and_the_activity():
    old = migrate(BEFORE)
    User = old.get_model("accounts", "User")
    Team = old.get_model("accounts", "Team")
    OldCredential = old.get_model("accounts", "Credential")
    OldActivity = old.get_model("accounts", "Activity")
    owner = User.objects.create(email="owner@old.test", password="!")
    team = Team.objects.create(name="Old team")
    expires = timezone.now() + timedelta(hours=1)
    tracker = OldCredential.objects.create(
        team=team,
        service="pulsetracker",
        label="Fleet",
        ciphertext=encrypt(Secret(TRACKER_TOKEN)),
        last4=TRACKER_TOKEN[-4:],
        linked_by=owner,
        health="rejected",
        health_detail="Pulsetracker rejected the token.",
    )
    connected = OldCredential.objects.create(
        team=team,
        service="pulsoid",
        label="Streamer",
        ciphertext=encrypt(Secret(PULSOID_OAUTH_TOKEN)),
        last4=PULSOID_OAUTH_TOKEN[-4:],
        linked_by=owner,
        scopes=["widgets:read", "widgets:update"],
        expires_at=expires,
        channel="streamer",
        via_oauth=True,
        refresh_ciphertext=encrypt(Secret(PULSOID_REFRESH_TOKEN)),
    )
    pasted = OldCredential.objects.create(
        team=team,
        service="pulsoid",
        label="Pasted",
        ciphertext=encrypt(Secret(PULSOID_MANUAL_TOKEN)),
        last4=PULSOID_MANUAL_TOKEN[-4:],
        health="missing_scope",
    )
    ciphertexts = {c.pk: c.ciphertext for c in OldCredential.objects.all()}
    for credential in (tracker, connected, pasted):
        OldActivity.objects.create(
            team=team,
            actor=owner,
            actor_email=owner.email,
            action="credential linked",
            credential=credential,
            credential_label=credential.label,
        )

    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())

    from accounts.models import Activity
    from integrations.models import Credential, PulsoidGrant

    assert {c.pk: c.ciphertext for c in Credential.objects.all()} == ciphertexts
    tracker_now = Credential.objects.get(pk=tracker.pk)
    assert decrypt(tracker_now.ciphertext).reveal() == TRACKER_TOKEN
    assert (tracker_now.team_id, tracker_now.linked_by_id) == (team.pk, owner.pk)
    assert (tracker_now.health, tracker_now.health_detail) == (
        "rejected",
        "Pulsetracker rejected the token.",
    )
    connected_now = Credential.objects.get(pk=connected.pk)
    assert decrypt(connected_now.ciphertext).reveal() == PULSOID_OAUTH_TOKEN
    assert connected_now.scopes == ["widgets:read", "widgets:update"]
    assert connected_now.expires_at == expires
    assert connected_now.channel == "streamer"
    grant = PulsoidGrant.objects.get(credential=connected_now)
    assert decrypt(grant.refresh_ciphertext).reveal() == PULSOID_REFRESH_TOKEN
    pasted_now = Credential.objects.get(pk=pasted.pk)
    assert decrypt(pasted_now.ciphertext).reveal() == PULSOID_MANUAL_TOKEN
    assert pasted_now.health == "missing_scope"
    assert not PulsoidGrant.objects.filter(credential=pasted_now).exists()
    entries = Activity.objects.filter(team_id=team.pk).order_by("id")
    assert [(e.credential_id, e.credential_label) for e in entries] == [
        (tracker.pk, "Fleet"),
        (connected.pk, "Streamer"),
        (pasted.pk, "Pasted"),
    ]
    # The moved table still takes new rows, and unlinking leaves the log as it was.
    tracker_now.delete()
    assert Activity.objects.filter(team_id=team.pk).count() == 3
