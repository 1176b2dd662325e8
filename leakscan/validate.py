"""Live check: ask the SonarQube Web API whether a leaked token is still accepted.

A token is ``live`` only on positive proof: an endpoint that needs authentication accepts it
while the same host rejects a random control token of the same shape on that endpoint.
Endpoints, in the order they may be asked (README, "Live validation"):

1. ``GET {host}/api/projects/search?organization=<random key>&ps=1``: 200 with JSON is proof
   (the control token is rejected there); 401 or a JSON 403/404 proves nothing either way
   (SonarQube Cloud answers 403 to dead tokens, 404 to a scoped token outside its scope).
2. ``GET {host}/api/authentication/validate``: ``valid: false`` makes the token ``inactive``;
   ``valid: true`` after a 403/404 is proof when the control token got ``valid: false``.
3. Server analysis tokens (``sqa_``, ``sqp_``) with ``valid: false`` (older servers reject live
   analysis tokens there): ``GET {host}/api/settings/values?keys=sonar.core.id``, a scanner
   endpoint; 200 with JSON (control rejected) is proof, anything else leaves ``unknown``.

Control probes run once per host, token shape and endpoint, before the real token goes there; a
host that accepts the control token does not discriminate, and no real token is sent to it.
Tokens travel only in the Authorization header, only to the configured hosts; redirects are not
followed; loopback hosts are never reached through a proxy. Each request has one deadline for the
whole exchange, and the whole check has a budget (``max_requests``, ``deadline``). Network
trouble, timeouts, 429, 5xx, redirects and non-JSON answers (a CDN's HTML page) give
``unknown``, never ``live`` or ``inactive``. Every outcome carries its evidence.
"""

from __future__ import annotations

import email.utils
import json
import re
import secrets as random_source
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from msgspec import Struct
from msgspec.structs import replace

from leakscan import __version__
from leakscan.errors import UsageError
from leakscan.models import Evidence, Liveness, ScanResult, Secret, Validation
from leakscan.options import ValidationConfig, is_loopback
from leakscan.synthetic import BASE62, HEX, TokenGenerator

PROBE_PATH = "/api/projects/search"
CONFIRM_PATH = "/api/authentication/validate"
SCANNER_PATH = "/api/settings/values"
ENDPOINTS = (PROBE_PATH, CONFIRM_PATH, SCANNER_PATH)
MAX_BODY = 1 << 20
ANALYSIS_PREFIXES = ("sqa_", "sqp_")
_PREFIX = re.compile(r"^[A-Za-z]{2,6}_")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")
_EXPIRED = re.compile(r"token expired on [^\"<>]{1,60}", re.IGNORECASE)


class ValidatorSpec(Struct, frozen=True):
    """Which configured hosts a validator tries, and what to say when there are none."""

    hosts: Callable[[ValidationConfig], tuple[str, ...]]
    no_hosts: str


VALIDATORS: dict[str, ValidatorSpec] = {
    "sonarqube-cloud": ValidatorSpec(
        lambda config: config.cloud_urls, "no SonarQube Cloud URL configured (--cloud-url)"
    ),
    "sonarqube-server": ValidatorSpec(
        lambda config: config.sonar_urls, "no SonarQube Server URL given (--sonar-url)"
    ),
}


class Signal(Enum):
    """What one answer of one endpoint says about the token that was sent."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INCONCLUSIVE = "inconclusive"
    FAILED = "failed"


class Reading(Struct, frozen=True):
    """One endpoint's answer for one token: the signal, its evidence, and an expiry notice."""

    signal: Signal
    evidence: Evidence
    expired: str = ""

    @property
    def reason(self) -> str:
        return self.evidence.meaning


class HostVerdict(Struct, frozen=True):
    """What one host's answers prove about one token."""

    status: Liveness
    host: str
    reason: str
    evidence: tuple[Evidence, ...]


