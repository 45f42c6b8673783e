"""Pulsetracker apps through the portal: list, app page, create and rename, against the sandbox."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from accounts.crypto import Secret
from accounts.models import Activity
from integrations import credentials
from integrations.models import Credential, Health
from integrations.pulsetracker import listing
from integrations.pulsetracker.charts import sparkline
from integrations.pulsetracker.client import MonthlyUsage
from integrations.pulsetracker.listing import all_apps

APPS_API = "/pulsetracker/api/apps"
NASTY = '<script>alert("x")</script>{{ request }}{% now "Y" %}'


def list_url_base(credential) -> str:
    return reverse("app-list", args=[credential.pk])


def list_url(credential, page: int | None = None) -> str:
    url = reverse("app-list", args=[credential.pk])
    return f"{url}?page={page}" if page else url


def htmx(**extra):
    return {"HTTP_HX_REQUEST": "true", **extra}


def link(team, person, token: str, label: str):
    credential, result = credentials.link(team, person, "pulsetracker", label, Secret(token))
    assert credential is not None, result
    return credential


@pytest.fixture
def free_credential(acme, alice, sandbox_settings):
    return link(acme, alice, sandbox_settings.seed.pulsetracker_free_token, "Free plan")


def upstream_gets(sandbox) -> int:
    return len(sandbox.requests_to("GET", APPS_API))


# The list


def test_apps_home_picks_the_only_credential_by_itself(as_user, bob, pulsetracker_credential):
    response = as_user(bob).get(reverse("apps"))
    assert response.status_code == 302
    assert response["Location"] == list_url(pulsetracker_credential)


def test_apps_home_offers_a_picker_when_there_are_several(
    as_user, bob, pulsetracker_credential, free_credential
):
    page = as_user(bob).get(reverse("apps")).content.decode()
    assert "Acme Live" in page
    assert "Free plan" in page


def test_apps_home_without_a_credential_says_what_to_do(as_user, alice, bob, acme):
    assert "Link a Pulsetracker token" in as_user(alice).get(reverse("apps")).content.decode()
    assert (
        "An admin of the team needs to link" in as_user(bob).get(reverse("apps")).content.decode()
    )


def test_list_is_a_full_page_with_twelve_apps_newest_first_and_the_pager(
    as_user, bob, pulsetracker_credential
):
    response = as_user(bob).get(list_url(pulsetracker_credential))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body
    assert body.count('data-testid="app-row"') == 12
    assert "Page 1 of 3 · 30 apps" in body
    assert body.index("Fleet 30") < body.index("Fleet 29")
    assert "Fleet 18" not in body


def test_paging_with_htmx_swaps_only_the_table(as_user, bob, pulsetracker_credential):
    response = as_user(bob).get(list_url(pulsetracker_credential, 3), **htmx())
    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<section id="apps-table"')
    assert "Page 3 of 3 · 30 apps" in body
    assert body.count('data-testid="app-row"') == 6
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(as_user, bob, pulsetracker_credential):
    body = (
        as_user(bob)
        .get(list_url(pulsetracker_credential, 2), **htmx(HTTP_HX_HISTORY_RESTORE_REQUEST="true"))
        .content.decode()
    )
    assert "<html" in body
    assert "Page 2 of 3" in body


def test_a_page_past_the_end_says_so_and_links_back(as_user, bob, pulsetracker_credential):
    body = as_user(bob).get(list_url(pulsetracker_credential, 7)).content.decode()
    assert "No apps on page 7" in body
    assert "Go to the first page" in body


def test_the_first_view_reads_every_page_at_once_and_later_views_none(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    before = upstream_gets(sandbox_settings)
    client.get(list_url(pulsetracker_credential))
    assert upstream_gets(sandbox_settings) == before + 3  # pages 1, 2 and 3 of Pulsetracker's
    client.get(list_url(pulsetracker_credential))
    client.get(list_url(pulsetracker_credential), **htmx())
    client.get(list_url(pulsetracker_credential, 2))
    client.get(list_url(pulsetracker_credential) + "?q=fleet&sort=name&page=2", **htmx())
    assert upstream_gets(sandbox_settings) == before + 3


def test_the_cache_can_be_turned_off(
    as_user, bob, pulsetracker_credential, sandbox_settings, settings
):
    settings.UPSTREAM_CACHE_SECONDS = 0
    client = as_user(bob)
    before = upstream_gets(sandbox_settings)
    client.get(list_url(pulsetracker_credential))
    client.get(list_url(pulsetracker_credential))
    assert upstream_gets(sandbox_settings) == before + 6


# Search, sort and pages, over every app of the account


def names(body: str) -> list[str]:
    """The app names of the table's rows, top to bottom."""
    return re.findall(r'data-testid="app-name">([^<]*)</a>', body)


