"""Who may use each route: every route in the URLconf, for every role, someone from another
team, a visitor who is not signed in, an operator, and a forged POST.

The cases are generated from the URLconf, so no route can be forgotten. A team view says who
may use it through `team_view(Action...)`, which leaves the action on the view as `team_action`
(the method, login and cache decorators around it keep it: they all use `functools.wraps`).
Every other route must be named in `NOT_TEAM_ROUTES`, or sit in the admin site, which is for
operators; a new route without a rule fails `test_every_route_says_who_may_use_it`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, StreamingHttpResponse
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.generic.base import RedirectView

from accounts.access import MINIMUM_ROLE, Action
from accounts.models import Role

# ----------------------------------------------------------------------------- the rules

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # anyone signed in, whatever their team and role
OPERATORS = "operators"  # the portal's operators: Django staff
# django-allauth's own account pages (log-out, password, email, second factors, sessions, single
# sign-on): allauth decides who may use each (a visitor, or only the person signed in), and one
# rule checks them all: never a server error, a visitor is at most sent to log in, no forged POST.
ALLAUTH = "allauth"
# The API (/api/v1/): bearer tokens and scopes, not sessions and roles; its own matrix, generated
# from its routes, is in tests/test_api_matrix.py.
API = "api"
# Posted to by an upstream, not a person: no session, no CSRF token; only a valid signature gets
# anything done (tests/test_geofence_webhooks.py). Anything unsigned is refused.
SIGNED_WEBHOOK = "signed webhook"

# Every route that is not a team view, and who may use it.
NOT_TEAM_ROUTES: dict[str, str] = {
    "home": PUBLIC,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    # For the operator's scraper: it answers only their networks or bearer token, anyone else a
    # 404 (tests/test_operations.py); the test client comes from loopback, which is allowed.
    "metrics": PUBLIC,
    "accounts:signup": PUBLIC,
    "accounts:login": PUBLIC,
    "accounts:invitation": PUBLIC,
    "accounts:team-create": SIGNED_IN,
    "accounts:team-switch": SIGNED_IN,
    # One's own sessions only: another person's session id answers 404 (test_team_policy.py).
    "accounts:session-end": SIGNED_IN,
    # One's own API tokens; an owner also revokes any of the active team's (test_api_tokens.py).
    "accounts:tokens": SIGNED_IN,
    "accounts:token-create": SIGNED_IN,
    "accounts:token-revoke": SIGNED_IN,
    "geofence-webhook": SIGNED_WEBHOOK,
    "geofence-webhook-slot": SIGNED_WEBHOOK,
}

# Every other route of the Django admin site has one rule: operators only.
ADMIN_NAMESPACE = "admin"

# A view whose decorator lets weaker roles in (to look) and which refuses them the change
# itself: the widget page shows viewers the configuration, but saving it takes a member.
STRICTER_FOR: dict[tuple[str, str], Action] = {
    ("widget-edit", "POST"): Action.CHANGE_UPSTREAM,
}

ROLES = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]
PEOPLE = {Role.VIEWER: "carol", Role.MEMBER: "bob", Role.ADMIN: "ada", Role.OWNER: "alice"}

# What an id in a route names, where the parameter's name does not say (by default a credential:
# a Pulsoid one for the Pulsoid pages, a Pulsetracker one otherwise).
ID_NAMES: dict[str, str] = {
    "accounts:member-role": "membership",
    "accounts:member-remove": "membership",
    "accounts:invitation-revoke": "invitation",
    "accounts:session-end": "session",
    "accounts:token-revoke": "token",
    "alert-channel-test": "channel",
    "alert-channel-remove": "channel",
}
OBJECT_IDS = ("pk", "cid")

# What a route is sent in a POST when empty data would not reach the code that checks access.
POST_DATA: dict[str, Callable[[pytest.FixtureRequest], dict[str, Any]]] = {
    "accounts:team-switch": lambda request: {"team": request.getfixturevalue("acme").pk},
}

# What the admin's URL parameters are filled with: the gate is what is tested, not the objects.
ADMIN_KWARGS = {"app_label": "accounts", "object_id": "1", "content_type_id": "1", "id": "1"}
ALLAUTH_KWARGS = {"pk": "999999", "uidb36": "zz", "provider_id": "nothing-here"}

BROWSER_METHODS = ("GET", "POST")


# ----------------------------------------------------------------------------- the URLconf


@dataclass(frozen=True)
class Route:
    name: str  # with its namespace, as `reverse` takes it: "accounts:members"
    pattern: str
    view: Callable[..., HttpResponse]
    params: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.name.rpartition(":")[0]

    @property
    def action(self) -> Action | None:
        return getattr(self.view, "team_action", None)

    @property
    def in_admin(self) -> bool:
        return self.namespace.split(":")[0] == ADMIN_NAMESPACE

    @property
    def in_allauth(self) -> bool:
        return self.view.__module__.startswith("allauth.")

    @property
    def rule(self) -> Action | str | None:
        """Who may use the route: a team action, a rule of `NOT_TEAM_ROUTES`, operators, or
        allauth's own."""
        if self.action is not None:
            return self.action
        if self.name in NOT_TEAM_ROUTES:
            return NOT_TEAM_ROUTES[self.name]
        if self.in_allauth:
            return ALLAUTH
        if self.namespace == API:
            return API
        return OPERATORS if self.in_admin else None

    @property
    def carries_team_object(self) -> bool:
        return any(param in OBJECT_IDS for param in self.params)


