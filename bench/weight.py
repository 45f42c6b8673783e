"""Benchmark 6: bytes sent for the apps page: its HTML, stylesheets and scripts.

The full apps page (logged in, 30 apps upstream, page 1 showing 12) and every stylesheet and
script it links under /static/, fetched from gunicorn. For each: the bytes the server sent
when asked with `Accept-Encoding: gzip, br` (and the encoding it chose), the identity size, and
the size gzipped at level 6 in Python (what a compressing proxy or server would send).
"""

from __future__ import annotations

import gzip
import re
import sys
from html.parser import HTMLParser

from bench.common import (
    Gunicorn,
    apps_portal,
    bench_script,
    session_cookies,
)


class Assets(HTMLParser):
    """The stylesheets and scripts a page links."""

    def __init__(self) -> None:
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.inline_js = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and "stylesheet" in (values.get("rel") or "").split():
            self.css.append(values.get("href") or "")
        elif tag == "script":
            if values.get("src"):
                self.js.append(values["src"] or "")
            else:
                self._in_script = True

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_js += len(data.encode())

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def main() -> int:
    with bench_script("weight") as (report, stack):
        setup = apps_portal(stack, "Weight")
        env, names = setup.env, setup.names
        owner, credential = setup.owner, setup.credential
        import requests

        cookies = session_cookies(owner)

        server = stack.enter_context(Gunicorn(env))
        print(f"[weight] portal: {server.describe()}", flush=True)
        session = requests.Session()
        session.trust_env = False
        session.cookies.update(cookies)

        def fetch(path: str) -> tuple[bytes, int, str]:
            """(identity body, bytes on the wire when compression is offered, encoding)."""
            plain = session.get(server.url + path, headers={"Accept-Encoding": "identity"})
            offered = session.get(
                server.url + path, headers={"Accept-Encoding": "gzip, br"}, stream=True
            )
            wire = len(offered.raw.read(decode_content=False))
            encoding = offered.headers.get("Content-Encoding", "none")
            if plain.status_code != 200 or offered.status_code != 200:
                raise RuntimeError(f"GET {path}: {plain.status_code}/{offered.status_code}")
            return plain.content, wire, encoding

        page = f"/apps/{credential.pk}/"
        html, html_wire, html_encoding = fetch(page)
        if names[0].encode() not in html:
            raise RuntimeError("the apps page does not show the apps")
        assets = Assets()
        assets.feed(html.decode())
        totals = {"raw": 0, "gzip6": 0, "wire": 0}

        def row(kind: str, path: str, body: bytes, wire: int, encoding: str) -> None:
            zipped = len(gzip.compress(body, compresslevel=6))
            totals["raw"] += len(body)
            totals["gzip6"] += zipped
            totals["wire"] += wire
            report.add(
                f"{kind} {path}",
                f"{zipped:,} B gzip-6 ({len(body):,} B uncompressed; server sent {wire:,} B, "
                f"Content-Encoding: {encoding})",
            )

        row("HTML", page, html, html_wire, html_encoding)
        for kind, paths in (("CSS", assets.css), ("JS", assets.js)):
            for path in paths:
                if not path.startswith("/static/"):
                    report.note(f"{kind} {path} is not under /static/; skipped")
                    continue
                body, wire, encoding = fetch(path)
                row(kind, re.sub(r"\?.*$", "", path), body, wire, encoding)
        report.add(
            "apps page total (HTML + CSS + JS)",
            f"{totals['gzip6']:,} B gzip-6 ({totals['raw']:,} B uncompressed; server sent "
            f"{totals['wire']:,} B when offered gzip/br)",
        )
        if assets.inline_js:
            report.note(f"the page also carries {assets.inline_js:,} B of inline script")
    return 0


if __name__ == "__main__":
    sys.exit(main())
