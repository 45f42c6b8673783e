"""Maps: the vendored Leaflet is the pinned release, and the policy lets its tiles in."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

LEAFLET = Path(__file__).resolve().parent.parent / "static" / "vendor" / "leaflet-1.9.4"


def test_vendored_leaflet_is_the_pinned_release_byte_for_byte():
    sums = (LEAFLET / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 9
    for line in sums:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((LEAFLET / name).read_bytes()).hexdigest() == digest, name
    assert "Leaflet 1.9.4" in (LEAFLET / "leaflet.js").read_text()[:200]


def img_src(response) -> str:
    return re.search(r"img-src ([^;]+)", response["Content-Security-Policy"]).group(1)


@pytest.mark.django_db
def test_tile_server_is_allowed_as_an_image_source_and_follows_its_setting(client, settings):
    assert img_src(client.get("/accounts/login/")).split() == [
        "'self'",
        "data:",
        "https://tile.openstreetmap.org",
    ]
    settings.PULSETRACKER_MAP_TILES_URL = "https://{s}.tiles.example.net/osm/{z}/{x}/{y}.png"
    assert "https://*.tiles.example.net" in img_src(client.get("/accounts/login/"))
    assert "openstreetmap" not in img_src(client.get("/accounts/login/"))
