"""Benchmark 4: 50 concurrent team members each create 20 apps through the portal.

gunicorn on PostgreSQL and Redis, against the sandbox (in this process) with a Pulsetracker
user allowed 5,000 apps. Each client is its own member of one team, logged in with its own
session; it opens the apps page (CSRF cookie and token), then all clients post
`/apps/<id>/create/` as htmx does (X-CSRFToken header, HX-Request: true) at the same moment.
Three counts must agree at 1,000: apps upstream, "Created the app" answers, and "app created"
activity entries with outcome ok.
"""

from __future__ import annotations

import os
import sys
from collections import Counter

from bench.common import (
    Gunicorn,
    add_member,
    bench_script,
    ensure_database,
    link_pulsetracker,
    make_team,
    median,
    ms,
    percentile,
    portal_env,
    session_cookies,
    setup_django,
    start_sandbox,
)
from bench.loadgen import ClientSpec, create_apps

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "50"))
PER_CLIENT = int(os.environ.get("BENCH_LOAD_PER_CLIENT", "20"))
PROCESSES = 2


def main() -> int:
    with bench_script("load") as (report, stack):
        ensure_database()
        sandbox = start_sandbox()
        stack.callback(sandbox.stop)
        env = portal_env(**sandbox.env())
        setup_django(env)
        from django.db import connection

        from accounts.models import Activity

        expected = CLIENTS * PER_CLIENT
        token = sandbox.pulsetracker.add_user(app_limit=max(5000, 2 * expected))
        team, owner = make_team("Load", "owner@load.test")
        credential = link_pulsetracker(team, owner, token, label="Load")
        clients = [
            ClientSpec(n, session_cookies(add_member(team, f"member{n:02d}@load.test")))
            for n in range(CLIENTS)
        ]
        connection.close()  # the portal's workers should not wait on this process's connection

        server = stack.enter_context(Gunicorn(env))
        print(f"[load] portal: {server.describe()} (database {connection.vendor})", flush=True)
        print(
            f"[load] {CLIENTS} clients (one member each) x {PER_CLIENT} creates, "
            f"spread over {PROCESSES} load processes",
            flush=True,
        )
        outcomes, wall = create_apps(
            server.port, credential.pk, clients, per_client=PER_CLIENT, processes=PROCESSES
        )

        upstream_apps = sandbox.pulsetracker.apps(token)
        upstream_names = Counter(app["name"] for app in upstream_apps)
        created = sum(1 for o in outcomes if o.created and o.status == 200)
        errors = [o for o in outcomes if o.error]
        entries = Activity.objects.filter(team=team, action="app created")
        ok_entries = entries.filter(outcome=Activity.Outcome.OK).count()
        failed_entries = entries.exclude(outcome=Activity.Outcome.OK).count()
        latencies = [o.seconds for o in outcomes if o.status]
        duplicates = sum(n - 1 for n in upstream_names.values() if n > 1)

        report.add(
            "apps created upstream (sandbox)",
            f"{len(upstream_apps)}",
            f"= {expected}",
            len(upstream_apps) == expected,
        )
        report.add(
            'portal answers saying "Created the app"',
            f"{created}",
            f"= {expected}",
            created == expected,
        )
        report.add(
            'activity entries "app created", outcome ok',
            f"{ok_entries} (+{failed_entries} failed)",
            f"= {expected}",
            ok_entries == expected and failed_entries == 0,
        )
        report.add("errors", f"{len(errors)}", "0", not errors)
        report.add(
            "create latency under load",
            f"p50 {ms(median(latencies))}, p95 {ms(percentile(latencies, 0.95))}, "
            f"max {ms(max(latencies, default=float('nan')))} "
            f"({len(outcomes)} creates in {wall:.1f} s = {len(outcomes) / wall:.0f}/s)",
        )
        if duplicates:
            report.note(f"{duplicates} duplicate app names upstream")
        if errors:
            kinds = Counter(o.error[:120] for o in errors)
            report.note(f"error kinds: {kinds.most_common(5)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
