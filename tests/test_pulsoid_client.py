"""The Pulsoid API and OAuth clients against the sandbox over real HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

from accounts.crypto import Secret
from integrations.errors import (
    GrantRejected,
    MissingScope,
    NotFound,
    PremiumRequired,
    TokenRejected,
    Unavailable,
    UpstreamError,
    ValidationFailed,
)
from integrations.pulsoid.client import (
    ALL_SCOPES,
    BPM_WIDGET_META_ID,
    PulsoidClient,
    PulsoidOAuth,
    error_code,
)

WIDGETS = "/pulsoid/api/v1/widgets"
REDIRECT_URI = "http://127.0.0.1:8000/pulsoid/callback"


def client_for(sandbox, token: str) -> PulsoidClient:
    return PulsoidClient(Secret(token), base_url=sandbox.pulsoid_api_url)


@pytest.fixture
def full(sandbox) -> PulsoidClient:
    return client_for(sandbox, sandbox.seed.pulsoid_full_token)


@pytest.fixture
def readonly(sandbox) -> PulsoidClient:
    return client_for(sandbox, sandbox.seed.pulsoid_readonly_token)


@pytest.fixture
def oauth(sandbox) -> PulsoidOAuth:
    return PulsoidOAuth(
        sandbox.seed.pulsoid_client_id,
        Secret(sandbox.seed.pulsoid_client_secret),
        oauth_url=sandbox.pulsoid_oauth_url,
        revoke_url=sandbox.pulsoid_revoke_url,
    )


def test_validate_reports_scopes_and_a_far_expiry_for_a_manual_token(full):
    info = full.validate_token()
    assert info.scopes == frozenset(ALL_SCOPES)
    assert info.missing("widgets:update") == ()
    assert info.expires_at is not None
    assert info.expires_at > datetime.now(UTC) + timedelta(days=365)


def test_validate_reports_a_short_expiry_and_the_missing_scopes(sandbox):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, scopes=("widgets:read",), expires_in=3600)
    info = client_for(sandbox, token).validate_token()
    assert info.scopes == {"widgets:read"}
    assert info.missing("widgets:read", "widgets:update") == ("widgets:update",)
    remaining = info.expires_at - datetime.now(UTC)
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)


@pytest.mark.parametrize("status", [403, 401])
@pytest.mark.parametrize("style", ["number", "string"])
def test_a_bad_token_is_rejected_whether_upstream_says_401_or_403(sandbox, status, style):
    sandbox.pulsoid.bad_token_status = status
    sandbox.pulsoid.error_code_style = style
    with pytest.raises(TokenRejected) as caught:
        client_for(sandbox, "00000000-0000-4000-8000-000000000000").validate_token()
    assert caught.value.status == status
    assert not caught.value.expired


def test_a_revoked_token_is_rejected(sandbox):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, scopes=ALL_SCOPES)
    client = client_for(sandbox, token)
    client.list_widgets()
    sandbox.pulsoid.revoke(token)
    with pytest.raises(TokenRejected):
        client.list_widgets()


def test_an_expired_token_is_rejected_as_expired(sandbox):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, scopes=ALL_SCOPES, expires_in=-10)
    with pytest.raises(TokenRejected) as caught:
        client_for(sandbox, token).validate_token()
    assert caught.value.expired
    assert "expired" in caught.value.message


def test_error_code_is_read_as_a_number_or_a_string():
    assert error_code({"error_code": 7010}) == 7010
    assert error_code({"error_code": "7010"}) == 7010
    assert error_code({"error_code": "oops"}) is None
    assert error_code(["7010"]) is None


@pytest.mark.parametrize("shape", ["object", "list"])
def test_list_widgets_reads_both_shapes(sandbox, full, shape):
    sandbox.pulsoid.widgets_shape = shape
    widgets = full.list_widgets()
    assert len(widgets) == 2
    assert all(w.meta_id == BPM_WIDGET_META_ID for w in widgets)
    assert all(isinstance(w.configuration, dict) for w in widgets)


def test_create_widget_sends_the_bpm_type_and_returns_the_widget(sandbox, full):
    configuration = {
        "heartEnabled": True,
        "heartColor": "#ff0000",
        "font": "Roboto",
        "ranges": [
            {"from": 0, "to": 100, "color": "#00ff00"},
            {"from": 100, "to": 220, "color": "red"},
        ],
    }
    widget = full.create_widget("Stream overlay", configuration)
    assert widget.name == "Stream overlay"
    assert widget.meta_id == BPM_WIDGET_META_ID
    assert widget.configuration == configuration
    assert widget.id in {w.id for w in full.list_widgets()}
    [sent] = sandbox.requests_to("POST", WIDGETS)
    assert b"bf6bdf21-10a7-4a28-97ec-a239e6c77f8b" in sent.body


def test_update_widget_replaces_the_whole_configuration(full):
    widget = full.create_widget("Overlay", {"heartEnabled": True, "font": "Inter"})
    updated = full.update_widget(widget.id, {"heartEnabled": False})
    assert updated.id == widget.id
    assert updated.configuration == {"heartEnabled": False}
    [listed] = [w for w in full.list_widgets() if w.id == widget.id]
    assert listed.configuration == {"heartEnabled": False}


def test_update_of_an_unknown_widget_is_not_found(full):
    with pytest.raises(NotFound):
        full.update_widget("00000000-0000-4000-8000-000000000000", {})


@pytest.mark.parametrize("body", [b"", b'{"error_message": "forbidden"}'])
def test_a_403_without_an_error_code_refuses_the_action_but_not_the_token(sandbox, full, body):
    sandbox.fault("POST", WIDGETS, status=403, body=body)
    with pytest.raises(MissingScope) as caught:
        full.create_widget("Refused", {})
    assert not isinstance(caught.value, TokenRejected)
    assert caught.value.scope == "widgets:update"
    assert "without saying the token is bad" in caught.value.message
    assert "widgets:update" in caught.value.message


def test_a_403_without_an_error_code_on_the_token_check_does_not_reject_the_token(sandbox, full):
    sandbox.fault("GET", "/pulsoid/api/v1/token/validate", status=403, body=b"")
    with pytest.raises(UpstreamError) as caught:
        full.validate_token()
    assert not isinstance(caught.value, TokenRejected)
    assert "without saying the token is bad" in caught.value.message


def test_a_404_from_the_token_check_points_at_the_api_url_not_at_a_widget(sandbox, full):
    sandbox.fault("GET", "/pulsoid/api/v1/token/validate", status=404, body=b"")
    with pytest.raises(NotFound) as caught:
        full.validate_token()
    assert "widget" not in caught.value.message
    assert "/token/validate" in caught.value.message
    assert "PULSOID_API_URL" in caught.value.message


def test_a_404_from_a_widget_update_says_the_widget_is_not_there(full):
    with pytest.raises(NotFound) as caught:
        full.update_widget("00000000-0000-4000-8000-000000000000", {})
    assert caught.value.message == "Pulsoid has no such widget for this token."


def test_create_without_widgets_update_names_the_missing_scope(readonly):
    with pytest.raises(MissingScope) as caught:
        readonly.create_widget("Nope", {})
    assert caught.value.scope == "widgets:update"
    assert "widgets:update" in caught.value.message


def test_reading_the_profile_without_profile_read_names_the_scope(sandbox):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, scopes=("widgets:read",))
    with pytest.raises(MissingScope) as caught:
        client_for(sandbox, token).get_profile()
    assert caught.value.scope == "profile:read"


def test_premium_required_is_its_own_error(sandbox, full):
    sandbox.fault(
        "POST",
        WIDGETS,
        status=402,
        body=b'{"error_code": 7007, "error_message": "premium_required"}',
    )
    with pytest.raises(PremiumRequired):
        full.create_widget("Premium", {})


def test_a_general_400_is_a_validation_error_with_the_upstreams_words(sandbox, full):
    sandbox.fault(
        "POST", WIDGETS, status=400, body=b'{"error_code": 8001, "error_message": "invalid_widget"}'
    )
    with pytest.raises(ValidationFailed) as caught:
        full.create_widget("Odd", {})
    assert "invalid widget" in caught.value.message


def test_a_token_validation_failure_upstream_is_unavailable(sandbox, full):
    sandbox.fault(
        "GET",
        "/pulsoid/api/v1/token/validate",
        status=500,
        times=3,
        body=b'{"error_code": 7001, "error_message": "error_while_validating_token"}',
    )
    with pytest.raises(Unavailable):
        full.validate_token()


@pytest.mark.parametrize("key", ["login", "username"])
def test_profile_reads_login_or_username(sandbox, key):
    user = sandbox.pulsoid.add_user(channel="twitch.tv/x", login="x@example.com", profile_key=key)
    token = sandbox.pulsoid.add_token(user, scopes=("profile:read",))
    profile = client_for(sandbox, token).get_profile()
    assert profile.login == "x@example.com"
    assert profile.channel == "twitch.tv/x"


def test_latest_heart_rate_is_none_until_data_exists_then_the_reading(sandbox):
    user = sandbox.pulsoid.add_user()
    token = sandbox.pulsoid.add_token(user, scopes=ALL_SCOPES)
    client = client_for(sandbox, token)
    assert client.latest_heart_rate() is None
    sandbox.pulsoid.add_heart_rate(user, 72, measured_at_ms=1625310655000)
    reading = client.latest_heart_rate()
    assert reading.bpm == 72
    assert reading.measured_at == datetime.fromtimestamp(1625310655, tz=UTC)


def approve(authorize_url: str) -> dict[str, str]:
    """Do what the person does in the browser: open the approve page and press Approve."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200
    form = re.search(r"<form[^>]*action=\"([^\"]*)\"[^>]*>(.*?)</form>", page.text, re.S | re.I)
    assert form, "the sandbox's approve page has a form"
    action = urljoin(authorize_url, unescape(form.group(1)))
    fields = {
        unescape(name): unescape(value)
        for name, value in re.findall(
            r"<input[^>]*name=\"([^\"]+)\"[^>]*value=\"([^\"]*)\"", form.group(2), re.I
        )
    }
    answer = requests.post(action, data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code in (302, 303)
    location = urlparse(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_oauth_round_trip_gives_a_working_pair_and_a_code_works_once(sandbox, oauth):
    url = oauth.authorize_url(REDIRECT_URI, ["widgets:read", "widgets:update"], "state-123")
    assert "response_type=code" in url
    assert "state=state-123" in url
    returned = approve(url)
    assert returned["state"] == "state-123"
    tokens = oauth.exchange_code(returned["code"], REDIRECT_URI)
    assert tokens.refresh_token is not None
    assert tokens.expires_in == 3600
    assert tokens.expires_at > datetime.now(UTC)
    info = client_for(sandbox, tokens.access_token.reveal()).validate_token()
    assert {"widgets:read", "widgets:update"} <= info.scopes
    with pytest.raises(GrantRejected):
        oauth.exchange_code(returned["code"], REDIRECT_URI)


def test_refresh_rotates_both_tokens_and_retires_the_old_pair(sandbox, oauth):
    returned = approve(oauth.authorize_url(REDIRECT_URI, ["widgets:read"], "s"))
    first = oauth.exchange_code(returned["code"], REDIRECT_URI)
    second = oauth.refresh(first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    client_for(sandbox, second.access_token.reveal()).validate_token()
    with pytest.raises(TokenRejected):
        client_for(sandbox, first.access_token.reveal()).validate_token()
    with pytest.raises(GrantRejected):
        oauth.refresh(first.refresh_token)


def test_revoke_stops_the_token_working(sandbox, oauth):
    returned = approve(oauth.authorize_url(REDIRECT_URI, ["widgets:read"], "s"))
    tokens = oauth.exchange_code(returned["code"], REDIRECT_URI)
    oauth.revoke(tokens.access_token)
    with pytest.raises(TokenRejected):
        client_for(sandbox, tokens.access_token.reveal()).list_widgets()


def test_wrong_client_secret_is_reported_as_a_configuration_problem(sandbox):
    wrong = PulsoidOAuth(
        sandbox.seed.pulsoid_client_id,
        Secret("not-the-secret"),
        oauth_url=sandbox.pulsoid_oauth_url,
        revoke_url=sandbox.pulsoid_revoke_url,
    )
    with pytest.raises(TokenRejected) as caught:
        wrong.exchange_code("00000000-0000-4000-8000-000000000000", REDIRECT_URI)
    assert "PULSOID_CLIENT_SECRET" in caught.value.message


def test_oauth_answers_keep_tokens_wrapped(oauth, sandbox):
    returned = approve(oauth.authorize_url(REDIRECT_URI, ["widgets:read"], "s"))
    tokens = oauth.exchange_code(returned["code"], REDIRECT_URI)
    assert tokens.access_token.reveal() not in repr(tokens)
    assert tokens.refresh_token.reveal() not in str(tokens)
