"""Stale-while-revalidate: screens paint what was last fetched at once and refresh in place."""

from __future__ import annotations

import re
import time

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from accounts.crypto import Secret
from integrations import cache
from integrations.errors import NotFound, Unavailable
from integrations.pulsetracker.client import PulsetrackerClient

pytestmark = pytest.mark.django_db

CREDENTIAL = 7


class Upstream:
    """A stand-in load function: answers in turn, or raises what it is told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Exception | None = None

    def __call__(self) -> str:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return f"answer {self.calls}"


def past_the_window(settings) -> None:
    """Let the cache window (one second here) pass."""
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)


def test_a_first_read_fetches_and_is_fresh(settings):
    upstream = Upstream()
    found = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (found.value, found.stale, upstream.calls) == ("answer 1", False, 1)


def test_within_the_window_a_read_is_fresh_without_calling_upstream():
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    found = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (found.value, found.stale, upstream.calls) == ("answer 1", False, 1)


def test_after_the_window_the_stored_value_comes_back_stale_without_calling_upstream(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    upstream.failure = Unavailable("Pulsetracker is down.")
    found = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (found.value, found.stale, upstream.calls) == ("answer 1", True, 1)
    assert found.age_seconds >= 1


def test_a_fresh_read_calls_upstream_and_stores_the_new_value(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    found = cache.read(CREDENTIAL, "apps:1", upstream, fresh=True)
    assert (found.value, found.stale) == ("answer 2", False)
    again = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (again.value, again.stale, upstream.calls) == ("answer 2", False, 2)


def test_a_refresh_the_upstream_cannot_answer_keeps_the_old_value_and_says_why(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    upstream.failure = Unavailable("Pulsetracker is down.")
    found = cache.read(CREDENTIAL, "apps:1", upstream, fresh=True)
    assert (found.value, found.stale) == ("answer 1", True)
    assert found.refresh_failed == "Pulsetracker is down."


def test_a_refresh_the_upstream_refuses_is_an_error_not_the_old_value(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "app:k", upstream)
    upstream.failure = NotFound("No such app.")
    with pytest.raises(NotFound):
        cache.read(CREDENTIAL, "app:k", upstream, fresh=True)


def test_after_invalidate_the_next_read_fetches_instead_of_serving_the_stale_copy(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    cache.invalidate(CREDENTIAL)
    found = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (found.value, found.stale, upstream.calls) == ("answer 2", False, 2)


def test_cached_fetches_again_after_the_window_and_shares_entries_with_read(settings):
    upstream = Upstream()
    assert cache.cached(CREDENTIAL, "widgets", upstream) == "answer 1"
    assert cache.read(CREDENTIAL, "widgets", upstream).value == "answer 1"
    past_the_window(settings)
    assert cache.cached(CREDENTIAL, "widgets", upstream) == "answer 2"
    assert cache.read(CREDENTIAL, "widgets", upstream).stale is False


def test_with_the_cache_off_every_read_fetches(settings):
    settings.UPSTREAM_CACHE_SECONDS = 0
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    found = cache.read(CREDENTIAL, "apps:1", upstream)
    assert (found.value, found.stale, upstream.calls) == ("answer 2", False, 2)


def render_label(freshness, path: str = "/pulsetracker/3/apps/?page=2") -> str:
    request = RequestFactory().get(path)
    context = {"freshness": freshness, "target": "apps-table"}
    return render_to_string("includes/freshness.html", context, request=request)


def test_the_label_shows_a_stale_values_age_and_asks_for_the_region_afresh(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    html = render_label(cache.read(CREDENTIAL, "apps:1", upstream))
    assert re.search(r"As of (a second|\d+\sseconds) ago", html)
    assert 'hx-get="/pulsetracker/3/apps/?page=2&amp;fresh=1"' in html
    assert 'hx-trigger="load"' in html
    assert 'hx-target="#apps-table"' in html


def test_the_label_is_absent_for_a_fresh_value():
    assert render_label(cache.read(CREDENTIAL, "apps:1", Upstream())).strip() == ""


def test_the_label_of_a_failed_refresh_says_why_and_does_not_ask_again(settings):
    upstream = Upstream()
    cache.read(CREDENTIAL, "apps:1", upstream)
    past_the_window(settings)
    upstream.failure = Unavailable("Pulsetracker is down.")
    html = render_label(cache.read(CREDENTIAL, "apps:1", upstream, fresh=True))
    assert "could not refresh: Pulsetracker is down." in html
    assert "hx-get" not in html


# Screens: the app page and the widgets list


def htmx() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def app_key(pulsetracker_credential, sandbox_settings) -> str:
    token = sandbox_settings.seed.pulsetracker_paid_token
    return sandbox_settings.pulsetracker.apps(token)[0]["key"]


def rename_upstream(sandbox, key: str, name: str) -> None:
    """Someone renames the app in Pulsetracker itself, behind the portal's back."""
    PulsetrackerClient(Secret(sandbox.seed.pulsetracker_paid_token)).rename_app(key, name)


