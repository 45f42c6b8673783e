"""Whole rendered pages kept in the cache, with the per-request values punched out as holes.

A cached apps page was mostly spent rendering templates around data that had not changed. Its
HTML is the same for the same person, team, credentials and data, except for three values that
must be new on every response: the CSP nonce, the CSRF token and form submission ids (the
double-submit guard). A page is rendered normally once; before it is stored, those values are
replaced by markers that include a random string chosen for that entry (so nothing typed into a
page can forge one), and every later view puts fresh values back in.

What a page shows must be named in its key: `layout_key()` covers the layout (the person, their
teams and roles, the path), the caller adds what its screen shows (see the apps views). A page
with pending messages is never cached or served from cache, so messages are shown and consumed
exactly as without the cache. Only successful pages are stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers

from accounts.access import active_membership, memberships_of

KEY_PREFIX = "page:"


def layout_key(request: HttpRequest) -> tuple[Any, ...]:
    """Everything base.html shows or depends on for this request."""
    user = request.user
    htmx = getattr(request, "htmx", None)
    return (
        user.pk,
        user.email,
        getattr(active_membership(request), "team_id", None),
        tuple((m.team_id, m.team.name, m.role) for m in memberships_of(request)),
        request.get_full_path(),
        bool(htmx),
        bool(htmx and htmx.history_restore_request),
        bool(htmx and htmx.target),
    )


def page_key(request: HttpRequest, screen: str, parts: Iterable[Any]) -> str:
    material = repr((screen, layout_key(request), tuple(parts))).encode()
    return KEY_PREFIX + hashlib.sha256(material).hexdigest()


def cacheable(request: HttpRequest) -> bool:
    """Pages carrying a one-time message are rendered afresh (and the message consumed)."""
    return request.method == "GET" and len(get_messages(request)) == 0  # type: ignore[arg-type]


def per_request_values(request: HttpRequest) -> dict[str, str]:
    """Context values a cacheable render must use, so the stored page can be found to hold them."""
    return {"csrf_token": get_token(request), "csp_nonce": str(request.csp_nonce)}  # type: ignore[attr-defined]


def entry(
    response: HttpResponse, values: dict[str, str], fresh: Iterable[str] = ()
) -> dict[str, Any]:
    """The stored form of a rendered page: its HTML with holes where `values` and `fresh` were."""
    marker = secrets.token_hex(12)
    body = response.content.decode(response.charset)
    holes: dict[str, str] = {}
    for name, value in values.items():
        hole = f"%%{marker}:{name}%%"
        body = body.replace(value, hole)
        holes[hole] = name
    for index, value in enumerate(fresh):
        hole = f"%%{marker}:fresh{index}%%"
        body = body.replace(value, hole)
        holes[hole] = "fresh"
    return {"body": body, "holes": holes, "content_type": response["Content-Type"]}


def respond(request: HttpRequest, stored: dict[str, Any]) -> HttpResponse:
    """A response from a stored page, with this request's nonce, CSRF token and new ids."""
    values = per_request_values(request)
    body = stored["body"]
    for hole, name in stored["holes"].items():
        body = body.replace(hole, uuid.uuid4().hex if name == "fresh" else values[name])
    response = HttpResponse(body, content_type=stored["content_type"])
    patch_vary_headers(response, ["HX-Request"])
    return response
