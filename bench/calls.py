"""Benchmark 3: upstream calls and database queries per page, in-process with the test client.

- Upstream calls for a first and a repeat view of the apps page (the sandbox's request log),
  default UPSTREAM_CACHE_SECONDS, Redis cache.
- Database queries (CaptureQueriesContext) of the credentials page with 1 and 100 credentials,
  and of the activity page with 10 and 10,000 entries; each measured on a second view so
  one-time work (session's team choice, last-active stamp) is not counted.
- Where the time of a cached apps page view goes (SQL versus the rest), to explain benchmark 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import (
    add_member,
    bench_script,
    ensure_database,
    link_pulsetracker,
    make_team,
    median,
    ms,
    portal_env,
    seed_apps,
    setup_django,
    start_sandbox,
)


def count_queries(client: Any, url: str) -> tuple[int, list[str], float]:
    """Queries of one GET (after a warm-up GET of the same URL), and its time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    warm = client.get(url)
    if warm.status_code != 200:
        raise RuntimeError(f"GET {url}: status {warm.status_code}")
    with CaptureQueriesContext(connection) as captured:
        began = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: status {response.status_code}")
    return len(captured), [q["sql"] for q in captured.captured_queries], seconds


def add_credentials(team: Any, linkers: list[Any], start: int, count: int) -> None:
    from accounts.crypto import Secret
    from integrations.models import Credential, Health, Service

    rows = []
    for number in range(start, start + count):
        pulsoid = number % 2 == 0
        credential = Credential(
            team=team,
            service=Service.PULSOID if pulsoid else Service.PULSETRACKER,
            label=f"Credential {number:03d}",
            linked_by=linkers[number % len(linkers)],
            last_used_by=linkers[(number + 1) % len(linkers)] if number % 3 else None,
            health=Health.OK if number % 5 else Health.MISSING_SCOPE,
            scopes=["widgets:read", "widgets:update", "profile:read"] if pulsoid else [],
            channel=f"channel{number}" if pulsoid else "",
        )
        credential.set_token(Secret(f"{number:04d}-bench-token-not-a-real-one-{number:08d}"))
        rows.append(credential)
    Credential.objects.bulk_create(rows)


def add_activity(team: Any, actor: Any, count: int) -> None:
    from accounts.activity import ACTIONS
    from accounts.models import Activity

    Activity.objects.bulk_create(
        [
            Activity(
                team=team,
                actor=actor,
                actor_email=actor.email,
                action=ACTIONS[number % len(ACTIONS)],
                credential_label=f"Credential {number % 7}",
                target=f"target {number}",
                outcome=Activity.Outcome.OK if number % 9 else Activity.Outcome.FAILED,
                error_kind="" if number % 9 else "Unavailable",
                detail=f"detail of entry {number}",
            )
            for number in range(count)
        ],
        batch_size=2000,
    )


