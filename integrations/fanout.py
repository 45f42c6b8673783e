"""Several upstream calls at once, so a screen waits about one round trip, not their sum.

A screen that needs more than one call (every page of an account's apps, an app and its devices,
the dashboard over each credential) hands them to `gather` or `settle`; each call runs on a thread
of the process's upstream pool with the request's context (its request id in the logs), and closes
any database connection it opened when it ends. The pool's threads live as long as the process,
so each keeps its pooled HTTP connections (`integrations.http.session`) to the upstreams: a
fan-out neither starts threads nor opens new connections (with TLS, a round trip or two each).

Calls made from a pool thread (a dashboard card reading every page of apps) get a pool of their
own for that fan-out, so a full pool can never wait on itself.

Inside a transaction the calls run one after another on the caller's thread instead: a thread's
connection could neither see the transaction's uncommitted rows nor write beside it. Views run
outside one (no ATOMIC_REQUESTS), so only code that opens a transaction itself, and tests that
wrap each test in one, take that path.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_local = threading.local()


def _forget_pool() -> None:
    """In a forked child (a server's worker) the parent's threads do not exist: start afresh."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def _mark_pool_thread() -> None:
    _local.in_pool = True


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=settings.UPSTREAM_THREADS,
                thread_name_prefix="upstream",
                initializer=_mark_pool_thread,
            )
        return _pool


def _in_thread(call: Callable[[], T]) -> Callable[[], T]:
    context = contextvars.copy_context()

    def run() -> T:
        try:
            return context.run(call)
        finally:
            connections.close_all()  # this thread's own connections, not the caller's

    return run


def _attempt(call: Callable[[], T]) -> T | Exception:
    try:
        return call()
    except Exception as exc:  # handed back to the caller, who decides what it means
        return exc


def _run(pool: Executor, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    futures = [pool.submit(_attempt, _in_thread(call)) for call in calls]
    return [future.result() for future in futures]


def _outcomes(calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    if len(calls) < 2 or connection.in_atomic_block:
        return [_attempt(call) for call in calls]
    if getattr(_local, "in_pool", False):
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="upstream-n") as own:
            return _run(own, calls)
    return _run(_shared_pool(), calls)


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