def listed(client, credential, query: str = "", **extra) -> str:
    return client.get(list_url(credential) + query, **extra).content.decode()


def add_usage_apps(sandbox) -> None:
    """Three apps named "zz …" whose messages this month are known."""
    now = datetime.now(UTC)
    token = sandbox.seed.pulsetracker_paid_token
    for name, sent in [("zz Quiet", 5), ("zz Busy", 12000), ("zz Middling", 300)]:
        quota = [{"year": now.year, "month": now.month, "messages_sent": sent}]
        sandbox.pulsetracker.add_app(token, name, quota=quota)


def test_search_finds_apps_by_name_or_key_on_any_upstream_page(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    body = listed(client, pulsetracker_credential, "?q=FLEET 0", **htmx())
    assert names(body) == [f"Fleet 0{n}" for n in range(9, 0, -1)]  # the oldest, page 3 upstream
    assert "Page 1 of 1 · 9 apps matching “FLEET 0”" in body
    oldest = sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)[-1]
    by_key = listed(client, pulsetracker_credential, f"?q={oldest['key'][:13].upper()}")
    assert names(by_key) == [oldest["name"]]


def test_sort_by_name_created_or_messages_both_ways(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    add_usage_apps(sandbox_settings)
    client = as_user(bob)

    def first(sort: str) -> str:
        return names(listed(client, pulsetracker_credential, f"?sort={sort}", **htmx()))[0]

    assert first("name") == "Fleet 01"
    assert first("-name") == "zz Quiet"
    assert first("created") == "Fleet 01"
    assert first("-created") == "zz Middling"
    by_messages = listed(client, pulsetracker_credential, "?q=zz&sort=-messages", **htmx())
    assert names(by_messages) == ["zz Busy", "zz Middling", "zz Quiet"]
    assert 'aria-sort="descending">Messages this month' in by_messages
    fewest = listed(client, pulsetracker_credential, "?q=zz&sort=messages", **htmx())
    assert names(fewest) == ["zz Quiet", "zz Middling", "zz Busy"]


def test_numbers_are_right_aligned_with_thousands_separators_beside_a_sparkline(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    add_usage_apps(sandbox_settings)
    body = listed(as_user(bob), pulsetracker_credential, "?q=zz+busy", **htmx())
    assert '<td class="num" data-testid="app-messages">12,000</td>' in body
    spark = body[body.index('<svg class="sparkline"') : body.index("</svg>")]
    assert 'role="img"' in spark
    assert 'aria-label="zz Busy: Messages a month from ' in spark
    assert "this month 12,000." in spark
    assert spark.count("<polyline") == 1
    assert "style=" not in body  # the strict CSP allows no inline styles


def test_a_sparkline_spans_twelve_months_with_quiet_months_at_zero():
    usage = (MonthlyUsage(2026, 9, 1200), MonthlyUsage(2026, 11, 310), MonthlyUsage(2025, 1, 9))
    spark = sparkline(usage, today=date(2026, 11, 15))
    points = [tuple(map(float, p.split(","))) for p in spark.points.split()]
    assert len(points) == 12
    assert points[0][0] < points[-1][0]
    assert [y for _, y in points[:9]] == [spark.height - 2.0] * 9  # Dec 2025 to Aug 2026: none
    assert points[9][1] == 2.0  # Sep 2026, the busiest, at the top
    assert (spark.end_x, spark.end_y) == points[-1]
    assert spark.label == (
        "Messages a month from Dec 2025 to Nov 2026: busiest Sep 2026 with 1,200; this month 310."
    )
    assert sparkline((), today=date(2026, 11, 15)).label.endswith(": none.")


def test_an_unknown_order_is_newest_first(as_user, bob, pulsetracker_credential):
    body = listed(as_user(bob), pulsetracker_credential, "?sort=__class__")
    assert names(body)[0] == "Fleet 30"
    assert '<option value="-created" selected>' in body


def test_pages_are_numbered_with_the_current_one_marked_and_links_keep_search_and_sort(
    as_user, bob, pulsetracker_credential
):
    body = listed(as_user(bob), pulsetracker_credential, "?q=fleet&sort=name&page=2", **htmx())
    assert names(body)[0] == "Fleet 13"
    assert "Page 2 of 3 · 30 apps matching “fleet”" in body
    pager = body[body.index('data-testid="page-links"') :]
    assert re.search(r'aria-current="page">2</a>', pager)
    for number in (1, 3):
        assert (
            f'hx-get="{list_url_base(pulsetracker_credential)}?q=fleet&amp;sort=name&amp;page={number}"'
            in pager
        )
    assert 'rel="prev"' in body
    assert 'rel="next"' in body


def test_many_pages_show_the_ends_and_the_pages_around_the_current_one(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    for number in range(114):
        sandbox_settings.pulsetracker.add_app(token, f"Extra {number:03d}")
    body = listed(as_user(bob), pulsetracker_credential, "?page=6", **htmx())
    assert "Page 6 of 12 · 144 apps" in body
    pager = body[body.index('data-testid="page-links"') : body.index("</ol>")]
    shown = re.findall(r">(\d+|…)</(?:a|li)>", pager)
    assert shown == ["1", "…", "4", "5", "6", "7", "8", "…", "12"]
    assert re.search(r'aria-current="page">6</a>', pager)


def test_a_full_page_keeps_the_search_and_order_filled_in(as_user, bob, pulsetracker_credential):
    body = listed(as_user(bob), pulsetracker_credential, "?q=Fleet+2&sort=-name")
    assert 'name="q" value="Fleet 2"' in body
    assert '<option value="-name" selected>' in body
    assert names(body)[0] == "Fleet 29"
    assert 'hx-trigger="input changed delay:300ms, search"' in body


def test_a_search_that_matches_nothing_says_so_and_offers_every_app(
    as_user, bob, pulsetracker_credential
):
    body = listed(as_user(bob), pulsetracker_credential, "?q=nothing+like+it", **htmx())
    assert "No apps match “nothing like it”" in body
    assert "Show every app" in body
    assert 'data-testid="app-row"' not in body


def test_an_account_with_more_apps_than_the_portal_reads_says_so(
    as_user, bob, pulsetracker_credential, monkeypatch
):
    monkeypatch.setattr(listing, "MAX_PAGES", 2)
    body = listed(as_user(bob), pulsetracker_credential)
    assert "Showing the newest 24 of 30 apps" in body


def test_an_account_without_apps_shows_the_empty_state(as_user, alice, acme, sandbox_settings):
    credential = link(acme, alice, sandbox_settings.pulsetracker.add_user(app_limit=3), "Empty")
    body = as_user(alice).get(list_url(credential)).content.decode()
    assert "No apps yet" in body
    assert "Create the first one above" in body


def test_a_rejected_token_shows_its_own_state_and_flips_the_credential(
    as_user, alice, bob, pulsetracker_credential, sandbox_settings
):
    sandbox_settings.pulsetracker.revoke(sandbox_settings.seed.pulsetracker_paid_token)
    body = as_user(alice).get(list_url(pulsetracker_credential)).content.decode()
    assert "Pulsetracker rejected this credential" in body
    assert "Replace the token on the credentials page" in body
    assert Credential.objects.get(pk=pulsetracker_credential.pk).health == Health.REJECTED
    member_view = as_user(bob).get(list_url(pulsetracker_credential)).content.decode()
    assert "Ask an admin of the team to replace it" in member_view


def test_an_unavailable_upstream_shows_a_retry_button_and_no_500(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    sandbox_settings.fault("GET", APPS_API, status=503, times=3)
    response = as_user(bob).get(list_url(pulsetracker_credential), **htmx())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Pulsetracker is unavailable" in body
    assert ">Retry</button>" in body
    retry = as_user(bob).get(list_url(pulsetracker_credential), **htmx()).content.decode()
    assert 'data-testid="app-row"' in retry  # errors are not cached


def test_an_unreadable_answer_is_shown_as_unavailable_not_a_crash(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    sandbox_settings.fault("GET", APPS_API, non_json=True)
    response = as_user(bob).get(list_url(pulsetracker_credential))
    assert response.status_code == 200
    assert "instead of JSON" in response.content.decode()


# Every app of the account


def test_all_apps_reads_every_page_once_and_caches_the_whole_list(
    bob, pulsetracker_credential, sandbox_settings
):
    before = upstream_gets(sandbox_settings)
    found = all_apps(pulsetracker_credential, bob)
    assert [app.name for app in found.apps] == [f"Fleet {n:02d}" for n in range(30, 0, -1)]
    assert (found.total, found.complete) == (30, True)
    pages = [r.query.get("page") for r in sandbox_settings.requests_to("GET", APPS_API)]
    assert sorted(pages[-3:]) == ["1", "2", "3"]
    assert upstream_gets(sandbox_settings) == before + 3
    assert all_apps(pulsetracker_credential, bob) == found
    assert upstream_gets(sandbox_settings) == before + 3


def test_a_second_read_asks_for_every_page_it_knew_at_once_and_finishes_a_grown_list(
    bob, pulsetracker_credential, sandbox_settings
):
    all_apps(pulsetracker_credential, bob)  # 3 pages: remembered
    token = sandbox_settings.seed.pulsetracker_paid_token
    for number in range(1, 13):  # a fourth page since
        sandbox_settings.pulsetracker.add_app(token, f"Grown {number:02d}")
    pulsetracker_credential_cache_forgotten(pulsetracker_credential)
    seen = len(sandbox_settings.requests_to("GET", APPS_API))
    found = all_apps(pulsetracker_credential, bob)
    pages = [r.query.get("page") for r in sandbox_settings.requests_to("GET", APPS_API)[seen:]]
    # The three known pages went at once (in any order), then the new fourth.
    assert sorted(pages[:3]) == ["1", "2", "3"]
    assert pages[3:] == ["4"]
    assert len(found.apps) == 42
    assert found.apps[0].name == "Grown 12"
    assert found.apps[-1].name == "Fleet 01"


def test_a_list_shorter_than_remembered_ignores_the_empty_pages_past_its_end(
    bob, pulsetracker_credential, sandbox_settings
):
    from django.core.cache import cache as django_cache

    # Remembered as five pages (apps since removed in Pulsetracker's own dashboard): 4 and 5
    # come back empty and count for nothing.
    django_cache.set(listing._pages_key(pulsetracker_credential, "apps"), 5)
    found = all_apps(pulsetracker_credential, bob)
    assert [app.name for app in found.apps] == [f"Fleet {n:02d}" for n in range(30, 0, -1)]
    assert (found.total, found.complete) == (30, True)


def pulsetracker_credential_cache_forgotten(credential) -> None:
    from integrations import cache

    cache.invalidate(credential.pk)


def test_all_apps_keeps_only_the_last_year_of_each_apps_usage(
    bob, pulsetracker_credential, sandbox_settings
):
    now = datetime.now(UTC)
    this_month = now.year * 12 + now.month - 1
    months = [divmod(this_month - n, 12) for n in range(30)]  # (year, month - 1), newest first
    quota = [
        {"year": y, "month": m + 1, "messages_sent": 1000 + n} for n, (y, m) in enumerate(months)
    ]
    sandbox_settings.pulsetracker.add_app(
        sandbox_settings.seed.pulsetracker_paid_token, "Old hand", quota=quota
    )
    [app] = [a for a in all_apps(pulsetracker_credential, bob).apps if a.name == "Old hand"]
    assert len(app.quota) == listing.QUOTA_MONTHS
    assert (app.quota[-1].year, app.quota[-1].month) == (now.year, now.month)
    assert app.messages_this_month == 1000


def test_all_apps_stops_at_its_page_limit_and_knows_the_list_is_partial(
    bob, pulsetracker_credential, sandbox_settings, monkeypatch
):
    monkeypatch.setattr(listing, "MAX_PAGES", 2)
    found = all_apps(pulsetracker_credential, bob)
    assert len(found.apps) == 24
    assert (found.total, found.complete) == (30, False)


# When Pulsetracker says no


def json_fault(sandbox, path: str, status: int, message: str, **extra) -> None:
    sandbox.fault(
        "GET",
        path,
        status=status,
        headers={"Content-Type": "application/json", **extra},
        body=json.dumps({"message": message}).encode(),
        times=3,
    )


def test_a_list_pulsetracker_cannot_find_says_the_address_looks_wrong_not_no_such_app(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    json_fault(sandbox_settings, APPS_API, 404, "The route api/apps could not be found.")
    response = as_user(bob).get(list_url(pulsetracker_credential))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Pulsetracker could not find the list of apps" in body
    assert "PULSETRACKER_API_URL" in body
    assert "no such app" not in body
    assert "unavailable" not in body


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "You have exceeded your monthly quota."),
        (405, "The GET method is not supported for route api/apps."),
        (400, "Bad request."),
    ],
)
def test_other_refusals_of_the_list_have_their_own_heading_not_unavailable(
    as_user, bob, pulsetracker_credential, sandbox_settings, status, message
):
    json_fault(sandbox_settings, APPS_API, status, message)
    body = as_user(bob).get(list_url(pulsetracker_credential), **htmx()).content.decode()
    assert "Pulsetracker refused to list the apps" in body
    assert "Pulsetracker is unavailable" not in body
    assert ">Retry</button>" in body


def test_a_rate_limited_list_says_to_slow_down_and_when(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    json_fault(sandbox_settings, APPS_API, 429, "Too Many Attempts.", **{"Retry-After": "7"})
    body = as_user(bob).get(list_url(pulsetracker_credential), **htmx()).content.decode()
    assert "Pulsetracker asks the portal to slow down" in body
    assert "7 seconds" in body
    assert "Pulsetracker is unavailable" not in body


def test_an_app_pulsetracker_refuses_to_show_is_not_called_unavailable(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    key = first_app(sandbox_settings)["key"]
    json_fault(sandbox_settings, f"{APPS_API}/{key}", 403, "This action is unauthorized.")
    url = reverse("app-detail", args=[pulsetracker_credential.pk, key])
    body = as_user(bob).get(url).content.decode()
    assert "Pulsetracker refused to show this app" in body
    assert "belongs to another account" in body
    assert "Pulsetracker is unavailable" not in body


def test_the_client_tells_a_missing_list_from_a_missing_app(sandbox_settings):
    from integrations.errors import NotFound
    from integrations.pulsetracker.client import PulsetrackerClient

    client = PulsetrackerClient(Secret(sandbox_settings.seed.pulsetracker_paid_token))
    json_fault(sandbox_settings, APPS_API, 404, "The route api/apps could not be found.")
    with pytest.raises(NotFound, match="the list of apps"):
        client.list_apps()
    with pytest.raises(NotFound, match="no such app"):
        client.get_app("00000000-0000-4000-8000-000000000000")


# Create


def create(client, credential, name: str, submission: str = "", **extra):
    return client.post(
        reverse("app-create", args=[credential.pk]),
        {"name": name, "submission": submission},
        **extra,
    )


def test_create_puts_the_new_app_on_top_clears_the_form_and_names_it(
    as_user, bob, acme, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    client.get(
        list_url(pulsetracker_credential, 2)
    )  # warm the cache: the create must invalidate it
    response = create(client, pulsetracker_credential, "Night shift", **htmx())
    body = response.content.decode()
    # The form answers for itself, and tells the page's list to show page 1 again.
    assert "HX-Retarget" not in response
    assert response["HX-Trigger"] == "app-created"
    assert body.lstrip().startswith('<form id="create-form"')
    assert "Created the app “Night shift”." in body
    assert 'name="name" value=' not in body  # the form is empty again
    listed = client.get(list_url(pulsetracker_credential, 1), **htmx()).content.decode()
    first_row = listed[listed.index('data-testid="app-row"') :]
    assert first_row.index("Night shift") < first_row.index("Fleet 30")
    assert "Page 1 of 3 · 31 apps" in listed
    entry = Activity.objects.get(team=acme, action="app created")
    assert entry.outcome == "ok"
    assert entry.actor == bob
    assert entry.credential_label == "Acme Live"
    assert "Night shift" in entry.target
    [app] = [
        a
        for a in sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)
        if a["name"] == "Night shift"
    ]
    assert app["key"] in entry.target


def upstream_calls(sandbox) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sandbox.requests_to("*", "/pulsetracker/api/")]


def test_a_create_shows_in_the_list_after_one_upstream_call_the_post(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    listed(client, pulsetracker_credential, "?page=2")  # the list as the person last saw it
    before = len(upstream_calls(sandbox_settings))
    response = create(client, pulsetracker_credential, "Night shift", **htmx())
    assert response["HX-Trigger"] == "app-created"
    body = listed(client, pulsetracker_credential, "?q=&sort=-created", **htmx())
    assert upstream_calls(sandbox_settings)[before:] == [("POST", APPS_API)]
    assert names(body)[0] == "Night shift"
    assert "Page 1 of 3 · 31 apps" in body
    start = body.index('data-testid="app-row"')
    row = body[start : body.index("</tr>", start)]
    assert '<td class="num">0</td>' in row  # the create answer's null device count
    assert "Night shift" in listed(client, pulsetracker_credential, "?q=night")


def test_a_create_after_the_list_went_stale_reads_the_list_afresh(
    as_user, bob, pulsetracker_credential, sandbox_settings, settings
):
    client = as_user(bob)
    listed(client, pulsetracker_credential)
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)
    before = len(upstream_calls(sandbox_settings))
    create(client, pulsetracker_credential, "Late shift", **htmx())
    body = listed(client, pulsetracker_credential, **htmx())
    assert names(body)[0] == "Late shift"
    assert 'data-testid="freshness"' not in body
    assert (
        upstream_calls(sandbox_settings)[before:] == [("POST", APPS_API)] + [("GET", APPS_API)] * 3
    )


def test_a_rename_shows_in_the_list_after_one_upstream_call_the_put(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    listed(client, pulsetracker_credential)
    key = first_app(sandbox_settings)["key"]
    before = len(upstream_calls(sandbox_settings))
    rename(client, pulsetracker_credential, key, "Day shift")
    body = listed(client, pulsetracker_credential, **htmx())
    assert names(body)[0] == "Day shift"
    assert upstream_calls(sandbox_settings)[before:] == [("PUT", f"{APPS_API}/{key}")]


def test_an_old_list_is_shown_at_once_with_its_age_and_refreshes_in_place(
    as_user, bob, pulsetracker_credential, sandbox_settings, settings
):
    client = as_user(bob)
    listed(client, pulsetracker_credential)
    settings.UPSTREAM_CACHE_SECONDS = 1
    time.sleep(1.1)
    sandbox_settings.fault("GET", APPS_API, status=503, times=10)
    body = listed(client, pulsetracker_credential, "?q=fleet&sort=name&page=2")
    assert names(body)[0] == "Fleet 13"
    label = body[body.index('data-testid="freshness"') - 200 :]
    assert "As of" in label
    assert "q=fleet&amp;sort=name&amp;page=2&amp;fresh=1" in label
    again = listed(client, pulsetracker_credential, "?q=fleet&sort=name&page=2&fresh=1", **htmx())
    assert "could not refresh" in again
    assert names(again)[0] == "Fleet 13"
    assert "fresh=1" not in again[again.index('data-testid="page-links"') :]


def test_create_without_htmx_shows_the_same_screen_with_the_confirmation(
    as_user, bob, pulsetracker_credential
):
    client = as_user(bob)
    response = create(client, pulsetracker_credential, "Plain create")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Pulsetracker apps</h1>" in body
    assert "Created the app “Plain create”." in body
    first_row = body[body.index('data-testid="app-row"') :]
    assert first_row.index("Plain create") < first_row.index("Fleet 30")


def test_the_plans_limit_is_shown_plainly_and_the_name_kept(
    as_user, bob, acme, free_credential, sandbox_settings
):
    response = create(as_user(bob), free_credential, "Second fleet", **htmx())
    body = response.content.decode()
    assert response.status_code == 200
    assert "You have exceeded your monthly quota." in body
    assert 'value="Second fleet"' in body
    entry = Activity.objects.get(team=acme, action="app created")
    assert (entry.outcome, entry.error_kind, entry.upstream_status) == (
        "failed",
        "QuotaExceeded",
        403,
    )
    assert entry.target == "Second fleet"


def test_upstream_validation_messages_sit_beside_the_field(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    sandbox_settings.fault(
        "POST",
        APPS_API,
        status=422,
        headers={"Content-Type": "application/json"},
        body=json.dumps(
            {"message": "The name is odd.", "errors": {"name": ["The name is odd."]}}
        ).encode(),
    )
    body = create(as_user(bob), pulsetracker_credential, "Odd name", **htmx()).content.decode()
    errors = body[body.index('data-testid="name-errors"') :]
    assert "The name is odd." in errors
    assert 'value="Odd name"' in body


@pytest.mark.parametrize(
    ("name", "complaint"),
    [("", "Give the app a name"), ("    ", "spaces alone"), ("x" * 256, "255 characters")],
)
def test_the_portal_refuses_bad_names_before_calling_upstream(
    as_user, bob, pulsetracker_credential, sandbox_settings, name, complaint
):
    body = create(as_user(bob), pulsetracker_credential, name, **htmx()).content.decode()
    assert complaint in body
    assert sandbox_settings.requests_to("POST", APPS_API) == []


def test_a_double_submit_creates_one_app(as_user, bob, pulsetracker_credential, sandbox_settings):
    client = as_user(bob)
    for _ in range(2):
        create(client, pulsetracker_credential, "Once only", submission="abc123", **htmx())
    assert len(sandbox_settings.requests_to("POST", APPS_API)) == 1
    names = [
        a["name"]
        for a in sandbox_settings.pulsetracker.apps(sandbox_settings.seed.pulsetracker_paid_token)
    ]
    assert names.count("Once only") == 1


def test_a_failed_create_can_be_retried_with_the_same_form(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    client = as_user(bob)
    sandbox_settings.fault("POST", APPS_API, status=503)
    failed = create(
        client, pulsetracker_credential, "Retry me", submission="form-1", **htmx()
    ).content.decode()
    assert "unavailable" in failed.lower() or "trouble" in failed
    new_submission = failed.split('name="submission" value="')[1].split('"')[0]
    assert new_submission != "form-1"
    ok = create(client, pulsetracker_credential, "Retry me", submission=new_submission, **htmx())
    assert "Created the app “Retry me”." in ok.content.decode()


# Rename


def first_app(sandbox):
    return sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]


def rename(client, credential, key: str, name: str, original: str = "Fleet 30"):
    return client.post(
        reverse("app-rename", args=[credential.pk, key]),
        {"name": name, "original": original},
        **htmx(),
    )


def test_the_rename_form_holds_the_current_name(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    key = first_app(sandbox_settings)["key"]
    url = reverse("app-rename", args=[pulsetracker_credential.pk, key])
    body = as_user(bob).get(url + "?name=Fleet%2030", **htmx()).content.decode()
    assert 'value="Fleet 30"' in body
    assert "autofocus" in body
    assert "data-cancel" in body
    full = as_user(bob).get(url)
    assert full.status_code == 302  # not a page of its own: back to the app


def test_cancel_shows_the_name_again_without_calling_upstream(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    key = first_app(sandbox_settings)["key"]
    before = len(sandbox_settings.requests)
    body = (
        as_user(bob)
        .get(
            reverse("app-rename", args=[pulsetracker_credential.pk, key])
            + "?cancel=1&name=Fleet%2030",
            **htmx(),
        )
        .content.decode()
    )
    assert ">Fleet 30</a>" in body
    assert len(sandbox_settings.requests) == before


@pytest.mark.parametrize("answer", ["one", "string", "empty"])
def test_rename_shows_the_new_name_in_place_and_logs_old_and_new(
    as_user, bob, acme, pulsetracker_credential, sandbox_settings, answer
):
    sandbox_settings.pulsetracker.rename_answer = answer
    client = as_user(bob)
    client.get(list_url(pulsetracker_credential))  # cached before the rename
    key = first_app(sandbox_settings)["key"]
    body = rename(client, pulsetracker_credential, key, "Day shift").content.decode()
    assert ">Day shift</a>" in body
    assert "Renamed" in body
    entry = Activity.objects.get(team=acme, action="app renamed")
    assert entry.outcome == "ok"
    assert entry.target == key
    assert entry.detail == "“Fleet 30” → “Day shift”"
    assert "Day shift" in client.get(list_url(pulsetracker_credential)).content.decode()


def test_rename_of_a_vanished_app_keeps_the_input_open_with_the_message(
    as_user, bob, acme, pulsetracker_credential, sandbox_settings
):
    body = rename(
        as_user(bob), pulsetracker_credential, "00000000-0000-4000-8000-000000000000", "Ghost"
    ).content.decode()
    assert 'value="Ghost"' in body
    assert "no such app" in body
    assert 'data-testid="rename-errors"' in body
    entry = Activity.objects.get(team=acme, action="app renamed")
    assert (entry.outcome, entry.error_kind, entry.upstream_status) == ("failed", "NotFound", 404)


def test_rename_refuses_an_empty_name_itself_and_keeps_the_input(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    key = first_app(sandbox_settings)["key"]
    body = rename(as_user(bob), pulsetracker_credential, key, "   ").content.decode()
    assert "spaces alone" in body
    assert sandbox_settings.requests_to("PUT", APPS_API) == []


def test_rename_shows_upstream_validation_and_outages_beside_the_input(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    key = first_app(sandbox_settings)["key"]
    client = as_user(bob)
    sandbox_settings.fault(
        "PUT",
        APPS_API,
        status=422,
        headers={"Content-Type": "application/json"},
        body=b'{"message": "The name is taken.", "errors": {"name": ["The name is taken."]}}',
    )
    assert (
        "The name is taken."
        in rename(client, pulsetracker_credential, key, "Taken").content.decode()
    )
    sandbox_settings.fault("PUT", APPS_API, status=503)
    body = rename(client, pulsetracker_credential, key, "Later").content.decode()
    assert 'value="Later"' in body
    assert "try again" in body


# Viewers


def test_viewers_see_apps_without_create_or_rename_and_are_refused_when_forcing(
    as_user, carol, pulsetracker_credential, sandbox_settings
):
    client = as_user(carol)
    body = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Fleet 30" in body
    assert "Create app" not in body
    assert ">Rename</button>" not in body
    key = first_app(sandbox_settings)["key"]
    assert create(client, pulsetracker_credential, "Sneaky").status_code == 403
    assert rename(client, pulsetracker_credential, key, "Sneaky").status_code == 403
    assert (
        client.get(
            reverse("app-rename", args=[pulsetracker_credential.pk, key]), **htmx()
        ).status_code
        == 403
    )
    detail = client.get(
        reverse("app-detail", args=[pulsetracker_credential.pk, key])
    ).content.decode()
    assert ">Rename</button>" not in detail
    assert sandbox_settings.requests_to("POST", APPS_API) == []
    assert sandbox_settings.requests_to("PUT", APPS_API) == []


def test_another_teams_credential_is_404_for_every_apps_view(
    as_user, mallory, pulsetracker_credential, sandbox_settings
):
    client = as_user(mallory)
    key = first_app(sandbox_settings)["key"]
    cid = pulsetracker_credential.pk
    assert client.get(list_url(pulsetracker_credential)).status_code == 404
    assert client.get(reverse("app-detail", args=[cid, key])).status_code == 404
    assert create(client, pulsetracker_credential, "x").status_code == 404
    assert rename(client, pulsetracker_credential, key, "x").status_code == 404


# The app page


def test_app_page_shows_facts_usage_chart_table_and_devices(
    as_user, bob, pulsetracker_credential, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(
        token,
        "Charted",
        quota=[
            {"year": 2026, "month": 9, "messages_sent": 1200},
            {"year": 2026, "month": 10, "messages_sent": 310},
        ],
    )
    sandbox_settings.pulsetracker.add_device(
        token, app["key"], "Van 1", last_location=(3.06, 36.75)
    )
    sandbox_settings.pulsetracker.add_device(token, app["key"], "Van 2")
    response = as_user(bob).get(
        reverse("app-detail", args=[pulsetracker_credential.pk, app["key"]])
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert app["key"] in body
    assert 'data-copy="' + app["key"] + '"' in body
    chart = body[body.index('data-testid="usage-chart"') : body.index("</svg>")]
    assert chart.count("<rect") == 2
    assert "Sep 2026: 1,200 messages" in chart  # thousands separated, as on the apps list
    table = body[body.index('data-testid="usage-table"') :]
    assert '<td>Sep 2026</td><td class="num">1,200</td>' in table
    assert '<td>Oct 2026</td><td class="num">310</td>' in table
    assert body.count('data-testid="device-row"') == 2
    assert "36.75000, 3.06000" in body
    assert "no position yet" in body


def test_app_page_of_an_unknown_app_is_a_clear_404(as_user, bob, pulsetracker_credential):
    response = as_user(bob).get(
        reverse(
            "app-detail", args=[pulsetracker_credential.pk, "00000000-0000-4000-8000-000000000000"]
        )
    )
    assert response.status_code == 404
    assert "No such app" in response.content.decode()


def test_upstream_names_full_of_html_and_template_syntax_stay_plain_text(
    as_user, alice, pulsetracker_credential, sandbox_settings
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    app = sandbox_settings.pulsetracker.add_app(token, NASTY)
    client = as_user(alice)
    escaped = (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;{{ request }}{% now &quot;Y&quot; %}"
    )
    pages = [
        client.get(list_url(pulsetracker_credential)).content.decode(),
        client.get(
            reverse("app-detail", args=[pulsetracker_credential.pk, app["key"]])
        ).content.decode(),
        rename(
            client, pulsetracker_credential, app["key"], NASTY + "!", original=NASTY
        ).content.decode(),
        client.get(reverse("accounts:activity")).content.decode(),
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert (
            escaped in page
            or escaped.replace("&quot;", "&#x27;") in page
            or "&lt;script&gt;" in page
        )
    assert escaped in pages[0]


# What is cached is the upstream's data, never the page around it


def test_replacing_the_token_forgets_the_previous_accounts_apps(
    as_user, alice, pulsetracker_credential, sandbox_settings
):
    from accounts.crypto import Secret
    from integrations import credentials

    client = as_user(alice)
    assert "Fleet 30" in client.get(list_url(pulsetracker_credential)).content.decode()
    calls = len(sandbox_settings.requests_to("GET", APPS_API))
    free = sandbox_settings.seed.pulsetracker_free_token
    assert credentials.replace(pulsetracker_credential, alice, Secret(free)).accepted
    after = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "Fleet 30" not in after  # the other account's apps, not the cached ones
    # One call checked the new token, one listed its apps for this page.
    assert len(sandbox_settings.requests_to("GET", APPS_API)) == calls + 2


def test_a_repeat_apps_view_reads_upstream_once_but_shows_the_person_as_they_are_now(
    as_user, alice, pulsetracker_credential, sandbox_settings
):
    client = as_user(alice)
    client.get(list_url(pulsetracker_credential))
    calls = len(sandbox_settings.requests_to("GET", APPS_API))
    alice.email = "alice.renamed@acme.test"
    alice.save()
    again = client.get(list_url(pulsetracker_credential)).content.decode()
    assert "alice.renamed@acme.test" in again
    assert "Fleet 30" in again
    assert len(sandbox_settings.requests_to("GET", APPS_API)) == calls  # the data came cached