def walk(
    resolver: URLResolver, namespaces: tuple[str, ...] = (), prefix: str = ""
) -> Iterator[tuple[tuple[str, ...], URLPattern, str, tuple[str, ...]]]:
    """Every URL pattern with its namespaces, its whole path pattern and all its parameters."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            for found in walk(entry, inner, prefix + str(entry.pattern)):
                namespaces_, pattern, path, params = found
                yield namespaces_, pattern, path, (*entry.pattern.regex.groupindex, *params)
        elif isinstance(entry, URLPattern):
            params = tuple(entry.pattern.regex.groupindex)
            yield namespaces, entry, prefix + str(entry.pattern), params


def all_routes() -> tuple[list[Route], list[str]]:
    """The named routes, and the patterns of unnamed ones outside the admin site."""
    routes, unnamed = [], []
    for namespaces, entry, pattern, params in walk(get_resolver()):
        if entry.name is None:
            # The admin's and allauth's (its old "social/" paths, kept beside the named ones)
            # are theirs to name.
            view_class = getattr(entry.callback, "view_class", None)
            theirs = view_class is RedirectView and pattern.startswith("accounts/social/")
            if namespaces[:1] != (ADMIN_NAMESPACE,) and not theirs:
                unnamed.append(pattern)
            continue
        name = ":".join((*namespaces, entry.name))
        routes.append(Route(name, pattern, entry.callback, params))
    return routes, unnamed


def declared_methods(route: Route) -> tuple[str, ...]:
    """The browser methods a route takes, as its view itself says.

    A class-based view lists its handlers. A function view has `require_http_methods` (or
    `require_GET`, `require_POST`) outermost, which answers any other method, OPTIONS included,
    with 405 and an `Allow` header before login, role or body run; the admin's login page
    answers OPTIONS with `Allow` itself. The view is called directly, at collection time, when
    neither the database nor the test settings are there yet: nothing past that answer can run.
    """
    view_class = getattr(route.view, "view_class", None)
    if view_class is not None:
        allowed = {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)}
    else:
        kwargs = {param: ADMIN_KWARGS.get(param, "1") for param in route.params}
        options = RequestFactory().options(reverse(route.name, kwargs=kwargs))
        options.user = AnonymousUser()
        try:
            with quiet("django.request"):
                response = route.view(options, **kwargs)
        except Exception:  # a view without a method decorator ran on: it declares nothing
            return ()
        allowed = {m.strip() for m in response.get("Allow", "").split(",")}
    return tuple(m for m in BROWSER_METHODS if m in allowed)


@contextmanager
def quiet(logger: str) -> Iterator[None]:
    """Without the "Method Not Allowed" warnings that asking with OPTIONS logs."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


