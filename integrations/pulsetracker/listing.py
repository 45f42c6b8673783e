"""Every app of a Pulsetracker account as one list, which the portal searches, sorts and pages.

Pulsetracker lists apps twelve to a page, newest first, and can neither search nor sort. So the
portal reads page 1, learns how many pages there are, reads the others at once
(`integrations.fanout`), and caches the whole list under one key of the credential
(`integrations.cache`). Searching, sorting and paging then happen here, over that list, without
another upstream call; a create adds its answer to the cached list (`remember_created`) instead of
reading every page again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from integrations import cache, fanout
from integrations.pulsetracker.client import App, PulsetrackerClient
from integrations.tokens import using

if TYPE_CHECKING:
    from accounts.models import User
    from integrations.models import Credential

#: The cache entry holding a credential's whole list of apps.
CACHE_NAME = "apps:all"

#: At most this many upstream pages (12 apps each) are read for one list: 1,200 apps. An account
#: with more sees its newest 1,200, and the page says so.
MAX_PAGES = 100


@dataclass(frozen=True)
class AppList:
    """An account's apps, newest first, and how many Pulsetracker counts in all."""

    apps: tuple[App, ...]
    total: int

    @property
    def complete(self) -> bool:
        """False when the account has more apps than MAX_PAGES pages hold."""
        return len(self.apps) >= self.total

    def with_created(self, app: App) -> AppList:
        """This list with a just-created app on top. The create answer has no device count
        (null upstream); a new app has no devices, so it counts 0."""
        if app.devices_count is None:
            app = dataclasses.replace(app, devices_count=0)
        others = tuple(a for a in self.apps if a.key != app.key)
        added = len(others) == len(self.apps)
        return AppList((app, *others), self.total + (1 if added else 0))

    def with_name(self, key: str, name: str) -> AppList:
        """This list with one app renamed."""
        apps = tuple(dataclasses.replace(a, name=name) if a.key == key else a for a in self.apps)
        return AppList(apps, self.total)


def all_apps(credential: Credential, user: User) -> AppList:
    """Every app the credential's account owns (up to MAX_PAGES pages), newest first.

    At most one upstream read of the whole list per UPSTREAM_CACHE_SECONDS for the credential:
    page 1, then pages 2..N at once. Raises `UpstreamError` (the first page that failed) or
    `CredentialUnusable`; a rejected token flips the credential's health (`tokens.using`)."""
    return cache.cached(credential.pk, CACHE_NAME, lambda: _load(credential, user))


def _load(credential: Credential, user: User) -> AppList:
    with using(credential, user) as token:
        first = PulsetrackerClient(token).list_apps(page=1)
        last = min(first.last_page, MAX_PAGES)

        def page(number: int) -> Callable[[], tuple[App, ...]]:
            return lambda: PulsetrackerClient(token).list_apps(page=number).items

        rest = fanout.gather([page(number) for number in range(2, last + 1)])
    apps: dict[str, App] = {}
    # An app created while the pages were read pushes the others one place down, so one may
    # show up on two pages: keep its first (newest) sighting.
    for items in (first.items, *rest):
        for app in items:
            apps.setdefault(app.key, app)
    return AppList(tuple(apps.values()), max(first.total, len(apps)))
