"""The API answers as its own OpenAPI schema says.

Schemathesis reads the schema the portal serves (/api/v1/openapi.json, which is
`integrations.api.api.get_openapi_schema()`), generates requests from it (the schema's examples,
its boundaries and wrong types, and random ones), and sends them through Django's WSGI
application with the bearer token of Acme's owner, whose credentials point at the sandbox. Every
answer must be no server error, with a status code, a media type and a body the schema documents
for that operation.

The fuzzer cannot know Acme's ids, which each test makes anew: every whole-number credential id
it sends is aimed at Acme's credential of the endpoint's service, and the schema's examples of
`{key}` and `{wid}` name Acme's app and widget (stand-ins, swapped for the real ones as a case is
sent). Random keys and ids that are not numbers are sent as generated.

The schema says what the API sends: problem details as `application/problem+json`, the activity
export as `text/csv`, and the statuses an upstream's failure or a stored token that no longer
decrypts turns into; targeted tests below provoke each of those and check the answer against it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import api_tokens
from integrations.api import api
from portal.wsgi import application

# What every answer is checked for.
CONFORMS = [status_code_conformance, content_type_conformance, response_schema_conformance]
CHECKS = [not_a_server_error, *CONFORMS]

PROBLEM = "application/problem+json"

# Stand-ins the schema's examples use for Acme's things, swapped for the real ones when sent.
ACME_APP = "acme-app-key"
ACME_WIDGET = "acme-widget-id"
# Which of Acme's credentials a `{cid}` names, by the endpoint's first path segment.
CREDENTIAL_FOR = {"apps": "pulsetracker_credential", "widgets": "pulsoid_credential"}
# Valid bodies, as the schema's examples (the fuzzer also sends its own).
BODY_EXAMPLES = {
    "NameIn": {"name": "Made by the fuzzer"},
    "WidgetIn": {"name": "Fuzzed", "configuration": {"heart": True}},
    "ConfigurationIn": {"configuration": {"heart": False}},
}

SERVED: dict[str, Any] = json.loads(json.dumps(api.get_openapi_schema()))


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def as_the_api_answers(served: dict[str, Any]) -> dict[str, Any]:
    """The served schema with Acme's things as examples."""
    schema = copy.deepcopy(served)
    stand_ins = {"key": ACME_APP, "wid": ACME_WIDGET}
    for _, _, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] in stand_ins:
                parameter["example"] = stand_ins[parameter["name"]]
        if "requestBody" in operation:
            media = operation["requestBody"]["content"]["application/json"]
            media["example"] = BODY_EXAMPLES[media["schema"]["$ref"].rsplit("/", 1)[1]]
    return schema


schema = schemathesis.openapi.from_dict(as_the_api_answers(SERVED))
schema.app = application  # requests go through Django's WSGI application, in the test's process


# ----------------------------------------------------------------------------- Acme


class Acme:
    """Acme's things and its owner's token, as a fuzzed case needs them."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        sandbox = request.getfixturevalue("sandbox_settings")
        self.credentials = {
            segment: request.getfixturevalue(name).pk for segment, name in CREDENTIAL_FOR.items()
        }
        self.real = {
            ACME_APP: sandbox.pulsetracker.apps(sandbox.seed.pulsetracker_paid_token)[0]["key"],
            ACME_WIDGET: sandbox.seed.pulsoid_widget_ids[0],
        }
        owner, team = request.getfixturevalue("alice"), request.getfixturevalue("acme")
        self.token = api_tokens.create(owner, team, "Fuzzer", list(api_tokens.SCOPES), days=1)[1]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def aim(self, case: Any) -> None:
        """Aim the case's ids at Acme's things (see the module's docstring)."""
        params = case.path_parameters or {}
        for name, value in params.items():
            if name == "cid" and _whole_number(value):
                segment = case.operation.path.removeprefix("/api/v1/").split("/")[0]
                params[name] = self.credentials[segment]
            elif isinstance(value, str) and value in self.real:
                params[name] = self.real[value]


def _whole_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())


