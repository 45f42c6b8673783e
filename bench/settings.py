"""The portal's settings plus the reference views of bench/urls.py (bare view, proxy view).

Used only by `make bench` (DJANGO_SETTINGS_MODULE=bench.settings); the portal never loads it.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
