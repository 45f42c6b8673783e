"""Injected faults: what the next matching requests get instead of the normal answer."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from .web import Response, html_response, json_response

#: How long a `timeout=True` fault keeps the connection silent (unless the sandbox stops first).
TIMEOUT_SECONDS = 30.0

MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
    "<body><h1>We'll be right back</h1><p>The service is down for maintenance.</p></body></html>"
)


@dataclass
class Fault:
    """One registered fault. Exactly one kind is set: status, timeout, slow_body, non_json or
    oversized; `body` and `headers` refine a status fault (headers apply to every kind)."""

    method: str
    path_prefix: str
    status: int | None = None
    body: Any = None
    headers: dict[str, str] | None = None
    timeout: bool = False
    slow_body: float | None = None
    non_json: bool = False
    oversized: int | None = None
    remaining: int = 1

    def __post_init__(self) -> None:
        kinds = [
            self.status is not None,
            self.timeout,
            self.slow_body is not None,
            self.non_json,
            self.oversized is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a fault needs exactly one of status, timeout, slow_body, non_json, oversized"
            )
        if self.remaining < 1:
            raise ValueError("times must be at least 1")
        if self.oversized is not None and self.oversized < 1:
            raise ValueError("oversized must be a positive number of bytes")
        self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path (relative to the sandbox URL) is hit."""
        method_ok = self.method in ("*", method.upper())
        return method_ok and path.startswith(self.path_prefix)

    def replacement(self) -> Response | None:
        """The response that replaces the normal answer; None for timeout and slow_body, which
        change how (or whether) the normal answer is sent rather than what it says."""
        if self.status is not None:
            return self._with_headers(status_response(self.status, self.body))
        if self.non_json:
            return self._with_headers(html_response(200, MAINTENANCE_PAGE))
        if self.oversized is not None:
            return self._with_headers(oversized_response(self.oversized))
        return None

    def _with_headers(self, response: Response) -> Response:
        response.headers.update(self.headers or {})
        return response


def status_response(status: int, body: Any) -> Response:
    """A response with `status` whose body is `body` (bytes or str as is, anything else as
    JSON), or a JSON `{"message": <reason phrase>}` when no body is given ("Server Error" for
    500, the words Laravel uses)."""
    if body is None:
        try:
            phrase = "Server Error" if status == 500 else HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return json_response(status, {"message": phrase})
    if isinstance(body, bytes):
        return Response(status, body, {"Content-Type": "application/json"})
    if isinstance(body, str):
        return Response(status, body.encode("utf-8"), {"Content-Type": "application/json"})
    return json_response(status, body)


def oversized_response(size: int) -> Response:
    """A 200 response whose body is valid JSON of exactly `size` bytes."""
    envelope = '{"padding":""}'
    if size < len(envelope):
        # Too small for an object: a number of the right width is still valid JSON.
        text = "1" + "0" * (size - 1)
    else:
        text = '{"padding":"' + "x" * (size - len(envelope)) + '"}'
    return Response(200, text.encode("ascii"), {"Content-Type": "application/json"})


class FaultBook:
    """The registered faults, consumed first-registered first, safe across server threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Register a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, with one use consumed; None when none does."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None