@pytest.fixture
def wsgi_requests_share_the_test_transaction() -> Iterator[None]:
    """What Django's test client does: a request does not close the database connection at its
    start and end, so the WSGI application sees (and rolls back with) the test's data."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def acme_for_the_fuzzer(request, db, settings, wsgi_requests_share_the_test_transaction) -> Acme:
    # The fuzzer sends far more than a script would: neither the token's limit nor the portal's
    # pacing of Pulsoid calls may answer in the upstream's place (429s have their own tests below).
    settings.PORTAL_API_REQUESTS_PER_MINUTE = 1_000_000
    settings.PULSOID_REQUESTS_PER_SECOND = 1_000_000
    return Acme(request)


# ----------------------------------------------------------------------------- the fuzzer


@schema.parametrize()
@hypothesis.settings(
    max_examples=20,  # random cases per operation, after the schema's examples and boundaries
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_every_answer_is_one_the_schema_documents(case, acme_for_the_fuzzer):
    # One Acme per operation: its cases share the token, the credentials and the sandbox.
    acme_for_the_fuzzer.aim(case)
    case.call_and_validate(headers=acme_for_the_fuzzer.headers, checks=CHECKS)


def test_the_fuzzed_schema_is_the_one_the_portal_serves(client):
    assert client.get("/api/v1/openapi.json").json() == SERVED


# ----------------------------------------------------------------------------- one answer


def answer(acme: Acme, method: str, path: str, **case: Any) -> tuple[Any, Any]:
    """One call of an operation of the fuzzed schema, as a case and its response."""
    made = schema[path][method].Case(**case)
    acme.aim(made)
    return made, made.call(headers=acme.headers)


@pytest.fixture
def acme_api(request, db, wsgi_requests_share_the_test_transaction) -> Acme:
    return Acme(request)


def test_a_request_body_that_is_not_json_is_a_documented_400(acme_api):
    case, response = answer(
        acme_api, "POST", "/api/v1/apps/{cid}", path_parameters={"cid": 1}, body=b"{not json"
    )
    assert response.status_code == 400
    case.validate_response(response, checks=CHECKS)


def test_too_many_requests_with_one_token_is_a_documented_429(acme_api, settings):
    settings.PORTAL_API_REQUESTS_PER_MINUTE = 1
    answer(acme_api, "GET", "/api/v1/credentials")
    case, response = answer(acme_api, "GET", "/api/v1/credentials")
    assert response.status_code == 429
    assert response.headers["retry-after"]
    case.validate_response(response, checks=CHECKS)


# When an upstream refuses or fails: (sandbox fault, the endpoint called, the API's answer).
APPS, WIDGETS = "/pulsetracker/api/apps", "/pulsoid/api/v1/widgets"
UPSTREAM_FAILURES = [
    pytest.param(
        {"method": "POST", "path_prefix": APPS, "status": 422},
        ("POST", "/api/v1/apps/{cid}"),
        (422, "upstream-validation"),
        id="upstream validation 422",
    ),
    pytest.param({"status": 403}, ("GET", "/api/v1/apps/{cid}"), (403, "upstream-quota"), id="403"),
    pytest.param(
        {"status": 404}, ("GET", "/api/v1/apps/{cid}"), (404, "upstream-not-found"), id="404"
    ),
    pytest.param(
        {"status": 429, "headers": {"Retry-After": "7"}},
        ("GET", "/api/v1/apps/{cid}"),
        (429, "upstream-rate-limited"),
        id="429",
    ),
    pytest.param(
        {"method": "GET", "path_prefix": WIDGETS, "status": 402},
        ("GET", "/api/v1/widgets/{cid}"),
        (402, "upstream-premium"),
        id="premium 402",
    ),
    pytest.param(
        {"status": 401},
        ("GET", "/api/v1/apps/{cid}"),
        (502, "upstream-token-rejected"),
        id="token rejected 401",
    ),
    pytest.param(
        {"status": 503, "times": 3},
        ("GET", "/api/v1/apps/{cid}"),
        (503, "upstream-unavailable"),
        id="unavailable 503",
    ),
    pytest.param(
        {"non_json": True},
        ("GET", "/api/v1/apps/{cid}"),
        (502, "upstream-bad-response"),
        id="not json",
    ),
]


@pytest.mark.parametrize(("fault", "endpoint", "expected"), UPSTREAM_FAILURES)
def test_an_upstream_failure_is_a_documented_problem(
    acme_api, sandbox_settings, fault, endpoint, expected
):
    sandbox_settings.fault(**{"method": "GET", "path_prefix": APPS, **fault})
    method, path = endpoint
    body = BODY_EXAMPLES["NameIn"] if method == "POST" else NOT_SET
    case, response = answer(acme_api, method, path, path_parameters={"cid": 1}, body=body)
    assert (response.status_code, json.loads(response.content)["kind"]) == expected
    case.validate_response(response, checks=CONFORMS)  # a failing upstream is a 5xx by design


def test_a_credential_that_no_longer_decrypts_is_a_documented_problem(
    acme_api, pulsetracker_credential
):
    from integrations.models import Credential

    Credential.objects.filter(pk=pulsetracker_credential.pk).update(
        ciphertext=pulsetracker_credential.ciphertext[:-8] + "AAAAAAA="
    )
    case, response = answer(acme_api, "GET", "/api/v1/apps/{cid}", path_parameters={"cid": 1})
    assert json.loads(response.content)["kind"] == "credential-unusable"
    case.validate_response(response, checks=CONFORMS)


# ----------------------------------------------------------------------------- the deviations


def test_error_answers_are_documented_as_problem_details():
    for path, method, operation in operations(SERVED):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert set(response["content"]) == {PROBLEM}, (method, path, status)


def test_the_activity_export_is_documented_as_csv():
    [export] = [op for path, _, op in operations(SERVED) if path.endswith("/activity.csv")]
    assert set(export["responses"]["200"]["content"]) == {"text/csv"}
