"""Several upstream calls at once, so a screen waits about one round trip, not their sum.

A screen that needs more than one call (every page of an account's apps, an app and its devices,
the dashboard over each credential) hands them to `gather` or `settle`; each call runs on its
own thread with the request's context (its request id in the logs) and its own database
connection, closed when the call ends.

Inside a transaction the calls run one after another on the caller's thread instead: a thread's
connection could neither see the transaction's uncommitted rows nor write beside it. Views run
outside one (no ATOMIC_REQUESTS), so only code that opens a transaction itself, and tests that
wrap each test in one, take that path.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections

T = TypeVar("T")


def _in_thread(call: Callable[[], T]) -> Callable[[], T]:
    context = contextvars.copy_context()

    def run() -> T:
        try:
            return context.run(call)
        finally:
            connections.close_all()  # this thread's own connections, not the caller's

    return run


def _outcomes(calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    def attempt(call: Callable[[], T]) -> T | Exception:
        try:
            return call()
        except Exception as exc:  # handed back to the caller, who decides what it means
            return exc

    if len(calls) < 2 or connection.in_atomic_block:
        return [attempt(call) for call in calls]
    workers = max(1, min(len(calls), settings.UPSTREAM_CONCURRENCY))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upstream") as pool:
        futures = [pool.submit(attempt, _in_thread(call)) for call in calls]
        return [future.result() for future in futures]


def gather(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Every call's result, in order; the first failure (in order) is raised after all end."""
    results = _outcomes(calls)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results  # type: ignore[return-value]  # no Exception left in it


def settle(calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    """Every call's result or the exception it raised, in order (one failing does not stop the
    others: a dashboard shows each credential's own answer)."""
    return _outcomes(calls)
