"""The portal's URLs plus two reference views for the benchmarks.

- `/bench/bare/`: what a Django view costs behind the same middleware (benchmark 2).
- `/bench/proxy/`: the least any Django page showing upstream data must do (benchmark 1): a
  logged-in request, one plain `requests` GET of the sandbox's apps list with the token from
  BENCH_PROXY_TOKEN (a sandbox token, never a real one), the body passed through.
"""

import os

import requests
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns

_upstream = requests.Session()
_upstream.trust_env = False


def bare(request: HttpRequest) -> HttpResponse:
    """A small fixed answer: no database, no template, no upstream."""
    return HttpResponse(b"bare ok\n", content_type="text/plain; charset=utf-8")


@login_required
def proxy(request: HttpRequest) -> HttpResponse:
    """One upstream GET, passed through: no team, no credential, no parsing, no template."""
    answer = _upstream.get(
        os.environ["PULSETRACKER_API_URL"].rstrip("/") + "/apps",
        headers={
            "Authorization": f"Bearer {os.environ['BENCH_PROXY_TOKEN']}",
            "Accept": "application/json",
        },
        timeout=(3, 10),
    )
    return HttpResponse(answer.content, status=answer.status_code, content_type="application/json")


urlpatterns = [
    *portal_urlpatterns,
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/proxy/", proxy, name="bench-proxy"),
]
