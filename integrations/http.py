"""The one place the portal makes HTTP calls to an upstream.

Every call: explicit (connect, read) timeouts and a deadline for the whole answer, `Accept:
application/json`, a `User-Agent` naming the portal, no redirects followed, and a cap on the size
of the body. GETs are retried at most twice on connection errors and 502/503/504 with a short
backoff; POST and PUT never are, because the upstream may have acted on the first attempt. A
`Retry-After` is reported to the caller, never slept on.

This module knows nothing of either upstream's error bodies: it turns transport failures and the
statuses every HTTP service shares (redirects, 429, 5xx) into typed errors, and hands any other
answer back as a `RawResponse` for the client module to read.

An upstream's error message is shown to people and stored in the activity log, and an upstream
may quote the very token it refuses. So a client reads a refusal only once it is scrubbed
(`RawResponse.scrubbed`: its own secrets removed by exact value, anything token-shaped redacted)
and every error leaving a client passes through `scrubbing` once more: no message a client
raises carries its token.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from accounts.crypto import Secret
from integrations import protection
from integrations.errors import BadResponse, RateLimited, Unavailable, UpstreamError
from portal.logging import scrub, scrub_exact
from portal.metrics import observe_upstream

logger = logging.getLogger("integrations.http")

USER_AGENT = "PulseTeamPortal/0.1 (team portal for Pulsetracker and Pulsoid)"
RETRYABLE_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})
MAX_RETRIES = 2
BACKOFF_SECONDS = 0.15
CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a connection, and for the answer once connected.

    `read` bounds the whole answer, not just each socket read: a server that dribbles its body a
    few bytes at a time is cut off once `connect + read` seconds have passed.
    """

    connect: float
    read: float

    @classmethod
    def from_settings(cls) -> Timeouts:
        return cls(settings.UPSTREAM_CONNECT_TIMEOUT, settings.UPSTREAM_READ_TIMEOUT)

    @property
    def total(self) -> float:
        return self.connect + self.read


@dataclass(frozen=True)
class RawResponse:
    """An upstream answer, read in full (within the size cap)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    service: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or BadResponse naming the service."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            kind = self.content_type or "an unlabelled body"
            raise BadResponse(
                f"{self.service} sent {kind} instead of JSON (status {self.status}).",
                service=self.service,
                status=self.status,
            ) from exc

    def json_or_none(self) -> Any:
        """The body as JSON when it is JSON, else None (for reading error bodies)."""
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    def scrubbed(self, clean: Callable[[str], str]) -> RawResponse:
        """The same answer with every text in its body passed through `clean`: each string of a
        JSON body (keys too), or the whole of any other body. Read refusals only this way."""
        data = self.json_or_none()
        if data is not None:
            body = json.dumps(_clean_json(data, clean), ensure_ascii=False).encode()
        else:
            body = clean(self.body.decode("utf-8", errors="replace")).encode()
        return dataclasses.replace(self, body=body)


def _clean_json(data: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, list):
        return [_clean_json(item, clean) for item in data]
    if isinstance(data, dict):
        return {clean(str(k)): _clean_json(v, clean) for k, v in data.items()}
    return data


Secrets = Iterable[Secret | str | None]


def _held(secrets: Secrets) -> list[Secret]:
    # Kept wrapped, revealed only while scrubbing: a frame of an error report shows them masked
    # (and the report, finding them, scrubs their values from everything else it shows).
    return [s if isinstance(s, Secret) else Secret(s) for s in secrets if s]


def scrubber(secrets: Secrets) -> Callable[[str], str]:
    """Cleans an upstream's words: `secrets` removed wherever they appear (even when they are
    not token-shaped), then anything token-shaped redacted."""
    held = _held(secrets)
    return lambda text: scrub(text, [s.reveal() for s in held])


@contextmanager
def scrubbing(secrets: Secrets) -> Iterator[Callable[[str], str]]:
    """Yield a `scrubber` for `secrets`; an UpstreamError raised inside leaves with `secrets`
    removed from its every text (our own words stay as written: only exact values go)."""
    held = _held(secrets)
    try:
        yield scrubber(held)
    except UpstreamError as exc:
        exc.scrub(lambda text: scrub_exact(text, [s.reveal() for s in held]))
        raise


class TokenClient:
    """Base of the upstream clients: one token, one base URL, every call through `_call`.

    Subclasses name their `service` and the setting holding their default `base_url`, and turn
    a refusal into a typed error in `error_for`, which is handed the answer already scrubbed of
    the token: every error message leaving a client is clean.
    """

    service: str = ""
    base_url_setting: str = ""

    def __init__(
        self,
        token: Secret,
        *,
        base_url: str | None = None,
        timeouts: Timeouts | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(token, Secret):
            raise TypeError(f"{type(self).__name__} takes the token as a Secret.")
        self._token = token
        self.base_url = (base_url or getattr(settings, self.base_url_setting)).rstrip("/")
        self.timeouts = timeouts
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, token={self._token!r})"

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        allow: Iterable[int] = (),
        **context: Any,
    ) -> RawResponse:
        """Send one call; a 2xx answer (or one with a status in `allow`) comes back, any other
        becomes this upstream's typed error (`error_for`, given `context`), scrubbed."""
        with scrubbing([self._token]) as clean:
            response = send(
                method,
                self.base_url + path,
                service=self.service,
                bearer=self._token.reveal(),
                params=params,
                json_body=json_body,
                timeouts=self.timeouts,
                http=self._session,
            )
            if response.ok or response.status in allow:
                return response
            raise self.error_for(response.scrubbed(clean), **context)

    def error_for(self, response: RawResponse, **context: Any) -> UpstreamError:
        """The typed error for a refusal (the answer already scrubbed of the token)."""
        raise NotImplementedError


