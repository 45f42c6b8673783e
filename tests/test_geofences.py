"""Geofence pages: the app's numeric id (learnt or asked once), list, create and edit through the
sandbox, Pulsetracker's refusals shown beside the input, the webhook secret, and the events on
the app page. Who may do what is in tests/test_access.py."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from accounts.models import Activity
from integrations.models import GeofenceApp, GeofenceEvent, GeofenceSlot
from tests.conftest import linked

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[3.05, 36.75], [3.06, 36.75], [3.06, 36.76], [3.05, 36.76], [3.05, 36.75]]],
}
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[3.05, 36.75], [3.06, 36.76], [3.06, 36.75], [3.05, 36.76], [3.05, 36.75]]],
}


@pytest.fixture
def app_key(sandbox_settings) -> str:
    return sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[0][
        "key"
    ]


@pytest.fixture
def known(pulsetracker_credential, sandbox_settings, app_key) -> GeofenceApp:
    """The app with its numeric id told to the portal."""
    return GeofenceApp.objects.create(
        credential=pulsetracker_credential,
        app_key=app_key,
        app_id=sandbox_settings.pulsetracker.app_id(app_key),
        app_id_source=GeofenceApp.IdSource.ENTERED,
    )


def url(name: str, credential, key: str, *more) -> str:
    return reverse(name, args=[credential.pk, key, *more])


def test_without_the_apps_id_the_page_says_why_and_a_member_enters_it_once(
    as_user, bob, pulsetracker_credential, sandbox_settings, app_key
):
    client = as_user(bob)
    page = client.get(url("geofences", pulsetracker_credential, app_key)).content.decode()
    assert "none of Pulsetracker's app pages in its API" in page
    assert 'data-testid="new-geofence"' not in page
    wrong = client.post(url("geofence-app-id", pulsetracker_credential, app_key), {"app_id": "x7"})
    assert wrong.status_code == 200
    assert "The app id is a whole number." in wrong.content.decode()
    assert 'value="x7"' in wrong.content.decode()
    app_id = sandbox_settings.pulsetracker.app_id(app_key)
    saved = client.post(
        url("geofence-app-id", pulsetracker_credential, app_key), {"app_id": app_id}, follow=True
    )
    text = saved.content.decode()
    assert f"App id {app_id}, entered by hand (bob@acme.test)" in text
    assert 'data-testid="new-geofence"' in text
    assert "No geofences in this app yet." in text
    assert Activity.objects.filter(action="geofence app id set", actor=bob).count() == 1


def test_the_apps_id_is_learnt_from_a_geofence_when_only_this_app_can_own_it(
    as_user, acme, alice, sandbox_settings
):
    # The free plan's account has one app: any geofence of the account is that app's.
    credential = linked(
        acme, alice, "pulsetracker", "Free", sandbox_settings.seed.pulsetracker_free_token
    )
    api, token = sandbox_settings.pulsetracker, sandbox_settings.seed.pulsetracker_free_token
    key = sandbox_settings.seed.pulsetracker_free_app_key
    api.add_geofence(token, key, "Yard", [(1, 1), (1, 2), (2, 2)])
    page = as_user(alice).get(url("geofences", credential, key)).content.decode()
    assert f"App id {api.app_id(key)}, learnt from an existing geofence." in page
    assert "Yard" in page
    [entry] = Activity.objects.filter(action="geofence app id set")
    assert entry.detail == f"Learnt app id {api.app_id(key)} from an existing geofence."


def test_with_many_apps_and_no_clue_the_id_is_not_guessed(
    as_user, alice, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    other = sandbox_settings.pulsetracker.apps(token)[1]["key"]
    sandbox_settings.pulsetracker.add_geofence(token, other, "Elsewhere", [(1, 1), (1, 2), (2, 2)])
    as_user(alice).get(url("geofences", pulsetracker_credential, app_key))
    assert GeofenceApp.objects.get(app_key=app_key).app_id is None


def test_viewers_see_the_geofences_on_the_map_but_no_controls(
    as_user, carol, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    made = sandbox_settings.pulsetracker.add_geofence(
        token, app_key, "Depot", [(3.05, 36.75), (3.06, 36.75), (3.06, 36.76)]
    )
    page = as_user(carol).get(url("geofences", pulsetracker_credential, app_key)).content.decode()
    assert "Depot" in page
    assert '"label": "Depot"' in page  # in the map's data, latitude first
    assert "[36.75, 3.05]" in page
    assert "Pulsetracker's API cannot delete a geofence" in page
    assert url("geofence-edit", pulsetracker_credential, app_key, made["id"]) not in page
    assert 'data-testid="new-geofence"' not in page
    assert 'name="secret"' not in page


def test_a_member_creates_a_geofence_sending_events_to_the_portal(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    client = as_user(bob)
    form = client.get(url("geofence-create", pulsetracker_credential, app_key)).content.decode()
    # The button fills in this geofence's own address: a fresh slot, carried in the form.
    [receiving, slot] = re.search(
        rf'data-fill-url="(http://testserver/hooks/pulsetracker/{known.hook}/(new-[0-9a-f]{{16}})/)"',
        form,
    ).groups()
    assert f'name="slot" value="{slot}"' in form
    another = client.get(url("geofence-create", pulsetracker_credential, app_key)).content.decode()
    assert slot not in another
    done = client.post(
        url("geofence-create", pulsetracker_credential, app_key),
        {
            "name": "Depot",
            "webhook_url": receiving,
            "geometry": json.dumps(SQUARE),
            "submission": "a" * 32,
            "slot": slot,
        },
        follow=True,
    )
    [stored] = sandbox_settings.pulsetracker.geofences(
        sandbox_settings.seed.pulsetracker_paid_token
    )
    assert (stored["name"], stored["webhook_url"], stored["geometry"]) == (
        "Depot",
        receiving,
        SQUARE,
    )
    assert stored["app_id"] == known.app_id
    text = done.content.decode()
    assert "Created the geofence “Depot”." in text
    assert 'data-testid="to-portal"' in text
    [entry] = Activity.objects.filter(action="geofence created")
    assert entry.outcome == "ok"
    assert entry.target == f"Depot (#{stored['id']}) of app {app_key}"
    # The address is now that geofence's: the receiver takes only its events there.
    [recorded] = GeofenceSlot.objects.filter(app=known)
    assert (recorded.slot, recorded.geofence_id) == (slot, stored["id"])


def test_the_edit_form_fills_in_the_geofences_own_address(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    made = sandbox_settings.pulsetracker.add_geofence(
        token, app_key, "Depot", SQUARE["coordinates"][0]
    )
    form = as_user(bob).get(url("geofence-edit", pulsetracker_credential, app_key, made["id"]))
    own = f"http://testserver/hooks/pulsetracker/{known.hook}/{made['id']}/"
    assert f'data-fill-url="{own}"' in form.content.decode()


def test_another_geofences_address_is_refused_before_sending(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    depot = sandbox_settings.pulsetracker.add_geofence(
        token, app_key, "Depot", SQUARE["coordinates"][0]
    )
    theirs = f"http://testserver/hooks/pulsetracker/{known.hook}/{depot['id']}/"
    response = as_user(bob).post(
        url("geofence-create", pulsetracker_credential, app_key),
        {"name": "Yard", "webhook_url": theirs, "geometry": json.dumps(SQUARE)},
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert f"That is the receiving URL of geofence #{depot['id']}" in text
    assert f'value="{theirs}"' in text  # what was typed is kept
    assert [g["name"] for g in sandbox_settings.pulsetracker.geofences(token)] == ["Depot"]


def test_geofences_at_their_own_or_the_app_wide_address_show_as_sent_to_the_portal(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token, ring = sandbox_settings.seed.pulsetracker_paid_token, SQUARE["coordinates"][0]
    base = f"http://testserver/hooks/pulsetracker/{known.hook}/"
    api = sandbox_settings.pulsetracker
    api.add_geofence(token, app_key, "Older", ring, webhook_url=base)  # given before
    own = api.add_geofence(token, app_key, "Own", ring)
    api.add_geofence(token, app_key, "Stray", ring, webhook_url=f"{base}{own['id']}/")
    api.add_geofence(token, app_key, "Elsewhere", ring, webhook_url="https://hooks.example/in")
    client = as_user(bob)
    saved = client.post(
        url("geofence-edit", pulsetracker_credential, app_key, own["id"]),
        {"name": "Own", "webhook_url": f"{base}{own['id']}/", "geometry": json.dumps(SQUARE)},
        follow=True,
    )
    rows = re.findall(r'<tr data-testid="geofence-row">.*?</tr>', saved.content.decode(), re.S)
    names = [re.search(r"<td>(.*?)</td>", row)[1] for row in rows]
    to_portal = ['data-testid="to-portal"' in row for row in rows]
    # "Stray" was given the address of "Own": its events would be refused there.
    assert list(zip(names, to_portal, strict=True)) == [
        ("Elsewhere", False),
        ("Stray", False),
        ("Own", True),
        ("Older", True),
    ]


def test_the_same_form_sent_twice_creates_one_geofence(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    client = as_user(bob)
    data = {
        "name": "Depot",
        "webhook_url": "",
        "geometry": json.dumps(SQUARE),
        "submission": "b" * 32,
    }
    client.post(url("geofence-create", pulsetracker_credential, app_key), data)
    again = client.post(url("geofence-create", pulsetracker_credential, app_key), data, follow=True)
    assert "already created" in again.content.decode()
    assert (
        len(sandbox_settings.pulsetracker.geofences(sandbox_settings.seed.pulsetracker_paid_token))
        == 1
    )


def test_pulsetrackers_json_encoded_refusal_shows_beside_the_polygon_with_the_input_kept(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    response = as_user(bob).post(
        url("geofence-create", pulsetracker_credential, app_key),
        {
            "name": "Knot",
            "webhook_url": "https://hooks.example/in",
            "geometry": json.dumps(BOW_TIE),
            "submission": "c" * 32,
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        'data-testid="geometry-errors"><li>The polygon is not valid: its edges cross each '
        "other.</li>" in text
    )
    assert 'value="Knot"' in text
    assert 'value="https://hooks.example/in"' in text
    assert "[[[3.05, 36.75], [3.06, 36.76]" in text  # the polygon typed, still in its box
    assert '\\"geometry\\"' not in text  # decoded, not shown as JSON
    [entry] = Activity.objects.filter(action="geofence created")
    assert entry.outcome == "failed"
    assert entry.upstream_status == 422


def test_the_portal_checks_the_polygon_before_sending_it(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    response = as_user(bob).post(
        url("geofence-create", pulsetracker_credential, app_key),
        {"name": "Depot", "geometry": '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}'},
    )
    assert "A polygon needs at least three distinct points." in response.content.decode()
    assert sandbox_settings.requests_to("POST", "/pulsetracker/api/geofences") == []


def test_creating_before_the_id_is_known_leads_back_to_the_question(
    as_user, bob, pulsetracker_credential, app_key
):
    response = as_user(bob).get(
        url("geofence-create", pulsetracker_credential, app_key), follow=True
    )
    assert "First tell the portal this app&#x27;s numeric id." in response.content.decode()


def test_editing_changes_the_geofence_though_pulsetracker_answers_nothing(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    made = sandbox_settings.pulsetracker.add_geofence(
        token, app_key, "Depot", SQUARE["coordinates"][0]
    )
    client = as_user(bob)
    edit = url("geofence-edit", pulsetracker_credential, app_key, made["id"])
    form = client.get(edit).content.decode()
    assert 'value="Depot"' in form
    assert "3.05, 36.75" in form
    done = client.post(
        edit, {"name": "Yard", "webhook_url": "", "geometry": json.dumps(SQUARE)}, follow=True
    )
    assert "Saved the geofence “Yard”." in done.content.decode()
    [stored] = sandbox_settings.pulsetracker.geofences(token)
    assert stored["name"] == "Yard"
    [entry] = Activity.objects.filter(action="geofence updated")
    assert entry.detail == "“Depot” → “Yard”"


def test_a_geofence_of_another_app_is_not_found_here(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    other = sandbox_settings.pulsetracker.apps(token)[1]["key"]
    theirs = sandbox_settings.pulsetracker.add_geofence(
        token, other, "Elsewhere", [(1, 1), (1, 2), (2, 2)]
    )
    response = as_user(bob).get(
        url("geofence-edit", pulsetracker_credential, app_key, theirs["id"])
    )
    assert response.status_code == 404


def test_an_admin_pastes_the_webhook_secret_which_is_kept_encrypted_and_never_shown(
    as_user, ada, known, pulsetracker_credential, app_key
):
    secret = "pt_whsec_aaaabbbbccccddddeeeeffff00001111"
    client = as_user(ada)
    short = client.post(url("geofence-secret", pulsetracker_credential, app_key), {"secret": "abc"})
    assert "That is too short for a webhook secret." in short.content.decode()
    assert 'value="abc"' not in short.content.decode()
    done = client.post(
        url("geofence-secret", pulsetracker_credential, app_key), {"secret": secret}, follow=True
    )
    text = done.content.decode()
    assert "Set by ada@acme.test" in text
    assert secret not in text
    known.refresh_from_db()
    assert known.has_secret
    assert secret not in known.secret_ciphertext
    [entry] = Activity.objects.filter(action="geofence secret set")
    assert secret not in entry.detail


def test_the_app_page_lists_the_latest_events_and_the_refusals(
    as_user, carol, known, pulsetracker_credential, app_key
):
    from django.utils import timezone

    known.refused = 2
    known.last_refusal = "The signature does not match."
    known.save()
    GeofenceEvent.objects.create(
        app=known,
        kind="outside",
        geofence_id=9,
        device="van-7",
        latitude=36.8,
        longitude=3.1,
        sent_at=timezone.now(),
        signature="f" * 64,
    )
    page = as_user(carol).get(reverse("app-detail", args=[pulsetracker_credential.pk, app_key]))
    text = page.content.decode()
    assert "Refused 2 events" in text
    assert "The signature does not match." in text
    assert 'data-testid="geofence-event"' in text
    assert "went outside" in text
    assert "36.80000, 3.10000" in text


def test_an_edit_pulsetracker_refuses_comes_back_with_the_reason_and_the_input(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    made = sandbox_settings.pulsetracker.add_geofence(
        token, app_key, "Depot", SQUARE["coordinates"][0]
    )
    edit = url("geofence-edit", pulsetracker_credential, app_key, made["id"])
    response = as_user(bob).post(
        edit, {"name": "Knot", "webhook_url": "", "geometry": json.dumps(BOW_TIE)}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "The polygon is not valid: its edges cross each other." in text
    assert 'value="Knot"' in text
    assert sandbox_settings.pulsetracker.geofences(token)[0]["name"] == "Depot"
    [entry] = Activity.objects.filter(action="geofence updated")
    assert entry.outcome == "failed"


@pytest.mark.parametrize("address", ["hooks.example/in", "ftp://hooks.example/in", "https://"])
def test_a_webhook_url_that_is_not_a_web_address_is_refused_before_sending(
    as_user, bob, known, pulsetracker_credential, sandbox_settings, app_key, address
):
    response = as_user(bob).post(
        url("geofence-create", pulsetracker_credential, app_key),
        {"name": "Depot", "webhook_url": address, "geometry": json.dumps(SQUARE)},
    )
    assert "Enter a whole web address, starting with https://." in response.content.decode()
    assert f'value="{address}"' in response.content.decode()
    assert sandbox_settings.requests_to("POST", "/pulsetracker/api/geofences") == []


def test_pulsetracker_failing_leaves_the_page_up_with_the_reason(
    as_user, carol, known, pulsetracker_credential, sandbox_settings, app_key
):
    client = as_user(carol)
    sandbox_settings.fault("GET", "/pulsetracker/api/geofences", status=503, times=3)
    page = client.get(url("geofences", pulsetracker_credential, app_key))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="geofences-error"' in text
    assert 'data-testid="receiving-url"' in text  # the rest of the page is still there
    other = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[1]
    sandbox_settings.fault("GET", f"/pulsetracker/api/apps/{other['key']}", non_json=True)
    broken = client.get(url("geofences", pulsetracker_credential, other["key"]))
    assert broken.status_code == 200
    assert 'data-testid="geofences-state"' in broken.content.decode()


def test_an_app_pulsetracker_refuses_or_rations_is_not_called_unavailable(
    as_user, carol, pulsetracker_credential, sandbox_settings, app_key
):
    client = as_user(carol)
    sandbox_settings.fault("GET", f"/pulsetracker/api/apps/{app_key}", status=418, body={})
    refused = client.get(url("geofences", pulsetracker_credential, app_key)).content.decode()
    assert "Pulsetracker refused to show this app's geofences" in refused
    assert "Pulsetracker is unavailable" not in refused
    sandbox_settings.fault("GET", f"/pulsetracker/api/apps/{app_key}", status=429, times=3)
    rationed = client.get(url("geofences", pulsetracker_credential, app_key)).content.decode()
    assert "Pulsetracker asks the portal to slow down" in rationed
    assert "Pulsetracker is unavailable" not in rationed
