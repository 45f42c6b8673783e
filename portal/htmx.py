"""One way to answer a screen: the whole page, or just the region htmx asked for."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


class PortalRequest(HttpRequest):
    """An HttpRequest as portal views see it: django-htmx adds `htmx`."""

    htmx: HtmxDetails


def render_screen(
    request: PortalRequest,
    template: str,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """Render `template` whole, or only its `partial` for an htmx request.

    A history-restore request (the user pressed Back and htmx lost its cache) gets the whole page,
    because htmx swaps it into the body. `Vary: HX-Request` keeps caches from mixing the two.
    """
    fragment = request.htmx and not request.htmx.history_restore_request
    name = f"{template}#{partial}" if fragment else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
