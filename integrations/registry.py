"""The services the portal talks to, one entry each (see `upstreams.Upstream`).

Adding an upstream: a package beside `pulsetracker/` and `pulsoid/` (client, views, urls, forms,
templates, and an `entry.py` with its `UPSTREAM`), a `Service` value, and one line here.
"""

from __future__ import annotations

from integrations.pulsetracker.entry import UPSTREAM as PULSETRACKER
from integrations.pulsoid.entry import UPSTREAM as PULSOID
from integrations.upstreams import Upstream

#: In the order the navigation shows them.
UPSTREAMS: dict[str, Upstream] = {entry.key: entry for entry in (PULSETRACKER, PULSOID)}


def upstream(service: str) -> Upstream:
    """The registry entry of a `Service` value."""
    return UPSTREAMS[service]
