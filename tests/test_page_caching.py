"""Pages are always current: the browser keeps no copy of a page's HTML, so Back and reload never
show it as it was before a person changed something on it.

`no-cache` alone is not enough: Chromium shows its cached copy on Back without asking again."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.conftest import settled
from tests.test_browser_apps import log_in


def test_pages_are_kept_in_no_cache(as_user, alice):
    response = as_user(alice).get(reverse("accounts:members"))
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache, no-store, private"


def test_a_view_that_sets_its_own_caching_keeps_it(as_user, alice):
    response = as_user(alice).get(reverse("credentials"))  # never_cache: stored nowhere
    assert "no-store" in response["Cache-Control"]


def test_what_is_not_a_page_is_left_alone(as_user, alice):
    response = as_user(alice).get(reverse("accounts:activity-csv"))
    assert response["Content-Type"].startswith("text/csv")
    assert not response.has_header("Cache-Control")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_back_after_renaming_an_app_in_place_shows_the_new_name(
    live_server, page: Page, bob, pulsetracker_credential
):
    log_in(page, live_server, bob)
    page.goto(live_server.url + f"/apps/{pulsetracker_credential.pk}/")
    row = page.get_by_test_id("app-row").first
    row.get_by_role("button", name="Rename").click()
    expect(row.get_by_test_id("rename-input")).to_be_focused()
    row.get_by_test_id("rename-input").fill("Day shift")
    row.get_by_test_id("rename-input").press("Enter")
    expect(row.get_by_test_id("app-name")).to_have_text("Day shift")
    settled(page)
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members of Acme Fleet")).to_be_visible()
    page.go_back()
    expect(page.get_by_test_id("app-row").first.get_by_test_id("app-name")).to_have_text(
        "Day shift"
    )
