"""Benchmark 5: the activity page of a team with 1,000,000 entries, on PostgreSQL.

The entries are written with one `INSERT ... SELECT ... FROM generate_series` (then ANALYZE),
for one team. The first activity page is timed over HTTP against gunicorn, sequentially, after
a warm-up; a few other views of the same log (an older page, filters) are timed for context.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

from bench.common import (
    Gunicorn,
    add_member,
    bench_script,
    ensure_database,
    make_team,
    median,
    ms,
    percentile,
    portal_env,
    session_cookies,
    setup_django,
)

ENTRIES = int(os.environ.get("BENCH_ACTIVITY_ENTRIES", "1000000"))
REQUESTS = 30
EXTRA_REQUESTS = 10
TARGET = 0.050
ROW = re.compile(r'data-testid="activity-row"')


def fill(team: Any, people: list[Any], count: int) -> float:
    """Write `count` entries for `team` in one statement; returns the seconds it took."""
    from django.db import connection

    from accounts.activity import ACTIONS
    from accounts.models import Activity

    table = connection.ops.quote_name(Activity._meta.db_table)
    sql = f"""
        INSERT INTO {table} (team_id, actor_id, actor_email, action, credential_id,
            credential_label, target, outcome, error_kind, upstream_status, detail, created_at)
        SELECT %s,
            (%s::bigint[])[1 + g %% %s],
            (%s::text[])[1 + g %% %s],
            (%s::text[])[1 + g %% %s],
            NULL,
            (ARRAY['Live', 'Staging', 'Streamer'])[1 + g %% 3],
            'app ' || g,
            CASE WHEN g %% 20 = 0 THEN 'failed' ELSE 'ok' END,
            CASE WHEN g %% 20 = 0 THEN 'Unavailable' ELSE '' END,
            CASE WHEN g %% 20 = 0 THEN 503 END,
            '',
            now() - make_interval(secs => (%s - g) * 30)
        FROM generate_series(1, %s) AS g
    """  # noqa: S608 - the table name comes from the model, every value is a parameter
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                team.pk,
                [p.pk for p in people],
                len(people),
                [p.email for p in people],
                len(people),
                list(ACTIONS),
                len(ACTIONS),
                count,
                count,
            ],
        )
        cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - began


def main() -> int:
    with bench_script("activity-1m") as (report, stack):
        ensure_database()
        env = portal_env()
        setup_django(env)
        import requests
        from django.db import connection

        from accounts.models import Activity

        team, owner = make_team("Big log", "owner@biglog.test")
        people = [owner] + [add_member(team, f"m{n}@biglog.test") for n in range(1, 4)]
        seconds = fill(team, people, ENTRIES)
        total = Activity.objects.filter(team=team).count()
        report.note(f"wrote {total:,} entries for one team in {seconds:.1f} s (with ANALYZE)")
        middle_id = (
            Activity.objects.filter(team=team)
            .order_by("-id")
            .values_list("id", flat=True)[total // 2]
        )
        cookies = session_cookies(owner)
        connection.close()

        server = stack.enter_context(Gunicorn(env))
        print(f"[activity-1m] portal: {server.describe()}", flush=True)
        session = requests.Session()
        session.trust_env = False
        session.cookies.update(cookies)

        def timed(path: str, count: int) -> tuple[list[float], int]:
            times, rows = [], 0
            for _ in range(count):
                began = time.perf_counter()
                response = session.get(server.url + path, timeout=60)
                times.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: status {response.status_code}")
                rows = len(ROW.findall(response.text))
            return times, rows

        timed("/accounts/activity/", 3)  # warm-up: connections, templates, caches
        times, rows = timed("/accounts/activity/", REQUESTS)
        report.add(
            f"first activity page, {total:,} entries, over HTTP (gunicorn): median of {REQUESTS}",
            f"{ms(median(times))} (p90 {ms(percentile(times, 0.9))}, {rows} rows shown)",
            f"< {TARGET * 1000:.0f} ms",
            median(times) < TARGET and rows == 50,
        )
        for label, path in (
            ("older page from the middle of the log", f"/accounts/activity/?before={middle_id}"),
            ("filtered by action", "/accounts/activity/?action=app+renamed"),
            ("filtered by person", f"/accounts/activity/?person={people[2].pk}"),
            ("filtered by a credential label no entry has", "/accounts/activity/?credential=Gone"),
        ):
            times, rows = timed(path, EXTRA_REQUESTS)
            report.add(
                f"activity page {label}: median of {EXTRA_REQUESTS}",
                f"{ms(median(times))} ({rows} rows)",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
