"""The sandbox server: one threaded HTTP server in front of both fake APIs, with a request log
and fault injection."""

from __future__ import annotations

import base64
import logging
import math
import socket
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .faults import TIMEOUT_SECONDS, Fault, FaultBook
from .oidc import OidcProvider
from .pulsetracker import PulsetrackerApi
from .pulsoid import PulsoidApi
from .pulsoid_oauth import PulsoidOAuth
from .pulsoid_viewer import PulsoidWidgetViewer
from .seed import SEED, Seed
from .state import UnreadableState, load, restore, save, snapshot
from .web import RecordedRequest, Response, html_response, json_response

log = logging.getLogger("integrations.sandbox")

PULSETRACKER_PREFIX = "/pulsetracker"
PULSOID_API_PREFIX = "/pulsoid/api/v1"
PULSOID_OAUTH_PREFIX = "/pulsoid/oauth2"
PULSOID_VIEWER_PREFIX = "/pulsoid/widget/view"
OIDC_PREFIX = "/oidc"
#: Map tiles (`/tiles/{z}/{x}/{y}.png`): one plain grey image for every tile, so maps in tests
#: load their tiles without the internet.
TILES_PREFIX = "/tiles"
TILE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGN4AgAA5gDlWNqJzgAAAABJRU5ErkJggg=="
)
#: How many pieces a `slow_body` fault cuts the body into, at most.
SLOW_BODY_PIECES = 50
#: A connection silent for this long is dropped, so a stalled client cannot pin a thread.
SOCKET_TIMEOUT = TIMEOUT_SECONDS + 30
#: Requests that change nothing, so the state file is not written after them.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Sandbox:
    """A local, in-memory stand-in for the Pulsetracker and Pulsoid APIs.

    ```
    sb = Sandbox().start()          # port 0: a free port; sb.url says which
    requests.get(f"{sb.pulsetracker_url}/apps", headers={...})
    sb.fault("GET", "/pulsetracker/api/apps", status=503)
    sb.stop()
    ```

    With a `state_file` (`make demo`'s `demo-sandbox.json`) the APIs' state is read from it when
    it exists and written to it after every request that may change something, so a restart
    keeps the apps and widgets made meanwhile. Without one, everything lives in memory.
    """

    def __init__(self, state_file: str | PathLike[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._hangups: list[RecordedRequest] = []
        self._faults = FaultBook()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: The fake Pulsetracker: state helpers and answer switches.
        self.pulsetracker = PulsetrackerApi(self._lock)
        #: The fake Pulsoid API and the grants behind its OAuth pages.
        self.pulsoid = PulsoidApi(self._lock)
        self._pulsoid_oauth = PulsoidOAuth(self.pulsoid)
        self._pulsoid_viewer = PulsoidWidgetViewer(self.pulsoid)
        #: A local OpenID Connect provider (single sign-on): who it signs in, its grants.
        self.oidc = OidcProvider(OIDC_PREFIX)
        #: The seeded users, tokens and client (constants, the same every run).
        self.seed: Seed = SEED
        self._url = ""
        self._state_file = Path(state_file) if state_file is not None else None
        self._save_lock = threading.Lock()
        #: Why the state file could not be taken up ('' when it was, or there was none).
        self.state_problem = ""
        if self._state_file is not None and self._state_file.exists():
            self._load_state(self._state_file)

    # ----------------------------------------------------------------- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Sandbox:
        """Serve in a background thread (port 0 picks a free port) and return self."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping = threading.Event()
        server_class = _Server6 if ":" in host else _Server
        server = server_class((host, port), _Handler)
        server.sandbox = self
        self._server = server
        self._url = f"http://{_url_host(host)}:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.name = f"sandbox-{server.server_address[1]}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving. Returns promptly: requests waiting on a fault or latency are woken."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def wait(self) -> None:
        """Block while the sandbox serves: until stop() or, in the main thread, Ctrl-C."""
        thread = self._thread
        # Short joins keep the main thread responsive to KeyboardInterrupt.
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> Sandbox:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the seeded state, with the answer switches at their defaults, no faults and
        an empty request log."""
        with self._lock:
            self.pulsetracker.reset()
            self.pulsoid.reset()
        self.oidc.reset()
        self.clear_faults()
        with self._log_lock:
            self._requests.clear()
            self._hangups.clear()

    # ----------------------------------------------------------------- state file

    def _stateful(self) -> dict[str, Any]:
        return {"pulsetracker": self.pulsetracker, "pulsoid": self.pulsoid}

    def _load_state(self, path: Path) -> None:
        try:
            with self._lock:
                restore(self._stateful(), load(path))
        except UnreadableState as exc:
            self.state_problem = (
                f"{path} could not be read ({exc}): starting from the seeded state, which "
                "replaces it at the first change."
            )
            log.warning("%s", self.state_problem)

    def save_state(self) -> None:
        """Write the state file now (done after every changing request); no-op without one."""
        if self._state_file is None:
            return
        with self._save_lock:  # one writer at a time, each with the newest state
            with self._lock:
                data = snapshot(self._stateful())
            try:
                save(self._state_file, data)
            except OSError as exc:  # the answer still goes out; the change is only in memory
                log.error("Could not write the sandbox state to %s: %s", self._state_file, exc)

    # ----------------------------------------------------------------- URLs

    @property
    def url(self) -> str:
        """`http://<host>:<port>` once started."""
        if not self._url:
            raise RuntimeError("the sandbox has not been started")
        return self._url

    @property
    def pulsetracker_url(self) -> str:
        """Stands in for `https://www.pulsestracker.com/api`."""
        return f"{self.url}{PULSETRACKER_PREFIX}/api"

    @property
    def pulsoid_api_url(self) -> str:
        """Stands in for `https://dev.pulsoid.net/api/v1`."""
        return f"{self.url}{PULSOID_API_PREFIX}"

    @property
    def pulsoid_oauth_url(self) -> str:
        """Stands in for `https://pulsoid.net/oauth2` (authorize and token)."""
        return f"{self.url}{PULSOID_OAUTH_PREFIX}"

    @property
    def pulsoid_revoke_url(self) -> str:
        """Stands in for `https://dev.pulsoid.net/oauth2/revoke`."""
        return f"{self.url}{PULSOID_OAUTH_PREFIX}/revoke"

    @property
    def pulsoid_viewer_url(self) -> str:
        """Stands in for `https://pulsoid.net/widget/view/` (append a widget id; no auth)."""
        return f"{self.url}{PULSOID_VIEWER_PREFIX}/"

    @property
    def oidc_issuer(self) -> str:
        """The OpenID Connect provider's issuer (discovery below `/.well-known/`)."""
        return f"{self.url}{OIDC_PREFIX}"

    @property
    def map_tiles_url(self) -> str:
        """A map tile server (every tile the same grey square) for PULSETRACKER_MAP_TILES_URL
        where maps must not reach the internet (the tests)."""
        return f"{self.url}{TILES_PREFIX}/{{z}}/{{x}}/{{y}}.png"

    def env(self) -> dict[str, str]:
        """The settings that point the portal at this sandbox."""
        return {
            "PULSETRACKER_API_URL": self.pulsetracker_url,
            "PULSOID_API_URL": self.pulsoid_api_url,
            "PULSOID_OAUTH_URL": self.pulsoid_oauth_url,
            "PULSOID_REVOKE_URL": self.pulsoid_revoke_url,
            "PULSOID_WIDGET_VIEWER_URL": self.pulsoid_viewer_url,
        }

    # ----------------------------------------------------------------- request log

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start or the last reset, oldest first (a copy)."""
        with self._log_lock:
            return list(self._requests)

    @property
    def hangups(self) -> list[RecordedRequest]:
        """The requests whose client closed the connection while the sandbox was still writing
        the answer (a client giving up on a `slow_body` fault, say), oldest first (a copy).

        The sandbox notices when a write fails, so a hang-up shows here a moment after it happens.
        """
        with self._log_lock:
            return list(self._hangups)

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        """The logged requests with this method ("*" for any) whose path starts with the prefix."""
        wanted = method.upper()
        return [
            r for r in self.requests if wanted in ("*", r.method) and r.path.startswith(path_prefix)
        ]

    # ----------------------------------------------------------------- faults

    def fault(
        self,
        method: str,
        path_prefix: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: bool = False,
        slow_body: float | None = None,
        non_json: bool = False,
        oversized: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests with this method ("*" for any) whose path (relative to
        `url`) starts with `path_prefix` get a fault instead of the normal answer.

        Exactly one kind: `status` (with an optional `body`: bytes/str as is, else JSON; default
        `{"message": <reason>}`), `timeout` (silence for 30 s or until stop), `slow_body`
        (the normal answer dribbled out over that many seconds), `non_json` (200 HTML page) or
        `oversized` (200 JSON of that many bytes). `headers` are added to the answer.
        """
        self._faults.add(
            Fault(
                method,
                path_prefix,
                status=status,
                body=body,
                headers=headers,
                timeout=timeout,
                slow_body=slow_body,
                non_json=non_json,
                oversized=oversized,
                remaining=times,
            )
        )

    def clear_faults(self) -> None:
        """Forget every injected fault."""
        self._faults.clear()

    # ----------------------------------------------------------------- dispatch

    def _record(self, request: RecordedRequest) -> None:
        with self._log_lock:
            self._requests.append(request)

    def _record_hangup(self, request: RecordedRequest) -> None:
        with self._log_lock:
            self._hangups.append(request)

    def _answer(self, request: RecordedRequest) -> Response:
        """The normal answer, before faults."""
        path = request.path
        if _below(path, PULSETRACKER_PREFIX):
            return self.pulsetracker.handle(request, path[len(PULSETRACKER_PREFIX) :])
        if _below(path, PULSOID_API_PREFIX):
            return self.pulsoid.handle(request, path[len(PULSOID_API_PREFIX) :])
        if _below(path, PULSOID_OAUTH_PREFIX):
            return self._pulsoid_oauth.handle(request, path[len(PULSOID_OAUTH_PREFIX) :])
        if _below(path, PULSOID_VIEWER_PREFIX):
            return self._pulsoid_viewer.handle(request, path[len(PULSOID_VIEWER_PREFIX) :])
        if _below(path, OIDC_PREFIX):
            return self.oidc.handle(request, path[len(OIDC_PREFIX) :])
        if _below(path, TILES_PREFIX) and request.method in ("GET", "HEAD"):
            return Response(200, TILE_PNG, {"Content-Type": "image/png"})
        if path == "/" and request.method in ("GET", "HEAD"):
            return html_response(200, self._index_html())
        return json_response(
            404,
            {
                "message": "Not found: the sandbox serves /pulsetracker/api, "
                "/pulsoid/api/v1, /pulsoid/oauth2, /pulsoid/widget/view and /oidc."
            },
        )

    def _index_html(self) -> str:
        rows = "".join(
            f"<tr><th>{escape(name)}</th><td><code>{escape(value)}</code></td></tr>"
            for name, value in self.env().items()
        )
        return (
            "<!DOCTYPE html>\n<html><head><title>API sandbox</title></head><body>"
            "<h1>Pulsetracker and Pulsoid sandbox</h1>"
            f"<table>{rows}</table></body></html>"
        )

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the sandbox stops first; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()


class _Server(ThreadingHTTPServer):
    # Daemon threads and no join on close: stop() must never wait for a stuck client.
    daemon_threads = True
    block_on_close = False
    # A screen asks for up to a dozen pages at once, each on a new connection (HTTP/1.0): with
    # the standard library's backlog of 5 the kernel drops the rest, and they retry a second later.
    request_queue_size = 128
    sandbox: Sandbox


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the sandbox for the answer and writes it (or withholds it)."""

    server: _Server
    # HTTP/1.0: one request per connection, so no idle keep-alive thread outlives stop().
    protocol_version = "HTTP/1.0"
    timeout = SOCKET_TIMEOUT

    def version_string(self) -> str:
        return "ApiSandbox/1.0"

    # http.server dispatches on `do_<METHOD>`; every method goes the same way.
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        request = self._read_request()
        sandbox._record(request)
        fault = sandbox._faults.take(request.method, request.path)
        if fault is not None and fault.timeout:
            # Accept the request, then say nothing; the connection closes when this returns.
            sandbox._wait(TIMEOUT_SECONDS)
            self.close_connection = True
            return
        response = fault.replacement() if fault is not None else None
        if response is None:
            response = sandbox._answer(request)
            if fault is not None:
                response.headers.update(fault.headers or {})
            if request.method not in SAFE_METHODS:
                sandbox.save_state()
        if sandbox._wait(response.delay):
            return
        slow = fault.slow_body if fault is not None else None
        try:
            self._write(response, head_only=request.method == "HEAD", slow=slow)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up first (a body cap, a read timeout): nothing left to do.
            sandbox._record_hangup(request)
            self.close_connection = True
        except TimeoutError:
            # The client stopped reading for SOCKET_TIMEOUT: drop it.
            self.close_connection = True

    def _read_request(self) -> RecordedRequest:
        parts = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        return RecordedRequest(
            method=self.command.upper(),
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=self._read_body(headers),
        )

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Trailers end with an empty line.
                while self.rfile.readline().strip():
                    pass
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline()

    def _write(self, response: Response, *, head_only: bool, slow: float | None) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if head_only:
            return
        if slow:
            self._dribble(response.body, slow)
        else:
            self.wfile.write(response.body)

    def _dribble(self, body: bytes, seconds: float) -> None:
        """Write `body` a few bytes at a time, spread over `seconds`."""
        self.wfile.flush()
        pieces = max(1, min(len(body), SLOW_BODY_PIECES))
        size = math.ceil(len(body) / pieces) if body else 0
        pause = seconds / pieces
        for start in range(0, max(len(body), 1), max(size, 1)):
            if self.server.sandbox._wait(pause):
                return
            self.wfile.write(body[start : start + size])
            self.wfile.flush()


def _below(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _url_host(host: str) -> str:
    # A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL.
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
