"""The request as portal views see it, and one way to answer a screen: the whole page, or just
the region htmx asked for. Shared by every app, so it imports none of them (but for types)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from accounts.models import Membership, Team, User


class PortalRequest(HttpRequest):
    """An HttpRequest as portal views see it.

    django-htmx adds `htmx`; `accounts.access.team_view` sets `membership` and `team` (the person's
    active team) before the view runs; login is required wherever `user` is read as a `User`.
    """

    htmx: HtmxDetails
    user: User  # narrower than Django's: portal views sit behind a login
    team: Team
    membership: Membership


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
