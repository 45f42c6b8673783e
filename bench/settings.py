"""The portal's settings plus one bare view (`/bench/bare/`), for the throughput benchmark.

Used only by `make bench` (DJANGO_SETTINGS_MODULE=bench.settings); the portal never loads it.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
