"""Benchmark 2: requests per second of a cached apps page versus a bare Django view.

One gunicorn (DJANGO_SETTINGS_MODULE=bench.settings: the portal's settings and URLs plus
`/bench/bare/`), REDIS_URL set, default UPSTREAM_CACHE_SECONDS. The cache is warmed with one
view, then each path is loaded for a fixed time by the same load generator with the same
headers (the logged-in session cookie), so only the path differs.
"""

from __future__ import annotations

import os
import sys

from bench.common import (
    Gunicorn,
    apps_portal,
    bench_script,
    cookie_header,
    median,
    ms,
    percentile,
    session_cookies,
)
from bench.loadgen import timed_load

DURATION = float(os.environ.get("BENCH_THROUGHPUT_SECONDS", "10"))
PROCESSES = 2
THREADS = 8
TARGET = 0.5


def main() -> int:
    with bench_script("throughput") as (report, stack):
        setup = apps_portal(stack, "Throughput")
        sandbox, env, names = setup.sandbox, setup.env, setup.names
        owner, credential = setup.owner, setup.credential
        from django.conf import settings

        headers = {"Cookie": cookie_header(session_cookies(owner))}

        server = stack.enter_context(Gunicorn(env, settings_module="bench.settings"))
        print(f"[throughput] portal: {server.describe()}", flush=True)
        print(
            f"[throughput] load: {PROCESSES} processes x {THREADS} threads, one keep-alive "
            f"connection each, {DURATION:g} s per path, cache TTL "
            f"{settings.UPSTREAM_CACHE_SECONDS} s, cache {settings.CACHES['default']['BACKEND']}",
            flush=True,
        )
        import requests

        page = f"/apps/{credential.pk}/"
        warm = requests.get(server.url + page, headers=headers, timeout=30)
        if warm.status_code != 200 or names[0] not in warm.text:
            raise RuntimeError(f"warming the apps page: status {warm.status_code}")
        bare = requests.get(server.url + "/bench/bare/", headers=headers, timeout=30)
        if bare.status_code != 200:
            raise RuntimeError(f"bare view: status {bare.status_code}")

        results = {}
        for label, path, marker in (
            ("cached apps page", page, names[0].encode()),
            ("bare Django view", "/bench/bare/", b"bare ok"),
        ):
            before = len(sandbox.requests_to("GET", "/pulsetracker/api/apps"))
            result, seconds = timed_load(
                server.port,
                path,
                headers=headers,
                marker=marker,
                duration=DURATION,
                processes=PROCESSES,
                threads=THREADS,
            )
            upstream = len(sandbox.requests_to("GET", "/pulsetracker/api/apps")) - before
            rps = result.completed / seconds
            results[label] = rps
            report.add(
                f"{label} ({path})",
                f"{rps:.0f} req/s ({result.completed} in {seconds:g} s, {result.errors} errors, "
                f"median latency {ms(median(result.latencies))}, "
                f"p95 {ms(percentile(result.latencies, 0.95))})",
            )
            if result.errors:
                report.note(f"{label} errors, e.g. {result.error_samples}")
            if label == "cached apps page":
                report.note(f"upstream list calls during the cached-page run: {upstream}")
        ratio = results["cached apps page"] / results["bare Django view"]
        report.add(
            "throughput ratio (cached apps page / bare view)",
            f"{ratio:.2f}",
            f">= {TARGET:.1f}",
            ratio >= TARGET,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