class Halt(Exception):
    """No more requests: the budget is spent or the run was interrupted."""

    def __init__(self, status: Liveness, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Budget:
    """At most ``max_requests`` requests, none after ``deadline`` seconds, none once stopped.

    ``stop()`` (Ctrl-C) also cuts off every request in flight.
    """

    def __init__(self, max_requests: int, deadline: float) -> None:
        self._left = max_requests
        self._max = max_requests
        self._seconds = deadline
        self._ends = time.monotonic() + deadline
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._active: set[RequestDeadline] = set()

    def take(self) -> float:
        """Reserve one request; the seconds left before the deadline."""
        with self._lock:
            self.check()
            left = self._ends - time.monotonic()
            if self._left <= 0 or left <= 0:
                raise Halt(Liveness.UNKNOWN, self.exhausted())
            self._left -= 1
            return left

    def exhausted(self) -> str:
        return f"validation budget exhausted ({self._max} requests or {self._seconds:g}s)"

    def check(self) -> None:
        """Raise Halt once stopped."""
        if self._stopped.is_set():
            raise Halt(Liveness.NOT_CHECKED, "validation interrupted")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when stopped; a sleep past the deadline spends the budget."""
        if time.monotonic() + seconds > self._ends:
            raise Halt(Liveness.UNKNOWN, self.exhausted())
        if self._stopped.wait(seconds):
            self.check()

    def track(self, deadline: RequestDeadline) -> None:
        with self._lock:
            self._active.add(deadline)
            stopped = self._stopped.is_set()
        if stopped:
            deadline.expire()

    def untrack(self, deadline: RequestDeadline) -> None:
        with self._lock:
            self._active.discard(deadline)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            active = list(self._active)
        for deadline in active:
            deadline.expire()


class RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart, across all threads."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, sleep: Callable[[float], None] | None = None) -> None:
        """Block until this request may start (``sleep`` defaults to time.sleep)."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            (sleep or time.sleep)(start - now)


def make_client(config: ValidationConfig) -> httpx.Client:
    """HTTP/1.1 client: verification on (``ca_bundle``, else SSL_CERT_FILE/SSL_CERT_DIR, else
    certifi), proxies from the standard environment variables except for loopback hosts, no
    redirects, bounded pool, a new connection per request (so that the request deadline can
    always reach its socket)."""
    verify: ssl.SSLContext | bool = True
    try:
        if config.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(config.ca_bundle))
        return httpx.Client(
            verify=verify,
            trust_env=True,
            mounts=direct_mounts(config.cloud_urls + config.sonar_urls),
            follow_redirects=False,
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=0),
            headers={"User-Agent": f"leakscan/{__version__}", "Accept": "application/json"},
        )
    except (OSError, ssl.SSLError) as exc:
        where = f"CA bundle {config.ca_bundle}" if config.ca_bundle else "TLS set-up"
        raise UsageError(f"{where}: cannot load certificates: {exc}") from exc
    except ImportError as exc:  # httpx without its optional SOCKS support
        raise UsageError(
            "a SOCKS proxy is set in the environment (ALL_PROXY/HTTPS_PROXY), but SOCKS support is "
            "not installed: pip install 'httpx[socks]', or unset the proxy variable"
        ) from exc


def direct_mounts(urls: Iterable[str]) -> dict[str, httpx.BaseTransport | None]:
    """httpx mounts sending every loopback host among ``urls`` direct, never through a proxy
    from the environment (a plain-http request would show the token to the proxy)."""
    mounts: dict[str, httpx.BaseTransport | None] = {}
    for url in urls:
        host = urlsplit(url).hostname or ""
        if is_loopback(host):
            mounts[f"all://[{host}]" if ":" in host else f"all://{host}"] = None
    return mounts


