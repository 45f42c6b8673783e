"""A stand-in for Pulsoid's public widget viewer (`https://pulsoid.net/widget/view/<widget id>`,
the URL a streamer pastes into OBS): a self-contained HTML page showing the owner's latest heart
rate, styled from the widget's configuration, that reloads itself every two seconds.

No JavaScript, no external resources. Every configuration value is untrusted: colours and the
font must match a small allowlist (anything else is ignored) and are HTML-escaped on top.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any
from urllib.parse import unquote

from .pulsoid import PulsoidApi
from .web import RecordedRequest, Response, Router, html_response

#: Seconds between reloads (`<meta http-equiv="refresh">`).
REFRESH_SECONDS = 2
#: No scripts, no fetches, no forms; only the page's own inline styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

# `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, a colour keyword, or rgb()/rgba()/hsl()/hsla() with
# plain arguments. No quotes, semicolons, braces, angle brackets, backslashes or url().
_COLOR = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|[a-zA-Z]{1,32}"
    r"|(?:rgb|rgba|hsl|hsla)\([0-9a-zA-Z.,%/+\- ]{1,64}\)"
)
# Family names separated by commas: letters, digits, spaces, `_`, `-` and `.` only.
_FONT = re.compile(r"[A-Za-z0-9 _.,\-]{1,100}")
_GENERIC_FAMILIES = frozenset(
    ("serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui")
)
_FALLBACK_FAMILY = "sans-serif"

_STYLE = (
    "html,body{margin:0;background:transparent}"
    ".widget{display:inline-flex;align-items:baseline;padding:.1em .25em;font-size:96px;"
    "font-weight:700;line-height:1;color:#ffffff;text-shadow:0 0 4px rgba(0,0,0,.6)}"
    ".heart{font-size:.8em;margin-right:.15em}"
    ".unit{font-size:.35em;margin-left:.2em}"
)


class PulsoidWidgetViewer:
    """HTTP for `/pulsoid/widget/view/<widget id>`, reading the widgets kept by `PulsoidApi`."""

    def __init__(self, api: PulsoidApi) -> None:
        self.api = api
        self.router = Router()
        self.router.add(r"/(?P<widget_id>[^/]+)", GET=self._view)

    def handle(self, req: RecordedRequest, sub_path: str) -> Response:
        """Answer a request whose path below `/pulsoid/widget/view` is `sub_path`."""
        handler, params, allowed = self.router.match(req.method, sub_path)
        if handler is not None:
            return handler(req, **params)
        if allowed:
            page = _page("Method not allowed", "<h1>Method not allowed</h1>")
            return html_response(405, page, headers={**_HEADERS, "Allow": "GET, HEAD"})
        return _not_found()

    def _view(self, req: RecordedRequest, widget_id: str) -> Response:
        found = self.api.widget_view(unquote(widget_id))
        if found is None:
            return _not_found()
        name, configuration, bpm = found
        return html_response(200, render(name, configuration, bpm), headers=dict(_HEADERS))


def render(name: str, configuration: dict[str, Any], bpm: int | None) -> str:
    """The viewer page for a widget whose owner's latest reading is `bpm` (None: no data)."""
    parts = []
    if configuration.get("heartEnabled") is True:
        heart_style = _style_attr(color=safe_color(configuration.get("heartColor")))
        parts.append(f'<span class="heart"{heart_style} aria-hidden="true">\u2665</span>')
    if bpm is None:
        parts.append('<span class="bpm">--</span>')
    else:
        number_style = _style_attr(color=zone_color(configuration.get("ranges"), bpm))
        parts.append(f'<span class="bpm"{number_style}>{int(bpm)}</span>')
    parts.append('<span class="unit">BPM</span>')
    widget_style = _style_attr(**{"font-family": safe_font(configuration.get("font"))})
    body = f'<div class="widget"{widget_style}>{"".join(parts)}</div>'
    return _page(f"{name} - Pulsoid widget", body, refresh=True)


def safe_color(value: Any) -> str | None:
    """`value` when it is a colour from the allowlist, else None (ignored)."""
    if isinstance(value, str) and _COLOR.fullmatch(value.strip()):
        return value.strip()
    return None


def safe_font(value: Any) -> str | None:
    """A `font-family` value for a font name (or comma-separated names) from the allowlist,
    each name quoted, with a generic fallback; None when the value is not acceptable."""
    if not isinstance(value, str) or not _FONT.fullmatch(value):
        return None
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        return None
    families = [name if name.lower() in _GENERIC_FAMILIES else f'"{name}"' for name in names]
    if _FALLBACK_FAMILY not in (name.lower() for name in names):
        families.append(_FALLBACK_FAMILY)
    return ", ".join(families)


def zone_color(ranges: Any, bpm: int) -> str | None:
    """The colour of the zone holding `bpm`: zones are `from <= bpm < to`, except that the top
    edge of a zone counts when no zone starts there. Malformed zones are skipped; None when no
    zone matches or its colour is not acceptable."""
    if not isinstance(ranges, list):
        return None
    zones = [
        zone
        for zone in ranges
        if isinstance(zone, dict) and _is_number(zone.get("from")) and _is_number(zone.get("to"))
    ]
    for zone in zones:
        if zone["from"] <= bpm < zone["to"]:
            return safe_color(zone.get("color"))
    for zone in zones:
        if zone["from"] <= bpm <= zone["to"]:
            return safe_color(zone.get("color"))
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _style_attr(**declarations: str | None) -> str:
    """` style="..."` for the declarations that have a value, or nothing."""
    shown = ";".join(f"{prop}:{value}" for prop, value in declarations.items() if value)
    return f' style="{escape(shown, quote=True)}"' if shown else ""


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _not_found() -> Response:
    page = _page("Widget not found", "<h1>Widget not found</h1>")
    return html_response(404, page, headers=dict(_HEADERS))
