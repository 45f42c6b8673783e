"""Clients for the Pulsoid API (token validation, widgets, profile, data) and its OAuth server.

See ../shared/api/pulsoid.md. The variants accepted here: `error_code` as a number or a string; a
bad token answering 401, or 403 with 7005/7006; widgets as `{"widgets": [...]}` or a bare list;
the profile naming the login `login` or `username`; `premium` and `token` present or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from accounts.crypto import Secret
from integrations import http
from integrations.errors import (
    BadResponse,
    GrantRejected,
    MissingScope,
    NotFound,
    PremiumRequired,
    TokenRejected,
    UpstreamError,
    ValidationFailed,
)
from integrations.parse import Reader

SERVICE = "Pulsoid"
OAUTH_SERVICE = "Pulsoid sign-in"

# The only widget type the API creates: the basic BPM widget.
BPM_WIDGET_META_ID = "bf6bdf21-10a7-4a28-97ec-a239e6c77f8b"

SCOPE_HEART_RATE_READ = "data:heart_rate:read"
SCOPE_HEART_RATE_WRITE = "data:heart_rate:write"
SCOPE_STATISTICS_READ = "data:statistics:read"
SCOPE_ROOM_READ = "data:room:read"
SCOPE_WIDGETS_READ = "widgets:read"
SCOPE_WIDGETS_UPDATE = "widgets:update"
SCOPE_PROFILE_READ = "profile:read"
ALL_SCOPES = (
    SCOPE_HEART_RATE_READ,
    SCOPE_HEART_RATE_WRITE,
    SCOPE_STATISTICS_READ,
    SCOPE_ROOM_READ,
    SCOPE_WIDGETS_READ,
    SCOPE_WIDGETS_UPDATE,
    SCOPE_PROFILE_READ,
)

# Pulsoid error codes (see the docs file's table).
TOKEN_NOT_FOUND = 7005
TOKEN_EXPIRED = 7006
PREMIUM_REQUIRED = 7007
HEADER_MISSING = 7009
HEADER_MALFORMED = 7010
INVALID_SCOPE = 7011
VALIDATION_FAILED = 6001
HEART_RATE_UNAVAILABLE = 6002
INVALID_SCOPE_DATA = 6003
BAD_TOKEN_CODES = frozenset(
    {TOKEN_NOT_FOUND, TOKEN_EXPIRED, HEADER_MISSING, HEADER_MALFORMED, VALIDATION_FAILED}
)
SCOPE_CODES = frozenset({INVALID_SCOPE, INVALID_SCOPE_DATA})


@dataclass(frozen=True)
class TokenInfo:
    """What /token/validate says about a token."""

    scopes: frozenset[str]
    expires_in: int | None
    expires_at: datetime | None
    client_id: str | None
    profile_id: str | None

    def missing(self, *scopes: str) -> tuple[str, ...]:
        return tuple(s for s in scopes if s not in self.scopes)


@dataclass(frozen=True)
class Widget:
    id: str
    meta_id: str
    name: str
    configuration: dict[str, Any]
    premium: bool = False


@dataclass(frozen=True)
class Profile:
    channel: str | None
    login: str | None
    mobile_login: bool | None
    heart_rate: bool | None


@dataclass(frozen=True)
class HeartRate:
    bpm: int
    measured_at: datetime


@dataclass(frozen=True)
class OAuthTokens:
    """A token pair from the OAuth server; both tokens stay wrapped."""

    access_token: Secret
    refresh_token: Secret | None
    expires_in: int | None
    expires_at: datetime | None
    token_type: str
    scopes: frozenset[str] | None = field(default=None)


class PulsoidClient(http.TokenClient):
    """Calls the Pulsoid API with one access token. Every call goes through `_request`."""

    service = SERVICE
    base_url_setting = "PULSOID_API_URL"

    def validate_token(self) -> TokenInfo:
        """Whether the token is good and what it may do (no scope needed)."""
        r = Reader(self._request("GET", "/token/validate").json(), service=SERVICE, what="a token")
        expires_in = r.opt_int("expires_in")
        scopes = r.data.get("scopes", [])
        if isinstance(scopes, str):  # tolerate a space- or comma-separated string
            scopes = scopes.replace(",", " ").split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise BadResponse("Pulsoid sent token scopes that are not a list.", service=SERVICE)
        return TokenInfo(
            scopes=frozenset(scopes),
            expires_in=expires_in,
            expires_at=_expiry(expires_in),
            client_id=r.opt_str("client_id"),
            profile_id=r.opt_str("profile_id"),
        )

    def list_widgets(self) -> list[Widget]:
        data = self._request("GET", "/widgets", scope=SCOPE_WIDGETS_READ).json()
        if isinstance(data, dict):
            data = Reader(data, service=SERVICE, what="the list of widgets").list("widgets")
        if not isinstance(data, list):
            raise BadResponse("Pulsoid sent something other than a widget list.", service=SERVICE)
        return [_widget(item) for item in data]

    def create_widget(
        self,
        name: str,
        configuration: Mapping[str, Any],
        *,
        meta_id: str = BPM_WIDGET_META_ID,
    ) -> Widget:
        body = {"meta_id": meta_id, "name": name, "configuration": dict(configuration)}
        data = self._request("POST", "/widgets", json_body=body, scope=SCOPE_WIDGETS_UPDATE).json()
        return _widget(_unwrap_widget(data))

    def update_widget(self, widget_id: str, configuration: Mapping[str, Any]) -> Widget:
        """Replace the widget's whole configuration (the API uses POST for this)."""
        body = {"configuration": dict(configuration)}
        path = f"/widgets/{_segment(widget_id)}"
        data = self._request("POST", path, json_body=body, scope=SCOPE_WIDGETS_UPDATE).json()
        return _widget(_unwrap_widget(data))

    def get_profile(self) -> Profile:
        data = self._request("GET", "/profile", scope=SCOPE_PROFILE_READ).json()
        r = Reader(data, service=SERVICE, what="the profile")
        login = r.opt_str("login") if r.data.get("login") is not None else r.opt_str("username")
        return Profile(
            channel=r.opt_str("channel"),
            login=login,
            mobile_login=_opt_bool(r, "mobile_login"),
            heart_rate=_opt_bool(r, "heart_rate"),
        )

    def latest_heart_rate(self) -> HeartRate | None:
        """The latest reading, or None when the user has no data yet (the API answers 412)."""
        response = self._request(
            "GET", "/data/heart_rate/latest", scope=SCOPE_HEART_RATE_READ, allow=(412,)
        )
        if response.status == 412:
            return None
        r = Reader(response.json(), service=SERVICE, what="the latest heart rate")
        measured_at = r.int("measured_at")
        bpm = Reader(r.dict("data"), service=SERVICE, what="the heart rate data").int("heart_rate")
        return HeartRate(bpm=bpm, measured_at=datetime.fromtimestamp(measured_at / 1000, tz=UTC))

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        allow: Iterable[int] = (),
    ) -> http.RawResponse:
        return self._call(
            method, path, params=params, json_body=json_body, allow=allow, scope=scope, target=path
        )

    def error_for(self, response: http.RawResponse, **context: Any) -> UpstreamError:
        return _api_error(response, context.get("scope"), context.get("target") or "")


