"""A stand-in for the Pulsoid API (`/api/v1`) and the state behind its OAuth2 endpoints.

It answers as /work/shared/api/pulsoid.md describes: `{"error_code", "error_message"}` errors,
scopes enforced per token, widgets, profile and the latest heart rate: what the portal's client
calls. The places where the docs disagree with each other are switchable through the attributes
of `PulsoidApi` (`widgets_shape`, `error_code_style`, `bad_token_status`). The OAuth HTTP pages
live in `pulsoid_oauth`; the grants they hand out are kept here, next to the tokens.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .seed import PULSOID_SCOPES, SEED
from .web import RecordedRequest, Response, Router, json_response

BPM_META_ID = "bf6bdf21-10a7-4a28-97ec-a239e6c77f8b"
#: What `/token/validate` reports for a fresh manual token (the docs' example).
MANUAL_TOKEN_LIFETIME = 625_608_812
ACCESS_TOKEN_LIFETIME = 3600

# The documented errors: (status, code, message).
TOKEN_NOT_FOUND = (403, 7005, "token_not_found")
TOKEN_EXPIRED = (403, 7006, "token_expired")
HEADER_MISSING = (403, 7009, "error_authorization_header_is_not_present")
HEADER_WRONG_FORMAT = (403, 7010, "error_authorization_header_has_wrong_format")
INVALID_SCOPE = (400, 7011, "error_invalid_scope")
NO_HEART_RATE = (412, 6002, "error_retrieving_latest_heart_rate")
# The docs define no codes for these; the sandbox uses 8xxx so they never pass for documented ones.
BAD_REQUEST = 8000
WIDGET_NOT_FOUND = (404, 8004, "widget_not_found")
ROUTE_NOT_FOUND = (404, 8404, "not_found")
METHOD_NOT_ALLOWED = (405, 8405, "method_not_allowed")

WIDGETS_SHAPES = ("object", "list")
ERROR_CODE_STYLES = ("number", "string")


class PulsoidError(Exception):
    """Raised inside a handler to answer with the general error format."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class OAuthError(Exception):
    """A failed grant, answered as `{"error": ..., "error_description": ...}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class Widget:
    """An overlay widget."""

    id: str
    meta_id: str
    name: str
    configuration: dict[str, Any]
    premium: bool = False

    def as_json(self) -> dict[str, Any]:
        """The widget entity as the API shows it."""
        return {
            "id": self.id,
            "meta_id": self.meta_id,
            "name": self.name,
            "configuration": dict(self.configuration),
            "premium": self.premium,
        }


@dataclass
class User:
    """A Pulsoid account: profile, heart-rate samples `(measured_at_ms, bpm)` and widgets."""

    id: str
    channel: str
    login: str
    profile_key: str
    latency: float
    heart_rates: list[tuple[int, int]] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)


@dataclass
class Token:
    """An access token; `refresh_token` is set for tokens issued by the code grant."""

    value: str
    user_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh_token: str | None = None


@dataclass
class Client:
    """A registered OAuth client; `redirect_uris` None accepts any redirect URI."""

    id: str
    secret: str
    redirect_uris: tuple[str, ...] | None


@dataclass
class Grant:
    """What an authorization code or a refresh token stands for."""

    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    redirect_uri: str = ""
    expires_at: float = math.inf
    access_token: str | None = None


def parse_scopes(raw: str) -> tuple[str, ...]:
    """A scope list as the docs write it, space- or comma-separated, in order, without repeats."""
    return tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", raw) if part))


def _now_ms() -> int:
    return int(time.time() * 1000)


class PulsoidApi:
    """The in-memory Pulsoid: users, tokens, widgets, heart rates, OAuth clients and grants.

    `lock` is shared with the server so state changed from a test never races a request.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.router = Router()
        self.router.add(r"/token/validate", GET=self._validate)
        self.router.add(r"/widgets", GET=self._list_widgets, POST=self._create_widget)
        self.router.add(r"/widgets/(?P<widget_id>[^/]+)", POST=self._update_widget)
        self.router.add(r"/profile", GET=self._profile)
        self.router.add(r"/data/heart_rate/latest", GET=self._latest_heart_rate)
        self.reset()

    # ----------------------------------------------------------------- state for tests

    def reset(self) -> None:
        """Back to the seeded users, tokens, widgets and client, and the documented answers."""
        with self._lock:
            #: "object" (`{"widgets": [...]}`) or "list" (a bare list, as one docs page says).
            self.widgets_shape = "object"
            #: "number" (`7005`) or "string" (`"7005"`, as one docs example shows).
            self.error_code_style = "number"
            #: 403 (the error table) or 401 (what a revoked token gets) for unknown tokens.
            self.bad_token_status = 403
            #: Seconds an authorization code stays usable.
            self.code_lifetime = 300.0
            self._users: dict[str, User] = {}
            self._tokens: dict[str, Token] = {}
            self._clients: dict[str, Client] = {}
            self._codes: dict[str, Grant] = {}
            self._refresh_tokens: dict[str, Grant] = {}
            self._seed()

    def add_user(
        self,
        *,
        channel: str = "twitch.tv/sandbox",
        login: str = "streamer@example.com",
        profile_key: str = "login",
        latency: float = 0.0,
        user_id: str | None = None,
    ) -> str:
        """Create a user and return its id. `profile_key` ("login" or "username") is the field
        name `/profile` uses for the login."""
        if profile_key not in ("login", "username"):
            raise ValueError("profile_key must be 'login' or 'username'")
        with self._lock:
            user = User(user_id or str(uuid.uuid4()), channel, login, profile_key, latency)
            self._users[user.id] = user
            return user.id

    def add_token(
        self,
        user_id: str,
        scopes: Iterable[str] = PULSOID_SCOPES,
        *,
        expires_in: float | None = None,
        token: str | None = None,
        client_id: str | None = None,
    ) -> str:
        """Issue a token for a user and return it. `expires_in` None is a long-lived manual token;
        zero or negative gives an already expired one."""
        with self._lock:
            self._require_user(user_id)
            lifetime = MANUAL_TOKEN_LIFETIME if expires_in is None else expires_in
            issued = Token(
                token or str(uuid.uuid4()),
                user_id,
                client_id or SEED.pulsoid_manual_client_id,
                tuple(scopes),
                time.time() + lifetime,
            )
            self._tokens[issued.value] = issued
            return issued.value

    def revoke(self, token: str) -> None:
        """Make an access or refresh token stop working, with its partner from the same grant."""
        with self._lock:
            access = self._tokens.pop(token, None)
            if access is not None and access.refresh_token:
                self._refresh_tokens.pop(access.refresh_token, None)
            grant = self._refresh_tokens.pop(token, None)
            if grant is not None and grant.access_token:
                self._tokens.pop(grant.access_token, None)

    def expire(self, token: str) -> None:
        """Make an access token expired as of now (7006 from every endpoint) while its refresh
        token keeps working, so a client can refresh. KeyError for an unknown access token."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                raise KeyError(f"no Pulsoid access token {token!r}")
            found.expires_at = min(found.expires_at, time.time())

    def tokens_of(self, user_id: str) -> list[str]:
        """The user's access tokens that work now (not expired, not revoked), oldest first."""
        with self._lock:
            self._require_user(user_id)
            now = time.time()
            return [
                token.value
                for token in self._tokens.values()
                if token.user_id == user_id and token.expires_at > now
            ]

    def add_heart_rate(self, user_id: str, bpm: int, measured_at_ms: int | None = None) -> None:
        """Record a heart-rate sample (now unless `measured_at_ms`, Unix milliseconds)."""
        with self._lock:
            user = self._require_user(user_id)
            moment = _now_ms() if measured_at_ms is None else int(measured_at_ms)
            user.heart_rates.append((moment, int(bpm)))
            user.heart_rates.sort()

    def widgets(self, user_id: str) -> list[dict[str, Any]]:
        """The user's widgets as the API shows them, oldest first."""
        with self._lock:
            return [widget.as_json() for widget in self._require_user(user_id).widgets]

    def add_widget(
        self,
        user_id: str,
        name: str,
        configuration: Mapping[str, Any] | None = None,
        *,
        premium: bool = False,
        widget_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a BPM widget for the user and return it as the API shows it."""
        with self._lock:
            widget = Widget(
                widget_id or str(uuid.uuid4()),
                BPM_META_ID,
                name,
                dict(configuration or {}),
                premium,
            )
            self._require_user(user_id).widgets.append(widget)
            return widget.as_json()

    def widget_view(self, widget_id: str) -> tuple[str, dict[str, Any], int | None] | None:
        """What the public viewer shows for a widget: (name, configuration, the owner's latest
        bpm or None without data); None for an unknown widget. Needs no token."""
        with self._lock:
            for user in self._users.values():
                for widget in user.widgets:
                    if widget.id == widget_id:
                        bpm = user.heart_rates[-1][1] if user.heart_rates else None
                        return widget.name, copy.deepcopy(widget.configuration), bpm
            return None

    def register_client(
        self, client_id: str, client_secret: str, redirect_uris: Iterable[str] | None = None
    ) -> None:
        """Register an OAuth client; without `redirect_uris` any redirect URI is accepted."""
        with self._lock:
            uris = tuple(redirect_uris) if redirect_uris is not None else None
            self._clients[client_id] = Client(client_id, client_secret, uris)

    def users(self) -> list[tuple[str, str]]:
        """(id, label) of every user, seeded ones first: the choices on the approve page."""
        with self._lock:
            return [(user.id, f"{user.login} ({user.channel})") for user in self._users.values()]

    def user_latency(self, token: str | None) -> float:
        """The injected latency of the token's user; 0 for an unknown token."""
        with self._lock:
            found = self._tokens.get(token or "")
            return self._users[found.user_id].latency if found else 0.0

    # ----------------------------------------------------------------- OAuth grants

    def check_redirect(self, client_id: str, redirect_uri: str) -> Client:
        """The client, if it exists and accepts this redirect URI; OAuthError otherwise."""
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                raise OAuthError(400, "invalid_client", "unknown client_id")
            if not redirect_uri:
                raise OAuthError(400, "invalid_request", "redirect_uri is required")
            if not _is_absolute_http_uri(redirect_uri):
                raise OAuthError(400, "invalid_request", "redirect_uri must be an http(s) URL")
            if client.redirect_uris is not None and redirect_uri not in client.redirect_uris:
                raise OAuthError(400, "invalid_request", "redirect_uri is not registered")
            return client

    def issue_code(
        self,
        client_id: str,
        redirect_uri: str,
        scopes: Iterable[str],
        user_id: str | None = None,
    ) -> str:
        """What approving the authorize page does: a single-use, short-lived code for the user
        (the seeded streamer by default). Tests can call it to skip the page."""
        with self._lock:
            self.check_redirect(client_id, redirect_uri)
            user = self._require_user(user_id or SEED.pulsoid_user_id)
            code = str(uuid.uuid4())
            self._codes[code] = Grant(
                client_id,
                user.id,
                tuple(scopes),
                redirect_uri=redirect_uri,
                expires_at=time.time() + self.code_lifetime,
            )
            return code

    def authenticate_client(self, client_id: str, client_secret: str) -> Client:
        """The client if the credentials match; OAuthError 401 invalid_client otherwise."""
        with self._lock:
            client = self._clients.get(client_id)
            if client is None or client.secret != client_secret:
                raise OAuthError(401, "invalid_client", "client authentication failed")
            return client

    def exchange_code(self, client: Client, code: str, redirect_uri: str) -> Token:
        """Trade a code for a token pair; a code works once, for its own client and URI."""
        with self._lock:
            # Popping first makes a second use fail even when this one fails.
            grant = self._codes.pop(code, None)
            if grant is None or grant.client_id != client.id or grant.expires_at < time.time():
                raise OAuthError(400, "invalid_grant", "the code is invalid, expired or used")
            if grant.redirect_uri != redirect_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri does not match the code")
            return self._issue_pair(grant)

    def refresh(self, client: Client, refresh_token: str) -> Token:
        """Trade a refresh token for a new pair; the old access and refresh tokens stop working."""
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client.id:
                raise OAuthError(400, "invalid_grant", "the refresh token is invalid")
            self.revoke(refresh_token)
            return self._issue_pair(grant)

    def _issue_pair(self, grant: Grant) -> Token:
        refresh_token = str(uuid.uuid4())
        access = Token(
            str(uuid.uuid4()),
            grant.user_id,
            grant.client_id,
            grant.scopes,
            time.time() + ACCESS_TOKEN_LIFETIME,
            refresh_token,
        )
        self._tokens[access.value] = access
        self._refresh_tokens[refresh_token] = Grant(
            grant.client_id, grant.user_id, grant.scopes, access_token=access.value
        )
        return access

    # ----------------------------------------------------------------- HTTP

    def handle(self, req: RecordedRequest, sub_path: str) -> Response:
        """Answer a request whose path below `/pulsoid/api/v1` is `sub_path`."""
        handler, params, allowed = self.router.match(req.method, sub_path)
        try:
            if handler is None:
                raise PulsoidError(*(METHOD_NOT_ALLOWED if allowed else ROUTE_NOT_FOUND))
            with self._lock:
                response = handler(req, **params)
        except PulsoidError as error:
            response = self._error(error.status, error.code, error.message)
        response.delay = self.user_latency(_bearer_value(req))
        return response

    def _validate(self, req: RecordedRequest) -> Response:
        token = self._authenticate(req, None)
        return json_response(
            200,
            {
                "token": token.value,
                "client_id": token.client_id,
                "expires_in": max(int(token.expires_at - time.time()), 0),
                "profile_id": token.user_id,
                "scopes": list(token.scopes),
            },
        )

    def _list_widgets(self, req: RecordedRequest) -> Response:
        user = self._user_of(self._authenticate(req, "widgets:read"))
        widgets = [widget.as_json() for widget in user.widgets]
        if self.widgets_shape == "list":
            return json_response(200, widgets)
        if self.widgets_shape == "object":
            return json_response(200, {"widgets": widgets})
        raise ValueError(f"widgets_shape must be one of {WIDGETS_SHAPES}")

    def _create_widget(self, req: RecordedRequest) -> Response:
        user = self._user_of(self._authenticate(req, "widgets:update"))
        body = _json_object(req)
        if body.get("meta_id") != BPM_META_ID:
            raise PulsoidError(400, BAD_REQUEST, "unsupported_widget_meta_id")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PulsoidError(400, BAD_REQUEST, "widget_name_is_required")
        configuration = _configuration(body)
        widget = Widget(str(uuid.uuid4()), BPM_META_ID, name, configuration)
        user.widgets.append(widget)
        return json_response(200, {"widget": widget.as_json()})

    def _update_widget(self, req: RecordedRequest, widget_id: str) -> Response:
        user = self._user_of(self._authenticate(req, "widgets:update"))
        widget = next((w for w in user.widgets if w.id == widget_id), None)
        if widget is None:
            raise PulsoidError(*WIDGET_NOT_FOUND)
        # The update replaces the whole configuration; other fields are ignored.
        widget.configuration = _configuration(_json_object(req))
        return json_response(200, {"widget": widget.as_json()})

    def _profile(self, req: RecordedRequest) -> Response:
        user = self._user_of(self._authenticate(req, "profile:read"))
        return json_response(
            200,
            {
                "channel": user.channel,
                user.profile_key: user.login,
                "mobile_login": True,
                "heart_rate": bool(user.heart_rates),
            },
        )

    def _latest_heart_rate(self, req: RecordedRequest) -> Response:
        user = self._user_of(self._authenticate(req, "data:heart_rate:read"))
        if not user.heart_rates:
            raise PulsoidError(*NO_HEART_RATE)
        measured_at, bpm = user.heart_rates[-1]
        return json_response(200, {"measured_at": measured_at, "data": {"heart_rate": bpm}})

    # ----------------------------------------------------------------- helpers

    def _error(self, status: int, code: int, message: str) -> Response:
        shown: int | str = str(code) if self.error_code_style == "string" else code
        return json_response(status, {"error_code": shown, "error_message": message})

    def _authenticate(self, req: RecordedRequest, scope: str | None) -> Token:
        header = req.headers.get("authorization")
        if header is None:
            raise PulsoidError(*HEADER_MISSING)
        value = _bearer_value(req)
        if value is None:
            raise PulsoidError(*HEADER_WRONG_FORMAT)
        token = self._tokens.get(value)
        if token is None:
            _, code, message = TOKEN_NOT_FOUND
            raise PulsoidError(self.bad_token_status, code, message)
        if token.expires_at <= time.time():
            raise PulsoidError(*TOKEN_EXPIRED)
        if scope is not None and scope not in token.scopes:
            raise PulsoidError(*INVALID_SCOPE)
        return token

    def _user_of(self, token: Token) -> User:
        return self._users[token.user_id]

    def _require_user(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise KeyError(f"no Pulsoid user {user_id!r}")
        return user

    # ----------------------------------------------------------------- seed

    def _seed(self) -> None:
        streamer = self.add_user(user_id=SEED.pulsoid_user_id)
        self.add_token(streamer, token=SEED.pulsoid_full_token)
        self.add_token(
            streamer, ("widgets:read", "profile:read"), token=SEED.pulsoid_readonly_token
        )
        self.add_token(streamer, expires_in=-3600, token=SEED.pulsoid_expired_token)
        self.add_widget(
            streamer,
            "Stream overlay",
            {
                "heartEnabled": True,
                "heartColor": "#ff3b5c",
                "font": "Roboto",
                "ranges": [
                    {"from": 0, "to": 100, "color": "#4caf50"},
                    {"from": 100, "to": 150, "color": "#ff9800"},
                    {"from": 150, "to": 250, "color": "#f44336"},
                ],
            },
            widget_id=SEED.pulsoid_widget_ids[0],
        )
        self.add_widget(
            streamer, "Minimal", {"heartEnabled": False}, widget_id=SEED.pulsoid_widget_ids[1]
        )
        self._seed_heart_rates(self._users[streamer])

        quiet = self.add_user(
            channel="twitch.tv/quietstreamer",
            login="quiet@example.com",
            user_id=SEED.pulsoid_nodata_user_id,
        )
        self.add_token(quiet, token=SEED.pulsoid_nodata_token)
        self.register_client(SEED.pulsoid_client_id, SEED.pulsoid_client_secret)

    @staticmethod
    def _seed_heart_rates(user: User) -> None:
        now = _now_ms()
        # A session that ended a minute ago (30 min, a sample every 5 s) and one three days ago.
        for start, minutes, base in ((now - 31 * 60_000, 30, 72), (now - 3 * 86_400_000, 20, 95)):
            for i in range(minutes * 12):
                wave = round(12 * math.sin(i / 15)) + (i * 7) % 5
                user.heart_rates.append((start + i * 5000, base + wave))
        user.heart_rates.sort()


def _bearer_value(req: RecordedRequest) -> str | None:
    scheme, _, value = req.headers.get("authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or " " in value:
        return None
    return value


def _is_absolute_http_uri(uri: str) -> bool:
    """An absolute http(s) URI of printable ASCII (RFC 6749 3.1.2): nothing that could split
    the Location header or run as `javascript:` in a browser."""
    if not re.fullmatch(r"[\x21-\x7e]+", uri):
        return False
    parts = urlsplit(uri)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and "#" not in uri


def _json_object(req: RecordedRequest) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise PulsoidError(400, BAD_REQUEST, "request_body_must_be_a_json_object")
    return body


def _configuration(body: Mapping[str, Any]) -> dict[str, Any]:
    configuration = body.get("configuration")
    if not isinstance(configuration, dict):
        raise PulsoidError(400, BAD_REQUEST, "configuration_must_be_a_json_object")
    return configuration
