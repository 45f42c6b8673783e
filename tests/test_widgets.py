"""Pulsoid widgets through the portal: list, create, reconfigure, the editor's checks, viewers."""

from __future__ import annotations

import json
from html import escape

import pytest
from django.urls import reverse

from accounts.crypto import Secret
from accounts.models import Activity
from integrations import credentials
from integrations.models import Health
from integrations.pulsoid.client import BPM_WIDGET_META_ID
from integrations.pulsoid.forms import data_for

WIDGETS_API = "/pulsoid/api/v1/widgets"
TWO_ZONES = {
    "heartEnabled": True,
    "heartColor": "#ff0000",
    "font": "Roboto",
    "ranges": [
        {"from": 40, "to": 100, "color": "#00ff00"},
        {"from": 100, "to": 220, "color": "#f00"},
    ],
}


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}


@pytest.fixture
def readonly_credential(acme, alice, sandbox_settings):
    credential, _ = credentials.link(
        acme, alice, "pulsoid", "Read only", Secret(sandbox_settings.seed.pulsoid_readonly_token)
    )
    return credential


def create_url(credential) -> str:
    return reverse("widget-create", args=[credential.pk])


def post_data(name: str, configuration: dict, *, edited_json: str | None = None) -> dict[str, str]:
    data = data_for(name, configuration)
    if edited_json is not None:
        data["advanced"] = edited_json
    return data


def test_widgets_home_picks_the_only_pulsoid_credential(as_user, bob, pulsoid_credential):
    response = as_user(bob).get(reverse("widgets"))
    assert response["Location"] == reverse("widget-list", args=[pulsoid_credential.pk])


def test_the_list_shows_names_ids_premium_and_viewer_urls(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    sandbox_settings.pulsoid.add_widget(
        sandbox_settings.seed.pulsoid_user_id, "Fancy <b>one</b>", premium=True
    )
    client = as_user(bob)
    page = client.get(reverse("widget-list", args=[pulsoid_credential.pk])).content.decode()
    assert page.count('data-testid="widget-row"') == 3
    assert "Fancy &lt;b&gt;one&lt;/b&gt;" in page
    assert ">premium</span>" in page
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[0]
    assert f'data-copy="{sandbox_settings.pulsoid_viewer_url}{widget_id}"' in page
    fragment = client.get(
        reverse("widget-list", args=[pulsoid_credential.pk]), **htmx()
    ).content.decode()
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="widget-table"')


def test_a_token_without_widgets_read_says_why_and_calls_nothing(
    as_user, acme, alice, sandbox_settings
):
    user = sandbox_settings.pulsoid.add_user()
    token = sandbox_settings.pulsoid.add_token(user, scopes=("widgets:update",))
    credential, _ = credentials.link(acme, alice, "pulsoid", "Blind", Secret(token))
    before = len(sandbox_settings.requests_to("GET", WIDGETS_API))
    page = as_user(alice).get(reverse("widget-list", args=[credential.pk])).content.decode()
    assert "lacks “widgets:read”" in page
    assert len(sandbox_settings.requests_to("GET", WIDGETS_API)) == before


def test_create_sends_the_bpm_type_and_the_whole_configuration(
    as_user, bob, acme, pulsoid_credential, sandbox_settings
):
    client = as_user(bob)
    assert "Create widget" in client.get(create_url(pulsoid_credential)).content.decode()
    response = client.post(create_url(pulsoid_credential), post_data("Overlay", TWO_ZONES))
    assert response.status_code == 302
    [sent] = sandbox_settings.requests_to("POST", WIDGETS_API)
    body = json.loads(sent.body)
    assert body["meta_id"] == BPM_WIDGET_META_ID
    assert body["name"] == "Overlay"
    assert body["configuration"] == TWO_ZONES
    created = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["name"] == "Overlay"
    ]
    assert len(created) == 1
    assert response["Location"] == reverse(
        "widget-edit", args=[pulsoid_credential.pk, created[0]["id"]]
    )
    page = client.get(response["Location"]).content.decode()
    assert f"{sandbox_settings.pulsoid_viewer_url}{created[0]['id']}" in page
    assert 'sandbox="allow-scripts"' in page
    entry = Activity.objects.get(team=acme, action="widget created")
    assert entry.outcome == "ok"
    assert entry.credential_label == "Streamer"
    assert created[0]["id"] in entry.target
    assert "Overlay" in entry.target


