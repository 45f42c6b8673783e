"""Local, in-memory stand-ins for the Pulsetracker and Pulsoid APIs.

Used by the tests (real HTTP on a loopback port) and by `manage.py demo` and `manage.py sandbox`
(this package's management commands). It is written from the API docs alone and shares no code
with the portal's clients: two independent readings of the docs that agree are a check.

A development tool only: it is a Django app (`apps.SandboxConfig`) only when DEBUG is on, and
neither the Docker image nor the built package contains it.
"""

from .seed import PULSOID_SCOPES, SEED, Seed
from .server import Sandbox
from .web import RecordedRequest

__all__ = ["PULSOID_SCOPES", "SEED", "RecordedRequest", "Sandbox", "Seed"]
