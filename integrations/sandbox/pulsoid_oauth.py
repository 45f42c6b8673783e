"""The Pulsoid OAuth2 pages: authorize (an approve page), token and revoke.

The docs leave the error bodies of these endpoints undefined; the sandbox answers the standard
OAuth2 way (RFC 6749 / 7009): `{"error": "invalid_grant", "error_description": ...}`.
"""

from __future__ import annotations

import base64
import binascii
from html import escape
from typing import Any
from urllib.parse import unquote, urlencode

from .pulsoid import ACCESS_TOKEN_LIFETIME, OAuthError, PulsoidApi, Token, parse_scopes
from .seed import PULSOID_SCOPES
from .web import RecordedRequest, Response, Router, html_response, json_response, redirect

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class PulsoidOAuth:
    """HTTP for `/pulsoid/oauth2/...`, on top of the grants kept by `PulsoidApi`."""

    def __init__(self, api: PulsoidApi) -> None:
        self.api = api
        self.router = Router()
        self.router.add(r"/authorize", GET=self._authorize_page, POST=self._authorize_decision)
        self.router.add(r"/token", POST=self._token)
        self.router.add(r"/revoke", POST=self._revoke)

    def handle(self, req: RecordedRequest, sub_path: str) -> Response:
        """Answer a request whose path below `/pulsoid/oauth2` is `sub_path`."""
        handler, params, allowed = self.router.match(req.method, sub_path)
        if handler is None:
            status, error = (405, "method_not_allowed") if allowed else (404, "not_found")
            return json_response(status, {"error": error})
        try:
            return handler(req, **params)
        except OAuthError as error:
            body = {"error": error.error, "error_description": error.description}
            headers = dict(_NO_STORE)
            if error.status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="oauth2"'
            return json_response(error.status, body, headers=headers)

    # ----------------------------------------------------------------- authorize

    def _authorize_page(self, req: RecordedRequest) -> Response:
        params = req.query
        problem = self._untrusted_redirect(params)
        if problem:
            return problem
        if params.get("response_type") != "code":
            return _back_to_client(params, {"error": "unsupported_response_type"})
        scopes = parse_scopes(params.get("scope", ""))
        unknown = [scope for scope in scopes if scope not in PULSOID_SCOPES]
        if unknown:
            return _back_to_client(params, {"error": "invalid_scope"})
        return html_response(200, self._approve_html(params, scopes))

    def _authorize_decision(self, req: RecordedRequest) -> Response:
        form = req.form
        problem = self._untrusted_redirect(form)
        if problem:
            return problem
        # Only the Deny button refuses; a form posted without a button press approves.
        if form.get("decision") == "deny":
            return _back_to_client(form, {"error": "access_denied"})
        try:
            code = self.api.issue_code(
                form["client_id"],
                form["redirect_uri"],
                parse_scopes(form.get("scope", "")),
                form.get("user_id") or None,
            )
        except KeyError:
            return _error_page(400, "No such sandbox user.")
        return _back_to_client(form, {"code": code})

    def _untrusted_redirect(self, params: dict[str, str]) -> Response | None:
        """An error page when the client or redirect URI is wrong: never redirect to an
        unverified URI."""
        try:
            self.api.check_redirect(params.get("client_id", ""), params.get("redirect_uri", ""))
        except OAuthError as error:
            return _error_page(400, f"{error.error}: {error.description}")
        return None

    def _approve_html(self, params: dict[str, str], scopes: tuple[str, ...]) -> str:
        hidden = {
            "response_type": "code",
            "client_id": params["client_id"],
            "redirect_uri": params["redirect_uri"],
            "scope": " ".join(scopes),
            "state": params.get("state", ""),
        }
        fields = "".join(
            f'<input type="hidden" name="{name}" value="{escape(value)}">'
            for name, value in hidden.items()
        )
        users = "".join(
            f'<option value="{escape(user_id)}">{escape(label)}</option>'
            for user_id, label in self.api.users()
        )
        scope_items = "".join(f"<li><code>{escape(scope)}</code></li>" for scope in scopes)
        return (
            "<!DOCTYPE html>\n<html><head><title>Pulsoid sandbox: authorize</title></head><body>"
            "<h1>Authorize application</h1>"
            f"<p><strong>{escape(params['client_id'])}</strong> asks for:</p>"
            f"<ul>{scope_items or '<li>no scopes</li>'}</ul>"
            '<form method="post" action="authorize">'
            f"{fields}"
            f'<label for="user_id">Sign in as</label> <select id="user_id" name="user_id">'
            f"{users}</select> "
            '<button type="submit" name="decision" value="approve">Approve</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form></body></html>"
        )

    # ----------------------------------------------------------------- token and revoke

    def _token(self, req: RecordedRequest) -> Response:
        form = _form(req)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError(400, "unsupported_grant_type", f"{grant_type} is not supported")
        client = self.api.authenticate_client(*_client_credentials(req, form))
        if grant_type == "authorization_code":
            code = _required(form, "code")
            token = self.api.exchange_code(client, code, form.get("redirect_uri", ""))
        else:
            token = self.api.refresh(client, _required(form, "refresh_token"))
        return json_response(200, _token_body(token), headers=_NO_STORE)

    def _revoke(self, req: RecordedRequest) -> Response:
        token = _required(_form(req), "token")
        # RFC 7009: an unknown token is not an error, the result is the same.
        self.api.revoke(token)
        return Response(200, b"", dict(_NO_STORE))


def _token_body(token: Token) -> dict[str, Any]:
    return {
        "access_token": token.value,
        "refresh_token": token.refresh_token,
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "token_type": "bearer",
    }


def _form(req: RecordedRequest) -> dict[str, str]:
    # The endpoints read form-encoded bodies only; a JSON body reads as no fields at all.
    return req.form if req.content_type == "application/x-www-form-urlencoded" else {}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError(400, "invalid_request", f"{name} is required")
    return value


def _client_credentials(req: RecordedRequest, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from the form, or from HTTP Basic when the form has none."""
    if form.get("client_id"):
        return form["client_id"], form.get("client_secret", "")
    scheme, _, encoded = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return "", ""


def _back_to_client(params: dict[str, str], answer: dict[str, str]) -> Response:
    """302 to the client's redirect URI with `answer` and the state added to its query."""
    if params.get("state"):
        answer = {**answer, "state": params["state"]}
    uri = params["redirect_uri"]
    separator = "&" if "?" in uri else "?"
    return redirect(f"{uri}{separator}{urlencode(answer)}")


def _error_page(status: int, message: str) -> Response:
    return html_response(
        status,
        "<!DOCTYPE html>\n<html><head><title>Pulsoid sandbox: error</title></head>"
        f"<body><h1>Authorization failed</h1><p>{escape(message)}</p></body></html>",
    )
