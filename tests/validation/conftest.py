"""Real HTTPS servers on 127.0.0.1 (certificates from a trustme test CA) emulating SonarQube hosts.

Each ``FakeSonarHost`` answers ``/api/projects/search`` per token from a script (``ok``,
``forbidden``, ``notfound``, ``reject``, ``expired``, ``cdn``, ``ratelimit``, ``ratelimit-long``,
``ratelimit-bad``, ``error``, ``slow``, ``html``, ``redirect``); unscripted tokens (the control
probes, dead tokens) get ``dead`` (401 like SonarQube Server; 403 like SonarQube Cloud's
api host with ``dead="forbidden"``; a CDN's HTML 403 with ``dead="cdn"``).
``/api/authentication/validate`` answers ``{"valid": false}`` unless the token was scripted with
``valid=True``; ``/api/settings/values`` (a scanner endpoint) answers 200 only for ``scanner``
tokens, else 401. ``accept_all`` accepts any token everywhere. Every request is recorded (raw
target, headers, bearer token, arrival time).
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

SLOW_S = 1.0
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
# A host name that is not loopback (so requests to it may use a proxy); the tunnel proxy below
# connects it to 127.0.0.1, and the test certificates name it.
PROXIED_NAME = "sonar.test"


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the server saw it."""

    target: str
    path: str
    token: str | None
    headers: tuple[tuple[str, str], ...]
    at: float


@dataclass
class FakeSonarHost:
    """One emulated SonarQube host; ``url`` is its base URL."""

    name: str
    accept_all: bool = False
    requests: list[Recorded] = field(default_factory=list)
    scripts: dict[str, list[str]] = field(default_factory=dict)
    valid: set[str] = field(default_factory=set)
    scanner: set[str] = field(default_factory=set)
    dead: str = "reject"
    redirect_to: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
    delay: float = 0.0
    url: str = ""
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, token: str, *actions: str, valid: bool = False, scanner: bool = False) -> None:
        """Answer ``token``'s probes with these actions in turn (the last one repeats)."""
        self.scripts[token] = list(actions)
        if valid:
            self.valid.add(token)
        if scanner:
            self.scanner.add(token)

    def count(self, token: str, path: str | None = None) -> int:
        return sum(1 for r in self.requests if r.token == token and path in (None, r.path))

    def tokens(self) -> Counter[str | None]:
        return Counter(r.token for r in self.requests)

    def next_action(self, token: str | None) -> str:
        with self.lock:
            actions = self.scripts.get(token or "")
            if not actions:
                return "ok" if self.accept_all else self.dead
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        path = request.path.split("?", 1)[0]
        with self.lock:
            self.requests.append(
                Recorded(request.path, path, token, tuple(request.headers.items()), time.monotonic())
            )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.dead == "cdn" and not self.accept_all and token not in self.scripts:
                self.act(request, "cdn")
            elif path == "/api/authentication/validate":
                _send(request, 200, {"valid": token in self.valid or self.accept_all})
            elif path == "/api/settings/values":
                if token in self.scanner or self.accept_all:
                    _send(request, 200, {"settings": [{"key": "sonar.core.id", "value": "AB12"}]})
                else:
                    _send(request, 401, None)
            elif path == "/api/projects/search":
                self.act(request, self.next_action(token))
            else:
                _send(request, 404, {"errors": [{"msg": "Unknown url"}]})
        finally:
            with self.lock:
                self.in_flight -= 1

    def act(self, request: BaseHTTPRequestHandler, action: str) -> None:
        if action == "ok":
            _send(
                request,
                200,
                {"paging": {"pageIndex": 1, "pageSize": 1, "total": 0}, "components": []},
            )
        elif action == "forbidden":
            _send(request, 403, {"errors": [{"msg": "Insufficient privileges"}]})
        elif action == "notfound":
            _send(request, 404, {"errors": [{"msg": "No organization with key 'x'"}]})
        elif action == "reject":
            _send(request, 401, None)
        elif action == "expired":
            _send(request, 401, {"errors": [{"msg": "The token expired on 2026-03-01."}]})
        elif action == "cdn":
            page = b"<html><head><title>403 Forbidden</title></head><body>Request blocked</body></html>"
            _send_raw(request, 403, page, "text/html")
        elif action == "ratelimit":
            _send(request, 429, {"errors": [{"msg": "Too many requests"}]}, {"Retry-After": "1"})
        elif action == "ratelimit-bad":
            _send(request, 429, None, {"Retry-After": "\u00b2"})
        elif action == "ratelimit-long":
            _send(request, 429, None, {"Retry-After": "3600"})
        elif action == "error":
            _send(request, 500, {"errors": [{"msg": "An error has occurred"}]})
        elif action == "slow":
            time.sleep(SLOW_S)
            _send(request, 200, {"components": []})
        elif action == "html":
            _send_raw(request, 200, b"<html><body>Please log in</body></html>", "text/html")
        elif action == "redirect":
            _send_raw(
                request,
                302,
                b"",
                "text/plain",
                {"Location": self.redirect_to + "/api/projects/search"},
            )
        else:
            raise AssertionError(f"unknown action {action!r}")