ROUTES, UNNAMED = all_routes()
TEAM = [r for r in ROUTES if r.action is not None]
BY_RULE = {
    rule: [r for r in ROUTES if r.rule == rule]
    for rule in (PUBLIC, SIGNED_IN, OPERATORS, ALLAUTH, API, SIGNED_WEBHOOK)
}
ADMIN = BY_RULE[OPERATORS]
ACCOUNT_PAGES = BY_RULE[ALLAUTH]
# The admin's and allauth's views are theirs: one rule each covers them, not their methods.
METHODS = {r.name: declared_methods(r) for r in ROUTES if r.rule not in (OPERATORS, ALLAUTH, API)}


def cases(routes: list[Route], only: str | None = None) -> list[Any]:
    """One case per route and method it takes (`only`: just that method)."""
    return [
        pytest.param(route, method, id=f"{route.name} {method}")
        for route in routes
        for method in METHODS[route.name]
        if only in (None, method)
    ]


# ----------------------------------------------------------------------------- requests


def weakest_role(route: Route, method: str) -> Role:
    action = STRICTER_FOR.get((route.name, method), route.action)
    assert action is not None
    return MINIMUM_ROLE[action]


def path_of(request: pytest.FixtureRequest, route: Route) -> str:
    """The route's URL, filled with real things of team Acme."""
    return reverse(route.name, kwargs={p: value_for(request, route, p) for p in route.params})


def value_for(request: pytest.FixtureRequest, route: Route, param: str) -> Any:
    if route.in_admin:
        return ADMIN_KWARGS[param]
    if route.in_allauth:  # keys, ids and provider names that match nothing
        return ALLAUTH_KWARGS.get(param, "nothing-here")
    if param in OBJECT_IDS:
        return acme_object(request, route).pk
    if param == "key":  # an app of the Pulsetracker account behind Acme's credential
        sandbox = request.getfixturevalue("sandbox_settings")
        return sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"]
    if param == "device":  # a device of that app
        sandbox = request.getfixturevalue("sandbox_settings")
        token = sandbox.seed.pulsetracker_paid_token
        app = sandbox.pulsetracker.apps(token)[0]["key"]
        return next(d["key"] for d in sandbox.pulsetracker.devices(token) if d["app_key"] == app)
    if param == "wid":  # a widget of the Pulsoid account behind Acme's credential
        return request.getfixturevalue("sandbox_settings").seed.pulsoid_widget_ids[0]
    if param == "secret":
        return request.getfixturevalue("acme_invitation")[1]
    if param == "hook":  # the receiving end of geofence events of an app of Acme's
        return acme_geofence_app(request).hook
    if param == "slot":  # one geofence's own receiving address: its id
        return "7"
    if param == "gid":  # a geofence of that app, whose numeric id the portal knows
        app = acme_geofence_app(request)
        sandbox = request.getfixturevalue("sandbox_settings")
        ring = [(3.05, 36.75), (3.06, 36.75), (3.06, 36.76)]
        token = sandbox.seed.pulsetracker_paid_token
        return sandbox.pulsetracker.add_geofence(token, app.app_key, "Depot", ring)["id"]
    raise AssertionError(f"{route.name} takes <{param}>: say in test_access.py what to put there")


