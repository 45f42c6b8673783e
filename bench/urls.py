"""The portal's URLs plus `/bench/bare/`: what a Django view costs behind the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    """A small fixed answer: no database, no template, no upstream."""
    return HttpResponse(b"bare ok\n", content_type="text/plain; charset=utf-8")


urlpatterns = [*portal_urlpatterns, path("bench/bare/", bare, name="bench-bare")]
