"""A local OpenID Connect provider: discovery, authorize, token, JWKS and userinfo.

Written from OpenID Connect Core 1.0 and Discovery 1.0 (the authorization code flow) and
RFC 6749 / RFC 7636 (OAuth 2.0, PKCE), not from any relying party's code: the portal's single
sign-on (django-allauth's `openid_connect`) talks to it over real HTTP in the tests.

There is no log-in page: the authorize endpoint signs in one configured person at once and sends
the browser straight back with a code. Tests choose who that is with `sign_in_as()`; `reset()`
brings back `DEFAULT_PERSON`. The token endpoint checks the client (secret in the form or in HTTP
Basic), the code (single use, short-lived, bound to the client and redirect URI) and the PKCE
verifier when a challenge was sent, and answers with an access token and an RS256-signed ID
token whose key the JWKS endpoint publishes. The issuer is `http://<host>/oidc`, as the client
addressed the sandbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from html import escape
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .web import RecordedRequest, Response, Router, html_response, json_response, redirect

#: The one registered client (the portal): what PORTAL_OIDC_CLIENT_ID/_SECRET are set to.
CLIENT_ID = "sandbox-portal"
CLIENT_SECRET = "sandbox-oidc-secret-Zq7Rw2Lx9Vb4Nm6Kp1Tj"
#: How long a code and an ID token are good for, and an access token.
CODE_SECONDS = 60
ID_TOKEN_SECONDS = 300
ACCESS_TOKEN_SECONDS = 3600
SCOPES = ("openid", "email", "profile")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Person:
    """Who the provider signs in: the claims it vouches for."""

    sub: str
    email: str
    email_verified: bool = True
    name: str = ""


#: Signed in until a test chooses someone else.
DEFAULT_PERSON = Person(
    sub="sandbox-sso-0001", email="sam@sso.test", email_verified=True, name="Sam Single"
)


@dataclass(frozen=True)
class _Grant:
    """What a code or an access token stands for."""

    person: Person
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str
    code_challenge: str
    code_challenge_method: str
    expires_at: float


class OidcError(Exception):
    """A refused token or userinfo request: `{"error", "error_description"}` (RFC 6749 5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


class OidcProvider:
    """HTTP for `/oidc/...`: the provider's endpoints, its signing key and its grants."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | None = None
        self._kid = ""
        self._person = DEFAULT_PERSON
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _Grant] = {}
        #: When set, the next authorize request is answered with this error instead of a code
        #: (for example "access_denied", as when the person cancels at the provider).
        self.refuse_next: str | None = None
        self.router = Router()
        self.router.add(r"/\.well-known/openid-configuration", GET=self._discovery)
        self.router.add(r"/authorize", GET=self._authorize)
        self.router.add(r"/token", POST=self._token)
        self.router.add(r"/jwks", GET=self._jwks)
        self.router.add(r"/userinfo", GET=self._userinfo, POST=self._userinfo)

    # ----------------------------------------------------------------- test controls

    def reset(self) -> None:
        """The default person signed in, no outstanding codes or tokens, no refusal."""
        with self._lock:
            self._person = DEFAULT_PERSON
            self._codes.clear()
            self._access_tokens.clear()
            self.refuse_next = None

    def sign_in_as(
        self,
        email: str,
        *,
        email_verified: bool = True,
        name: str = "",
        sub: str | None = None,
    ) -> Person:
        """Make the authorize endpoint sign in this person from now on (`sub` defaults to one
        derived from the address, so the same address is the same account at the provider; an
        empty address leaves the email claims out)."""
        person = Person(
            sub=sub or "sso-" + hashlib.sha256(email.lower().encode()).hexdigest()[:16],
            email=email,
            email_verified=email_verified,
            name=name,
        )
        with self._lock:
            self._person = person
        return person

    @property
    def person(self) -> Person:
        with self._lock:
            return self._person

    # ----------------------------------------------------------------- dispatch

    def handle(self, req: RecordedRequest, sub_path: str) -> Response:
        """Answer a request whose path below the prefix is `sub_path`."""
        handler, params, allowed = self.router.match(req.method, sub_path)
        if handler is None:
            status, error = (405, "method_not_allowed") if allowed else (404, "not_found")
            return json_response(status, {"error": error})
        try:
            return handler(req, **params)
        except OidcError as error:
            headers = dict(_NO_STORE)
            if error.status == 401:
                headers["WWW-Authenticate"] = (
                    f'Bearer error="{error.error}"' if error.error == "invalid_token" else "Basic"
                )
            body = {"error": error.error, "error_description": error.description}
            return json_response(error.status, body, headers=headers)

    def issuer(self, req: RecordedRequest) -> str:
        return f"{req.base_url}{self.prefix}"

    # ----------------------------------------------------------------- discovery and keys

    def _discovery(self, req: RecordedRequest) -> Response:
        issuer = self.issuer(req)
        return json_response(
            200,
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": list(SCOPES),
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                ],
                "claims_supported": ["sub", "iss", "aud", "email", "email_verified", "name"],
                "code_challenge_methods_supported": ["S256", "plain"],
            },
        )

    def _signing_key(self) -> tuple[rsa.RSAPrivateKey, str]:
        # Made on first use: a sandbox that never signs anyone in does not pay for a key.
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._kid = secrets.token_hex(8)
            return self._key, self._kid

    def _jwks(self, req: RecordedRequest) -> Response:
        key, kid = self._signing_key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        return json_response(200, {"keys": [jwk]})

    # ----------------------------------------------------------------- authorize

    def _authorize(self, req: RecordedRequest) -> Response:
        params = req.query
        redirect_uri = params.get("redirect_uri", "")
        # Never redirect to an unverified place: a wrong client or URI gets an error page.
        if params.get("client_id") != CLIENT_ID:
            return _error_page(400, "invalid_client: unknown client_id")
        if not _is_absolute_http_uri(redirect_uri):
            return _error_page(400, "invalid_request: redirect_uri must be an absolute http(s) URL")
        if params.get("response_type") != "code":
            return _back_to_client(params, {"error": "unsupported_response_type"})
        scopes = tuple(params.get("scope", "").split())
        if "openid" not in scopes:
            return _back_to_client(params, {"error": "invalid_scope"})
        method = params.get("code_challenge_method", "plain" if "code_challenge" in params else "")
        if method not in ("", "plain", "S256"):
            return _back_to_client(params, {"error": "invalid_request"})
        with self._lock:
            refusal, self.refuse_next = self.refuse_next, None
            if refusal:
                return _back_to_client(params, {"error": refusal})
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Grant(
                person=self._person,
                client_id=CLIENT_ID,
                redirect_uri=redirect_uri,
                scopes=scopes,
                nonce=params.get("nonce", ""),
                code_challenge=params.get("code_challenge", ""),
                code_challenge_method=method,
                expires_at=time.time() + CODE_SECONDS,
            )
        return _back_to_client(params, {"code": code})

    # ----------------------------------------------------------------- token

    def _token(self, req: RecordedRequest) -> Response:
        form = req.form if req.content_type == "application/x-www-form-urlencoded" else {}
        client_id, secret = _client_credentials(req, form)
        if client_id != CLIENT_ID or not secrets.compare_digest(secret, CLIENT_SECRET):
            raise OidcError(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            raise OidcError(400, "unsupported_grant_type", "only authorization_code is supported")
        code = form.get("code", "")
        with self._lock:
            # Single use: taken out whether or not the rest checks out.
            grant = self._codes.pop(code, None)
        if grant is None or grant.expires_at <= time.time():
            raise OidcError(400, "invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri", "") != grant.redirect_uri:
            raise OidcError(400, "invalid_grant", "redirect_uri differs from the authorize request")
        if grant.code_challenge and not _pkce_matches(grant, form.get("code_verifier", "")):
            raise OidcError(400, "invalid_grant", "code_verifier does not match code_challenge")
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = replace(
                grant, expires_at=time.time() + ACCESS_TOKEN_SECONDS
            )
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": " ".join(grant.scopes),
            "id_token": self._id_token(req, grant),
        }
        return json_response(200, body, headers=_NO_STORE)

    def _id_token(self, req: RecordedRequest, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer(req),
            "sub": grant.person.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
            "auth_time": now,
            **_claims(grant),
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        key, kid = self._signing_key()
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    # ----------------------------------------------------------------- userinfo

    def _userinfo(self, req: RecordedRequest) -> Response:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        with self._lock:
            grant = self._access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= time.time():
            raise OidcError(401, "invalid_token", "unknown or expired access token")
        return json_response(200, {"sub": grant.person.sub, **_claims(grant)}, headers=_NO_STORE)


def _claims(grant: _Grant) -> dict[str, Any]:
    """The claims the granted scopes ask for (OpenID Connect Core 5.4)."""
    claims: dict[str, Any] = {}
    if "email" in grant.scopes and grant.person.email:
        claims["email"] = grant.person.email
        claims["email_verified"] = grant.person.email_verified
    if "profile" in grant.scopes and grant.person.name:
        claims["name"] = grant.person.name
    return claims


def _pkce_matches(grant: _Grant, verifier: str) -> bool:
    if grant.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return bool(verifier) and secrets.compare_digest(expected, grant.code_challenge)


def _client_credentials(req: RecordedRequest, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from the form (client_secret_post) or HTTP Basic
    (client_secret_basic, whose parts are form-urlencoded: RFC 6749 2.3.1)."""
    if form.get("client_secret"):
        return form.get("client_id", ""), form["client_secret"]
    scheme, _, encoded = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return form.get("client_id", ""), ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def _back_to_client(params: dict[str, str], answer: dict[str, str]) -> Response:
    """302 to the client's redirect URI with `answer` and the state added to its query."""
    if params.get("state"):
        answer = {**answer, "state": params["state"]}
    uri = params["redirect_uri"]
    separator = "&" if "?" in uri else "?"
    return redirect(f"{uri}{separator}{urlencode(answer)}")


def _is_absolute_http_uri(uri: str) -> bool:
    """An absolute http(s) URI of printable ASCII without a fragment (RFC 6749 3.1.2)."""
    if not re.fullmatch(r"[\x21-\x7e]+", uri):
        return False
    parts = urlsplit(uri)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and "#" not in uri


def _error_page(status: int, message: str) -> Response:
    return html_response(
        status,
        "<!DOCTYPE html>\n<html><head><title>OpenID Connect sandbox: error</title></head>"
        f"<body><h1>Sign-in failed</h1><p>{escape(message)}</p></body></html>",
    )