def _send(
    request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = b"" if body is None else json.dumps(body).encode()
    _send_raw(request, status, data, "application/json", headers)


def _send_raw(
    request: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.host.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _TLSServer(ThreadingHTTPServer):
    """Threaded HTTP server; the TLS handshake happens in each connection's own thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, host: FakeSonarHost, context: ssl.SSLContext | None) -> None:
        self.host = host
        self.context = context
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timed-out probe) is expected; anything else fails the test."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | ssl.SSLError):
            self.host.errors.append(repr(error))

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            tls.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA's certificate as a PEM file, for --ca-bundle or SSL_CERT_FILE."""
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", PROXIED_NAME).configure_cert(context)
    return context


MakeHost = Callable[..., FakeSonarHost]


@pytest.fixture
def make_host(server_context: ssl.SSLContext) -> Iterator[MakeHost]:
    """Start emulated hosts (HTTPS unless ``tls=False``); all are stopped after the test."""
    servers: list[_TLSServer] = []

    def make(name: str, *, accept_all: bool = False, tls: bool = True, dead: str = "reject") -> FakeSonarHost:
        host = FakeSonarHost(name, accept_all=accept_all, dead=dead)
        server = _TLSServer(host, server_context if tls else None)
        host.url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return host

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()
    assert [server.host.errors for server in servers] == [[] for _ in servers]


@pytest.fixture
def eu(make_host: MakeHost) -> FakeSonarHost:
    return make_host("eu")


@pytest.fixture
def us(make_host: MakeHost) -> FakeSonarHost:
    return make_host("us")


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not go through a proxy from the developer's environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@dataclass
class TunnelProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records what it is asked to connect to;
    it connects every target name to 127.0.0.1 (so ``PROXIED_NAME`` reaches the local hosts)."""

    connects: list[str] = field(default_factory=list)
    seen: bytearray = field(default_factory=bytearray)
    url: str = ""


@pytest.fixture
def tunnel_proxy() -> Iterator[TunnelProxy]:
    proxy = TunnelProxy()
    listener = socket.create_server(("127.0.0.1", 0))
    proxy.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop = threading.Event()

    def serve_one(client: socket.socket) -> None:
        client.settimeout(None)
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            proxy.seen.extend(head)
            target = head.split(b" ", 2)[1].decode()
            proxy.connects.append(target)
            port = target.rsplit(":", 1)[1]
            with socket.create_connection(("127.0.0.1", int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                sockets = [client, upstream]
                while not stop.is_set():
                    readable, _, _ = select.select(sockets, [], [], 0.1)
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        if sock is client:
                            proxy.seen.extend(data)
                        (upstream if sock is client else client).sendall(data)

    def accept_loop() -> None:
        for client in accepted(listener, stop):
            threading.Thread(target=serve_one, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield proxy
    stop.set()
    thread.join()
    listener.close()


@dataclass
class TrickleHost:
    """A host on 127.0.0.1 that answers every request a byte at a time, forever.

    ``stage`` is where the trickle starts: ``headers`` (status line, then one header byte per
    ``interval``) or ``body`` (a 403 with JSON headers at once, then one body byte per interval).
    ``hung_up`` counts connections the client closed.
    """

    stage: str
    interval: float = 0.5
    url: str = ""
    requests: int = 0
    hung_up: int = 0


MakeTrickleHost = Callable[..., TrickleHost]


@pytest.fixture
def make_trickle_host(server_context: ssl.SSLContext) -> Iterator[MakeTrickleHost]:
    """``make_trickle_host(stage, tls=False)``: HTTPS (test CA) when ``tls``."""
    stop = threading.Event()
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def serve(host: TrickleHost, raw: socket.socket, tls: bool) -> None:
        try:
            client = server_context.wrap_socket(raw, server_side=True) if tls else raw
        except (ssl.SSLError, OSError):
            raw.close()
            return
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            host.requests += 1
            if host.stage == "headers":
                start, endless = b"HTTP/1.1 403 Forbidden\r\n", b"X-Padding: " + b"a" * 10_000
            else:
                start = (
                    b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 10000\r\n\r\n"
                )
                endless = b'{"errors": [' + b" " * 10_000
            try:
                client.sendall(start)
                for byte in endless:
                    if stop.wait(host.interval):
                        return
                    client.sendall(bytes([byte]))
            except OSError:
                host.hung_up += 1

    def make(stage: str, tls: bool = False) -> TrickleHost:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        scheme = "https" if tls else "http"
        host = TrickleHost(stage, url=f"{scheme}://127.0.0.1:{listener.getsockname()[1]}")

        def accept_loop() -> None:
            for client in accepted(listener, stop):
                client.settimeout(None)
                thread = threading.Thread(target=serve, args=(host, client, tls), daemon=True)
                threads.append(thread)
                thread.start()

        thread = threading.Thread(target=accept_loop, daemon=True)
        threads.append(thread)
        thread.start()
        return host

    yield make
    stop.set()
    for thread in threads:
        thread.join()
    for listener in listeners:
        listener.close()


@dataclass
class RecordingProxy:
    """A forward proxy on 127.0.0.1 that must receive nothing: it records and closes."""

    received: bytearray = field(default_factory=bytearray)
    connections: int = 0
    url: str = ""


@pytest.fixture
def recording_proxy() -> Iterator[RecordingProxy]:
    proxy = RecordingProxy()
    listener = socket.create_server(("127.0.0.1", 0))
    proxy.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop = threading.Event()

    def accept_loop() -> None:
        for client in accepted(listener, stop):
            with client:
                proxy.connections += 1
                client.settimeout(1.0)
                try:
                    proxy.received.extend(client.recv(65536))
                except OSError:
                    pass

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield proxy
    stop.set()
    thread.join()
    listener.close()


def accepted(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """Connections accepted on ``listener`` until ``stop`` is set or the listener is closed."""
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        yield client
