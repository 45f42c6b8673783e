"""Keep secrets out of logs, error reports and messages by construction.

Two kinds of scrubbing. `redact` rewrites anything token-shaped (a Sanctum token, a UUID, a
bearer value, `token=...`), whatever it belongs to. `scrub` also removes given secrets by their
exact value, in every spelling a message or report may hold (as typed, URL-encoded, HTML-escaped,
the half after a Sanctum token's `|`), even when they are not token-shaped: a token someone
pasted, or the one a client was built with.

Tokens never get logged on purpose (the clients log paths, never headers, and a decrypted token
lives in a masked `Secret`), but a stray f-string, a library's debug line or an upstream that
echoes the token in its error message must not leak one either. Every handler passes records
through `RedactTokens`; error reports (the DEBUG 500 page, error mails) go through the reporter
and filter below, which know the secrets of the failing request (its POST fields named like
secrets) and of the failing frames (any `Secret`, or object holding one, in their variables).
The last four characters stay, the same way pages show a credential, so a redacted line can
still be matched to its credential.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from pprint import pformat
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

from django.utils.functional import LazyObject
from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Pulsetracker: Sanctum "<id>|<40 chars>". Pulsoid: UUIDs. Any "Bearer <value>". Secrets in
# form-encoded or JSON bodies (access_token=..., "refresh_token": "...", client_secret, token).
PATTERNS = [
    # A password-reset link's key (allauth: /accounts/password/reset/key/<uid>-<key>/).
    re.compile(r"(/password/reset/key/)[^/\s\"'<>]+"),
    re.compile(r"\b\d+\|[A-Za-z0-9]{36,}"),
    re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    # (Not what is already masked: a `Secret`'s repr, stars, an earlier "[redacted ...]".)
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|token|code)[\"']?\s*[:=]\s*[\"']?)"
        r"(?!\[redacted|Secret(?:[(),<\]\s]|$)|\*)[^\s\"'&,;}]+"
    ),
]


def redact(text: str) -> str:
    def keep_prefix_and_tail(match: re.Match[str]) -> str:
        prefix = match.group(1) if match.re.groups else ""
        secret = match.group(0)[len(prefix) :]
        return f"{prefix}[redacted …{secret[-4:]}]"

    for pattern in PATTERNS:
        text = pattern.sub(keep_prefix_and_tail, text)
    return text


# A value this short is matched only as a word of its own: the same letters inside a longer word
# are (almost surely) that word, and masking them would garble the text without hiding anything.
SHORT_SECRET = 8
# Pages show a credential's last four characters, so a value of four or fewer is no secret from
# anyone who sees them; masking every "1" or "on" in a report would only garble it.
SHOWN_TAIL = 4


def _mask(secret: str) -> str:
    """What stands where a secret was: its last four only when it is long and they are plain
    letters and digits (the mask also lands in HTML, unescaped)."""
    tail = secret[-4:]
    return f"[redacted …{tail}]" if len(secret) >= 12 and tail.isalnum() else "[redacted]"


def _spellings(secret: str) -> set[str]:
    """How one secret can appear in a message or report."""
    found = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret),
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
    }
    # Sanctum tokens are "<id>|<secret>", and only the part after the bar is secret: an upstream
    # may quote it alone.
    _, bar, tail = secret.rpartition("|")
    if bar and len(tail) >= SHORT_SECRET:
        found |= _spellings(tail)
    return {s for s in found if s}


def scrub_exact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` (any spelling, any letter case) replaced by a mask."""
    wanted = {s for s in secrets if len(s.strip()) > SHOWN_TAIL}
    for secret in sorted(wanted, key=len, reverse=True):
        spellings = sorted(_spellings(secret), key=len, reverse=True)
        alternatives = "|".join(re.escape(s) for s in spellings)
        if len(secret) < SHORT_SECRET:
            alternatives = rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])"
        text = re.sub(alternatives, _mask(secret), text, flags=re.IGNORECASE)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without `secrets` (by exact value) and without anything token-shaped."""
    return redact(scrub_exact(text, secrets))


# Knowing the secrets of a failure


# Form fields never shown in an error report, whoever's form it is (allauth's second-factor and
# re-authentication forms do not mark theirs sensitive).
SENSITIVE_FIELDS = re.compile(r"(?i)code|password|token|secret|key|credential")
NOT_SECRET_FIELDS = frozenset({"csrfmiddlewaretoken"})


def _sensitive_field(name: str, marked: Any) -> bool:
    if name in NOT_SECRET_FIELDS:
        return False
    return marked == "__ALL__" or name in (marked or ()) or bool(SENSITIVE_FIELDS.search(name))


def request_secrets(request: Any) -> set[str]:
    """The values of the request's fields that hold secrets: GET and POST fields named like one
    (or marked with `sensitive_post_parameters`), and the same keys of a JSON body already read."""
    found: set[str] = set()
    if request is None:
        return found
    marked = getattr(request, "sensitive_post_parameters", None)
    try:
        fields = list(request.GET.lists())  # an OAuth callback's `code`, say
        if request.method == "POST":
            fields += [(n, v) for n, v in request.POST.lists()]
    except Exception:  # a report must not fail on a body it cannot read
        fields = []
    for name, values in fields:
        if _sensitive_field(name, marked):
            found.update(v for v in values if isinstance(v, str))
    body = getattr(request, "_body", None)  # only a body already read: never consume a stream
    if body and "json" in (getattr(request, "content_type", "") or ""):
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            found.update(_json_secrets(json.loads(body), marked))
    return found


def _json_secrets(data: Any, marked: Any, depth: int = 0) -> Iterator[str]:
    if depth > 4:
        return
    if isinstance(data, dict):
        for name, value in data.items():
            if isinstance(value, str) and _sensitive_field(str(name), marked):
                yield value
            else:
                yield from _json_secrets(value, marked, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from _json_secrets(item, marked, depth + 1)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _frames(tb: TracebackType | None) -> Iterator[Any]:
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


# How many items of one container or object are looked into for secrets.
MAX_CHILDREN = 50


def _held_secrets(value: Any, depth: int = 0) -> Iterator[str]:
    """Secrets a variable holds: a wrapped secret (`accounts.crypto.Secret`, known by its
    `reveal()`), or one inside a container or an object's fields (a client's `_token`, an OAuth
    answer's tokens), two levels down. Only the class is asked about `reveal` and only stored
    fields are read, so nothing lazy is evaluated and no property runs."""
    kind = type(value)
    if callable(getattr(kind, "reveal", None)):
        revealed = value.reveal()
        if isinstance(revealed, str):
            yield revealed
        return
    if depth >= 2 or issubclass(kind, str | bytes | int | float | bool | LazyObject | type):
        return
    if issubclass(kind, dict):
        children: list[Any] = list(value.values())[:MAX_CHILDREN]
    elif issubclass(kind, list | tuple | set | frozenset):
        children = list(value)[:MAX_CHILDREN]
    elif hasattr(value, "__dict__") and isinstance(vars(value), dict):
        children = list(vars(value).values())[:MAX_CHILDREN]
    else:
        slots = getattr(kind, "__slots__", ())
        names = (slots,) if isinstance(slots, str) else tuple(slots)
        children = [getattr(value, name, None) for name in names[:MAX_CHILDREN]]
    for child in children:
        yield from _held_secrets(child, depth + 1)


def frame_secrets(frame: Any) -> set[str]:
    """The secrets held by one frame's variables."""
    found: set[str] = set()
    for value in list(frame.f_locals.values()):
        try:
            found.update(_held_secrets(value))
        except Exception:  # noqa: S112 - a report must not fail on a variable
            continue
    return found