def test_json_edited_last_is_what_gets_sent(as_user, bob, pulsoid_credential, sandbox_settings):
    edited = json.dumps({"heartEnabled": False, "custom": {"glow": 3}})
    as_user(bob).post(
        create_url(pulsoid_credential), post_data("Raw", TWO_ZONES, edited_json=edited)
    )
    [sent] = sandbox_settings.requests_to("POST", WIDGETS_API)
    assert json.loads(sent.body)["configuration"] == {"heartEnabled": False, "custom": {"glow": 3}}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("{not json", "This is not valid JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_bad_json_is_refused_before_sending_and_everything_stays(
    as_user, bob, pulsoid_credential, sandbox_settings, text, complaint
):
    response = as_user(bob).post(
        create_url(pulsoid_credential), post_data("Keep me", TWO_ZONES, edited_json=text)
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert complaint in page
    assert 'value="Keep me"' in page
    assert "{not json" in page or "[1, 2]" in page
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


def test_bad_colours_and_upside_down_zones_are_refused_beside_their_fields(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    data = post_data("Zones", TWO_ZONES)
    data["heart_color"] = "url(javascript:x)"
    data["zones-1-start"] = "250"
    page = as_user(bob).post(create_url(pulsoid_credential), data).content.decode()
    assert "Use a colour written #rgb or #rrggbb" in page
    assert "must be above its “from”" in page
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (402, b'{"error_code": 7007, "error_message": "premium_required"}', "paid Pulsoid plan"),
        (503, b"", "try again"),
        (400, b'{"error_code": "8001", "error_message": "bad_configuration"}', "bad configuration"),
    ],
)
def test_upstream_refusals_keep_the_form_filled_and_say_what_to_do(
    as_user, bob, acme, pulsoid_credential, sandbox_settings, status, body, words
):
    sandbox_settings.fault("POST", WIDGETS_API, status=status, body=body)
    response = as_user(bob).post(create_url(pulsoid_credential), post_data("Kept", TWO_ZONES))
    page = response.content.decode()
    assert response.status_code == 200
    assert words in page
    assert 'value="Kept"' in page
    assert 'value="#00ff00"' in page
    entry = Activity.objects.get(team=acme, action="widget created")
    assert (entry.outcome, entry.upstream_status) == ("failed", status)


def test_a_token_without_widgets_update_disables_create_and_explains_when_forced(
    as_user, bob, readonly_credential, sandbox_settings
):
    client = as_user(bob)
    page = client.get(reverse("widget-list", args=[readonly_credential.pk])).content.decode()
    assert 'disabled title="Disabled: the token lacks “widgets:update”' in page
    page = client.post(
        create_url(readonly_credential), post_data("Nope", TWO_ZONES)
    ).content.decode()
    assert "lacks the “widgets:update” permission" in page
    assert "credentials page" in page
    assert 'value="Nope"' in page


def test_reconfigure_fills_the_form_and_saves_the_whole_configuration(
    as_user, bob, acme, pulsoid_credential, sandbox_settings
):
    widget = sandbox_settings.pulsoid.add_widget(
        sandbox_settings.seed.pulsoid_user_id,
        "Existing",
        {"heartEnabled": True, "font": "Inter", "extra": 1},
    )
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget["id"]])
    client = as_user(bob)
    page = client.get(url).content.decode()
    assert 'value="Inter"' in page
    assert "&quot;extra&quot;: 1" in page
    data = data_for("Existing", {"heartEnabled": True, "font": "Inter", "extra": 1})
    data["font"] = "Mono"
    data.update(
        {
            "zones-TOTAL_FORMS": "1",
            "zones-0-start": "50",
            "zones-0-end": "90",
            "zones-0-color": "#00f",
        }
    )
    saved = client.post(url, data).content.decode()
    assert "Saved the configuration of “Existing”." in saved
    [stored] = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["id"] == widget["id"]
    ]
    assert stored["configuration"] == {
        "heartEnabled": True,
        "font": "Mono",
        "extra": 1,
        "ranges": [{"from": 50, "to": 90, "color": "#00f"}],
    }
    assert stored["name"] == "Existing"
    entry = Activity.objects.get(team=acme, action="widget updated")
    assert entry.outcome == "ok"
    assert widget["id"] in entry.target