_local = threading.local()


def session() -> requests.Session:
    """One pooled Session per thread (requests' Session is not documented as thread-safe)."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.headers.clear()
        current.trust_env = False  # no proxy or .netrc surprises: the portal calls what it names
        _local.session = current
    return current


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@sensitive_variables("bearer", "headers", "json_body", "form", "body")
def send(
    method: str,
    url: str,
    *,
    service: str,
    bearer: str | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    form: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeouts: Timeouts | None = None,
    max_body: int | None = None,
    http: requests.Session | None = None,
) -> RawResponse:
    """Make one upstream call (with retries for GETs) and return the answer read in full.

    `body` sends exact bytes (a signed webhook), with `headers` added to the portal's own.

    Raises Unavailable (connection refused, timeout, 5xx, or the breaker open), RateLimited
    (429) or BadResponse (redirect, oversized body). Any other status comes back for the caller
    to interpret. Unavailable answers feed the upstream's circuit breaker.
    """
    counting = protection.before_call(service)
    try:
        response = _send(
            method,
            url,
            service,
            bearer,
            params,
            json_body,
            form if body is None else body,
            dict(headers or {}),
            timeouts,
            max_body,
            http,
        )
    except Unavailable:
        protection.failed(service)
        raise
    except UpstreamError:  # it answered (a 429, a redirect, too large): it is up
        protection.succeeded(service, counting)
        raise
    protection.succeeded(service, counting)
    return response


@sensitive_variables("bearer", "headers", "extra_headers", "json_body", "form")
def _send(
    method: str,
    url: str,
    service: str,
    bearer: str | None,
    params: Mapping[str, Any] | None,
    json_body: Any,
    form: Mapping[str, str] | bytes | None,
    extra_headers: dict[str, str],
    timeouts: Timeouts | None,
    max_body: int | None,
    http: requests.Session | None,
) -> RawResponse:
    method = method.upper()
    timeouts = timeouts or Timeouts.from_settings()
    max_body = max_body if max_body is not None else settings.UPSTREAM_MAX_BODY_BYTES
    http = http or session()
    headers = {"Accept": "application/json", **extra_headers, "User-Agent": USER_AGENT}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    attempts = 1 + (MAX_RETRIES if method in IDEMPOTENT_METHODS else 0)

    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        try:
            raw = _attempt(method, url, headers, params, json_body, form, timeouts, max_body, http)
        except _Retryable as exc:
            if attempt < attempts:
                _log(method, url, service, f"retrying after {exc.reason}", started)
                time.sleep(BACKOFF_SECONDS * attempt)
                continue
            raise Unavailable(
                f"{service} could not be reached ({exc.reason}); try again in a moment.",
                service=service,
            ) from None
        except _TimedOut:
            _log(method, url, service, "timed out", started)
            raise Unavailable(
                f"{service} did not answer within {timeouts.total:g} seconds; try again shortly.",
                service=service,
            ) from None
        except _TooLarge:
            _log(method, url, service, "body over the size cap", started)
            raise BadResponse(
                f"{service} sent an answer larger than {max_body:,} bytes; the portal refused it.",
                service=service,
            ) from None

        response = RawResponse(raw[0], raw[1], raw[2], service)
        _log(method, url, service, str(response.status), started)
        if response.status in RETRYABLE_STATUSES and attempt < attempts:
            time.sleep(BACKOFF_SECONDS * attempt)
            continue
        _raise_for_shared_statuses(response)
        return response
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _TimedOut(Exception):
    pass


class _TooLarge(Exception):
    pass


@sensitive_variables("headers", "json_body", "form")
def _attempt(
    method: str,
    url: str,
    headers: dict[str, str],
    params: Mapping[str, Any] | None,
    json_body: Any,
    form: Mapping[str, str] | bytes | None,
    timeouts: Timeouts,
    max_body: int,
    http: requests.Session,
) -> tuple[int, CaseInsensitiveDict[str], bytes]:
    deadline = time.monotonic() + timeouts.total
    try:
        response = http.request(
            method,
            url,
            headers=headers,
            params=params,
            json=json_body,
            data=form,
            timeout=(timeouts.connect, timeouts.read),
            allow_redirects=False,
            stream=True,
        )
    except requests.ConnectTimeout:
        raise _Retryable("the connection timed out") from None
    except requests.ReadTimeout:
        raise _TimedOut from None
    except requests.ConnectionError as exc:
        if _is_read_timeout(exc):
            raise _TimedOut from None
        raise _Retryable("the connection was refused or dropped") from None
    except requests.RequestException:
        raise _Retryable("the request failed") from None

    try:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_body:
            raise _TooLarge
        body = _read_body(response, max_body, deadline)
        return response.status_code, response.headers, body
    finally:
        response.close()


def _read_body(response: requests.Response, max_body: int, deadline: float) -> bytes:
    """Read the body within the deadline and the size cap.

    `read1` returns as soon as any bytes arrive, so a dribbling server is noticed at the deadline
    rather than after the whole body has trickled in.
    """
    chunks: list[bytes] = []
    size = 0
    raw = response.raw
    try:
        while True:
            if time.monotonic() > deadline:
                raise _TimedOut
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > max_body:
                raise _TooLarge
            chunks.append(chunk)
    except (ReadTimeoutError, TimeoutError):
        raise _TimedOut from None
    except (ProtocolError, OSError, requests.RequestException) as exc:
        if _is_read_timeout(exc):
            raise _TimedOut from None
        raise _Retryable("the connection dropped mid-answer") from None
    return b"".join(chunks)


def _is_read_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ReadTimeoutError | TimeoutError | requests.ReadTimeout):
            return True
        first = current.args[0] if current.args else None
        nested = first if isinstance(first, BaseException) else None
        current = nested or current.__cause__ or current.__context__
    return False


def _raise_for_shared_statuses(response: RawResponse) -> None:
    """Statuses that mean the same for every upstream."""
    status, service = response.status, response.service
    if 300 <= status < 400:
        raise BadResponse(
            f"{service} answered with a redirect instead of data (status {status}); check the "
            "API URL setting.",
            service=service,
            status=status,
        )
    if status == 429:
        raise RateLimited(
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            service=service,
            status=status,
        )
    if status >= 500:
        raise Unavailable(
            f"{service} is having trouble (status {status}); try again in a moment.",
            service=service,
            status=status,
        )


def _log(method: str, url: str, service: str, outcome: str, started: float) -> None:
    # The path only: no query string, no headers. Tokens travel in headers and never in URLs, and
    # keeping the log to the path means a future query parameter cannot leak into it either.
    path = _template(urlsplit(url).path)
    elapsed = (time.monotonic() - started) * 1000
    observe_upstream(service, outcome, elapsed / 1000)
    logger.info(
        "%s %s %s -> %s in %.0f ms",
        service,
        method,
        path,
        outcome,
        elapsed,
        extra={
            "service": service,
            "method": method,
            "path": path,
            "outcome": outcome,
            "latency_ms": round(elapsed, 1),
        },
    )


# Path segments that name one thing (ids, keys, uuids) become {id}: one series per endpoint.
_ONE_THING = re.compile(r"^(?:\d+|[0-9a-fA-F-]{16,}|[A-Za-z0-9_-]{20,})$")


def _template(path: str) -> str:
    return "/".join("{id}" if _ONE_THING.match(part) else part for part in path.split("/"))