def failure_secrets(request: Any, exc: BaseException | None) -> set[str]:
    """Every secret a report of this failure could show: the request's secret fields, and the
    secrets held by the variables of every frame of the exception and the ones it chains to."""
    found = request_secrets(request)
    for error in _chain(exc):
        for frame in _frames(error.__traceback__):
            found |= frame_secrets(frame)
    return found


# A record's own attributes; anything else on it came with `extra=`.
_STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class RedactTokens(logging.Filter):
    """Rewrite a record's message (arguments merged in) and traceback text, redacted; a record
    about a request or an exception also loses the secrets they hold, by exact value."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        exc = record.exc_info[1] if record.exc_info else None
        secrets = failure_secrets(getattr(record, "request", None), exc)
        record.msg = scrub(message, secrets)
        record.args = None
        # Structured fields (`extra=`) are redacted like the message.
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_FIELDS and isinstance(value, str):
                setattr(record, name, scrub(value, secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        return True


class _Shown:
    """A frame variable as the error report will print it: already redacted text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shown(value: Any, secrets: Iterable[str]) -> _Shown:
    """A frame variable's text, scrubbed. `pformat` wraps long values over several lines, which
    can cut a secret in two where no search would find it (bytes are cut anywhere), and the
    report trims long values, which can cut one at its end: so the search runs on the value in
    one line, and a value that held a secret is shown that way, in one line, scrubbed."""
    try:
        flat = pformat(value, width=sys.maxsize)
        cleaned = scrub(flat, secrets)
        return _Shown(cleaned if cleaned != flat else pformat(value))
    except Exception as exc:  # as Django does for a value that will not print
        return _Shown(f"Error in formatting: {type(exc).__name__}")


