"""Who may use each endpoint of the API (/api/v1/): every endpoint, every scope, every role,
someone from another team, and no token at all.

The cases are generated from the API itself, so no endpoint can be forgotten: the endpoints are
the path operations of `integrations.api.api` (its routers), checked against the URLconf's "api"
namespace and the OpenAPI schema. Which scope an endpoint asks for is not listed here either: it
is found by asking the endpoint, with the owner's tokens that hold every scope but one (the one
whose absence answers 403 "missing-scope" naming it). An endpoint that no single scope gates fails
`test_each_endpoint_asks_for_exactly_one_scope`; what a role may then do follows from
`accounts.api_tokens.SCOPES` (scope → action) and `accounts.access.MINIMUM_ROLE` (action → role).

Path parameters are filled with real things of team Acme (its credentials, an app of its
Pulsetracker account, a widget of its Pulsoid account) and bodies are valid, so an allowed call
really succeeds against the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import api_tokens
from accounts.access import MINIMUM_ROLE
from accounts.models import Role
from integrations.api import api

ALL_SCOPES = list(api_tokens.SCOPES)
ROLES = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]
PEOPLE = {Role.VIEWER: "carol", Role.MEMBER: "bob", Role.ADMIN: "ada", Role.OWNER: "alice"}
PROBLEM = "application/problem+json"

# ----------------------------------------------------------------------------- real things

# Which of Acme's credentials a `{cid}` names, by the endpoint's first path segment.
CREDENTIAL_FOR = {"apps": "pulsetracker_credential", "widgets": "pulsoid_credential"}


def app_key(request: pytest.FixtureRequest) -> str:
    """An app of the Pulsetracker account behind Acme's credential."""
    sandbox = request.getfixturevalue("sandbox_settings")
    return sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"]


def widget_id(request: pytest.FixtureRequest) -> str:
    """A widget of the Pulsoid account behind Acme's credential."""
    return request.getfixturevalue("sandbox_settings").seed.pulsoid_widget_ids[0]


# What each other path parameter names.
PARAMETERS = {"key": app_key, "wid": widget_id}

# A valid body for each request schema (by its name in the OpenAPI components).
BODIES: dict[str, dict[str, Any]] = {
    "NameIn": {"name": "Made by the matrix"},
    "WidgetIn": {"name": "Matrix", "configuration": {"heart": True}},
    "ConfigurationIn": {"configuration": {"heart": False}},
}

# Routes of the "api" namespace that are not endpoints: the schema and its docs page are public
# (the schema says nothing secret), and the API's root answers 404 (django-ninja's own).
PUBLIC_ROUTES = {"openapi-json": 200, "openapi-view": 200, "api-root": 404}

# ----------------------------------------------------------------------------- the endpoints

ROOT = reverse("api:api-root").rstrip("/")  # "/api/v1"
SCHEMA = api.get_openapi_schema()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as the API declares it, below ROOT: "/apps/{cid}"
    success: int  # the 2xx status it documents
    body: str | None  # the name of its request body's schema

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def route(self) -> str:
        """The path as the URLconf spells it: "apps/<cid>"."""
        return re.sub(r"{(\w+)}", r"<\1>", self.path).lstrip("/")


def request_body(path: str, method: str) -> str | None:
    operation = SCHEMA["paths"].get(ROOT + path, {}).get(method.lower(), {})
    body = operation.get("requestBody")
    if body is None:
        return None
    return body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def endpoints() -> list[Endpoint]:
    """Every path operation of the API, from its routers (django-ninja lists them nowhere
    public; the walk is checked against the URLconf and the OpenAPI schema below)."""
    found = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            full = "/" + "/".join(part.strip("/") for part in (prefix, path) if part.strip("/"))
            for operation in path_view.operations:
                codes = [s for s in operation.response_models if isinstance(s, int)]
                success = min((s for s in codes if 200 <= s < 300), default=200)
                for method in operation.methods:
                    found.append(Endpoint(method, full, success, request_body(full, method)))
    return found