def acme_object(request: pytest.FixtureRequest, route: Route) -> Any:
    """The thing of team Acme whose id the route takes."""
    kind = ID_NAMES.get(route.name, "credential")
    if kind == "membership":
        from accounts.models import Membership

        return Membership.objects.get(user=request.getfixturevalue("carol"))
    if kind == "invitation":
        return request.getfixturevalue("acme_invitation")[0]
    if kind == "channel":  # an alert channel of Acme's (email: sending a test stays local)
        from integrations.models import Channel

        channel = Channel.objects.create(
            team=request.getfixturevalue("acme"), kind=Channel.Kind.EMAIL, name="On call"
        )
        channel.recipients.add(request.getfixturevalue("alice"))
        return channel
    if kind == "token":  # an API token of carol's, the person the signed-in pages are tried as
        from accounts import api_tokens

        carol = request.getfixturevalue("carol")
        return api_tokens.create(carol, request.getfixturevalue("acme"), "t", [], days=1)[0]
    if kind == "session":  # a session of carol's, the person the signed-in pages are tried as
        from allauth.usersessions.models import UserSession

        carol = request.getfixturevalue("carol")
        return UserSession.objects.create(
            user=carol, ip="192.0.2.1", session_key="s" * 32, user_agent="Test/1.0"
        )
    pulsoid = route.view.__module__.startswith("integrations.pulsoid")
    return request.getfixturevalue("pulsoid_credential" if pulsoid else "pulsetracker_credential")


def acme_geofence_app(request: pytest.FixtureRequest) -> Any:
    """What the portal keeps about the geofences of Acme's first app (its numeric id known)."""
    from integrations.models import GeofenceApp

    sandbox = request.getfixturevalue("sandbox_settings")
    key = sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"]
    app, _ = GeofenceApp.objects.get_or_create(
        credential=request.getfixturevalue("pulsetracker_credential"),
        app_key=key,
        defaults={"app_id": sandbox.pulsetracker.app_id(key)},
    )
    return app


@pytest.fixture
def acme_invitation(acme, alice):
    """A pending invitation to Acme, and its secret (shown only once, in the link)."""
    from accounts import team

    return team.invite(acme, alice, "newcomer@example.test", "member", link_for=str)


def send(
    client: Client, request: pytest.FixtureRequest, route: Route, method: str, **extra: Any
) -> HttpResponse:
    path = path_of(request, route)
    if method == "GET":
        return client.get(path, **extra)
    data = POST_DATA[route.name](request) if route.name in POST_DATA else {}
    return client.post(path, data, **extra)


def body(response: HttpResponse) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


def sent_to_log_in(response: HttpResponse | tuple[str, int], login: str = "accounts:login") -> bool:
    """Turned away to the login page, which will bring the person back (`?next=`).

    Takes a response or a step of a followed redirect chain, `(location, status)`.
    """
    if isinstance(response, tuple):
        location, status = response
    else:
        location, status = response.get("Location", ""), response.status_code
    return status == 302 and location.startswith(reverse(login) + "?next=")


@pytest.fixture
def operator(db):
    """Someone who runs the portal: Django staff with every admin permission, in no team."""
    from accounts.models import User

    return User.objects.create_superuser(email="ops@portal.test", password="not-used-here-42")


# ----------------------------------------------------------------------------- the inventory


def test_every_route_says_who_may_use_it():
    unruled = [f"{r.name} ({r.pattern})" for r in ROUTES if r.rule is None]
    assert not unruled, (
        "Routes without a rule: wrap the view in team_view(Action...) or add the route to "
        f"NOT_TEAM_ROUTES in tests/test_access.py: {unruled}"
    )


def test_every_route_outside_the_admin_has_a_name_so_it_can_be_checked():
    assert not UNNAMED, f"Name these routes, so the tests can reach them: {UNNAMED}"


def test_the_rules_name_only_routes_that_exist_and_are_not_team_views():
    names = {r.name: r for r in ROUTES}
    stale = [name for name in NOT_TEAM_ROUTES if name not in names]
    twice = [name for name in NOT_TEAM_ROUTES if name in names and names[name].action]
    assert not stale, f"NOT_TEAM_ROUTES names routes that are gone: {stale}"
    assert not twice, f"These are team views; team_view already says who may: {twice}"
    assert all(route in names for route, _ in STRICTER_FOR)


