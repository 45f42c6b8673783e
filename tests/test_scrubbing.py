"""An upstream that quotes the token in its error message: the message is shown, logged and stored
without it. Each client scrubs the answer it builds an error from (its own token by exact value,
even when not token-shaped, and anything token-shaped), so no page, log line or table holds it."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.urls import reverse

from accounts.crypto import Secret
from accounts.models import Activity
from integrations.errors import UpstreamError, ValidationFailed
from integrations.pulsetracker.client import PulsetrackerClient
from integrations.pulsoid.client import PulsoidClient, PulsoidOAuth
from integrations.pulsoid.forms import data_for
from portal.logging import scrub, scrub_exact
from tests.conftest import linked
from tests.test_token_secrecy import log_text, stored_everywhere

PULSETRACKER_API = "/pulsetracker/api/"
PULSOID_API = "/pulsoid/api/v1/"
PULSOID_TOKEN_ENDPOINT = "/pulsoid/oauth2/token"
PULSOID_REVOKE = "/pulsoid/oauth2/revoke"
# Not token-shaped (no UUID, no Sanctum "<id>|", no "token=" before it): only scrubbing by the
# exact value can find it. Its underscores also meet the Pulsoid client's "_" -> " " rewording.
PLAIN_TOKEN = "plain_words_token_for_leak_tests_77"


def sanctum_half(token: str) -> str:
    """The secret part of a Sanctum token, which an upstream may quote without the "<id>|"."""
    return token.split("|", 1)[1]


def error_text(exc: BaseException) -> str:
    """Every text an error carries: what is shown, logged (str, repr, args) and stored."""
    parts = [str(exc), repr(exc), repr(exc.args), getattr(exc, "message", "")]
    parts.append(repr(getattr(exc, "errors", {})))
    return "\n".join(parts)


@pytest.fixture
def every_log(caplog):
    """caplog, also fed by the `django` loggers (they do not propagate to the root)."""
    caplog.set_level(logging.DEBUG)
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    yield caplog
    django_logger.removeHandler(caplog.handler)


def body_of(response) -> bytes:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content + str(response.headers).encode() + str(response.cookies).encode()


# The scrubbing itself


def test_a_secret_is_scrubbed_by_exact_value_in_every_spelling_and_letter_case():
    secret = "plain/words&token 77"
    text = (
        f"raw {secret}; upper {secret.upper()}; url plain%2Fwords%26token%2077; "
        "form plain%2Fwords%26token+77; html plain/words&amp;token 77"
    )
    cleaned = scrub_exact(text, [secret])
    assert "plain" not in cleaned.lower()
    assert cleaned.count("[redacted]") == 5  # its tail is not plain letters: no last four shown


def test_a_sanctum_tokens_secret_half_is_scrubbed_on_its_own_and_the_tail_kept():
    token = "7|" + "k" * 36 + "WXYZ"
    cleaned = scrub_exact(f"token {token} or just {sanctum_half(token)}", [token])
    assert "kkkk" not in cleaned
    assert cleaned == "token [redacted …WXYZ] or just [redacted …WXYZ]"


def test_a_short_secret_is_scrubbed_as_a_word_of_its_own_not_inside_other_words():
    assert scrub_exact("code 471142 expired, see x471142y", ["471142"]) == (
        "code [redacted] expired, see x471142y"
    )
    # Four characters or fewer are what pages show of a credential anyway: left alone, rather
    # than every "on" or "1" in a report masked.
    assert scrub_exact("on and 1", ["on", "1"]) == "on and 1"


def test_scrub_also_redacts_token_shaped_values_it_was_not_told_about():
    other = "11111111-1111-4111-8111-111111111111"
    cleaned = scrub(f"mine {PLAIN_TOKEN}, someone's {other}", [PLAIN_TOKEN])
    assert PLAIN_TOKEN not in cleaned
    assert other not in cleaned
    assert cleaned.startswith("mine [redacted")


# Each client: the error built from an answer quoting the token carries no token


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (403, {"message": "Quota exceeded for token {token} (key {half})."}, UpstreamError),
        (
            422,
            {"message": "{token} may not", "errors": {"name": ["{half} already owns it"]}},
            ValidationFailed,
        ),
        (418, {"message": "Teapot for {token}"}, UpstreamError),
    ],
)
def test_pulsetracker_errors_quoting_the_token_come_out_without_it(sandbox, status, body, kind):
    token = sandbox.seed.pulsetracker_paid_token
    half = sanctum_half(token)
    client = PulsetrackerClient(Secret(token), base_url=sandbox.pulsetracker_url)
    filled = {
        k: (v.format(token=token, half=half) if isinstance(v, str) else v) for k, v in body.items()
    }
    if "errors" in filled:
        filled["errors"] = {"name": [body["errors"]["name"][0].format(half=half)]}
    for call in (client.list_apps, lambda: client.create_app("New"), client.list_devices):
        sandbox.fault("*", PULSETRACKER_API, status=status, body=filled)
        with pytest.raises(kind) as caught:
            call()
        text = error_text(caught.value)
        assert token not in text
        assert half not in text
        assert "[redacted" in text  # the upstream's words are there, the token masked
    if kind is ValidationFailed:
        assert list(caught.value.errors) == ["name"]  # still beside the field it names


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "quota_exceeded_for_{token}"), (409, "conflict for {token}"), (418, "{token}")],
)
def test_pulsoid_errors_quoting_the_token_come_out_without_it_even_reworded(
    sandbox, status, message
):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, token=PLAIN_TOKEN)
    client = PulsoidClient(Secret(token), base_url=sandbox.pulsoid_api_url)
    body = {"error_code": 8001, "error_message": message.format(token=token)}
    calls = (
        client.validate_token,
        client.list_widgets,
        lambda: client.create_widget("w", {"heartEnabled": True}),
    )
    for call in calls:
        sandbox.fault("*", PULSOID_API, status=status, body=body)
        with pytest.raises(UpstreamError) as caught:
            call()
        text = error_text(caught.value)
        # The client rewords "a_b" as "a b": scrubbed before that, so no spelling survives.
        assert token not in text
        assert token.replace("_", " ") not in text
        assert "[redacted]" in text


def test_the_oauth_clients_errors_carry_no_client_secret_refresh_token_code_or_token(sandbox):
    client_secret = "plain client secret for leak tests"
    refresh = "plain refresh token for leak tests"
    code = "plain one-time code for leak tests"
    oauth = PulsoidOAuth(
        sandbox.seed.pulsoid_client_id,
        Secret(client_secret),
        oauth_url=sandbox.pulsoid_oauth_url,
        revoke_url=sandbox.pulsoid_revoke_url,
    )
    quoted = f"{refresh} / {code} / {client_secret} / {PLAIN_TOKEN}"
    body = {"error": quoted, "error_description": quoted, "message": quoted}
    calls = {
        PULSOID_TOKEN_ENDPOINT: [
            lambda: oauth.refresh(Secret(refresh)),
            lambda: oauth.exchange_code(code, "http://testserver/pulsoid/callback/"),
        ],
        PULSOID_REVOKE: [lambda: oauth.revoke(Secret(PLAIN_TOKEN))],
    }
    for path, made in calls.items():
        for call in made:
            for status in (400, 401, 418):
                sandbox.fault("POST", path, status=status, body=body)
                with pytest.raises(UpstreamError) as caught:
                    call()
                text = error_text(caught.value)
                for secret in (client_secret, refresh, code, PLAIN_TOKEN):
                    assert secret not in text


# Through the portal: pages (a viewer's too), the activity page and its CSV, logs, the database


@pytest.mark.django_db(transaction=True)
def test_a_pulsetracker_refusal_quoting_the_token_reaches_no_page_log_or_table(
    client, acme, alice, bob, carol, sandbox_settings, every_log
):
    token = sandbox_settings.seed.pulsetracker_paid_token
    half = sanctum_half(token)
    credential = linked(acme, alice, "pulsetracker", "Acme Live", token)
    key = sandbox_settings.pulsetracker.apps(token)[0]["key"]
    said = f"Quota exceeded for token {token} (key {half})."
    sandbox_settings.fault("*", PULSETRACKER_API, status=403, body={"message": said}, times=100)
    htmx = {"HTTP_HX_REQUEST": "true"}
    responses = {}

    client.force_login(carol)  # a viewer
    responses["apps page"] = client.get(reverse("app-list", args=[credential.pk]))
    responses["apps table"] = client.get(reverse("app-list", args=[credential.pk]), **htmx)
    responses["app page"] = client.get(reverse("app-detail", args=[credential.pk, key]))

    client.force_login(bob)  # a member: creates and renames
    responses["create"] = client.post(
        reverse("app-create", args=[credential.pk]),
        {"name": "Blocked", "submission": uuid.uuid4().hex},
        **htmx,
    )
    responses["rename"] = client.post(
        reverse("app-rename", args=[credential.pk, key]),
        {"name": "Renamed", "original": "Before"},
        **htmx,
    )

    client.force_login(alice)  # the owner: checks the credential, links the token again
    responses["check"] = client.post(reverse("credential-check", args=[credential.pk]), **htmx)
    responses["link"] = client.post(
        reverse("credential-link"),
        {"service": "pulsetracker", "label": "Again", "token": token},
        **htmx,
    )
    responses["credentials"] = client.get(reverse("credentials"))
    responses["activity"] = client.get(reverse("accounts:activity"))
    responses["activity csv"] = client.get(reverse("accounts:activity-csv"))

    # The upstream's words are shown and kept (that is the point), with the token masked.
    assert "Quota exceeded for token [redacted" in responses["apps page"].content.decode()
    failed = Activity.objects.filter(team=acme, outcome=Activity.Outcome.FAILED)
    assert {"app created", "app renamed", "credential checked"} <= {e.action for e in failed}
    assert all("Quota exceeded for token" in e.detail for e in failed)
    assert "Quota exceeded for token" in body_of(responses["activity csv"]).decode()

    assert_nowhere([token, half], responses, every_log)


@pytest.mark.django_db(transaction=True)
def test_a_pulsoid_refusal_quoting_a_token_that_is_not_token_shaped_reaches_no_page_log_or_table(
    client, acme, alice, bob, carol, sandbox_settings, every_log
):
    user = sandbox_settings.pulsoid.add_user()
    token = sandbox_settings.pulsoid.add_token(user, token=PLAIN_TOKEN)
    htmx = {"HTTP_HX_REQUEST": "true"}
    responses = {}
    client.force_login(alice)
    responses["link"] = client.post(
        reverse("credential-link"), {"service": "pulsoid", "label": "Plain", "token": token}
    )
    credential = acme.credentials.get(label="Plain")
    said = {"error_code": 8001, "error_message": f"rate_exceeded_for_{token}"}
    sandbox_settings.fault("*", PULSOID_API, status=400, body=said, times=100)

    client.force_login(carol)  # a viewer
    responses["widgets page"] = client.get(reverse("widget-list", args=[credential.pk]))
    responses["widgets table"] = client.get(reverse("widget-list", args=[credential.pk]), **htmx)
    responses["widget page"] = client.get(reverse("widget-edit", args=[credential.pk, "w-1"]))

    client.force_login(bob)  # a member: creates a widget
    responses["create"] = client.post(
        reverse("widget-create", args=[credential.pk]), data_for("Blocked", {"heartEnabled": True})
    )

    client.force_login(alice)
    responses["check"] = client.post(reverse("credential-check", args=[credential.pk]), **htmx)
    responses["link again"] = client.post(
        reverse("credential-link"), {"service": "pulsoid", "label": "Again", "token": token}
    )
    responses["credentials"] = client.get(reverse("credentials"))
    responses["activity"] = client.get(reverse("accounts:activity"))
    responses["activity csv"] = client.get(reverse("accounts:activity-csv"))

    assert "rate exceeded for [redacted" in responses["widgets page"].content.decode()
    failed = Activity.objects.filter(team=acme, outcome=Activity.Outcome.FAILED)
    assert {"widget created", "credential checked"} <= {e.action for e in failed}
    assert all("rate exceeded for [redacted" in e.detail for e in failed)

    assert_nowhere([token, token.replace("_", " ")], responses, every_log)


def assert_nowhere(secrets: list[str], responses: dict, caplog) -> None:
    for name, response in responses.items():
        assert response.status_code in (200, 302, 404), (name, response.status_code)
    haystacks = {f"response: {name}": body_of(r) for name, r in responses.items()}
    haystacks["logs"] = log_text(caplog).encode()
    haystacks.update(stored_everywhere())
    for secret in secrets:
        for where, haystack in haystacks.items():
            assert secret.encode() not in haystack, f"token found in {where}"