def api_routes(
    resolver: URLResolver | None = None, namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """The URL name and route of every pattern in the URLconf's "api" namespace."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from api_routes(entry, inner)
        elif isinstance(entry, URLPattern) and namespaces[:1] == ("api",):
            yield str(entry.name), str(entry.pattern)


ENDPOINTS = endpoints()


def each_endpoint() -> Any:
    return pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)


# ----------------------------------------------------------------------------- requests


def token_for(person: Any, team: Any, scopes: list[str] = ALL_SCOPES) -> str:
    return api_tokens.create(person, team, "Matrix", scopes, days=1)[1]


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def url_of(request: pytest.FixtureRequest, endpoint: Endpoint) -> str:
    values = {param: value_for(request, endpoint, param) for param in endpoint.params}
    return ROOT + endpoint.path.format(**values)


def value_for(request: pytest.FixtureRequest, endpoint: Endpoint, param: str) -> Any:
    if param == "cid":
        segment = endpoint.path.strip("/").split("/")[0]
        assert segment in CREDENTIAL_FOR, (
            f"{endpoint.id} takes {{cid}}: say in CREDENTIAL_FOR which credential of Acme's"
        )
        return request.getfixturevalue(CREDENTIAL_FOR[segment]).pk
    assert param in PARAMETERS, f"{endpoint.id} takes {{{param}}}: say in PARAMETERS what it is"
    return PARAMETERS[param](request)


def send(client: Client, request: pytest.FixtureRequest, endpoint: Endpoint) -> HttpResponse:
    """The endpoint called with real things of Acme's and, if it takes one, a valid body."""
    url = url_of(request, endpoint)
    call = getattr(client, endpoint.method.lower())
    if endpoint.body is None:
        return call(url)
    assert endpoint.body in BODIES, f"{endpoint.id} takes a {endpoint.body}: add one to BODIES"
    return call(url, BODIES[endpoint.body], content_type="application/json")


def missing_scope(response: HttpResponse) -> str | None:
    """The scope a 403 problem says the token lacks (None for any other answer)."""
    if response.status_code != 403 or response["Content-Type"] != PROBLEM:
        return None
    problem = response.json()
    return problem["scope"] if problem.get("kind") == "missing-scope" else None


def without_each_scope(
    request: pytest.FixtureRequest, endpoint: Endpoint
) -> dict[str, HttpResponse]:
    """The endpoint's answer to the owner's token with every scope but one, for each scope."""
    alice, acme = request.getfixturevalue("alice"), request.getfixturevalue("acme")
    return {
        scope: send(
            bearer(token_for(alice, acme, [s for s in ALL_SCOPES if s != scope])), request, endpoint
        )
        for scope in ALL_SCOPES
    }


# The scope each endpoint asks for, once found (it does not change between tests).
_FOUND: dict[str, str] = {}


def scope_of(request: pytest.FixtureRequest, endpoint: Endpoint) -> str:
    """The one scope whose absence the endpoint refuses (asked of it, see the docstring above)."""
    if endpoint.id not in _FOUND:
        gates = [s for s, r in without_each_scope(request, endpoint).items() if missing_scope(r)]
        assert len(gates) == 1, f"{endpoint.id} is gated by {gates or 'no scope'}"
        _FOUND[endpoint.id] = gates[0]
    return _FOUND[endpoint.id]


def acme_in(response: HttpResponse, request: pytest.FixtureRequest) -> list[str]:
    """What of Acme's a response shows: its name, people, credentials."""
    text = response.content.decode()
    shown = [word for word in ("Acme", "acme.test") if word in text]
    for name in CREDENTIAL_FOR.values():
        credential = request.getfixturevalue(name)
        shown += [credential.label] if credential.label in text else []
    return shown


# ----------------------------------------------------------------------------- the inventory


def test_the_walk_finds_every_kind_of_endpoint():
    # A check of the walk itself (the matrix below trusts it).
    found = {e.id: e for e in ENDPOINTS}
    assert {"GET /credentials", "GET /apps/{cid}", "PATCH /apps/{cid}/{key}"} <= set(found)
    assert found["POST /apps/{cid}"].success == 201
    assert found["POST /apps/{cid}"].body == "NameIn"
    assert found["PUT /widgets/{cid}/{wid}"].body == "ConfigurationIn"
    assert found["GET /activity.csv"].body is None
    assert len(ENDPOINTS) >= 12


def test_every_api_route_of_the_urlconf_is_an_endpoint_here_or_public():
    routes = {e.route for e in ENDPOINTS}
    unknown = [
        f"{name} ({route})"
        for name, route in api_routes()
        if name not in PUBLIC_ROUTES and route not in routes
    ]
    names = {name for name, _ in api_routes()}
    assert not unknown, f"API routes the matrix does not reach: {unknown}"
    assert set(PUBLIC_ROUTES) <= names, "PUBLIC_ROUTES names routes that are gone"
    assert len(names) >= len(ENDPOINTS)


def test_every_endpoint_is_in_the_openapi_schema():
    # So the schema tests (tests/test_api_schema.py) reach every endpoint too.
    documented = {(m.upper(), p) for p, ops in SCHEMA["paths"].items() for m in ops}
    hidden = [e.id for e in ENDPOINTS if (e.method, ROOT + e.path) not in documented]
    assert not hidden, f"Endpoints left out of the OpenAPI schema: {hidden}"


def test_every_path_parameter_and_body_has_a_real_value_here():
    params = {p for e in ENDPOINTS for p in e.params} - {"cid"}
    segments = {e.path.strip("/").split("/")[0] for e in ENDPOINTS if "cid" in e.params}
    bodies = {e.body for e in ENDPOINTS if e.body}
    assert params <= set(PARAMETERS), (
        f"Say in PARAMETERS what these are: {params - set(PARAMETERS)}"
    )
    assert segments <= set(CREDENTIAL_FOR), (
        f"Say in CREDENTIAL_FOR: {segments - set(CREDENTIAL_FOR)}"
    )
    assert bodies <= set(BODIES), f"Add a valid body to BODIES for: {bodies - set(BODIES)}"


@pytest.mark.parametrize(("name", "status"), PUBLIC_ROUTES.items())
def test_the_schema_and_its_docs_are_public(db, client, name, status):
    assert client.get(reverse(f"api:{name}")).status_code == status


# ----------------------------------------------------------------------------- scopes


@each_endpoint()
def test_each_endpoint_asks_for_exactly_one_scope(request, endpoint):
    # The owner's token may use every scope, so only the scope left out can be missing.
    answers = without_each_scope(request, endpoint)
    gates = {scope: r for scope, r in answers.items() if missing_scope(r) is not None}
    assert len(gates) == 1, (
        f"{endpoint.id} asks for {sorted(gates) or 'no scope'}: every endpoint calls "
        "need(request, <scope>) for exactly one scope of accounts.api_tokens.SCOPES"
    )
    [(scope, refused)] = gates.items()
    assert missing_scope(refused) == scope
    assert refused.json()["type"] == "/api/v1/problems/missing-scope"
    assert scope in refused.json()["title"]
    for other, answer in answers.items():
        if other != scope:  # lacking a scope it does not ask for changes nothing
            assert answer.status_code == endpoint.success, (other, answer.content[:300])


def test_every_scope_gates_some_endpoint(request):
    # A scope no endpoint asks for would be a promise that nothing keeps.
    used = {scope_of(request, endpoint) for endpoint in ENDPOINTS}
    assert used == set(ALL_SCOPES), f"Scopes no endpoint asks for: {set(ALL_SCOPES) - used}"


# ----------------------------------------------------------------------------- roles


@each_endpoint()
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_it_may(request, acme, endpoint, role):
    # A token with every scope does what its owner's role allows now, and nothing more.
    scope = scope_of(request, endpoint)
    person = request.getfixturevalue(PEOPLE[role])
    response = send(bearer(token_for(person, acme)), request, endpoint)
    if role.rank >= MINIMUM_ROLE[api_tokens.SCOPES[scope]].rank:
        assert response.status_code == endpoint.success, (scope, response.content[:300])
    else:
        assert response.status_code == 403, (scope, response.status_code)
        assert missing_scope(response) == scope


# ----------------------------------------------------------------------------- other teams


@each_endpoint()
def test_another_teams_token_gets_404_for_acmes_credentials_and_sees_nothing_of_acme(
    request, mallory, other_team, endpoint
):
    for fixture in ("ada", "bob", "carol", *CREDENTIAL_FOR.values()):
        request.getfixturevalue(fixture)  # Acme in full
    sandbox = request.getfixturevalue("sandbox_settings")
    calls_before = len(sandbox.requests)
    response = send(bearer(token_for(mallory, other_team)), request, endpoint)
    if "cid" in endpoint.params:
        assert response.status_code == 404, response.status_code
        assert response["Content-Type"] == PROBLEM
        assert response.json()["kind"] == "not-found"
        assert len(sandbox.requests) == calls_before, "Acme's credential was used for mallory"
    else:  # mallory's own team's things: nothing of Acme's among them
        assert response.status_code == endpoint.success
        assert not acme_in(response, request), acme_in(response, request)


# ----------------------------------------------------------------------------- no token


@each_endpoint()
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ptp_not-a-token", "Bearer ", "Basic YWxpY2U6cGFzc3dvcmQ="],
    ids=["none", "malformed", "empty", "basic"],
)
def test_no_valid_token_gets_401(request, endpoint, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = send(Client(**headers), request, endpoint)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["kind"] == "unauthenticated"