class RequestDeadline:
    """One deadline for a whole request (connect, headers, body).

    httpx's timeouts apply to each network operation, so a host that sends one byte at a time
    never trips them. Passed as the request's ``trace`` extension, this object learns each socket
    httpcore opens for the request (TCP connect, TLS start) and shuts them down when the time is
    up; the blocked read then fails at once and ``expired`` says why.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> RequestDeadline:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: object) -> None:
        """Cut ``stream`` (an httpcore network stream) off at the deadline."""
        if not isinstance(stream, httpcore.NetworkStream):
            return
        sock = stream.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        """Cut every socket of the request off now."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the TCP socket even under TLS
    except OSError:
        pass  # already closed, or detached when TLS wrapped it


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenValidator:
    """Validates secrets against the configured hosts; caches one outcome per unique secret.

    Pass ``client`` to use your own ``httpx.Client`` (it is then not closed here). The budget
    (``max_requests``, ``deadline``) starts when the validator is made.
    """

    def __init__(self, config: ValidationConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client if client is not None else make_client(config)
        self._owns_client = client is None
        self._limiter = RateLimiter(config.rate)
        self._budget = Budget(config.max_requests, config.deadline)
        self._organization = "leakscan-probe-" + random_source.token_hex(8)
        self._generator = TokenGenerator(random_source.randbits(64))
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, Secret], Validation] = {}
        self._controls: dict[tuple[str, str, str], Future[Reading]] = {}

    def __enter__(self) -> TokenValidator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def cached(self, validator: str | None, secret: Secret) -> Validation | None:
        return self._cache.get((validator, secret))

    def validate_many(
        self, items: Iterable[tuple[str | None, Secret]]
    ) -> dict[tuple[str | None, Secret], Validation]:
        """Validate each unique (validator, secret) once, ``concurrency`` at a time.

        On KeyboardInterrupt every request in flight is cut off before it propagates.
        """
        keys = list(dict.fromkeys(items))
        pending = [key for key in keys if key not in self._cache]
        progress = self.config.progress
        if pending:
            if progress is not None:
                progress(0, len(pending))
            pool = ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(pending)))
            try:
                futures = {pool.submit(self.check, *key): key for key in pending}
                for done, future in enumerate(as_completed(futures), 1):
                    self._cache[futures[future]] = future.result()
                    if progress is not None:
                        progress(done, len(pending))
            except BaseException:
                self._budget.stop()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return {key: self._cache[key] for key in keys}

    def check(self, validator: str | None, secret: Secret) -> Validation:
        """Ask each host of ``validator`` in turn: live at the first that proves it."""
        if validator is None:
            return Validation(Liveness.NOT_CHECKED, reason="no validator for this rule")
        spec = VALIDATORS.get(validator)
        if spec is None:
            return Validation(Liveness.NOT_CHECKED, reason=f"unknown validator {validator!r}")
        hosts = spec.hosts(self.config)
        if not hosts:
            return Validation(Liveness.NOT_CHECKED, reason=spec.no_hosts)
        if not _HEADER_SAFE.match(secret.value):
            return Validation(Liveness.NOT_CHECKED, reason="the token cannot be sent in an HTTP header")
        analysis = validator == "sonarqube-server" and secret.value.startswith(ANALYSIS_PREFIXES)
        verdicts: list[HostVerdict] = []
        evidence: list[Evidence] = []
        for host in hosts:
            try:
                verdict = self._judge(host, secret.value, analysis, evidence)
            except Halt as halt:
                verdict = HostVerdict(halt.status, host, halt.reason, ())
            if verdict.status is Liveness.LIVE:
                return Validation(Liveness.LIVE, host, now_iso(), verdict.reason, tuple(evidence))
            verdicts.append(verdict)
        return _combine(verdicts, hosts, tuple(evidence))

    def _judge(self, host: str, token: str, analysis: bool, evidence: list[Evidence]) -> HostVerdict:
        """Evidence from one host, appended to ``evidence``, and what it proves."""

        def verdict(status: Liveness, reason: str) -> HostVerdict:
            return HostVerdict(status, host, reason, tuple(evidence))

        def unknown(reason: str) -> HostVerdict:
            return verdict(Liveness.UNKNOWN, reason)

        control = self._control(host, token, PROBE_PATH, evidence)
        if control.signal is Signal.ACCEPTED:
            return unknown(
                f"host does not discriminate: it accepted a random control token ({control.reason})"
            )
        if control.signal is Signal.FAILED:
            return unknown(f"control probe failed: {control.reason}")
        probe = self._read(host, PROBE_PATH, token, "candidate")
        evidence.append(probe.evidence)
        if probe.signal is Signal.FAILED:
            return unknown(probe.reason)
        if probe.signal is Signal.ACCEPTED:
            return verdict(Liveness.LIVE, f"proven: {probe.reason}; a random control token was rejected")
        check = self._control(host, token, CONFIRM_PATH, evidence)
        confirm = self._read(host, CONFIRM_PATH, token, "candidate")
        evidence.append(confirm.evidence)
        expired = probe.expired or confirm.expired
        if confirm.signal is Signal.FAILED:
            if expired:
                return verdict(Liveness.INACTIVE, f"{probe.reason}: {expired}")
            return unknown(f"after {probe.reason}, authentication/validate: {confirm.reason}")
        if confirm.signal is Signal.ACCEPTED:
            if probe.signal is Signal.REJECTED:
                return unknown(f"answers disagree: {probe.reason}, but {confirm.reason}")
            if check.signal is not Signal.REJECTED:
                return unknown(
                    f"{probe.reason}; {confirm.reason}, but a random control token got: {check.reason}"
                )
            return verdict(
                Liveness.LIVE,
                f"proven: {probe.reason}, {confirm.reason}; a random control token got valid=false",
            )
        if expired:
            return verdict(Liveness.INACTIVE, f"{probe.reason}: {expired}")
        if not analysis:
            return verdict(Liveness.INACTIVE, f"{probe.reason}, {confirm.reason}")
        check = self._control(host, token, SCANNER_PATH, evidence)
        scanner = self._read(host, SCANNER_PATH, token, "candidate")
        evidence.append(scanner.evidence)
        if scanner.signal is Signal.ACCEPTED:
            if check.signal is Signal.REJECTED:
                return verdict(
                    Liveness.LIVE,
                    f"proven: {scanner.reason} (scanner endpoint); a random control token was rejected",
                )
        return unknown(
            "analysis tokens cannot be checked with this endpoint on this server "
            f"({probe.reason}, {confirm.reason}; scanner endpoint: {scanner.reason})"
        )

    def _control(self, host: str, token: str, path: str, evidence: list[Evidence]) -> Reading:
        """Once per host, token shape and endpoint: what a random token of that shape gets."""
        shape, alphabet, length, prefix = _shape(token)
        with self._lock:
            future = self._controls.get((host, shape, path))
            control = ""
            if future is None:
                future = self._controls[(host, shape, path)] = Future()
                control = prefix + self._generator.chars(alphabet, length)
        if control:
            try:
                future.set_result(self._read(host, path, control, "control"))
            except BaseException as exc:
                with self._lock:
                    del self._controls[(host, shape, path)]  # a later token may try again
                future.set_exception(exc)
                raise
        reading = future.result()
        evidence.append(reading.evidence)
        return reading

    def _read(self, host: str, path: str, token: str, role: str) -> Reading:
        """Ask ``path`` with ``token`` and say what the answer means."""
        params = {
            PROBE_PATH: {"organization": self._organization, "ps": "1"},
            SCANNER_PATH: {"keys": "sonar.core.id"},
        }.get(path)
        reply = self._get(host, path, params, token)
        name = path.removeprefix("/api/")

        def reading(signal: Signal, status: int | None, meaning: str, expired: str = "") -> Reading:
            return Reading(signal, Evidence(host, "GET " + path, role, status, meaning), expired)

        if isinstance(reply, str):
            return reading(Signal.FAILED, None, reply)
        status, body = reply
        data = _parse_json(body)
        expired = _expiry(body) if status == 401 else ""
        if path == CONFIRM_PATH:
            valid = data.get("valid") if isinstance(data, dict) else None
            if status != 200 or not isinstance(valid, bool):
                return reading(Signal.FAILED, status, f"HTTP {status} without a JSON 'valid' field")
            meaning = f"valid={str(valid).lower()} from {name}"
            return reading(Signal.ACCEPTED if valid else Signal.REJECTED, status, meaning, expired)
        if status == 401:
            return reading(Signal.REJECTED, status, f"HTTP 401 from {name}", expired)
        if status not in (200, 403, 404):
            return reading(Signal.FAILED, status, f"unexpected HTTP {status} from {name}")
        if data is _NOT_JSON:
            return reading(
                Signal.FAILED, status, f"HTTP {status} with an answer that is not JSON (a proxy or CDN page?)"
            )
        if status == 200:
            return reading(Signal.ACCEPTED, status, f"HTTP 200 from {name} (authenticated)")
        if path == SCANNER_PATH:
            return reading(Signal.REJECTED, status, f"HTTP {status} from {name}")
        return reading(Signal.INCONCLUSIVE, status, f"HTTP {status} from {name} (proves nothing alone)")

    def _get(
        self, host: str, path: str, params: dict[str, str] | None, token: str
    ) -> tuple[int, bytes] | str:
        """One GET with retries on 429 and 5xx: (status, body), or why there is no answer."""
        attempts = self.config.max_retries + 1
        attempt = 0
        while True:
            self._limiter.wait(self._budget.sleep)
            seconds = min(self.config.timeout, self._budget.take())
            timed_out = f"timeout: no complete answer within {seconds:g}s"
            deadline = RequestDeadline(seconds)
            self._budget.track(deadline)
            try:
                with (
                    deadline,
                    self._client.stream(
                        "GET",
                        host + path,
                        params=params,
                        headers={"Authorization": f"Bearer {token}"},
                        extensions={"trace": deadline.trace},
                    ) as response,
                ):
                    deadline.watch(response.extensions.get("network_stream"))
                    status = response.status_code
                    if 300 <= status < 400:
                        return f"redirect (HTTP {status}) not followed"
                    if status != 429 and status < 500:
                        body = _read_capped(response)
                        if deadline.expired:
                            return timed_out
                        if body is None:
                            return "answer larger than 1 MiB"
                        return status, body
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except httpx.TimeoutException:
                self._budget.check()  # cut off by Ctrl-C, not timed out: say so
                return timed_out
            except httpx.HTTPError as exc:
                if deadline.expired:
                    self._budget.check()
                    return timed_out
                return _network_reason(exc, token)
            finally:
                self._budget.untrack(deadline)
            what = "rate-limited (HTTP 429)" if status == 429 else f"server error (HTTP {status})"
            if retry_after is not None and retry_after > self.config.max_retry_after:
                return (
                    f"{what}; Retry-After {retry_after:g}s exceeds the {self.config.max_retry_after:g}s cap"
                )
            attempt += 1
            if attempt == attempts:
                return f"{what}, {attempts} attempt(s)"
            backoff = self.config.backoff * 2 ** (attempt - 1)
            self._budget.sleep(retry_after if retry_after is not None else backoff)


