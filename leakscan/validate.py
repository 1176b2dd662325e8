"""Live check: ask the SonarQube Web API whether a leaked token is still accepted.

For each host a token is tried on, leakscan sends (README, "Live validation"):

1. ``GET {host}/api/projects/search?organization=<random key>&ps=1`` with the token as a Bearer
   token. 401 means the host does not accept it; 200, 403 or 404 with a JSON body mean it
   authenticated (a scoped token may lack permission: 403; the organization does not exist: 404).
2. Only after a 401: ``GET {host}/api/authentication/validate`` with the token. ``{"valid": false}``
   confirms the rejection; anything else makes the answer unknown.

Before the first token goes to a host, a control probe sends a freshly generated random token of
the same shape; a host that accepts it does not discriminate, and no real token is sent to it.
Tokens travel only in the Authorization header, only to the configured hosts; redirects are not
followed; loopback hosts are never reached through a proxy. Each request has one deadline for the
whole exchange (connect, headers, body), so a host that trickles its answer cannot stall the run.
Network trouble, timeouts, 429, 5xx, redirects and non-JSON answers give ``unknown``, never
``live`` or ``inactive``.
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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from leakscan import __version__
from leakscan.errors import UsageError
from leakscan.models import Liveness, ScanResult, Secret, Validation
from leakscan.options import ValidationConfig, is_loopback
from leakscan.synthetic import BASE62, HEX, TokenGenerator

PROBE_PATH = "/api/projects/search"
CONFIRM_PATH = "/api/authentication/validate"
MAX_BODY = 1 << 20
ACCEPTED_STATUSES = {
    200: "authenticated",
    403: "authenticated, lacks permission",
    404: "authenticated, organization not found",
}
_PREFIX = re.compile(r"^[A-Za-z]{2,6}_")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class ValidatorSpec:
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


class Answer(Enum):
    """What one host said about one token."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class HostAnswer:
    answer: Answer
    host: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes


