"""Benchmark 7: screens that need several upstream calls wait about one, and a repeat view does
not wait on the upstream at all.

Every sandbox account here answers after 100 ms. "One call" is a direct `requests` GET of one
page of apps with the same token (the same shape as benchmark 1). Through the portal (gunicorn,
production settings, logged in), with UPSTREAM_CACHE_SECONDS=0 so every view calls upstream:

- (a) an app's page (the app and its devices, read at once);
- (b) a search of an account with 120 apps (10 upstream pages: page 1, then the other nine at
  once) on the apps page, `?q=`;
- (c) the dashboard of a team with 5 credentials (3 Pulsetracker accounts of 10 apps, 2 Pulsoid
  accounts: widgets and latest heart rate), every credential's card read at once.

Each figure is the ratio of medians, the requests alternating in one run; for scale, a page
that makes a single upstream call (the apps page of a 10-app account) is timed too, since any
page adds the portal's own work to the call it waits on. Then (d): with
UPSTREAM_CACHE_SECONDS=1, an app page seen once and viewed again after the window, for an account
whose upstream answers after 2 s, against the same page of an account answering after 100 ms:
both paint what was last fetched (labelled with its age; the browser would then ask for the fresh
copy), so the slow upstream should not show; and a repeat of the search (b) after the window,
for scale.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.common import (
    Gunicorn,
    bench_script,
    ensure_database,
    link_pulsetracker,
    make_team,
    median,
    ms,
    percentile,
    portal_env,
    seed_apps,
    session_cookies,
    setup_django,
    start_sandbox,
)

LATENCY = 0.1
SLOW = 2.0
REQUESTS = int(os.environ.get("BENCH_FANOUT_REQUESTS", "20"))
STALE_REQUESTS = int(os.environ.get("BENCH_FANOUT_STALE_REQUESTS", "10"))
WARMUP = 2
TARGET_FANOUT = 1.2
TARGET_STALE = 1.5
APPS_API = "/pulsetracker/api/apps"


def link_pulsoid(team: Any, actor: Any, token: str, label: str) -> Any:
    from accounts.crypto import Secret
    from integrations import credentials

    credential, result = credentials.link(team, actor, "pulsoid", label, Secret(token))
    if credential is None:
        raise RuntimeError(f"linking the sandbox Pulsoid token failed: {result}")
    return credential


def pulsetracker_account(sandbox: Any, apps: int, latency: float) -> tuple[str, list[str]]:
    token = sandbox.pulsetracker.add_user(app_limit=apps + 10, latency=latency)
    return token, seed_apps(sandbox, token, apps)


def pulsoid_account(sandbox: Any, latency: float) -> str:
    user = sandbox.pulsoid.add_user(latency=latency)
    for number in range(1, 4):
        sandbox.pulsoid.add_widget(user, f"Bench widget {number}")
    sandbox.pulsoid.add_heart_rate(user, 72)
    return sandbox.pulsoid.add_token(user)


class Timer:
    """Timed GETs of one URL, each checked for what the page must show."""

    def __init__(
        self, http: Any, url: str, check: Callable[[str], bool], what: str, **kwargs: Any
    ) -> None:
        self.http, self.url, self.check, self.what, self.kwargs = http, url, check, what, kwargs
        self.times: list[float] = []

    def __call__(self, record: bool = True) -> None:
        began = time.perf_counter()
        response = self.http.get(self.url, timeout=60, **self.kwargs)
        seconds = time.perf_counter() - began
        if response.status_code != 200 or not self.check(response.text):
            raise RuntimeError(f"{self.what}: status {response.status_code}, content unexpected")
        if record:
            self.times.append(seconds)

    def summary(self) -> str:
        return f"{ms(median(self.times))} (p90 {ms(percentile(self.times, 0.9))})"


def session(cookies: dict[str, str]) -> Any:
    import requests

    http = requests.Session()
    http.trust_env = False
    http.cookies.update(cookies)
    return http


def main() -> int:
    with bench_script("fanout") as (report, stack):
        ensure_database()
        sandbox = start_sandbox()
        stack.callback(sandbox.stop)
        cold = portal_env(UPSTREAM_CACHE_SECONDS="0", **sandbox.env())
        setup_django(cold)

        # The dashboard's team: five credentials, every account 100 ms away.
        team, owner = make_team("Fanout", "owner@fanout.test")
        small = [pulsetracker_account(sandbox, 10, LATENCY) for _ in range(3)]
        trackers = [
            link_pulsetracker(team, owner, token, f"Tracker {n}")
            for n, (token, _) in enumerate(small, 1)
        ]
        for number in range(1, 3):
            link_pulsoid(team, owner, pulsoid_account(sandbox, LATENCY), f"Streamer {number}")
        token, names = small[0]
        key = sandbox.pulsetracker.apps(token)[0]["key"]

        # The search: an account of 120 apps (10 pages of 12), in its own team.
        search_team, searcher = make_team("Search", "owner@search.test")
        big_token, _ = pulsetracker_account(sandbox, 120, LATENCY)
        big = link_pulsetracker(search_team, searcher, big_token, "Big account")
        pages = sandbox.pulsetracker.apps(big_token)
        print(f"[fanout] search account: {len(pages)} apps", flush=True)

        import requests

        direct = requests.Session()
        direct.trust_env = False
        one_call = Timer(
            direct,
            f"{sandbox.pulsetracker_url}/apps",
            lambda text: names[0] in text,
            "direct GET of one page of apps",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        with Gunicorn(cold) as server:
            print(f"[fanout] portal: {server.describe()}", flush=True)
            owner_http = session(session_cookies(owner))
            app_page = Timer(
                owner_http,
                f"{server.url}/apps/{trackers[0].pk}/{key}/",
                lambda text: names[0] in text,
                "app page",
            )
            one_call_page = Timer(
                owner_http,
                f"{server.url}/apps/{trackers[0].pk}/",
                lambda text: names[0] in text,
                "apps page of 10 apps (one upstream call)",
            )
            search = Timer(
                session(session_cookies(searcher)),
                f"{server.url}/apps/{big.pk}/?q=app+11",
                lambda text: "Bench app 115" in text and "Bench app 120" not in text,
                "search over every page",
            )
            dashboard = Timer(
                owner_http,
                f"{server.url}/",
                lambda text: (
                    text.count('data-testid="credential-card"') == 5
                    and 'data-testid="card-error"' not in text
                    and "72 BPM" in text
                ),
                "dashboard",
            )
            # For scale: the ten pages of the search account asked for directly, at once (no
            # portal): what the upstream stand-in itself takes to answer ten at a time.
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(max_workers=10)
            stack.callback(pool.shutdown)
            ten_pages = Timer(
                direct,
                f"{sandbox.pulsetracker_url}/apps",
                lambda text: True,
                "ten pages at once, direct",
            )

            def ten_at_once(record: bool = True) -> None:
                def page(number: int) -> Any:
                    return direct.get(
                        ten_pages.url,
                        params={"page": number},
                        headers={
                            "Authorization": f"Bearer {big_token}",
                            "Accept": "application/json",
                        },
                        timeout=60,
                    )

                began = time.perf_counter()
                answers = list(pool.map(page, range(1, 11)))
                if any(a.status_code != 200 for a in answers):
                    raise RuntimeError("ten pages at once: an upstream page failed")
                if record:
                    ten_pages.times.append(time.perf_counter() - began)

            timers = [one_call, one_call_page, ten_at_once, app_page, search, dashboard]
            for _ in range(WARMUP):
                for timer in timers:
                    timer(record=False)
            calls_before = len(sandbox.requests_to("GET", APPS_API))
            direct_calls = REQUESTS * 10  # the ten-pages-at-once timer's own
            for _ in range(REQUESTS):
                for timer in timers:
                    timer()
            calls = len(sandbox.requests_to("GET", APPS_API)) - calls_before - direct_calls

        base = median(one_call.times)
        report.add(
            f"one upstream call (direct GET, 100 ms upstream): median of {REQUESTS}",
            one_call.summary(),
        )
        for label, timer in (
            ("for scale: apps page of 10 apps (a single upstream call)", one_call_page),
            ("for scale: 10 upstream pages asked for directly at once (no portal)", ten_pages),
            ("(a) app page (app and devices at once)", app_page),
            ("(b) search over 10 upstream pages (apps page ?q=)", search),
            ("(c) dashboard of 5 credentials", dashboard),
        ):
            ratio = median(timer.times) / base
            report.add(f"{label}: median of {REQUESTS}", timer.summary())
            if timer in (one_call_page, ten_pages):
                report.add(f"{label} / one call", f"{ratio:.2f}")
                continue
            report.add(
                f"{label} / one call",
                f"{ratio:.2f}",
                f"<= {TARGET_FANOUT:.1f}",
                ratio <= TARGET_FANOUT,
            )
        report.note(
            f"Pulsetracker list calls during the timed requests: {calls} "
            f"({REQUESTS} direct, {REQUESTS} for the one-call pages, {REQUESTS * 10} for the "
            f"searches, {REQUESTS * 3} for the dashboards expected)"
        )

        # (d) A repeat view after the cache window: 2 s upstream against 100 ms.
        stale_team, stale_owner = make_team("Stale", "owner@stale.test")
        slow_token, slow_names = pulsetracker_account(sandbox, 10, SLOW)
        fast_token, fast_names = pulsetracker_account(sandbox, 10, LATENCY)
        slow = link_pulsetracker(stale_team, stale_owner, slow_token, "Slow")
        fast = link_pulsetracker(stale_team, stale_owner, fast_token, "Fast")
        slow_key = sandbox.pulsetracker.apps(slow_token)[0]["key"]
        fast_key = sandbox.pulsetracker.apps(fast_token)[0]["key"]
        windowed = {**cold, "UPSTREAM_CACHE_SECONDS": "1"}
        with Gunicorn(windowed) as server:
            http = session(session_cookies(stale_owner))

            def painted_stale(name: str) -> Callable[[str], bool]:
                return lambda text: name in text and 'data-testid="freshness"' in text

            slow_page = Timer(
                http,
                f"{server.url}/apps/{slow.pk}/{slow_key}/",
                painted_stale(slow_names[0]),
                "app page, 2 s upstream, after the window",
            )
            fast_page = Timer(
                http,
                f"{server.url}/apps/{fast.pk}/{fast_key}/",
                painted_stale(fast_names[0]),
                "app page, 100 ms upstream, after the window",
            )
            repeat_search = Timer(
                session(session_cookies(searcher)),
                f"{server.url}/apps/{big.pk}/?q=app+11",
                painted_stale("Bench app 115"),
                "search over every page, after the window",
            )
            first = time.perf_counter()
            http.get(slow_page.url, timeout=60)  # seen once: fetched (the slow one waits)
            first_slow = time.perf_counter() - first
            http.get(fast_page.url, timeout=60)
            repeat_search.http.get(repeat_search.url, timeout=60)
            time.sleep(1.2)  # past the window: every later view paints the stored copy
            calls_before = len(sandbox.requests_to("*", "/pulsetracker/api/"))
            for _ in range(STALE_REQUESTS):
                slow_page()
                fast_page()
                repeat_search()
            calls = len(sandbox.requests_to("*", "/pulsetracker/api/")) - calls_before
        ratio = median(slow_page.times) / median(fast_page.times)
        report.add("(d) first view of the app page, 2 s upstream (fetched)", ms(first_slow))
        report.add(
            f"(d) repeat view after the window, 2 s upstream: median of {STALE_REQUESTS}",
            slow_page.summary(),
        )
        report.add(
            f"(d) repeat view after the window, 100 ms upstream: median of {STALE_REQUESTS}",
            fast_page.summary(),
        )
        report.add(
            "(d) repeat view, 2 s upstream / 100 ms upstream",
            f"{ratio:.2f}",
            f"<= {TARGET_STALE:.1f}",
            ratio <= TARGET_STALE,
        )
        report.add(
            f"(b) repeat search over 10 pages after the window: median of {STALE_REQUESTS}",
            f"{repeat_search.summary()} → {median(repeat_search.times) / base:.2f} of one call",
        )
        report.note(
            f"Pulsetracker calls during the {3 * STALE_REQUESTS} repeat views: {calls} (0 expected:"
            " the page paints the stored copy; a browser then asks for the fresh one with htmx)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
