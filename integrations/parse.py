"""Field-by-field checks for upstream JSON, so a surprising shape is a clear BadResponse.

A template never sees a KeyError: every dataclass built from upstream data goes through these.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from datetime import datetime as _datetime
from typing import Any

from integrations.errors import BadResponse


class Reader:
    """Reads typed fields out of one JSON object, naming the service and object on failure."""

    def __init__(self, data: Any, *, service: str, what: str) -> None:
        if not isinstance(data, dict):
            raise BadResponse(
                f"{service} sent {_kind(data)} where {what} was expected.", service=service
            )
        self.data = data
        self.service = service
        self.what = what

    def _fail(self, name: str, expected: str) -> BadResponse:
        got = _kind(self.data.get(name)) if name in self.data else "nothing"
        return BadResponse(
            f"{self.service} sent {got} for “{name}” of {self.what}; expected {expected}.",
            service=self.service,
        )

    def str(self, name: builtins.str) -> builtins.str:
        value = self.data.get(name)
        if not isinstance(value, str):
            raise self._fail(name, "text")
        return value

    def opt_str(self, name: builtins.str) -> builtins.str | None:
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            raise self._fail(name, "text or null")
        return value

    def int(self, name: builtins.str) -> builtins.int:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, "a whole number")
        return value

    def opt_int(self, name: builtins.str) -> builtins.int | None:
        if self.data.get(name) is None:
            return None
        return self.int(name)

    def number(self, name: builtins.str) -> float:
        value = self.data.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(name, "a number")
        return float(value)

    def opt_number(self, name: builtins.str) -> float | None:
        if self.data.get(name) is None:
            return None
        return self.number(name)

    def bool(self, name: builtins.str, default: builtins.bool | None = None) -> builtins.bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self._fail(name, "true or false")
        return value

    def list(
        self, name: builtins.str, default: builtins.list[Any] | None = None
    ) -> builtins.list[Any]:
        value = self.data.get(name, default)
        if not isinstance(value, list):
            raise self._fail(name, "a list")
        return value

    def dict(
        self, name: builtins.str, default: builtins.dict[builtins.str, Any] | None = None
    ) -> builtins.dict[builtins.str, Any]:
        value = self.data.get(name, default)
        if not isinstance(value, dict):
            raise self._fail(name, "an object")
        return value

    def datetime(self, name: builtins.str) -> _datetime:
        value = self.data.get(name)
        parsed = parse_timestamp(value) if isinstance(value, str) else None
        if parsed is None:
            raise self._fail(name, "an ISO 8601 timestamp")
        return parsed

    def opt_datetime(self, name: builtins.str) -> _datetime | None:
        if self.data.get(name) is None:
            return None
        return self.datetime(name)


def parse_timestamp(value: str) -> datetime | None:
    """An aware datetime from ISO 8601, with or without fractional seconds; UTC when unmarked."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
