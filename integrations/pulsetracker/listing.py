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
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.cache import cache as django_cache

from integrations import cache, fanout
from integrations.pulsetracker.client import App, Page, PulsetrackerClient
from integrations.tokens import using

if TYPE_CHECKING:
    from accounts.models import User
    from integrations.models import Credential

T = TypeVar("T")

#: The cache entry holding a credential's whole list of apps.
CACHE_NAME = "apps:all"

#: At most this many upstream pages (12 apps each) are read for one list: 1,200 apps. An account
#: with more sees its newest 1,200, and the page says so.
MAX_PAGES = 100


#: Each listed app keeps the newest this many entries of its `quota` (months with traffic), which
#: hold every month of the last twelve: all the list shows. An app with years of history would
#: otherwise make the cached list of a large account several times larger and slower to read.
QUOTA_MONTHS = 12


@dataclass(frozen=True)
class AppList:
    """An account's apps, newest first, and how many Pulsetracker counts in all. Each app's
    `quota` is cut to its newest QUOTA_MONTHS entries (the app page reads the whole app)."""

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


def read_all_apps(
    credential: Credential, user: User, *, fresh: bool = False
) -> cache.Read[AppList]:
    """`all_apps` for a screen (stale-while-revalidate, `cache.read`): what was last fetched at
    once, marked stale when old; `fresh=True` fetches the list again."""
    return cache.read(credential.pk, CACHE_NAME, lambda: _load(credential, user), fresh=fresh)


def remember_created(credential: Credential, app: App) -> None:
    """After a create: forget what was cached for the credential, but keep its list of apps,
    with the new app on top, when that list is fresh. The next view then shows the new app
    without reading every page again; a list already stale is read afresh instead."""
    known = cache.peek(credential.pk, CACHE_NAME)
    cache.invalidate(credential.pk)
    if known is not None and not known.stale and isinstance(known.value, AppList):
        cache.store(credential.pk, CACHE_NAME, known.value.with_created(app))


def remember_renamed(credential: Credential, key: str, name: str) -> None:
    """After a rename: as `remember_created`, with the app's new name in the kept list."""
    known = cache.peek(credential.pk, CACHE_NAME)
    cache.invalidate(credential.pk)
    if known is not None and not known.stale and isinstance(known.value, AppList):
        cache.store(credential.pk, CACHE_NAME, known.value.with_name(key, name))


def _pages_key(credential: Credential, name: str) -> str:
    """Where a list's page count is kept: per stored token, so a replaced token (another
    account, perhaps) starts from one page again."""
    stored = hashlib.sha256(credential.ciphertext.encode()).hexdigest()[:16]
    return f"upstream:{credential.pk}:{name}:pages:{stored}"


def every_page(
    credential: Credential, name: str, read: Callable[[int], Page[T]], max_pages: int
) -> list[Page[T]]:
    """Pages 1..N (at most `max_pages`) of one of the credential's upstream lists, `read(n)`
    making the call with a token already open (`tokens.using`).

    How many pages the list had last time is kept (a day, beside the credential's versioned
    entries, which every create forgets): with it every page is asked for at once, one round
    trip instead of two (page 1, then the rest). A list that grew since is finished with a
    second round; pages past its end come back empty and are dropped."""
    key = _pages_key(credential, name)
    known = min(int(django_cache.get(key) or 1), max_pages)
    pages = fanout.gather([partial(read, number) for number in range(1, known + 1)])
    last = min(pages[0].last_page, max_pages)
    pages += fanout.gather([partial(read, number) for number in range(known + 1, last + 1)])
    django_cache.set(key, max(1, pages[0].last_page), timeout=24 * 3600)
    return pages[: max(1, last)]


def _load(credential: Credential, user: User) -> AppList:
    with using(credential, user) as token:

        def page(number: int) -> Page[App]:
            return PulsetrackerClient(token).list_apps(page=number)

        read = every_page(credential, "apps", page, MAX_PAGES)
    first = read[0]
    rest = [found.items for found in read[1:]]
    apps: dict[str, App] = {}
    # An app created while the pages were read pushes the others one place down, so one may
    # show up on two pages: keep its first (newest) sighting.
    for items in (first.items, *rest):
        for app in items:
            if app.key not in apps:
                apps[app.key] = dataclasses.replace(app, quota=app.quota[-QUOTA_MONTHS:])
    return AppList(tuple(apps.values()), max(first.total, len(apps)))


# Searching and sorting, in the portal, over the whole list


@dataclass(frozen=True)
class Order:
    """One way to sort the list: its label in the picker, the key, and the direction."""

    label: str
    key: Callable[[App], Any]
    descending: bool
    column: str  # the table's column it sorts (for aria-sort)


#: The orders the apps page offers, by the value its URL carries (`?sort=`).
ORDERS: dict[str, Order] = {
    "-created": Order("Newest first", lambda app: app.created_at, True, "created"),
    "created": Order("Oldest first", lambda app: app.created_at, False, "created"),
    "name": Order("Name, A to Z", lambda app: app.name.casefold(), False, "name"),
    "-name": Order("Name, Z to A", lambda app: app.name.casefold(), True, "name"),
    "-messages": Order(
        "Most messages this month", lambda app: app.messages_this_month, True, "messages"
    ),
    "messages": Order(
        "Fewest messages this month", lambda app: app.messages_this_month, False, "messages"
    ),
}
DEFAULT_ORDER = "-created"  # Pulsetracker's own order


def matching(apps: Iterable[App], query: str) -> list[App]:
    """The apps whose name or key contains `query`, ignoring case; all of them for ""."""
    wanted = query.strip().casefold()
    if not wanted:
        return list(apps)
    return [app for app in apps if wanted in app.name.casefold() or wanted in app.key.casefold()]


def ordered(apps: Iterable[App], sort: str) -> list[App]:
    """The apps in the order `sort` names (an unknown one is the default). Ties keep the list's
    own order, newest first."""
    order = ORDERS.get(sort, ORDERS[DEFAULT_ORDER])
    return sorted(apps, key=order.key, reverse=order.descending)
