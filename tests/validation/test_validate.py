"""The validation stage against real HTTPS servers on 127.0.0.1 emulating the SonarQube hosts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakscan.errors import UsageError
from leakscan.models import Liveness, Secret, Validation
from leakscan.options import CLOUD_URLS, ValidationConfig, check_base_url
from leakscan.rules import KNOWN_VALIDATORS, load_rules
from leakscan.synthetic import TokenGenerator
from leakscan.validate import (
    VALIDATORS,
    RateLimiter,
    TokenValidator,
    _retry_after,
    direct_mounts,
    make_client,
)
from tests.validation.conftest import (
    PROXIED_NAME,
    FakeSonarHost,
    MakeHost,
    MakeTrickleHost,
    RecordingProxy,
    TunnelProxy,
)

CLOUD = "sonarqube-cloud"
SERVER = "sonarqube-server"
PROBE = "/api/projects/search"
CONFIRM = "/api/authentication/validate"
SCANNER = "/api/settings/values"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def config(
    ca_bundle: Path | None, *cloud: str, sonar: tuple[str, ...] = (), **extra: object
) -> ValidationConfig:
    settings: dict[str, object] = {"timeout": 0.3, "rate": 1000.0, "backoff": 0.05, **extra}
    return ValidationConfig(cloud_urls=cloud, sonar_urls=sonar, ca_bundle=ca_bundle, **settings)  # type: ignore[arg-type]


@dataclass
class Run:
    outcomes: dict[tuple[str | None, Secret], Validation]
    urls: list[str]
    logs: str

    def of(self, validator: str | None, token: str) -> Validation:
        return self.outcomes[(validator, Secret(token))]


def run(
    settings: ValidationConfig,
    items: Sequence[tuple[str | None, str]],
    caplog: pytest.LogCaptureFixture,
) -> Run:
    """Validate ``items``, recording every URL the client asked for and every log record."""
    urls: list[str] = []
    client = make_client(settings)
    client.event_hooks = {"request": [lambda request: urls.append(str(request.url))]}
    with (
        caplog.at_level(logging.DEBUG),
        client,
        TokenValidator(settings, client=client) as validator,
    ):
        outcomes = validator.validate_many([(name, Secret(token)) for name, token in items])
    return Run(outcomes, urls, caplog.text)


def assert_never_exposed(token: str, result: Run, *hosts: FakeSonarHost) -> None:
    """The token travels only in the Authorization header: not in a URL, a header, a log."""
    assert all(token not in url for url in result.urls)
    assert token not in result.logs
    for host in hosts:
        for request in host.requests:
            assert token not in request.target
            assert all(token not in value for name, value in request.headers if name != "Authorization")


def controls(host: FakeSonarHost, real: set[str]) -> list[str]:
    return [r.token or "" for r in host.requests if r.token not in real]


def assert_controls_before_the_token(host: FakeSonarHost, token: str) -> None:
    """Each endpoint got at most one control token of the token's shape, before the token."""
    paths = [r.path for r in host.requests if r.token != token]
    assert len(paths) == len(set(paths))
    for request in host.requests:
        if request.token != token:
            assert request.token and len(request.token) == len(token) and request.token[:5] == token[:5]
            first_real = next(r for r in host.requests if r.token == token and r.path == request.path)
            assert request.at <= first_real.at


def assert_evidence_matches(outcome: Validation, token: str, *hosts: FakeSonarHost) -> None:
    """The evidence lists every request that got an answer (retries once), in order per host."""
    for host in hosts:
        shown = [(e.endpoint.split(" ")[1], e.token) for e in outcome.evidence if e.host == host.url]
        seen = []
        for request in host.requests:
            step = (request.path, "candidate" if request.token == token else "control")
            if step not in seen:
                seen.append(step)
        assert shown == seen


def test_validators_are_the_ones_rules_may_name() -> None:
    assert set(VALIDATORS) == KNOWN_VALIDATORS
    assert {rule.validation for rule in load_rules() if rule.validation} == KNOWN_VALIDATORS