class PulsoidOAuth:
    """The portal's side of Pulsoid's OAuth2 authorization-code flow."""

    def __init__(
        self,
        client_id: str,
        client_secret: Secret,
        *,
        oauth_url: str | None = None,
        revoke_url: str | None = None,
        timeouts: http.Timeouts | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(client_secret, Secret):
            raise TypeError("PulsoidOAuth takes the client secret as a Secret.")
        self.client_id = client_id
        self._client_secret = client_secret
        self.oauth_url = (oauth_url or settings.PULSOID_OAUTH_URL).rstrip("/")
        self.revoke_url = revoke_url or settings.PULSOID_REVOKE_URL
        self.timeouts = timeouts
        self._session = session

    def __repr__(self) -> str:
        return f"PulsoidOAuth({self.oauth_url!r}, client_id={self.client_id!r})"

    def authorize_url(self, redirect_uri: str, scopes: Iterable[str], state: str) -> str:
        """Where to send the user's browser to approve the portal (scopes space-separated)."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
        }
        return f"{self.oauth_url}/authorize?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> OAuthTokens:
        """Trade the one-time code from the redirect for a token pair (server to server)."""
        return self._token_call(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            }
        )

    def refresh(self, refresh_token: Secret) -> OAuthTokens:
        """A new pair for a refresh token. The old pair stops working: store the new one at once."""
        return self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        )

    def revoke(self, token: Secret) -> None:
        """Ask Pulsoid to forget a token."""
        with http.scrubbing([token, self._client_secret]) as clean:
            response = http.send(
                "POST",
                self.revoke_url,
                service=OAUTH_SERVICE,
                form={"token": token.reveal()},
                timeouts=self.timeouts,
                http=self._session,
            )
            if not response.ok:
                raise _oauth_error(response.scrubbed(clean))

    @sensitive_variables("form", "secrets")
    def _token_call(self, form: dict[str, str]) -> OAuthTokens:
        """One call to the token endpoint. A refusal is read only once scrubbed of everything
        secret the call sent: the client secret, and the code or refresh token."""
        form = {**form, "client_id": self.client_id, "client_secret": self._client_secret.reveal()}
        secrets = [self._client_secret, form.get("code"), form.get("refresh_token")]
        with http.scrubbing(secrets) as clean:
            response = http.send(
                "POST",
                f"{self.oauth_url}/token",
                service=OAUTH_SERVICE,
                form=form,
                timeouts=self.timeouts,
                http=self._session,
            )
            if not response.ok:
                raise _oauth_error(response.scrubbed(clean))
        r = Reader(response.json(), service=OAUTH_SERVICE, what="a token answer")
        refresh = r.opt_str("refresh_token")
        expires_in = r.opt_int("expires_in")
        scope = r.data.get("scope")
        return OAuthTokens(
            access_token=Secret(r.str("access_token")),
            refresh_token=Secret(refresh) if refresh else None,
            expires_in=expires_in,
            expires_at=_expiry(expires_in),
            token_type=r.opt_str("token_type") or "bearer",
            scopes=frozenset(scope.replace(",", " ").split()) if isinstance(scope, str) else None,
        )


def error_code(body: Any) -> int | None:
    """Pulsoid's `error_code`, documented as a number and sometimes sent as a string."""
    if not isinstance(body, dict):
        return None
    code = body.get("error_code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def _api_error(response: http.RawResponse, scope: str | None, path: str) -> UpstreamError:
    """The typed error for a refusal of a call to `path` that needs `scope` (None: no scope).

    Only 401, and 403 with a token error code, mean the token is no good: a 403 without a code
    is a refusal of this action (a permission or scope), and the token stays trusted.
    """
    body = response.json_or_none()
    code = error_code(body)
    raw_message = body.get("error_message") if isinstance(body, dict) else None
    status = response.status
    kwargs: dict[str, Any] = {"service": SERVICE, "status": status}
    if code in SCOPE_CODES or (status == 400 and raw_message == "error_invalid_scope"):
        needed = scope or "a scope this action needs"
        return MissingScope(needed, **kwargs)
    if status == 402 or code == PREMIUM_REQUIRED:
        return PremiumRequired("This needs a paid Pulsoid plan (BRO).", **kwargs)
    if code == TOKEN_EXPIRED:
        return TokenRejected("The Pulsoid token has expired.", expired=True, **kwargs)
    if status == 401 or (status == 403 and code in BAD_TOKEN_CODES):
        return TokenRejected(
            "Pulsoid rejected the token: it is wrong, revoked or expired.", **kwargs
        )
    if code == HEART_RATE_UNAVAILABLE:
        return UpstreamError("Pulsoid could not read the latest heart rate.", **kwargs)
    if status == 403 and code is None:
        if scope:
            message = (
                f"Pulsoid refused this (status 403) without saying the token is bad: the token "
                f"may lack “{scope}”, or the Pulsoid account may not be allowed to do it."
            )
            return MissingScope(scope, message, **kwargs)
        return UpstreamError(
            "Pulsoid refused the request (status 403) without saying the token is bad; "
            "the token was not marked rejected. Try again later.",
            **kwargs,
        )
    if status == 404:
        if path.startswith("/widgets/"):
            return NotFound("Pulsoid has no such widget for this token.", **kwargs)
        return NotFound(
            f"Pulsoid answered “not found” (status 404) for {path or 'this call'}: the portal's "
            "PULSOID_API_URL setting may not point at Pulsoid's API.",
            **kwargs,
        )
    if status in (400, 422):
        readable = raw_message.replace("_", " ") if isinstance(raw_message, str) else None
        return ValidationFailed(
            f"Pulsoid refused the request: {readable}." if readable else None, **kwargs
        )
    detail = f" ({raw_message})" if isinstance(raw_message, str) else ""
    return UpstreamError(f"Pulsoid answered with status {status}{detail}.", **kwargs)


def _oauth_error(response: http.RawResponse) -> UpstreamError:
    """OAuth error bodies are not documented; read the RFC 6749 `error` when there is one."""
    body = response.json_or_none()
    error = body.get("error") if isinstance(body, dict) else None
    kwargs: dict[str, Any] = {"service": OAUTH_SERVICE, "status": response.status}
    if error == "invalid_client" or response.status == 401:
        return TokenRejected(
            "Pulsoid refused the portal's client id or secret; check PULSOID_CLIENT_ID and "
            "PULSOID_CLIENT_SECRET.",
            **kwargs,
        )
    if response.status in (400, 403):
        return GrantRejected(**kwargs)
    return UpstreamError(f"Pulsoid sign-in answered with status {response.status}.", **kwargs)


def _expiry(expires_in: int | None) -> datetime | None:
    if expires_in is None:
        return None
    try:
        return datetime.now(UTC) + timedelta(seconds=expires_in)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _opt_bool(r: Reader, name: str) -> bool | None:
    value = r.data.get(name)
    return value if isinstance(value, bool) else None


def _segment(widget_id: str) -> str:
    if not widget_id or not all(c.isalnum() or c in "-_" for c in widget_id):
        raise NotFound("That is not a Pulsoid widget id.", service=SERVICE)
    return widget_id


def _unwrap_widget(data: Any) -> Any:
    if isinstance(data, dict) and "widget" in data:
        return data["widget"]
    return data


def _widget(data: Any) -> Widget:
    r = Reader(data, service=SERVICE, what="a widget")
    configuration = r.data.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise BadResponse("Pulsoid sent a widget setup that is not an object.", service=SERVICE)
    return Widget(
        id=r.str("id"),
        meta_id=r.opt_str("meta_id") or BPM_WIDGET_META_ID,
        name=r.opt_str("name") or "",
        configuration=configuration,
        premium=_opt_bool(r, "premium") or False,
    )