def test_every_route_outside_the_admin_says_which_methods_it_takes():
    silent = [name for name, methods in METHODS.items() if not methods]
    assert not silent, (
        "Put require_GET, require_POST or require_http_methods outermost on these views, so "
        f"other methods are refused: {silent}"
    )


def test_the_walk_finds_the_team_views_of_every_app_with_their_rule():
    # A check of the walk itself (the matrix below trusts it): team views of each app are found
    # with the rule their decorator gives, and the admin site is found.
    actions = {r.name: r.action for r in TEAM}
    assert actions["accounts:members"] == Action.READ
    assert actions["accounts:member-remove"] == Action.MANAGE_MEMBERS
    assert actions["credential-link"] == Action.MANAGE_CREDENTIALS
    assert actions["app-create"] == Action.CHANGE_UPSTREAM
    assert actions["widget-edit"] == Action.READ
    assert len(ADMIN) > 20


# ----------------------------------------------------------------------------- team views


@pytest.mark.parametrize(("route", "method"), cases(TEAM))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_it_may(request, client, route, method, role):
    client.force_login(request.getfixturevalue(PEOPLE[role]))
    response = send(client, request, route, method)
    if role.rank >= weakest_role(route, method).rank:
        assert response.status_code not in (403, 404, 405), response.status_code
        assert not sent_to_log_in(response)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("route", "method"), cases(TEAM))
def test_someone_from_another_team_gets_404_for_its_things_and_sees_none_of_them(
    request, client, mallory, route, method
):
    # Acme in full: its people, an invitation and a credential of each service.
    for fixture in ("ada", "bob", "carol", "acme_invitation"):
        request.getfixturevalue(fixture)
    credentials = [
        request.getfixturevalue(name) for name in ("pulsetracker_credential", "pulsoid_credential")
    ]
    client.force_login(mallory)
    response = send(client, request, route, method)
    if route.carries_team_object:
        assert response.status_code == 404
    else:
        # A page of mallory's own team: nothing of Acme on it.
        assert response.status_code not in (403, 404, 405), response.status_code
        page = body(response).decode()
        assert "Acme" not in page
        assert "acme.test" not in page
        assert "newcomer@example.test" not in page
        for credential in credentials:
            assert credential.label not in page
            assert f"…{credential.last4}" not in page


@pytest.mark.parametrize(("route", "method"), cases(TEAM) + cases(BY_RULE[SIGNED_IN]))
def test_anonymous_visitors_are_sent_to_log_in(request, db, client, route, method):
    response = send(client, request, route, method)
    assert sent_to_log_in(response), (response.status_code, response.get("Location"))


