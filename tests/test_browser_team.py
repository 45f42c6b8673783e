"""Running a team in a real browser: invite, join through the link, act, and find it in the log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, settled
from tests.test_browser_apps import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_invited_member_renames_an_app_and_the_owner_finds_it_in_the_log(
    live_server, page: Page, browser: Browser, alice, pulsetracker_credential
):
    # The owner invites a second person as a member.
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Members").click()
    page.locator("#id_email").fill("nina@acme.test")
    page.locator("#id_role").select_option("member")
    page.get_by_role("button", name="Create invitation").click()
    link = page.get_by_test_id("invitation-url").inner_text()
    assert link.startswith(live_server.url + "/accounts/invitations/")

    # The invited person, in a browser of their own, signs up through the link.
    other = browser.new_context()
    nina = other.new_page()
    nina.set_default_timeout(10_000)
    nina.goto(link)
    expect(nina.get_by_role("heading", name="Join Acme Fleet")).to_be_visible()
    nina.get_by_role("link", name="Sign up as nina@acme.test").click()
    expect(nina.get_by_text("You are joining Acme Fleet as member.")).to_be_visible()
    nina.get_by_label("Email address").fill("nina@acme.test")
    nina.locator("#id_name").fill("Nina")
    nina.locator("#id_password1").fill("Nina-pass-4471")
    nina.locator("#id_password2").fill("Nina-pass-4471")
    nina.get_by_role("button", name="Sign up").click()
    expect(nina.get_by_test_id("active-team")).to_contain_text("Acme Fleet (Member)")

    # As a member she renames an app in place.
    nina.get_by_role("link", name="Apps").click()
    row = nina.get_by_test_id("app-row").first
    row.get_by_role("button", name="Rename").click()
    expect(row.get_by_test_id("rename-input")).to_be_focused()
    row.get_by_test_id("rename-input").fill("Renamed by Nina")
    row.get_by_test_id("rename-input").press("Enter")
    expect(row.get_by_test_id("app-name")).to_have_text("Renamed by Nina")
    other.close()

    # The owner sees both the join and the rename, and filters down to the rename.
    page.get_by_role("link", name="Activity").click()
    rows = page.get_by_test_id("activity-row")
    expect(rows.filter(has_text="member joined")).to_have_count(1)
    expect(rows.filter(has_text="app renamed")).to_have_count(1)
    page.get_by_label("Action").select_option("app renamed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("nina@acme.test")
    expect(rows.first).to_contain_text("“Fleet 30” → “Renamed by Nina”")
    expect(page).to_have_url(re.compile(r"action=app(\+|%20)renamed"))
    page.reload()
    expect(rows).to_have_count(1)
    # The export follows the filters chosen in place.
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").strip().splitlines()
    assert len(lines) == 2
    assert "app renamed" in lines[1]


def test_reloading_after_creating_an_invitation_creates_no_second_one(
    live_server, page: Page, alice
):
    from accounts.models import Invitation

    log_in(page, live_server, alice)
    page.get_by_role("link", name="Members").click()
    page.locator("#id_email").fill("nina@acme.test")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_test_id("invitation-url")).to_be_visible()
    expect(page).to_have_url(live_server.url + "/accounts/team/members/")
    page.reload()
    expect(page.get_by_test_id("invitation-row")).to_have_count(1)
    expect(page.get_by_test_id("invitation-url")).to_have_count(0)
    assert Invitation.objects.filter(email="nina@acme.test").count() == 1


def test_back_and_forward_through_activity_filters_show_the_filters_of_each_table(
    live_server, page: Page, alice, acme
):
    from accounts.models import Activity

    Activity.objects.bulk_create(
        Activity(
            team=acme,
            actor=alice,
            actor_email=alice.email,
            action=action,
            credential_label=label,
            target=f"app {i}",
        )
        for i, (action, label) in enumerate(
            [("app created", "Acme Live")] * 4
            + [("app renamed", "Acme Live")] * 3
            + [("app renamed", "Spare key")] * 2
        )
    )
    log_in(page, live_server, alice)
    page.goto(live_server.url + "/accounts/activity/")
    rows = page.get_by_test_id("activity-row")
    action = page.get_by_label("Action")
    credential = page.get_by_label("Credential")
    expect(rows).to_have_count(9)
    action.select_option("app renamed")
    expect(rows).to_have_count(5)
    expect(page).to_have_url(re.compile(r"action=app(\+|%20)renamed"))
    settled(page)
    credential.fill("spare")
    credential.press("Enter")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"credential=spare"))

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"credential=spare"))
    expect(rows).to_have_count(5)
    expect(action).to_have_value("app renamed")
    expect(credential).to_have_value("")

    page.go_forward()
    expect(rows).to_have_count(2)
    expect(action).to_have_value("app renamed")
    expect(credential).to_have_value("spare")

    # Away to another page and Back: the filters and the table still agree.
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Acme Fleet")).to_be_visible()
    page.go_back()
    expect(rows).to_have_count(2)
    expect(credential).to_have_value("spare")
    expect(action).to_have_value("app renamed")


def test_a_member_removed_while_working_is_told_and_carries_on_in_their_other_team(
    live_server, page: Page, alice, bob, other_team
):
    from accounts import team
    from accounts.models import Membership

    Membership.objects.create(user=bob, team=other_team, role="member")
    log_in(page, live_server, bob)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Acme Fleet")).to_be_visible()

    team.remove(Membership.objects.get(user=bob, team__name="Acme Fleet"), alice)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_test_id("notice")).to_have_text("You were removed from Acme Fleet.")
    expect(page.get_by_test_id("active-team")).to_have_text("Mallory Inc (Member)")
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Mallory Inc")).to_be_visible()
    expect(page.get_by_test_id("notice")).to_have_count(0)


def test_a_role_change_keeps_the_role_picked_through_confirming_with_a_wrong_password_first(
    live_server, page: Page, alice, bob
):
    from importlib import import_module

    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
    from django.conf import settings

    from accounts.models import Membership

    log_in(page, live_server, alice)
    # As if alice had logged in long ago: the portal asks her to confirm it is her.
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(cookie["value"])
    session.pop(AUTHENTICATION_METHODS_SESSION_KEY)
    session.save()

    page.get_by_role("link", name="Members").click()
    # The team switcher names alice's own role, whoever else the page lists.
    expect(page.get_by_test_id("active-team")).to_have_text("Acme Fleet (Owner)")
    picker = page.get_by_label("Role of bob@acme.test")
    picker.select_option("admin")
    bobs_row = page.get_by_test_id("member-row").filter(has_text="bob@acme.test")
    bobs_row.get_by_role("button", name="Change role").click()
    expect(bobs_row.get_by_test_id("role-errors")).to_contain_text("confirm it is you first")
    expect(picker).to_have_value("admin")

    bobs_row.get_by_role("link", name="Confirm it is you").click()
    page.get_by_label("Password").fill("not-my-password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Incorrect password")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Members of Acme Fleet")).to_be_visible()
    expect(picker).to_have_value("admin")
    assert Membership.objects.get(user=bob).role == "member"
    bobs_row.get_by_role("button", name="Change role").click()
    expect(page.get_by_test_id("notice")).to_have_text("bob@acme.test is now admin.")
    expect(bobs_row.get_by_test_id("member-role")).to_have_text("Admin")