def _combine(
    verdicts: list[HostVerdict], hosts: tuple[str, ...], evidence: tuple[Evidence, ...]
) -> Validation:
    """No host proved the token live: inactive only if every host rejected it."""
    unknown = [v for v in verdicts if v.status is not Liveness.INACTIVE]
    if unknown:
        first = unknown[0]
        reason = "; ".join(
            [first.reason]
            + [f"{v.host}: {v.reason}" for v in unknown[1:]]
            + [f"rejected by {v.host}" for v in verdicts if v.status is Liveness.INACTIVE]
        )
        status = Liveness.UNKNOWN if any(v.status is Liveness.UNKNOWN for v in unknown) else first.status
        return Validation(status, first.host, now_iso(), reason, evidence)
    return Validation(
        Liveness.INACTIVE,
        ", ".join(hosts),
        now_iso(),
        "rejected by " + "; ".join(f"{v.host} ({v.reason})" for v in verdicts),
        evidence,
    )


def _expiry(body: bytes) -> str:
    """'token expired on …' from a 401 body, if the server said so."""
    found = _EXPIRED.search(body[:4096].decode("utf-8", "replace"))
    return found.group(0).rstrip(" .") if found else ""


_NOT_JSON = object()


def _parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return _NOT_JSON


def _read_capped(response: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _network_reason(exc: httpx.HTTPError, token: str) -> str:
    text = str(exc).replace(token, "<token>")[:200]
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate verification failed"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    return f"network error ({type(exc).__name__}): {text}"


def _shape(token: str) -> tuple[str, str, int, str]:
    """A token's shape: prefix, alphabet and length; the shape key names all three."""
    found = _PREFIX.match(token)
    prefix = found.group(0) if found else ""
    body = token[len(prefix) :]
    if body and all(c in HEX for c in body):
        alphabet, name = HEX, "hex"
    elif all(c in BASE62 for c in body):
        alphabet, name = BASE62, "base62"
    else:
        alphabet = BASE62 + "".join(sorted(set(body) - set(BASE62)))
        name = "base62+" + alphabet[len(BASE62) :]
    return f"{prefix}{name}{len(body)}", alphabet, len(body), prefix


def apply_validation(
    result: ScanResult, config: ValidationConfig, *, client: httpx.Client | None = None
) -> None:
    """Give every finding its validation outcome; add a summary note to the stats."""
    keys = [(finding.rule.validation, finding.secret) for finding in result.findings]
    with TokenValidator(config, client=client) as validator:
        try:
            validator.validate_many(keys)
        except KeyboardInterrupt:
            result.interrupted = True
        interrupted = Validation(Liveness.NOT_CHECKED, reason="validation interrupted")
        result.findings = [
            replace(finding, validation=validator.cached(*key) or interrupted)
            for finding, key in zip(result.findings, keys, strict=True)
        ]
    if keys:
        outcomes = {key: finding.validation for key, finding in zip(keys, result.findings, strict=True)}
        result.stats.notes.append(summarize(outcomes))


def summarize(outcomes: dict[tuple[str | None, Secret], Validation]) -> str:
    counts = Counter(outcome.status for outcome in outcomes.values())
    parts = ", ".join(f"{counts[status]} {status.value.replace('_', ' ')}" for status in Liveness)
    return f"validation: {len(outcomes)} unique secret(s): {parts}"