class RateLimiter:
    """Spaces request starts at least ``1 / rate`` seconds apart, across all threads."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


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
        self._timer = threading.Timer(seconds, self._expire)
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

    def _expire(self) -> None:
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

    Pass ``client`` to use your own ``httpx.Client`` (it is then not closed here).
    """

    def __init__(self, config: ValidationConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client if client is not None else make_client(config)
        self._owns_client = client is None
        self._limiter = RateLimiter(config.rate)
        self._organization = "leakscan-probe-" + random_source.token_hex(8)
        self._generator = TokenGenerator(random_source.randbits(64))
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, Secret], Validation] = {}
        self._controls: dict[tuple[str, str], Future[HostAnswer | None]] = {}

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
        """Validate each unique (validator, secret) once, ``concurrency`` at a time."""
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
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return {key: self._cache[key] for key in keys}

    def check(self, validator: str | None, secret: Secret) -> Validation:
        """Ask each host of ``validator`` in turn: live at the first that accepts."""
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
        answers: list[HostAnswer] = []
        for host in hosts:
            answer = self._ask(host, secret.value)
            if answer.answer is Answer.ACCEPTED:
                return Validation(Liveness.LIVE, host, now_iso(), f"accepted: {answer.reason}")
            answers.append(answer)
        unknown = [a for a in answers if a.answer is Answer.UNKNOWN]
        if unknown:
            first = unknown[0]
            reason = "; ".join(
                [first.reason]
                + [f"{a.host}: {a.reason}" for a in unknown[1:]]
                + [f"rejected by {a.host}" for a in answers if a.answer is Answer.REJECTED]
            )
            return Validation(Liveness.UNKNOWN, first.host, now_iso(), reason)
        return Validation(
            Liveness.INACTIVE,
            ", ".join(hosts),
            now_iso(),
            "rejected by " + "; ".join(f"{a.host} ({a.reason})" for a in answers),
        )

    def _ask(self, host: str, token: str) -> HostAnswer:
        control = self._control(host, token)
        if control is not None:
            return control
        answer = self._probe(host, token)
        if answer.answer is Answer.REJECTED:
            answer = self._confirm(host, token)
        return answer

    def _control(self, host: str, token: str) -> HostAnswer | None:
        """Once per host and token shape: does the host reject a random token of that shape?"""
        shape, alphabet, length, prefix = _shape(token)
        with self._lock:
            future = self._controls.get((host, shape))
            control = ""
            if future is None:
                future = self._controls[(host, shape)] = Future()
                control = prefix + self._generator.chars(alphabet, length)
        if control:
            try:
                future.set_result(self._judge_control(host, control))
            except BaseException as exc:
                future.set_exception(exc)
                raise
        return future.result()

    def _judge_control(self, host: str, control: str) -> HostAnswer | None:
        answer = self._probe(host, control)
        if answer.answer is Answer.ACCEPTED:
            return HostAnswer(
                Answer.UNKNOWN,
                host,
                f"host does not discriminate: it accepted a random control token ({answer.reason})",
            )
        if answer.answer is Answer.UNKNOWN:
            return HostAnswer(Answer.UNKNOWN, host, f"control probe failed: {answer.reason}")
        return None

    def _probe(self, host: str, token: str) -> HostAnswer:
        reply = self._get(host, PROBE_PATH, {"organization": self._organization, "ps": "1"}, token)
        if isinstance(reply, HostAnswer):
            return reply
        if reply.status == 401:
            return HostAnswer(Answer.REJECTED, host, "HTTP 401 from projects/search")
        meaning = ACCEPTED_STATUSES.get(reply.status)
        if meaning is None:
            return HostAnswer(Answer.UNKNOWN, host, f"unexpected HTTP {reply.status}")
        if _parse_json(reply.body) is _NOT_JSON:
            return HostAnswer(Answer.UNKNOWN, host, f"HTTP {reply.status} with an answer that is not JSON")
        return HostAnswer(Answer.ACCEPTED, host, f"HTTP {reply.status} from projects/search ({meaning})")

    def _confirm(self, host: str, token: str) -> HostAnswer:
        """After a 401: ``valid: false`` from authentication/validate makes the rejection sure."""
        reply = self._get(host, CONFIRM_PATH, None, token)
        if isinstance(reply, HostAnswer):
            return replace(reply, reason=f"after HTTP 401, authentication/validate: {reply.reason}")
        data = _parse_json(reply.body)
        valid = data.get("valid") if isinstance(data, dict) else None
        if reply.status != 200 or not isinstance(valid, bool):
            return HostAnswer(
                Answer.UNKNOWN,
                host,
                f"after HTTP 401, authentication/validate answered HTTP {reply.status} "
                "without a JSON 'valid' field",
            )
        if valid:
            return HostAnswer(
                Answer.UNKNOWN,
                host,
                "answers disagree: HTTP 401 from projects/search, valid=true from authentication/validate",
            )
        return HostAnswer(
            Answer.REJECTED,
            host,
            "HTTP 401 from projects/search, valid=false from authentication/validate",
        )

    def _get(self, host: str, path: str, params: dict[str, str] | None, token: str) -> _Reply | HostAnswer:
        """One GET with retries on 429 and 5xx; trouble becomes an UNKNOWN answer."""
        attempts = self.config.max_retries + 1
        attempt = 0
        timed_out = HostAnswer(
            Answer.UNKNOWN, host, f"timeout: no complete answer within {self.config.timeout:g}s"
        )
        while True:
            self._limiter.wait()
            deadline = RequestDeadline(self.config.timeout)
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
                        return HostAnswer(Answer.UNKNOWN, host, f"redirect (HTTP {status}) not followed")
                    if status != 429 and status < 500:
                        body = _read_capped(response)
                        if deadline.expired:
                            return timed_out
                        if body is None:
                            return HostAnswer(Answer.UNKNOWN, host, "answer larger than 1 MiB")
                        return _Reply(status, body)
                    retry_after = _retry_after(response.headers.get("Retry-After"))
            except httpx.TimeoutException:
                return timed_out
            except httpx.HTTPError as exc:
                if deadline.expired:
                    return timed_out
                return HostAnswer(Answer.UNKNOWN, host, _network_reason(exc, token))
            what = "rate-limited (HTTP 429)" if status == 429 else f"server error (HTTP {status})"
            if retry_after is not None and retry_after > self.config.max_retry_after:
                return HostAnswer(
                    Answer.UNKNOWN,
                    host,
                    f"{what}; Retry-After {retry_after:g}s exceeds the {self.config.max_retry_after:g}s cap",
                )
            attempt += 1
            if attempt == attempts:
                return HostAnswer(Answer.UNKNOWN, host, f"{what}, {attempts} attempt(s)")
            backoff = self.config.backoff * 2 ** (attempt - 1)
            time.sleep(retry_after if retry_after is not None else backoff)


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
    if value.isdigit():
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