class RedactingExceptionReporter(ExceptionReporter):
    """Error reports (the DEBUG 500 page, error mails) scrubbed as log lines are: of anything
    token-shaped, and of the exact secrets of the failing request and frames, wherever they
    appear (a variable, an exception's message, a path, a header)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = failure_secrets(self.request, self.exc_value)
        if isinstance(self.filter, RedactingExceptionReporterFilter):
            # Every frame's variables are scrubbed of every secret of the failure, before the
            # report wraps or trims them (the filter Django hands out is shared: not changed).
            self.filter = self.filter.knowing(self.secrets)

    def get_traceback_text(self) -> SafeString:
        # Scrubbing only removes characters from text Django already escaped: still safe.
        return mark_safe(scrub(super().get_traceback_text(), self.secrets))  # noqa: S308

    def get_traceback_html(self) -> SafeString:
        return mark_safe(scrub(super().get_traceback_html(), self.secrets))  # noqa: S308


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports (500 pages with DEBUG, error emails) with secrets hidden, with DEBUG on too.

    Django turns its filter off under DEBUG (`is_active`), so `sensitive_variables` and
    `sensitive_post_parameters` would be ignored by the development server's 500 page, which is
    what `make run` shows. Here the filter is always on: a token pasted into a form must not
    appear on anyone's screen, in development or not. Token-shaped values are redacted too, which
    covers frames of libraries (requests, urllib3) that hold a header dict while they work.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = frozenset(secrets)

    def knowing(self, secrets: Iterable[str]) -> RedactingExceptionReporterFilter:
        """A filter like this one that also scrubs `secrets` from every frame's variables."""
        return type(self)(self.secrets | set(secrets))

    def is_active(self, request: Any) -> bool:
        return True

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if not parameters:
            return parameters
        shown = parameters.copy()
        for name in shown:
            if _sensitive_field(name, None):
                shown[name] = self.cleansed_substitute
        return shown

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        secrets = self.secrets | request_secrets(request) | frame_secrets(tb_frame)
        return [(name, _shown(value, secrets)) for name, value in variables]


# The current request's id (portal.observability.RequestIdMiddleware sets it), for every log line.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class RequestIdFilter(logging.Filter):
    """Put the current request's id on every record (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def redact_event(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: every text of a log event redacted (fields, message, traceback)."""
    return {key: redact(value) if isinstance(value, str) else value for key, value in event.items()}