def test_default_cloud_hosts_are_eu_then_us() -> None:
    assert CLOUD_URLS == ("https://sonarcloud.io", "https://sonarqube.us")
    assert ValidationConfig().cloud_urls == CLOUD_URLS


PROVEN = "proven: HTTP 200 from projects/search (authenticated); a random control token was rejected"
PROVEN_BY_VALIDATE = (
    "proven: HTTP {code} from projects/search (proves nothing alone), valid=true from "
    "authentication/validate; a random control token got valid=false"
)
REJECTED = "HTTP {code} from projects/search{alone}, valid=false from authentication/validate"


@pytest.mark.parametrize(
    ("eu_script", "us_script", "status", "where", "reason", "eu_requests", "us_requests"),
    [
        ((["ok"], False), None, Liveness.LIVE, "eu", PROVEN, 1, 0),
        (
            (["forbidden"], False),
            None,
            Liveness.INACTIVE,
            "both",
            "rejected by {eu} ("
            + REJECTED.format(code=403, alone=" (proves nothing alone)")
            + "); {us} ("
            + REJECTED.format(code=401, alone="")
            + ")",
            2,
            2,
        ),
        ((["forbidden"], True), None, Liveness.LIVE, "eu", PROVEN_BY_VALIDATE.format(code=403), 2, 0),
        ((["notfound"], True), None, Liveness.LIVE, "eu", PROVEN_BY_VALIDATE.format(code=404), 2, 0),
        ((["notfound"], False), None, Liveness.INACTIVE, "both", None, 2, 2),
        (None, (["ok"], False), Liveness.LIVE, "us", PROVEN, 2, 1),
        (None, (["forbidden"], True), Liveness.LIVE, "us", PROVEN_BY_VALIDATE.format(code=403), 2, 2),
        (
            None,
            None,
            Liveness.INACTIVE,
            "both",
            "rejected by {eu} ("
            + REJECTED.format(code=401, alone="")
            + "); {us} ("
            + REJECTED.format(code=401, alone="")
            + ")",
            2,
            2,
        ),
        ((["error", "ok"], False), None, Liveness.LIVE, "eu", PROVEN, 2, 0),
        (
            (["error"], False),
            None,
            Liveness.UNKNOWN,
            "eu",
            "server error (HTTP 500), 3 attempt(s); rejected by {us}",
            3,
            2,
        ),
        ((["error"], False), (["ok"], False), Liveness.LIVE, "us", PROVEN, 3, 1),
        (
            (["ratelimit-long"], False),
            None,
            Liveness.UNKNOWN,
            "eu",
            "rate-limited (HTTP 429); Retry-After 3600s exceeds the 30s cap; rejected by {us}",
            1,
            2,
        ),
        ((["ratelimit-bad", "ok"], False), None, Liveness.LIVE, "eu", PROVEN, 2, 0),
        (
            (["slow"], False),
            None,
            Liveness.UNKNOWN,
            "eu",
            "timeout: no complete answer within 0.3s; rejected by {us}",
            1,
            2,
        ),
        (
            (["html"], False),
            None,
            Liveness.UNKNOWN,
            "eu",
            "HTTP 200 with an answer that is not JSON (a proxy or CDN page?); rejected by {us}",
            1,
            2,
        ),
        (
            (["cdn"], True),
            None,
            Liveness.UNKNOWN,
            "eu",
            "HTTP 403 with an answer that is not JSON (a proxy or CDN page?); rejected by {us}",
            1,
            2,
        ),
        (
            (["expired"], False),
            None,
            Liveness.INACTIVE,
            "both",
            "rejected by {eu} (HTTP 401 from projects/search: token expired on 2026-03-01); {us} ("
            + REJECTED.format(code=401, alone="")
            + ")",
            2,
            2,
        ),
        ((["reject"], False), None, Liveness.INACTIVE, "both", None, 2, 2),
    ],
    ids=[
        "eu-accepts",
        "eu-403-valid-false",
        "eu-403-valid-true",
        "eu-404-out-of-scope",
        "eu-404-valid-false",
        "us-accepts-only",
        "us-403-valid-true",
        "rejected-everywhere",
        "500-then-ok",
        "500-always",
        "500-on-eu-but-us-accepts",
        "429-retry-after-too-long",
        "429-retry-after-unicode-digit",
        "timeout",
        "html-not-json",
        "cdn-403-html",
        "expired",
        "explicit-reject",
    ],
)
def test_cloud_token_outcomes(
    eu: FakeSonarHost,
    us: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    caplog: pytest.LogCaptureFixture,
    eu_script: tuple[list[str], bool] | None,
    us_script: tuple[list[str], bool] | None,
    status: Liveness,
    where: str,
    reason: str | None,
    eu_requests: int,
    us_requests: int,
) -> None:
    token = tokens.sqco()
    if eu_script:
        eu.script(token, *eu_script[0], valid=eu_script[1])
    if us_script:
        us.script(token, *us_script[0], valid=us_script[1])
    result = run(config(ca_bundle, eu.url, us.url), [(CLOUD, token)], caplog)
    outcome = result.of(CLOUD, token)
    assert outcome.status is status
    expected_host = {"eu": eu.url, "us": us.url, "both": f"{eu.url}, {us.url}"}[where]
    assert outcome.host == expected_host
    assert outcome.checked_at is not None and ISO.match(outcome.checked_at)
    if reason is not None:
        assert outcome.reason == reason.format(eu=eu.url, us=us.url)
    assert (eu.count(token), us.count(token)) == (eu_requests, us_requests)
    for host in (eu, us):
        if host.count(token):
            assert_controls_before_the_token(host, token)
    assert_never_exposed(token, result, eu, us)
    assert_evidence_matches(outcome, token, eu, us)