def test_a_refused_save_keeps_the_widget_name_and_everything_typed(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[1]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    data = data_for("", {"heartEnabled": True, "font": "Typed font"})  # browsers omit disabled
    data.pop("name")
    data["heart_color"] = "nope"
    page = as_user(bob).post(url, data).content.decode()
    assert 'value="Minimal"' in page
    assert "This field is required" not in page
    assert 'value="Typed font"' in page
    assert 'value="nope"' in page
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


def test_a_save_goes_through_while_the_widget_list_cannot_be_read(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[1]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    client = as_user(bob)
    client.get(url)  # the editor as the person opened it (the list read, and kept)
    from integrations import cache

    cache.invalidate(pulsoid_credential.pk)  # and then gone: the next read must ask again
    sandbox_settings.fault("GET", WIDGETS_API, status=503, times=10)
    data = data_for("", {"heartEnabled": True, "font": "Saved anyway"})
    data.pop("name")
    page = client.post(url, data).content.decode()
    [stored] = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["id"] == widget_id
    ]
    assert stored["configuration"]["font"] == "Saved anyway"
    assert "Saved the configuration" in page


def test_a_save_that_fails_while_the_list_cannot_be_read_keeps_everything_typed(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[1]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    sandbox_settings.fault("*", WIDGETS_API, status=503, times=10)
    data = data_for("", {"heartEnabled": True, "font": "Typed font"})
    data.pop("name")
    page = as_user(bob).post(url, data).content.decode()
    assert 'value="Typed font"' in page
    assert "Pulsoid" in page  # why it was not saved, beside the form


def test_reconfiguring_an_unknown_widget_is_a_clear_404(as_user, bob, pulsoid_credential):
    response = as_user(bob).get(
        reverse("widget-edit", args=[pulsoid_credential.pk, "no-such-widget"])
    )
    assert response.status_code == 404
    assert "no widget with that id" in response.content.decode()


def test_viewers_see_a_read_only_summary_and_cannot_save(
    as_user, carol, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[0]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    client = as_user(carol)
    page = client.get(url).content.decode()
    assert "Reconfigure" not in page
    assert "Save configuration" not in page
    assert 'id="widget-form"' not in page
    main = page.split('<main id="main"')[1].split("</main>")[0]
    assert "<input" not in main
    assert "<textarea" not in main
    summary = main.split('data-testid="widget-summary"')[1].split("</section>")[0]
    assert "Shown in" in summary
    assert "<code>#ff3b5c</code>" in summary  # the heart's colour
    assert "Roboto" in summary
    assert summary.count('data-testid="zone-summary"') == 3
    assert "100 to 150 bpm" in summary
    assert "<code>#ff9800</code>" in summary
    assert client.post(url, post_data("x", {})).status_code == 403
    assert client.get(create_url(pulsoid_credential)).status_code == 403
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


def test_members_get_the_editor_with_its_script_and_colour_pickers(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[0]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    page = as_user(bob).get(url).content.decode()
    assert "Reconfigure “Stream overlay”" in page
    assert 'src="/static/js/widget-editor.js"' in page
    assert 'data-testid="widget-summary"' not in page
    # Each colour is typed or picked: a picker beside each text field, showing its colour.
    assert 'data-colour-for="id_heart_color" value="#ff3b5c"' in page
    assert 'data-colour-for="id_zones-2-color" value="#f44336"' in page
    assert page.count('type="color"') == 1 + 3 + 1  # the heart, three zones, the new-zone row
    assert 'id="zone-template"' in page


def test_a_new_form_shows_no_errors_before_anything_is_typed(as_user, bob, pulsoid_credential):
    page = as_user(bob).get(create_url(pulsoid_credential)).content.decode()
    assert "New heart-rate widget" in page
    assert "This field is required" not in page
    form = page.split('id="widget-form"')[1].split("</form>")[0]
    assert '<ul class="errorlist' not in form
    assert "aria-invalid" not in form


def test_a_missing_name_is_refused_on_create_with_the_rest_kept(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    response = as_user(bob).post(create_url(pulsoid_credential), post_data("", TWO_ZONES))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="name-errors"' in page
    assert 'value="#00ff00"' in page
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


# Colours: #rgb or #rrggbb only


@pytest.mark.parametrize("typed", ["nope", "red", "rgb(255, 0, 0)", "#ff33", "#ff3366aa", "ff3366"])
def test_a_colour_that_is_not_hex_is_refused_inline_and_kept_as_typed(
    as_user, bob, pulsoid_credential, sandbox_settings, typed
):
    data = post_data("Colours", TWO_ZONES)
    data["heart_color"] = typed
    data["zones-0-color"] = typed
    response = as_user(bob).post(create_url(pulsoid_credential), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("Use a colour written #rgb or #rrggbb") == 2
    assert 'data-testid="heart_color-errors"' in page
    assert 'data-testid="color-errors"' in page
    for name in ("heart_color", "zones-0-color"):
        tag = page.split(f'name="{name}"')[1].split(">")[0]
        assert f'value="{escape(typed)}"' in tag
    assert 'value="Colours"' in page
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


def test_short_and_long_hex_colours_are_both_accepted(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    data = post_data("Hex", TWO_ZONES)
    data["heart_color"] = "#F36"
    data["zones-0-color"] = "#AbCdEf"
    assert as_user(bob).post(create_url(pulsoid_credential), data).status_code == 302
    [sent] = sandbox_settings.requests_to("POST", WIDGETS_API)
    configuration = json.loads(sent.body)["configuration"]
    assert configuration["heartColor"] == "#F36"
    assert configuration["ranges"][0]["color"] == "#AbCdEf"


def test_colours_in_edited_json_are_checked_beside_their_fields(
    as_user, bob, pulsoid_credential, sandbox_settings
):
    edited = json.dumps({"heartEnabled": True, "heartColor": "nope", "ranges": []})
    page = (
        as_user(bob)
        .post(create_url(pulsoid_credential), post_data("Raw", TWO_ZONES, edited_json=edited))
        .content.decode()
    )
    assert 'data-testid="heart_color-errors"' in page
    assert "&quot;heartColor&quot;: &quot;nope&quot;" in page  # the JSON as typed
    assert sandbox_settings.requests_to("POST", WIDGETS_API) == []


# The live preview


def test_heart_rate_polls_as_a_fragment_and_stands_alone_as_a_page(
    as_user, carol, pulsoid_credential, sandbox_settings
):
    client = as_user(carol)
    url = reverse("heart-rate", args=[pulsoid_credential.pk])
    sandbox_settings.pulsoid.add_heart_rate(sandbox_settings.seed.pulsoid_user_id, 133)
    fragment = client.get(url, **htmx()).content.decode()
    assert "<html" not in fragment
    assert '<span class="bpm">133</span>' in fragment
    page = client.get(url).content.decode()
    assert "<html" in page
    assert '<span class="bpm">133</span>' in page
    assert sandbox_settings.seed.pulsoid_full_token not in page


def test_no_heart_rate_yet_says_so(as_user, acme, alice, sandbox_settings):
    credential, _ = credentials.link(
        acme, alice, "pulsoid", "Quiet", Secret(sandbox_settings.seed.pulsoid_nodata_token)
    )
    page = (
        as_user(alice).get(reverse("heart-rate", args=[credential.pk]), **htmx()).content.decode()
    )
    assert "No data yet" in page


def test_heart_rate_without_its_scope_explains_and_calls_nothing(
    as_user, alice, readonly_credential, sandbox_settings
):
    page = (
        as_user(alice)
        .get(reverse("heart-rate", args=[readonly_credential.pk]), **htmx())
        .content.decode()
    )
    assert "lacks “data:heart_rate:read”" in page
    assert sandbox_settings.requests_to("GET", "/pulsoid/api/v1/data") == []


# Token health on the credentials page


def test_credentials_page_shows_pulsoid_scopes_missing_features_channel_and_expiry(
    as_user, alice, pulsoid_credential, readonly_credential
):
    page = as_user(alice).get(reverse("credentials")).content.decode()
    assert "Channel: <strong>twitch.tv/" in page
    assert "does not expire" in page
    readonly_row = page[page.index(f'id="credential-{readonly_credential.pk}"') :]
    readonly_row = readonly_row[: readonly_row.index("</tr>")]
    assert (
        "Missing <code>widgets:update</code>: disables creating and reconfiguring widgets"
        in readonly_row
    )
    assert (
        "Missing <code>data:heart_rate:read</code>: disables the live heart-rate preview"
        in readonly_row
    )


# Pulsoid's refusals, in words that say what happened


def test_a_403_without_a_token_error_code_keeps_the_credential_healthy(
    as_user, bob, acme, pulsoid_credential, sandbox_settings
):
    widget_id = sandbox_settings.seed.pulsoid_widget_ids[1]
    url = reverse("widget-edit", args=[pulsoid_credential.pk, widget_id])
    sandbox_settings.fault("POST", f"{WIDGETS_API}/{widget_id}", status=403, body=b"")
    data = data_for("Minimal", {"heartEnabled": False})
    data["font"] = "Kept Font"
    page = as_user(bob).post(url, data).content.decode()
    assert "without saying the token is bad" in page
    assert "rejected" not in page
    assert 'value="Kept Font"' in page
    pulsoid_credential.refresh_from_db()
    assert pulsoid_credential.health == Health.OK
    entry = Activity.objects.get(team=acme, action="widget updated")
    assert (entry.outcome, entry.upstream_status) == ("failed", 403)


def test_a_404_from_the_token_check_does_not_talk_of_widgets(
    alice, pulsoid_credential, sandbox_settings
):
    sandbox_settings.fault("GET", "/pulsoid/api/v1/token/validate", status=404, body=b"")
    result = credentials.recheck(pulsoid_credential, alice)
    assert "widget" not in result.detail
    assert "PULSOID_API_URL" in result.detail
    pulsoid_credential.refresh_from_db()
    assert pulsoid_credential.health != Health.REJECTED
