"""The Pulsoid widget editor in a real browser: every keystroke lands, focus stays where the
keyboard put it, and the preview draws the widget as configured before it is saved."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, live_server, person) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def focused(page: Page) -> str:
    """What has the keyboard's focus: an input's id, a picker's field, or a button's text."""
    return page.evaluate(
        """() => {
          const e = document.activeElement;
          if (e.type === 'color') return 'picker:' + e.dataset.colourFor;
          if (e.tagName === 'BUTTON') return 'button:' + e.textContent.trim();
          return e.id || e.tagName;
        }"""
    )


def retype(page: Page, text: str) -> None:
    """Replace the focused field's text, one key at a time, at full speed."""
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def slow_network(page: Page, latency_ms: int) -> None:
    """Every request from now on waits `latency_ms` before it is sent and again before its
    answer arrives (Chromium's own network emulation)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def stored_widget(sandbox_settings, name: str) -> dict:
    [widget] = [
        w
        for w in sandbox_settings.pulsoid.widgets(sandbox_settings.seed.pulsoid_user_id)
        if w["name"] == name
    ]
    return widget


def test_typing_at_full_speed_over_a_slow_network_loses_nothing_and_focus_follows_the_keyboard(
    live_server, page: Page, bob, pulsoid_credential, sandbox_settings, settings
):
    settings.PULSOID_POLL_SECONDS = 1  # the heart rate keeps arriving while the person types
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/new/")
    expect(page.get_by_test_id("heart-rate")).to_be_visible()
    slow_network(page, 400)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    page.get_by_label("Name").click()
    page.keyboard.type("Raid overlay")
    page.keyboard.press("Tab")
    assert focused(page) == "id_heart_enabled"
    page.keyboard.press("Tab")
    assert focused(page) == "id_heart_color"
    page.keyboard.type("#f36")
    page.keyboard.press("Tab")
    assert focused(page) == "picker:id_heart_color"
    page.keyboard.press("Tab")
    assert focused(page) == "id_font"
    page.keyboard.type("Inter Display")

    # Two zones; each new one takes the keyboard's focus on its "From".
    page.get_by_role("button", name="Add zone").click()
    assert focused(page) == "id_zones-0-start"
    retype(page, "55")
    page.keyboard.press("Tab")
    assert focused(page) == "id_zones-0-end"
    page.get_by_role("button", name="Add zone").click()
    assert focused(page) == "id_zones-1-start"
    page.locator("#id_zones-0-color").click()
    retype(page, "#00ff00")
    page.keyboard.press("Tab")
    assert focused(page) == "picker:id_zones-0-color"
    page.wait_for_timeout(1500)  # a heart-rate poll or two arrives meanwhile
    page.keyboard.press("Tab")
    assert focused(page) == "button:Remove zone"
    page.keyboard.press("Tab")
    assert focused(page) == "id_zones-1-start"
    retype(page, "120")
    page.keyboard.press("Tab")
    assert focused(page) == "id_zones-1-end"
    retype(page, "180")
    page.keyboard.press("Tab")
    assert focused(page) == "id_zones-1-color"
    retype(page, "#0000ff")
    assert posts == []  # nothing went to the server while the person typed

    expected = {
        "heartEnabled": True,
        "heartColor": "#f36",
        "font": "Inter Display",
        "ranges": [
            {"from": 55, "to": 100, "color": "#00ff00"},
            {"from": 120, "to": 180, "color": "#0000ff"},
        ],
    }
    assert json.loads(page.get_by_label("Configuration (JSON)").input_value()) == expected
    page.get_by_role("button", name="Create widget").click()
    expect(page.get_by_text("Created the widget “Raid overlay”.")).to_be_visible()
    assert stored_widget(sandbox_settings, "Raid overlay")["configuration"] == expected
    # And the page after saving shows exactly that.
    expect(page.get_by_label("Font")).to_have_value("Inter Display")
    expect(page.locator("#id_zones-0-start")).to_have_value("55")
    expect(page.locator("#id_zones-1-color")).to_have_value("#0000ff")


def test_the_preview_draws_the_widget_as_configured_and_redraws_on_every_edit(
    live_server, page: Page, bob, pulsoid_credential, sandbox_settings, settings
):
    settings.PULSOID_POLL_SECONDS = 1
    seed = sandbox_settings.seed
    sandbox_settings.pulsoid.add_heart_rate(seed.pulsoid_user_id, 120)
    log_in(page, live_server, bob)
    # Stream overlay: heart #ff3b5c, Roboto, zones 0-100 #4caf50, 100-150 #ff9800, 150-250 #f44336.
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/{seed.pulsoid_widget_ids[0]}/")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    number = page.get_by_test_id("preview-bpm")
    heart = page.get_by_test_id("preview-heart")
    expect(number).to_have_text("120")
    expect(number).to_have_css("color", "rgb(255, 152, 0)")
    expect(heart).to_be_visible()
    expect(heart).to_have_css("color", "rgb(255, 59, 92)")
    expect(page.get_by_test_id("widget-preview")).to_have_css("font-family", re.compile("Roboto"))

    # Every edit redraws it at once, before anything is saved.
    page.locator("#id_zones-1-color").fill("#00f")
    expect(number).to_have_css("color", "rgb(0, 0, 255)")
    page.locator("#id_zones-1-color").fill("nope")  # not a colour: the number keeps the default
    expect(number).to_have_css("color", "rgb(255, 255, 255)")
    page.locator("#id_heart_color").fill("#0f0")
    expect(heart).to_have_css("color", "rgb(0, 255, 0)")
    page.get_by_label("Show a heart beside the number").uncheck()
    expect(heart).to_be_hidden()
    page.get_by_label("Font").fill("Inter Display")
    expect(page.get_by_test_id("widget-preview")).to_have_css(
        "font-family", re.compile('"Inter Display"')
    )
    # The picker and the text field are one colour.
    page.locator("[data-colour-for=id_zones-1-color]").fill("#123456")
    expect(page.locator("#id_zones-1-color")).to_have_value("#123456")
    expect(number).to_have_css("color", "rgb(18, 52, 86)")
    # The heart rate moves into another zone: the number takes that zone's colour.
    sandbox_settings.pulsoid.add_heart_rate(seed.pulsoid_user_id, 160)
    expect(number).to_have_text("160")
    expect(number).to_have_css("color", "rgb(244, 67, 54)")
    # Edits of the JSON redraw it too.
    page.get_by_text("Advanced: the whole configuration as JSON").click()
    page.get_by_label("Configuration (JSON)").fill(
        json.dumps({"heartEnabled": True, "ranges": [{"from": 0, "to": 300, "color": "#abc"}]})
    )
    expect(number).to_have_css("color", "rgb(170, 187, 204)")
    expect(heart).to_be_visible()
    expect(page.get_by_test_id("zone")).to_have_count(1)
    assert posts == []


def test_fields_and_json_stay_in_step_without_blanking_the_name_or_resizing_the_json(
    live_server, page: Page, bob, pulsoid_credential, sandbox_settings
):
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/new/")
    json_box = page.get_by_label("Configuration (JSON)")
    page.get_by_label("Name").fill("Keeps its name")
    page.get_by_text("Advanced: the whole configuration as JSON").click()
    # The person makes the JSON editor taller; syncs rewrite its text, never the box.
    json_box.evaluate("e => { e.style.height = '420px'; e.dataset.mark = 'same box'; }")
    page.get_by_role("button", name="Add zone").click()
    page.get_by_label("Font").fill("Mono")
    expect(json_box).to_have_value(re.compile(r'"font": "Mono"'))
    expect(json_box).to_have_value(re.compile(r'"from": 60'))
    assert json_box.evaluate("e => [e.dataset.mark, e.getBoundingClientRect().height]") == [
        "same box",
        420,
    ]
    expect(page.get_by_label("Name")).to_have_value("Keeps its name")
    # Keys the form does not show survive edits of the fields.
    json_box.fill(json.dumps({"heartEnabled": False, "glow": {"size": 3}}))
    expect(page.get_by_label("Show a heart beside the number")).not_to_be_checked()
    expect(page.get_by_test_id("zone")).to_have_count(0)
    expect(page.get_by_label("Font")).to_have_value("")
    page.get_by_label("Font").fill("Serif Pro")
    expect(json_box).to_have_value(re.compile(r'"glow": \{\s*"size": 3\s*\}'))
    # JSON that does not parse is kept as typed and explained; the fields are left alone.
    json_box.fill('{"font": ')
    expect(page.get_by_test_id("json-problem")).to_contain_text("This is not valid JSON")
    expect(page.get_by_label("Font")).to_have_value("Serif Pro")
    page.get_by_label("Font").fill("Other")
    expect(json_box).to_have_value('{"font": ')
    expect(page.get_by_label("Name")).to_have_value("Keeps its name")


def test_a_refused_colour_stays_as_typed_and_its_zone_can_still_be_removed(
    live_server, page: Page, bob, pulsoid_credential, sandbox_settings
):
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/new/")
    # A fresh form says nothing is wrong before anything is typed.
    expect(page.locator(".errorlist:visible")).to_have_count(0)
    page.get_by_label("Name").fill("Zoned")
    page.get_by_role("button", name="Add zone").click()
    page.get_by_role("button", name="Add zone").click()
    page.locator("#id_zones-0-color").fill("nope")
    page.locator("#id_zones-0-color").press("Tab")
    # Said on leaving the field, and again by the server on save.
    expect(page.get_by_test_id("colour-problem")).to_have_text(re.compile("#rgb or #rrggbb"))
    expect(page.locator("#id_zones-0-color")).to_have_attribute("aria-invalid", "true")
    page.locator("#id_zones-1-color").fill("#12")
    expect(page.get_by_test_id("colour-problem")).to_have_count(1)  # not while typing
    page.locator("#id_zones-1-color").fill("#123")
    page.get_by_role("button", name="Create widget").click()

    expect(page.get_by_test_id("color-errors")).to_contain_text("#rgb or #rrggbb")
    expect(page.locator("#id_zones-0-color")).to_have_value("nope")
    expect(page.get_by_label("Name")).to_have_value("Zoned")
    assert sandbox_settings.requests_to("POST", "/pulsoid/api/v1/widgets") == []

    page.get_by_test_id("zone").first.get_by_role("button", name="Remove zone").click()
    expect(page.get_by_test_id("zone")).to_have_count(1)
    expect(page.get_by_test_id("color-errors")).to_have_count(0)
    # Focus goes to the zone that took its place.
    assert focused(page) == "button:Remove zone"
    expect(page.locator("#id_zones-0-start")).to_have_value("100")  # renumbered: it was zone 2
    page.get_by_role("button", name="Create widget").click()
    expect(page.get_by_text("Created the widget “Zoned”.")).to_be_visible()
    assert stored_widget(sandbox_settings, "Zoned")["configuration"]["ranges"] == [
        {"from": 100, "to": 140, "color": "#123"}
    ]


def test_viewers_see_a_summary_and_a_preview_of_the_saved_widget(
    live_server, page: Page, carol, pulsoid_credential, sandbox_settings, settings
):
    settings.PULSOID_POLL_SECONDS = 1
    seed = sandbox_settings.seed
    sandbox_settings.pulsoid.add_heart_rate(seed.pulsoid_user_id, 42)
    log_in(page, live_server, carol)
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/{seed.pulsoid_widget_ids[0]}/")
    expect(page.get_by_role("heading", name="Widget “Stream overlay”")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Reconfigure"))).to_have_count(0)
    expect(page.locator("main input, main textarea")).to_have_count(0)
    expect(page.get_by_test_id("zone-summary")).to_have_count(3)
    expect(page.get_by_test_id("preview-bpm")).to_have_text("42")
    expect(page.get_by_test_id("preview-bpm")).to_have_css("color", "rgb(76, 175, 80)")


def test_the_preview_stacks_under_the_form_on_a_narrow_screen(
    live_server, page: Page, bob, pulsoid_credential
):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/widgets/{pulsoid_credential.pk}/new/")
    form = page.locator("#widget-form").bounding_box()
    preview = page.get_by_test_id("widget-preview").bounding_box()
    assert form is not None
    assert preview is not None
    assert preview["y"] >= form["y"] + form["height"]
    assert preview["x"] + preview["width"] <= 390
