"""The 403 and 404 pages: inside the portal's layout, with the navigation and a reason."""

from __future__ import annotations

import pytest


@pytest.fixture
def production(settings):
    """DEBUG off, as in production: Django answers with the portal's own 403.html and 404.html."""
    settings.DEBUG = False
    return settings


def test_member_opening_activity_is_told_who_may_see_it(production, as_user, bob):
    response = as_user(bob).get("/accounts/activity/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'aria-label="Main"' in page
    assert "Members</a>" in page
    assert (
        "Activity is for the team&#x27;s admins and owners; you are a member of Acme Fleet." in page
    )


def test_viewer_refused_an_action_is_told_which_roles_may_take_it(production, as_user, carol):
    response = as_user(carol).get("/alerts/")
    assert response.status_code == 403
    assert (
        "Only the team&#x27;s admins and owners may manage credentials; you are a viewer of "
        "Acme Fleet." in response.content.decode()
    )


def test_unknown_address_answers_the_styled_404_with_the_navigation(production, as_user, bob):
    response = as_user(bob).get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert "<code>/no-such-page/</code>" in page
    assert 'aria-label="Main"' in page


def test_404_for_someone_not_logged_in_offers_the_log_in(production, client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert "Log in</a>" in page