def main() -> int:
    with bench_script("calls") as (report, stack):
        ensure_database()
        sandbox = start_sandbox()
        stack.callback(sandbox.stop)
        setup_django(portal_env(**sandbox.env()))
        from django.conf import settings
        from django.test import Client
        from django.test.utils import setup_test_environment

        setup_test_environment()  # lets the test client's host through ALLOWED_HOSTS
        failures: list[str] = []

        # --- upstream calls per apps page view
        try:
            token = sandbox.pulsetracker.add_user(app_limit=100)
            seed_apps(sandbox, token, 30)
            team, owner = make_team("Calls", "owner@calls.test")
            credential = link_pulsetracker(team, owner, token)
            client = Client()
            client.force_login(owner)
            url = f"/apps/{credential.pk}/"

            def upstream() -> int:
                return len(sandbox.requests_to("GET", "/pulsetracker/api/apps"))

            before = upstream()
            first = client.get(url)
            after_first = upstream()
            repeat = client.get(url)
            after_repeat = upstream()
            if first.status_code != 200 or repeat.status_code != 200:
                raise RuntimeError(f"apps page: {first.status_code}, {repeat.status_code}")
            # The list is every app of the account: page 1, then pages 2..3 at once.
            report.add(
                "upstream calls, first apps page view (30 apps, 3 upstream pages)",
                str(after_first - before),
                "3",
                after_first - before == 3,
            )
            report.add(
                "upstream calls, repeat apps page view",
                str(after_repeat - after_first),
                "0",
                after_repeat - after_first == 0,
            )
            calls = len(sandbox.requests_to("*", "/pulsetracker/api/"))
            created = client.post(
                f"/apps/{credential.pk}/create/",
                {"name": "Bench create", "submission": "bench-create"},
                HTTP_HX_REQUEST="true",
            )
            listed = client.get(url, HTTP_HX_REQUEST="true")
            made = len(sandbox.requests_to("*", "/pulsetracker/api/")) - calls
            if created.status_code != 200 or "Bench create" not in listed.content.decode():
                raise RuntimeError("create, then list: the new app is not listed")
            report.add("upstream calls, create then the list", str(made), "1", made == 1)
            report.note(
                f"cache: {settings.CACHES['default']['BACKEND']}, "
                f"UPSTREAM_CACHE_SECONDS={settings.UPSTREAM_CACHE_SECONDS}"
            )
            profile_cached_page(report, client, url)
        except Exception as exc:
            failures.append(f"apps page: {type(exc).__name__}: {exc}")
            print(f"[calls] apps page part failed: {exc!r}", flush=True)

        # --- queries of the credentials page, 1 and 100 credentials
        try:
            team, owner = make_team("Credentials", "owner@creds.test")
            linkers = [owner] + [
                add_member(team, f"admin{n}@creds.test", "admin") for n in range(1, 5)
            ]
            # One linker has left the team: the page flags their credentials.
            from accounts.models import User

            linkers.append(User.objects.create_user(email=f"gone+{team.pk}@creds.test"))
            client = Client()
            client.force_login(owner)
            compare_queries(
                report,
                client,
                "/credentials/",
                "credentials page",
                ("1 credential", lambda: add_credentials(team, linkers, 1, 1)),
                ("100 credentials", lambda: add_credentials(team, linkers, 2, 99)),
            )
        except Exception as exc:
            failures.append(f"credentials page: {type(exc).__name__}: {exc}")
            print(f"[calls] credentials page part failed: {exc!r}", flush=True)

        # --- queries of the activity page, 10 and 10,000 entries
        try:
            team, owner = make_team("Activity", "owner@activity.test")
            client = Client()
            client.force_login(owner)
            compare_queries(
                report,
                client,
                "/accounts/activity/",
                "activity page",
                ("10 entries", lambda: add_activity(team, owner, 10)),
                ("10,000 entries", lambda: add_activity(team, owner, 9_990)),
            )
        except Exception as exc:
            failures.append(f"activity page: {type(exc).__name__}: {exc}")
            print(f"[calls] activity page part failed: {exc!r}", flush=True)

        if failures:
            raise RuntimeError("; ".join(failures))
    return 0


def compare_queries(
    report: Any,
    client: Any,
    url: str,
    page: str,
    few: tuple[str, Callable[[], None]],
    many: tuple[str, Callable[[], None]],
) -> None:
    """Queries of `url` after adding a few rows, then after adding many: the target is equal."""
    (few_label, add_few), (many_label, add_many) = few, many
    add_few()
    few_count, few_sql, few_time = count_queries(client, url)
    add_many()
    many_count, many_sql, many_time = count_queries(client, url)
    report.add(f"queries, {page} with {few_label}", f"{few_count} ({ms(few_time)})")
    report.add(
        f"queries, {page} with {many_label}",
        f"{many_count} ({ms(many_time)})",
        f"= {few_count} (as with {few_label.split()[0]})",
        many_count == few_count,
    )
    if many_count != few_count:
        report.note(f"{page}, extra queries: {extra(few_sql, many_sql)}")


def extra(few: list[str], many: list[str]) -> str:
    """The queries the bigger page ran beyond the smaller one's (by shape), a few of them."""
    import re

    def shape(sql: str) -> str:
        return re.sub(r"\b\d+\b", "N", sql)[:160]

    remaining = [shape(q) for q in few]
    added = []
    for query in many:
        key = shape(query)
        if key in remaining:
            remaining.remove(key)
        else:
            added.append(key)
    return f"{len(added)} more, e.g. {added[:3]}"


def profile_cached_page(report: Any, client: Any, url: str, views: int = 200) -> None:
    """Time cached views of the apps page in-process, splitting off the time spent in SQL."""
    from django.db import connection

    sql_time = 0.0
    sql_count = 0

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal sql_time, sql_count
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_time += time.perf_counter() - began
            sql_count += 1

    client.get(url)
    durations = []
    with connection.execute_wrapper(timer):
        for _ in range(views):
            began = time.perf_counter()
            response = client.get(url)
            durations.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"cached apps page: status {response.status_code}")
    total = sum(durations)
    report.add(
        "cached apps page in-process (test client)",
        f"median {ms(median(durations))} per view; {sql_count / views:.0f} queries "
        f"taking {sql_time / total:.0%} of the time; {len(response.content):,} bytes of HTML",
    )


if __name__ == "__main__":
    sys.exit(main())
