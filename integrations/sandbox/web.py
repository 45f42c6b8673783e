"""The small HTTP vocabulary the sandbox's fake APIs share: requests in, responses out, routing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the sandbox received it.

    `path` is relative to the sandbox's base URL (for example `/pulsetracker/api/apps`),
    `query` maps each parameter to its last value (as PHP does), `headers` has lower-case keys.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    @property
    def form(self) -> dict[str, str]:
        """The body decoded as `application/x-www-form-urlencoded` (last value wins)."""
        return dict(parse_qsl(self.body.decode("latin-1"), keep_blank_values=True))

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-cased, without parameters."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def base_url(self) -> str:
        """`http://<host>` as the client addressed the sandbox (absolute links use it)."""
        return f"http://{self.headers.get('host', 'localhost')}"


@dataclass
class Response:
    """What a fake API answers. `delay` postpones the answer (a user's injected latency)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_response(
    status: int,
    data: Any,
    *,
    headers: dict[str, str] | None = None,
    dumps: Callable[[Any], str] | None = None,
) -> Response:
    """A JSON response; `dumps` lets an API imitate its framework's encoder."""
    text = dumps(data) if dumps else json.dumps(data, separators=(",", ":"))
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return Response(status, text.encode("utf-8"), all_headers)


def html_response(status: int, html: str, *, headers: dict[str, str] | None = None) -> Response:
    """An HTML response."""
    all_headers = {"Content-Type": "text/html; charset=UTF-8"}
    all_headers.update(headers or {})
    return Response(status, html.encode("utf-8"), all_headers)


def redirect(location: str, *, status: int = 302) -> Response:
    """A redirect with the small HTML body frameworks send along (the location HTML-escaped,
    as Symfony's `htmlspecialchars` does)."""
    shown = escape(location, quote=True)
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="UTF-8" />'
        f'<meta http-equiv="refresh" content="0;url=\'{shown}\'" />'
        f"<title>Redirecting to {shown}</title></head>"
        f"<body>Redirecting to {shown}.</body></html>"
    )
    return html_response(status, page, headers={"Location": location})


Handler = Callable[..., Response]


@dataclass
class Route:
    """One path pattern and the handler for each method it accepts."""

    pattern: re.Pattern[str]
    methods: dict[str, Handler]


class Router:
    """Matches a path below an API's prefix to a handler, telling 404 and 405 apart."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, pattern: str, **methods: Handler) -> None:
        """Route `pattern` (a regex with named groups, anchored) to handlers keyed by method."""
        compiled = re.compile(f"^{pattern}$")
        self._routes.append(Route(compiled, {m.upper(): h for m, h in methods.items()}))

    def match(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], list[str]]:
        """(handler, path params, allowed methods); handler is None on 404 (no allowed methods)
        or 405 (allowed methods listed)."""
        for route in self._routes:
            found = route.pattern.match(path)
            if not found:
                continue
            handler = route.methods.get(method)
            if handler is None and method == "HEAD":
                handler = route.methods.get("GET")
            return handler, found.groupdict(), list(route.methods)
        return None, {}, []