def test_rate_limit_waits_for_retry_after(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.sqco()
    eu.script(token, "ratelimit", "ok")
    result = run(config(ca_bundle, eu.url), [(CLOUD, token)], caplog)
    outcome = result.of(CLOUD, token)
    assert (outcome.status, outcome.host) == (Liveness.LIVE, eu.url)
    first, second = (r.at for r in eu.requests if r.token == token)
    assert second - first >= 0.95


def test_redirect_is_not_followed_and_token_never_reaches_target(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    eu, target = make_host("eu"), make_host("redirect-target", accept_all=True)
    eu.redirect_to = target.url
    token = tokens.sqco()
    eu.script(token, "redirect")
    result = run(config(ca_bundle, eu.url), [(CLOUD, token)], caplog)
    outcome = result.of(CLOUD, token)
    assert (outcome.status, outcome.host, outcome.reason) == (
        Liveness.UNKNOWN,
        eu.url,
        "redirect (HTTP 302) not followed",
    )
    assert target.requests == []
    assert all(url.startswith(eu.url + "/") for url in result.urls)


def test_host_that_accepts_everything_is_caught_by_the_control_probe(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    liar, us = make_host("liar", accept_all=True), make_host("us")
    live_on_us, nowhere = tokens.sqco(), tokens.sqco()
    us.script(live_on_us, "ok")
    result = run(config(ca_bundle, liar.url, us.url), [(CLOUD, live_on_us), (CLOUD, nowhere)], caplog)
    assert result.of(CLOUD, live_on_us).status is Liveness.LIVE
    assert result.of(CLOUD, live_on_us).host == us.url
    unknown = result.of(CLOUD, nowhere)
    assert (unknown.status, unknown.host) == (Liveness.UNKNOWN, liar.url)
    assert unknown.reason == (
        "host does not discriminate: it accepted a random control token "
        f"(HTTP 200 from projects/search (authenticated)); rejected by {us.url}"
    )
    [control] = liar.requests
    assert control.path == PROBE and control.token not in (live_on_us, nowhere)
    assert re.fullmatch(r"sqco_[A-Za-z0-9]{59}", control.token or "")


def test_control_probe_once_per_host_and_shape(
    eu: FakeSonarHost,
    us: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud = [tokens.sqco() for _ in range(6)]
    server = [tokens.server("u"), tokens.server("u"), tokens.server("p"), tokens.hex40()]
    for token in cloud[:3]:
        eu.script(token, "ok")
    for token in server:
        us.script(token, "ok")
    settings = config(ca_bundle, eu.url, sonar=(us.url,))
    items = [(CLOUD, t) for t in cloud] + [(SERVER, t) for t in server]
    result = run(settings, items, caplog)
    assert [result.of(CLOUD, t).status for t in cloud] == [Liveness.LIVE] * 3 + [Liveness.INACTIVE] * 3
    assert [result.of(SERVER, t).status for t in server] == [Liveness.LIVE] * 4
    eu_controls = [r for r in eu.requests if r.token not in cloud]
    assert sorted(r.path for r in eu_controls) == [CONFIRM, PROBE]  # one per endpoint
    assert all(re.fullmatch(r"sqco_[A-Za-z0-9]{59}", r.token or "") for r in eu_controls)
    assert {r.path for r in us.requests} == {PROBE}
    us_controls = sorted(controls(us, set(server)), key=len)
    assert [len(c) for c in us_controls] == [40, 44, 44]
    assert re.fullmatch(r"[0-9a-f]{40}", us_controls[0])
    assert sorted(c[:4] for c in us_controls[1:]) == ["sqp_", "squ_"]
    assert all(re.fullmatch(r"sq[up]_[0-9a-f]{40}", c) for c in us_controls[1:])


def test_each_secret_sent_once_and_only_to_configured_hosts(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    eu, us, server, bystander = (
        make_host("eu"),
        make_host("us"),
        make_host("server"),
        make_host("bystander"),
    )
    live_eu, live_us, dead = tokens.sqco(), tokens.sqco(), tokens.sqco()
    squ, sqa = tokens.server("u"), tokens.server("a")
    eu.script(live_eu, "ok")
    us.script(live_us, "ok")
    server.script(squ, "ok")
    items = [(CLOUD, live_eu), (CLOUD, live_us), (CLOUD, dead), (SERVER, squ), (SERVER, sqa)] * 3
    settings = config(ca_bundle, eu.url, us.url, sonar=(server.url,))
    result = run(settings, items, caplog)
    statuses = {token: result.of(name, token).status for name, token in items}
    assert statuses == {
        live_eu: Liveness.LIVE,
        live_us: Liveness.LIVE,
        dead: Liveness.INACTIVE,
        squ: Liveness.LIVE,
        sqa: Liveness.UNKNOWN,  # a dead analysis token: valid=false proves nothing for it
    }
    expected = {
        "eu": {live_eu: [PROBE], live_us: [PROBE, CONFIRM], dead: [PROBE, CONFIRM]},
        "us": {live_us: [PROBE], dead: [PROBE, CONFIRM]},
        "server": {squ: [PROBE], sqa: [PROBE, CONFIRM, SCANNER]},
    }
    real = {live_eu, live_us, dead, squ, sqa}
    for host in (eu, us, server):
        sent: dict[str | None, list[str]] = {}
        for request in host.requests:
            if request.token in real:
                sent.setdefault(request.token, []).append(request.path)
        assert sent == expected[host.name]
    assert bystander.requests == []
    allowed = (eu.url + "/", us.url + "/", server.url + "/")
    assert all(url.startswith(allowed) for url in result.urls)
    for token in real:
        assert_never_exposed(token, result, eu, us, server)


def test_cache_keeps_outcomes_across_calls(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator
) -> None:
    token = tokens.sqco()
    eu.script(token, "ok")
    with TokenValidator(config(ca_bundle, eu.url)) as validator:
        first = validator.validate_many([(CLOUD, Secret(token))])
        second = validator.validate_many([(CLOUD, Secret(token)), (CLOUD, Secret(token))])
    assert first == second
    assert eu.count(token) == 1


def test_concurrency_is_bounded(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    eu = make_host("eu")
    eu.delay = 0.05
    items = [(CLOUD, Secret(tokens.sqco())) for _ in range(12)]
    for _, secret in items:
        eu.script(secret.value, "ok")
    with TokenValidator(config(ca_bundle, eu.url, concurrency=2)) as validator:
        outcomes = validator.validate_many(items)
    assert {o.status for o in outcomes.values()} == {Liveness.LIVE}
    assert 1 <= eu.max_in_flight <= 2


def test_answers_that_disagree_are_unknown(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.sqco()
    eu.script(token, "reject", valid=True)
    outcome = run(config(ca_bundle, eu.url), [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.reason) == (
        Liveness.UNKNOWN,
        "answers disagree: HTTP 401 from projects/search, but valid=true from authentication/validate",
    )


def test_server_tokens_need_a_sonar_url(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.server("u")
    result = run(config(ca_bundle, eu.url), [(SERVER, token), (None, tokens.checksummed("ghp_"))], caplog)
    assert result.of(SERVER, token) == Validation(
        Liveness.NOT_CHECKED, reason="no SonarQube Server URL given (--sonar-url)"
    )
    assert eu.requests == [] and result.urls == []


def test_rule_without_validator_is_not_checked(ca_bundle: Path, tokens: TokenGenerator) -> None:
    with TokenValidator(config(ca_bundle)) as validator:
        outcome = validator.check(None, Secret(tokens.checksummed("ghp_")))
    assert outcome == Validation(Liveness.NOT_CHECKED, reason="no validator for this rule")


def test_untrusted_certificate_is_unknown(
    eu: FakeSonarHost,
    tokens: TokenGenerator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    token = tokens.sqco()
    eu.script(token, "ok")
    outcome = run(config(None, eu.url), [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.reason) == (
        Liveness.UNKNOWN,
        "control probe failed: TLS certificate verification failed",
    )
    assert eu.requests == []


def test_ssl_cert_file_is_honoured(
    eu: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
    token = tokens.sqco()
    eu.script(token, "ok")
    assert run(config(None, eu.url), [(CLOUD, token)], caplog).of(CLOUD, token).status is Liveness.LIVE


def test_proxy_from_environment_is_used(
    eu: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    tunnel_proxy: TunnelProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", tunnel_proxy.url)
    token = tokens.sqco()
    eu.script(token, "ok")
    named = eu.url.replace("127.0.0.1", PROXIED_NAME)
    outcome = run(config(ca_bundle, named), [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.host) == (Liveness.LIVE, named)
    assert set(tunnel_proxy.connects) == {named.removeprefix("https://")}
    assert token.encode() not in tunnel_proxy.seen


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("address", ["127.0.0.1", "localhost"])
def test_loopback_hosts_never_go_through_a_proxy(
    make_host: MakeHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    recording_proxy: RecordingProxy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    tls: bool,
    address: str,
) -> None:
    """A plain-http request through a proxy would hand it the token in clear."""
    monkeypatch.setenv(variable, recording_proxy.url)
    local = make_host("local", tls=tls)
    url = local.url.replace("127.0.0.1", address)
    token = tokens.sqco()
    local.script(token, "ok")
    outcome = run(config(ca_bundle, url), [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.host) == (Liveness.LIVE, url)
    assert (recording_proxy.connections, bytes(recording_proxy.received)) == (0, b"")
    assert local.count(token, PROBE) == 1


def test_direct_mounts_cover_every_loopback_form() -> None:
    urls = (
        "https://sonarcloud.io",
        "http://127.8.9.10:9000",
        "http://[::1]:9000/sonar",
        "http://localhost",
        "https://sonar.example.com",
    )
    assert direct_mounts(urls) == {
        "all://127.8.9.10": None,
        "all://[::1]": None,
        "all://localhost": None,
    }


def test_plain_http_on_loopback(
    make_host: MakeHost, tokens: TokenGenerator, caplog: pytest.LogCaptureFixture
) -> None:
    local = make_host("local", tls=False)
    token = tokens.sqco()
    local.script(token, "ok")
    outcome = run(config(None, local.url), [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.host) == (Liveness.LIVE, local.url)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://sonarcloud.io/", "https://sonarcloud.io"),
        ("https://sonar.example.com:8443/sonar/", "https://sonar.example.com:8443/sonar"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("http://127.8.9.10", "http://127.8.9.10"),
        ("http://localhost:9000", "http://localhost:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_accepted_urls(url: str, normalized: str) -> None:
    assert check_base_url(url) == normalized


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://sonarcloud.io", "plain http:// is only allowed for loopback addresses"),
        ("http://10.0.0.1:9000", "plain http:// is only allowed for loopback addresses"),
        ("http://localhost.example.com", "plain http:// is only allowed for loopback addresses"),
        ("ftp://sonarcloud.io", "expected https://HOST[:PORT][/PATH]"),
        ("sonarcloud.io", "expected https://HOST[:PORT][/PATH]"),
        ("https://user:pw@sonar.example.com", "no user info, query or fragment allowed"),
        ("https://sonar.example.com/?x=1", "no user info, query or fragment allowed"),
        ("https://sonar.example.com:99999", "Port out of range"),
    ],
)
def test_rejected_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        ValidationConfig(sonar_urls=(url,))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://admin:s3cret-pass@sonar.example.com",
            "invalid URL 'https://admin:***@sonar.example.com': no user info, query or fragment allowed",
        ),
        ("https://admin:s3cret-pass@[::1", "invalid URL 'https://admin:***@[::1': Invalid IPv6 URL"),
        (
            "admin:s3cret-pass@sonar.example.com",
            "invalid URL 'admin:***@sonar.example.com': expected https://HOST[:PORT][/PATH]",
        ),
    ],
    ids=["user-info", "unparsable", "no-scheme"],
)
def test_url_messages_never_show_the_password(url: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        ValidationConfig(cloud_urls=(url,))
    assert str(caught.value) == message


def test_missing_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=re.escape(f"CA bundle {tmp_path / 'nope.pem'}: cannot load")):
        make_client(ValidationConfig(ca_bundle=tmp_path / "nope.pem"))


def test_rate_limiter_spaces_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    starts: list[float] = []
    monkeypatch.setattr("leakscan.validate.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("leakscan.validate.time.sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    limiter = RateLimiter(4.0)
    for _ in range(5):
        limiter.wait()
        starts.append(clock[0])
    assert starts == [100.0, 100.25, 100.5, 100.75, 101.0]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        (" 30 ", 30.0),
        (None, None),
        ("soon", None),
        ("-1", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert _retry_after(header) == seconds


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_trickling_host_is_cut_off_at_the_deadline(
    make_trickle_host: MakeTrickleHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    caplog: pytest.LogCaptureFixture,
    stage: str,
    tls: bool,
) -> None:
    """One byte every 0.2 s never trips a per-read timeout of 1 s; the request deadline does.

    Without it this test would hang (the CLI test below guards the same with a time limit).
    """
    host = make_trickle_host(stage, tls=tls)
    host.interval = 0.2
    token = tokens.sqco()
    settings = config(ca_bundle, host.url, timeout=1.0)
    outcome = run(settings, [(CLOUD, token)], caplog).of(CLOUD, token)
    assert (outcome.status, outcome.host, outcome.reason) == (
        Liveness.UNKNOWN,
        host.url,
        "control probe failed: timeout: no complete answer within 1s",
    )
    assert host.requests == 1
