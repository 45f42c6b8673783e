"""Several upstream calls at once: they overlap, keep their order, and a failure stays its own."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from integrations import fanout
from integrations.errors import Unavailable
from portal.logging import request_id

pytestmark = pytest.mark.django_db(transaction=True)


def test_calls_run_at_the_same_time_and_come_back_in_order():
    # Three calls that each wait for the other two: done one after another, the first would
    # wait alone until the barrier gives up.
    meeting = threading.Barrier(3, timeout=5)

    def call(n: int):
        def run() -> int:
            meeting.wait()
            return n

        return run

    assert fanout.gather([call(1), call(2), call(3)]) == [1, 2, 3]


def test_one_failure_does_not_stop_the_others():
    def fails() -> int:
        raise Unavailable("Pulsetracker is unavailable.", service="Pulsetracker")

    results = fanout.settle([lambda: 1, fails, lambda: 3])
    assert results[0] == 1
    assert results[2] == 3
    assert isinstance(results[1], Unavailable)
    with pytest.raises(Unavailable):
        fanout.gather([lambda: 1, fails])


def test_calls_carry_the_request_id_into_their_threads():
    token = request_id.set("req-42")
    try:
        assert fanout.gather([request_id.get, request_id.get]) == ["req-42", "req-42"]
    finally:
        request_id.reset(token)


def test_inside_a_transaction_calls_run_in_turn_on_the_callers_thread():
    with transaction.atomic():
        names = fanout.gather([lambda: threading.current_thread().name] * 2)
    assert names == [threading.current_thread().name] * 2


def test_a_fan_out_from_a_pool_thread_never_waits_on_the_pool_itself(monkeypatch):
    # A pool of two, both threads busy with calls that each fan out again (a dashboard card
    # reading every page of apps): the inner calls must not queue behind their own callers.
    from concurrent.futures import ThreadPoolExecutor

    small = ThreadPoolExecutor(max_workers=2, initializer=fanout._mark_pool_thread)
    monkeypatch.setattr(fanout, "_pool", small)
    inner = threading.Barrier(4, timeout=5)  # all four inner calls at once, or it breaks

    def card(n: int):
        def run() -> list[int]:
            def page(p: int):
                def read() -> int:
                    inner.wait()
                    return n * 10 + p

                return read

            return fanout.gather([page(1), page(2)])

        return run

    try:
        assert fanout.gather([card(1), card(2)]) == [[11, 12], [21, 22]]
    finally:
        small.shutdown()


def test_the_pool_keeps_its_threads_from_one_fan_out_to_the_next():
    # Each thread's own state (its open HTTP connections, here a marker) outlives a fan-out: 20
    # fan-outs of two calls are served by a handful of threads, not forty new ones.
    own = threading.local()
    threads_seen: list[object] = []

    def mark() -> None:
        if not hasattr(own, "marker"):
            own.marker = object()
            threads_seen.append(own.marker)

    for _ in range(20):
        fanout.gather([mark, mark])
    assert len(threads_seen) <= 4