def test_an_htmx_request_without_a_session_gets_hx_redirect_not_a_302(
    client, pulsetracker_credential
):
    response = client.post(
        reverse("credential-check", args=[pulsetracker_credential.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))


# ----------------------------------------------------------------------------- other routes


@pytest.mark.parametrize(("route", "method"), cases(BY_RULE[PUBLIC]))
def test_public_pages_open_to_visitors(request, db, client, settings, route, method):
    settings.PORTAL_OPEN_SIGNUP = True  # a closed sign-up is a 404 by design, not a gate
    response = send(client, request, route, method)
    assert response.status_code < 400, response.status_code
    assert not sent_to_log_in(response)
    assert not sent_to_log_in(response, "admin:login")


@pytest.mark.parametrize(("route", "method"), cases(BY_RULE[SIGNED_IN]))
def test_pages_for_anyone_signed_in_open_to_the_weakest_role(request, client, carol, route, method):
    client.force_login(carol)
    response = send(client, request, route, method)
    assert response.status_code < 400, response.status_code
    assert not sent_to_log_in(response)


@pytest.mark.parametrize("route", ADMIN, ids=lambda r: r.name)
def test_the_admin_sends_visitors_to_the_portals_log_in(request, db, client, route):
    # Followed: the admin sends a visitor on its logout page to its index, and from there on;
    # its own log-in form hands over to the portal's (throttled, with the second factor).
    response = send(client, request, route, "GET", follow=True)
    assert response.redirect_chain, response.status_code
    assert sent_to_log_in(response.redirect_chain[-1])


@pytest.mark.parametrize("route", ADMIN, ids=lambda r: r.name)
def test_the_admin_refuses_people_who_are_not_operators(request, client, alice, route):
    client.force_login(alice)
    response = send(client, request, route, "GET", follow=True)
    assert response.status_code == 403 or sent_to_log_in(response.redirect_chain[-1], "admin:login")


@pytest.mark.parametrize("route", ACCOUNT_PAGES, ids=lambda r: r.name)
def test_allauths_account_pages_never_fail_and_at_most_send_a_visitor_to_log_in(
    request, db, client, route
):
    response = send(client, request, route, "GET")
    assert response.status_code < 500, response.status_code
    if response.status_code in (301, 302):
        assert response["Location"].startswith("/"), response["Location"]  # stays in the portal


@pytest.mark.parametrize("route", ADMIN, ids=lambda r: r.name)
def test_operators_get_into_the_admin(request, client, operator, route):
    client.force_login(operator)
    response = send(client, request, route, "GET")
    assert not sent_to_log_in(response, "admin:login")
    assert not sent_to_log_in(response)


@pytest.mark.parametrize(("route", "method"), cases(BY_RULE[SIGNED_WEBHOOK]))
def test_signed_webhooks_refuse_whatever_is_not_signed(request, db, client, route, method):
    response = send(client, request, route, method)
    assert response.status_code in (401, 403, 405), response.status_code
    assert not sent_to_log_in(response)


# ----------------------------------------------------------------------------- CSRF


def test_only_signed_webhooks_go_without_csrf_protection():
    exempt = {
        r.name
        for r in ROUTES
        if getattr(r.view, "csrf_exempt", False) and r.rule not in (OPERATORS, ALLAUTH, API)
    }
    assert exempt == {r.name for r in BY_RULE[SIGNED_WEBHOOK]}


def csrf_cases() -> list[Any]:
    # The admin's views declare no methods and many take POST: each is sent a forged one.
    admin = [pytest.param(route, "POST", id=f"{route.name} POST") for route in ADMIN]
    account = [pytest.param(route, "POST", id=f"{route.name} POST") for route in ACCOUNT_PAGES]
    return (
        cases(TEAM, only="POST")
        + cases(BY_RULE[SIGNED_IN], only="POST")
        + cases(BY_RULE[PUBLIC], only="POST")
        + admin
        + account
    )


@pytest.mark.parametrize(("route", "method"), csrf_cases())
def test_every_form_post_is_refused_without_a_csrf_token(request, db, settings, route, method):
    settings.PORTAL_OPEN_SIGNUP = True
    strict = Client(enforce_csrf_checks=True)
    # Sent by whoever would use the route: a visitor, an owner of the team, an operator.
    if route.in_admin:
        strict.force_login(request.getfixturevalue("operator"))
    elif NOT_TEAM_ROUTES.get(route.name) != PUBLIC:
        strict.force_login(request.getfixturevalue("alice"))
    response = send(strict, request, route, method)
    assert response.status_code == 403
    assert b"CSRF" in response.content


# ----------------------------------------------------------------------------- what pages show


def test_members_and_viewers_see_the_list_without_any_control(
    client, pulsetracker_credential, bob, carol
):
    for person in (bob, carol):
        client.force_login(person)
        page = client.get(reverse("credentials")).content.decode()
        assert "Acme Live" in page
        assert f"…{pulsetracker_credential.last4}" in page
        assert "Check now" not in page
        assert "Replace token" not in page
        assert "Unlink" not in page
        assert "Link a token" not in page
