"""Keep tokens out of logs by construction: a filter that redacts anything token-shaped.

Tokens never get logged on purpose (the clients log paths, never headers, and a decrypted token
lives in a masked `Secret`), but a stray f-string or a library's debug line must not leak one
either. Every handler passes records through this filter. The last four characters stay, the
same way pages show a credential, so a redacted line can still be matched to its credential.
"""

from __future__ import annotations

import logging
import re
from pprint import pformat
from typing import Any

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
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|token|code)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"'&,;}]+"
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


class RedactTokens(logging.Filter):
    """Rewrite a record's message (arguments merged in) and traceback text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class _Shown:
    """A frame variable as the error report will print it: already redacted text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


# Form fields never shown in an error report, whoever's form it is (allauth's second-factor and
# re-authentication forms do not mark theirs sensitive).
SENSITIVE_FIELDS = re.compile(r"(?i)code|password|token|secret|key|credential")


class RedactingExceptionReporter(ExceptionReporter):
    """Error reports (the DEBUG 500 page, error mails) redacted as log lines are: paths and
    headers can carry a secret too (a reset link's key)."""

    def get_traceback_text(self) -> SafeString:
        # Redaction only removes characters from text Django already escaped: still safe.
        return mark_safe(redact(super().get_traceback_text()))  # noqa: S308

    def get_traceback_html(self) -> SafeString:
        return mark_safe(redact(super().get_traceback_html()))  # noqa: S308


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports (500 pages with DEBUG, error emails) with token-shaped values redacted.

    Django already hides variables of functions marked `sensitive_variables`; this also covers
    frames of libraries (requests, urllib3) that hold a header dict while they work.
    """

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if not parameters:
            return parameters
        shown = parameters.copy()
        for name in shown:
            if SENSITIVE_FIELDS.search(name) and name != "csrfmiddlewaretoken":
                shown[name] = self.cleansed_substitute
        return shown

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, _Shown(redact(pformat(value)))) for name, value in variables]