def test_the_app_page_after_the_window_paints_the_stored_copy_though_upstream_fails(
    as_user, bob, pulsetracker_credential, app_key, sandbox_settings, settings
):
    client = as_user(bob)
    url = reverse("app-detail", args=[pulsetracker_credential.pk, app_key])
    assert "Fleet 30" in client.get(url).content.decode()
    past_the_window(settings)
    rename_upstream(sandbox_settings, app_key, "Renamed elsewhere")
    sandbox_settings.fault("GET", "/pulsetracker/api/", status=503, times=5)
    calls = len(sandbox_settings.requests_to("GET", "/pulsetracker/api/"))
    body = client.get(url).content.decode()
    assert "Fleet 30" in body
    assert re.search(r"As of (a second|\d+\sseconds) ago · refreshing…", body)
    assert f'hx-get="{url}?fresh=1"' in body
    assert 'hx-trigger="load"' in body
    assert len(sandbox_settings.requests_to("GET", "/pulsetracker/api/")) == calls
    sandbox_settings.clear_faults()
    refreshed = client.get(f"{url}?fresh=1", **htmx()).content.decode()
    assert refreshed.lstrip().startswith('<div id="app-detail">')
    assert "Renamed elsewhere" in refreshed
    assert "Fleet 30" not in refreshed
    assert 'data-testid="freshness"' not in refreshed  # fresh: no label, nothing asked again
    again = client.get(url).content.decode()
    assert "Renamed elsewhere" in again
    assert 'data-testid="freshness"' not in again


def test_the_app_page_refresh_with_upstream_still_down_keeps_the_copy_and_says_so(
    as_user, bob, pulsetracker_credential, app_key, sandbox_settings, settings
):
    client = as_user(bob)
    url = reverse("app-detail", args=[pulsetracker_credential.pk, app_key])
    client.get(url)
    past_the_window(settings)
    sandbox_settings.fault("GET", "/pulsetracker/api/", status=503, times=20)
    refreshed = client.get(f"{url}?fresh=1", **htmx()).content.decode()
    assert "Fleet 30" in refreshed
    assert "could not refresh:" in refreshed
    assert "hx-get" not in refreshed.split('data-testid="freshness"')[1].split("</p>")[0]


def test_after_a_rename_the_next_view_of_the_app_page_is_fresh(
    as_user, bob, pulsetracker_credential, app_key, sandbox_settings, settings
):
    client = as_user(bob)
    url = reverse("app-detail", args=[pulsetracker_credential.pk, app_key])
    client.get(url)
    past_the_window(settings)
    client.post(
        reverse("app-rename", args=[pulsetracker_credential.pk, app_key]),
        {"name": "Day shift", "original": "Fleet 30"},
        **htmx(),
    )
    body = client.get(url).content.decode()
    assert "Day shift" in body
    assert "Fleet 30" not in body
    assert 'data-testid="freshness"' not in body


def test_the_widgets_list_after_the_window_paints_the_stored_copy_and_refreshes_in_place(
    as_user, bob, pulsoid_credential, sandbox_settings, settings
):
    client = as_user(bob)
    url = reverse("widget-list", args=[pulsoid_credential.pk])
    first = client.get(url).content.decode()
    rows = first.count('data-testid="widget-row"')
    past_the_window(settings)
    sandbox_settings.fault("GET", "/pulsoid/api/v1/", status=503, times=5)
    body = client.get(url).content.decode()
    assert body.count('data-testid="widget-row"') == rows
    assert re.search(r"As of (a second|\d+\sseconds) ago · refreshing…", body)
    assert f'hx-get="{url}?fresh=1"' in body
    sandbox_settings.clear_faults()
    refreshed = client.get(f"{url}?fresh=1", **htmx()).content.decode()
    assert refreshed.lstrip().startswith('<section id="widget-table"')
    assert refreshed.count('data-testid="widget-row"') == rows
    assert 'data-testid="freshness"' not in refreshed


def test_a_stored_value_is_read_as_fresh_without_calling_upstream():
    upstream = Upstream()
    assert cache.peek(CREDENTIAL, "apps:all") is None
    cache.store(CREDENTIAL, "apps:all", "merged list")
    found = cache.read(CREDENTIAL, "apps:all", upstream)
    assert (found.value, found.stale, upstream.calls) == ("merged list", False, 0)
    assert cache.peek(CREDENTIAL, "apps:all").value == "merged list"


def test_the_app_page_refresh_of_an_app_gone_upstream_swaps_in_that_news(
    as_user, bob, pulsetracker_credential, app_key, sandbox_settings, settings
):
    client = as_user(bob)
    url = reverse("app-detail", args=[pulsetracker_credential.pk, app_key])
    client.get(url)
    past_the_window(settings)
    sandbox_settings.fault("GET", f"/pulsetracker/api/apps/{app_key}", status=404, times=5)
    response = client.get(f"{url}?fresh=1", **htmx())
    assert response.status_code == 200  # htmx swaps it (it swaps no 4xx answer)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="app-detail">')
    assert "No such app" in body
    assert client.get(url + "?fresh=1").status_code == 404  # the page on its own says 404
