"""The sandbox's upstream state in a JSON file, so `make demo` remembers it across restarts.

What is kept is everything the two fake APIs hold (users, tokens, apps, devices, widgets, their
answer switches), read from their attributes as they are: a field added to one of their
dataclasses is kept with no change here. The file is written after every request that may
change something (not GET, HEAD or OPTIONS), whole and atomically (a new file moved into place).

A file that cannot be read back (another version's shapes, a hand edit) is reported and the
sandbox starts from its seed; the next change overwrites it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

#: Not state: the shared lock and the routing table, made by the APIs' constructors.
NOT_STATE = frozenset({"_lock", "router"})
#: Only the sandbox's own dataclasses are made again from a file.
PACKAGE = __name__.rpartition(".")[0]
VERSION = 1


class UnreadableState(Exception):
    """The file is not a state this sandbox can take up."""


def snapshot(apis: dict[str, Any]) -> dict[str, Any]:
    """The state of each named API, as JSON-ready data."""
    return {
        "version": VERSION,
        "apis": {
            name: {key: _encode(value) for key, value in vars(api).items() if key not in NOT_STATE}
            for name, api in apis.items()
        },
    }


def restore(apis: dict[str, Any], data: Any) -> None:
    """Put a snapshot back into the named APIs; UnreadableState when it does not fit (nothing
    is changed then)."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise UnreadableState("it was written by another version of the sandbox")
    states = data.get("apis")
    if not isinstance(states, dict) or set(states) != set(apis):
        raise UnreadableState("it does not hold the state of both APIs")
    decoded = {}
    for name, api in apis.items():
        state = states[name]
        if not isinstance(state, dict) or set(state) != set(vars(api)) - NOT_STATE:
            raise UnreadableState(f"its {name} state has other fields than this sandbox's")
        decoded[name] = {key: _decode(value) for key, value in state.items()}
    for name, api in apis.items():
        for key, value in decoded[name].items():
            setattr(api, key, value)


def save(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` whole: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> Any:
    """The data in `path`; UnreadableState when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableState(str(exc)) from exc


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": f"{kind.__module__}.{kind.__qualname__}", "fields": fields}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        # Keys kept with their types (Pulsetracker's users are keyed by number).
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"the sandbox cannot keep a {type(value).__name__} in its state file")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    try:
        if "__datetime__" in value:
            return datetime.fromisoformat(value["__datetime__"])
        if "__tuple__" in value:
            return tuple(_decode(item) for item in value["__tuple__"])
        if "__dict__" in value:
            return {_decode(k): _decode(v) for k, v in value["__dict__"]}
        if "__dataclass__" in value:
            kind = _dataclass(value["__dataclass__"])
            return kind(**{k: _decode(v) for k, v in value["fields"].items()})
    except (TypeError, ValueError, KeyError) as exc:
        raise UnreadableState(str(exc)) from exc
    raise UnreadableState(f"unexpected object {sorted(value)}")


def _dataclass(name: str) -> Any:
    module, _, qualname = name.rpartition(".")
    if not module.startswith(PACKAGE + "."):
        raise UnreadableState(f"{name} is not one of the sandbox's own types")
    found = getattr(importlib.import_module(module), qualname, None)
    if not (isinstance(found, type) and dataclasses.is_dataclass(found)):
        raise UnreadableState(f"{name} is not one of the sandbox's types")
    return found
