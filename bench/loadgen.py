"""A small concurrent HTTP load generator: several processes, each with several threads, each
thread holding one keep-alive `http.client` connection.

Two shapes: `timed_load` (the same GET as fast as possible for a fixed time, for requests per
second) and `create_apps` (scripted clients, each posting the create-app form N times). Processes
are spawned, not forked, so they carry nothing of the parent's Django, sandbox or database state;
this module imports neither.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from multiprocessing import get_context
from urllib.parse import urlencode

TIMEOUT = 30.0


# ------------------------------------------------------------------------------ timed load


@dataclass
class TimedResult:
    completed: int = 0  # 200 answers with the marker, finished inside the window
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def merge(self, other: TimedResult) -> None:
        self.completed += other.completed
        self.errors += other.errors
        self.error_samples.extend(other.error_samples[: 5 - len(self.error_samples)])
        self.latencies.extend(other.latencies)


def _timed_thread(
    port: int,
    path: str,
    headers: dict[str, str],
    marker: bytes,
    start_at: float,
    end_at: float,
    out: TimedResult,
    lock: threading.Lock,
) -> None:
    mine = TimedResult()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    while True:
        began = time.time()
        if began >= end_at:
            break
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            done = time.time()
            if response.status != 200 or marker not in body:
                raise ValueError(f"status {response.status}, {len(body)} bytes")
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        except Exception as exc:
            mine.errors += 1
            if len(mine.error_samples) < 5:
                mine.error_samples.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            continue
        if done <= end_at:
            mine.completed += 1
            mine.latencies.append(done - began)
    conn.close()
    with lock:
        out.merge(mine)


def _timed_process(
    port: int,
    path: str,
    headers: dict[str, str],
    marker: bytes,
    threads: int,
    start_at: float,
    end_at: float,
) -> TimedResult:
    out, lock = TimedResult(), threading.Lock()
    workers = [
        threading.Thread(
            target=_timed_thread,
            args=(port, path, headers, marker, start_at, end_at, out, lock),
            daemon=True,
        )
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return out


def timed_load(
    port: int,
    path: str,
    *,
    headers: dict[str, str],
    marker: bytes,
    duration: float = 10.0,
    processes: int = 2,
    threads: int = 8,
) -> tuple[TimedResult, float]:
    """GET `path` from `processes * threads` keep-alive connections for `duration` seconds.

    An answer counts when it is a 200 containing `marker` and finishes inside the window.
    Returns the merged result and the window's length (the requests-per-second divisor).
    """
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        # Processes take a moment to spawn; everyone starts together a little later.
        start_at = time.time() + 1.5
        end_at = start_at + duration
        futures = [
            pool.submit(_timed_process, port, path, headers, marker, threads, start_at, end_at)
            for _ in range(processes)
        ]
        total = TimedResult()
        for future in futures:
            total.merge(future.result(timeout=duration + 120))
    return total, duration


# ------------------------------------------------------------------------------ scripted clients

_CSRF_IN_PAGE = (
    re.compile(rb'"X-CSRFToken"\s*:\s*"([^"]+)"'),
    re.compile(rb'name="csrfmiddlewaretoken"\s+value="([^"]+)"'),
)


@dataclass
class ClientSpec:
    index: int
    cookies: dict[str, str]


@dataclass
class CreateOutcome:
    client: int
    name: str
    seconds: float
    status: int
    created: bool  # the answer says "Created the app"
    error: str = ""


def _cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def _remember_cookies(response: http.client.HTTPResponse, cookies: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            cookies[name] = morsel.value


def _create_client(
    port: int,
    cid: int,
    spec: ClientSpec,
    per_client: int,
    start_at: float,
    outcomes: list[CreateOutcome],
    lock: threading.Lock,
) -> None:
    cookies = dict(spec.cookies)
    mine: list[CreateOutcome] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    token = ""
    try:
        # Open the apps page first, as a browser would: it sets the CSRF cookie and carries the
        # token htmx sends back in X-CSRFToken.
        conn.request("GET", f"/apps/{cid}/", headers={"Cookie": _cookie_header(cookies)})
        response = conn.getresponse()
        page = response.read()
        _remember_cookies(response, cookies)
        for pattern in _CSRF_IN_PAGE:
            found = pattern.search(page)
            if found:
                token = found.group(1).decode()
                break
        if response.status != 200 or not token or "csrftoken" not in cookies:
            raise RuntimeError(f"apps page: status {response.status}, no CSRF token or cookie")
    except Exception as exc:
        for number in range(per_client):
            name = f"load {spec.index:02d}-{number:02d}"
            mine.append(CreateOutcome(spec.index, name, 0.0, 0, False, f"setup: {exc}"))
        with lock:
            outcomes.extend(mine)
        return
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    # gunicorn drops keep-alive connections idle for 2 s; start on a fresh one, as a browser
    # would after waiting that long.
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    for number in range(per_client):
        name = f"load {spec.index:02d}-{number:02d}"
        body = urlencode({"name": name, "submission": uuid.uuid4().hex})
        headers = {
            "Cookie": _cookie_header(cookies),
            "X-CSRFToken": token,
            "HX-Request": "true",
            "HX-Current-URL": f"http://127.0.0.1:{port}/apps/{cid}/",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        began = time.perf_counter()
        try:
            conn.request("POST", f"/apps/{cid}/create/", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            seconds = time.perf_counter() - began
            _remember_cookies(response, cookies)
            created = b"Created the app" in answer
            error = "" if response.status == 200 and created else _why(response.status, answer)
            mine.append(CreateOutcome(spec.index, name, seconds, response.status, created, error))
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        except Exception as exc:
            seconds = time.perf_counter() - began
            mine.append(
                CreateOutcome(spec.index, name, seconds, 0, False, f"{type(exc).__name__}: {exc}")
            )
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.close()
    with lock:
        outcomes.extend(mine)


def _why(status: int, answer: bytes) -> str:
    text = answer.decode(errors="replace")
    found = re.search(r'role="alert"[^>]*>(.*?)</', text, re.S)
    detail = found.group(1).strip() if found else text[:160].replace("\n", " ")
    return f"status {status}: {detail}"


def _create_process(
    port: int, cid: int, specs: list[ClientSpec], per_client: int, start_at: float
) -> list[CreateOutcome]:
    outcomes: list[CreateOutcome] = []
    lock = threading.Lock()
    workers = [
        threading.Thread(
            target=_create_client,
            args=(port, cid, spec, per_client, start_at, outcomes, lock),
            daemon=True,
        )
        for spec in specs
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def create_apps(
    port: int, cid: int, clients: list[ClientSpec], *, per_client: int, processes: int = 2
) -> tuple[list[CreateOutcome], float]:
    """Every client opens the apps page, then all post `per_client` creates at once.

    Returns every outcome and the wall time from the common start to the last answer.
    """
    shares = [clients[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        start_at = time.time() + 3.0
        futures = [
            pool.submit(_create_process, port, cid, share, per_client, start_at)
            for share in shares
            if share
        ]
        outcomes: list[CreateOutcome] = []
        for future in futures:
            outcomes.extend(future.result(timeout=600))
        elapsed = time.time() - start_at
    return outcomes, elapsed
