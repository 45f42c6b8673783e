"""Benchmark 1: what the portal adds to an upstream call.

The apps page through the portal (gunicorn, logged in, UPSTREAM_CACHE_SECONDS=0 so every view
calls upstream) against a sandbox Pulsetracker user answering after 50 ms, versus a direct
`requests` GET of the same sandbox URL with the same token. Both are timed in one run,
alternating, sequentially; the figure is the ratio of the medians.

A third series is the floor: `/bench/proxy/` on the same gunicorn, a logged-in Django view that
does nothing but the same plain `requests` GET and passes the body through (bench/urls.py). It
shows what any Django page over this upstream costs on this machine, so the portal's own share
(authorization, decryption, the client's checks, parsing, the page) can be read apart from it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench.common import (
    Gunicorn,
    apps_portal,
    bench_script,
    median,
    ms,
    percentile,
    session_cookies,
)

LATENCY = 0.05
REQUESTS = int(os.environ.get("BENCH_OVERHEAD_REQUESTS", "80"))
WARMUP = 8
TARGET = 1.10


def main() -> int:
    with bench_script("overhead") as (report, stack):
        setup = apps_portal(stack, "Overhead", latency=LATENCY, UPSTREAM_CACHE_SECONDS="0")
        sandbox, env, token, names = setup.sandbox, setup.env, setup.token, setup.names
        owner, credential = setup.owner, setup.credential
        import requests

        cookies = session_cookies(owner)

        server = stack.enter_context(
            Gunicorn({**env, "BENCH_PROXY_TOKEN": token}, settings_module="bench.settings")
        )
        print(f"[overhead] portal: {server.describe()}", flush=True)
        portal = requests.Session()
        portal.trust_env = False
        portal.cookies.update(cookies)
        direct = requests.Session()
        direct.trust_env = False
        page_url = f"{server.url}/apps/{credential.pk}/"
        proxy_url = f"{server.url}/bench/proxy/"
        upstream_url = f"{sandbox.pulsetracker_url}/apps"
        upstream_headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

        def timer(
            http: requests.Session, url: str, what: str, headers: dict[str, str] | None = None
        ) -> Callable[[], float]:
            """A function timing one GET of `url` that must answer 200 with the first app."""

            def timed() -> float:
                began = time.perf_counter()
                response = http.get(url, headers=headers, timeout=30)
                seconds = time.perf_counter() - began
                if response.status_code != 200 or names[0] not in response.text:
                    raise RuntimeError(f"{what}: status {response.status_code}")
                return seconds

            return timed

        via_portal = timer(portal, page_url, "portal apps page")
        floor = timer(portal, proxy_url, "proxy view")
        straight = timer(direct, upstream_url, "sandbox apps list", upstream_headers)

        for _ in range(WARMUP):
            via_portal()
            floor()
            straight()
        calls_before = len(sandbox.requests_to("GET", "/pulsetracker/api/apps"))
        portal_times, floor_times, direct_times = [], [], []
        for _ in range(REQUESTS):
            portal_times.append(via_portal())
            floor_times.append(floor())
            direct_times.append(straight())
        calls = len(sandbox.requests_to("GET", "/pulsetracker/api/apps")) - calls_before

        portal_median, direct_median = median(portal_times), median(direct_times)
        floor_median = median(floor_times)
        ratio = portal_median / direct_median
        report.add(
            f"portal apps page, cache off, upstream {LATENCY * 1000:.0f} ms: median of {REQUESTS}",
            f"{ms(portal_median)} (p90 {ms(percentile(portal_times, 0.9))})",
        )
        report.add(
            f"floor: logged-in Django view passing the same GET through: median of {REQUESTS}",
            f"{ms(floor_median)} (p90 {ms(percentile(floor_times, 0.9))})",
        )
        report.add(
            f"direct requests GET of the same sandbox URL: median of {REQUESTS}",
            f"{ms(direct_median)} (p90 {ms(percentile(direct_times, 0.9))})",
        )
        report.add(
            "overhead ratio (portal median / direct median)",
            f"{ratio:.3f} (portal adds {ms(portal_median - direct_median)})",
            f"<= {TARGET:.2f}",
            ratio <= TARGET,
        )
        report.add(
            "floor ratio (floor median / direct median)",
            f"{floor_median / direct_median:.3f} "
            f"(any Django view adds {ms(floor_median - direct_median)})",
        )
        report.add(
            "the portal's own share (portal median - floor median)",
            ms(portal_median - floor_median),
        )
        report.note(
            f"upstream list calls during the {3 * REQUESTS} timed requests: {calls} "
            f"({REQUESTS} each from the portal, the floor view and the direct client expected)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
