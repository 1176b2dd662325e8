"""No token is live without proof: fake SonarQube Cloud and Server hosts on 127.0.0.1 (HTTPS with
the test CA, and plain HTTP) modelling each way a dead token can look alive, the budget, Ctrl-C,
and validation hosts that only the user may choose."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakscan.errors import UsageError
from leakscan.models import Liveness, Secret, Validation
from leakscan.options import ValidationConfig
from leakscan.synthetic import TokenGenerator
from leakscan.validate import TokenValidator, make_client
from tests.conftest import RunCli
from tests.validation.conftest import MakeHost, MakeTrickleHost

CLOUD = "sonarqube-cloud"
SERVER = "sonarqube-server"
PROBE = "/api/projects/search"
CONFIRM = "/api/authentication/validate"
SCANNER = "/api/settings/values"


def settings(
    ca_bundle: Path, cloud: tuple[str, ...] = (), sonar: tuple[str, ...] = (), **extra: object
) -> ValidationConfig:
    values: dict[str, object] = {"timeout": 0.5, "rate": 1000.0, "backoff": 0.05, **extra}
    return ValidationConfig(cloud_urls=cloud, sonar_urls=sonar, ca_bundle=ca_bundle, **values)  # type: ignore[arg-type]


def check(config: ValidationConfig, items: list[tuple[str, str]]) -> dict[str, Validation]:
    with TokenValidator(config) as validator:
        outcomes = validator.validate_many([(name, Secret(token)) for name, token in items])
    return {secret.value: outcome for (_, secret), outcome in outcomes.items()}


def steps(outcome: Validation) -> list[tuple[str, str, int | None]]:
    return [(e.endpoint.removeprefix("GET "), e.token, e.status) for e in outcome.evidence]


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_server_user_tokens(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, tls: bool) -> None:
    """Valid, expired (401 with the notice) and revoked (401, valid=false) user tokens."""
    server = make_host("server", tls=tls)
    valid, expired, revoked = tokens.server("u"), tokens.server("u"), tokens.server("u")
    server.script(valid, "ok")
    server.script(expired, "expired")
    outcomes = check(
        settings(ca_bundle, sonar=(server.url,)), [(SERVER, valid), (SERVER, expired), (SERVER, revoked)]
    )
    assert outcomes[valid].status is Liveness.LIVE
    assert steps(outcomes[valid]) == [(PROBE, "control", 401), (PROBE, "candidate", 200)]
    assert outcomes[expired].status is Liveness.INACTIVE
    assert "token expired on 2026-03-01" in outcomes[expired].reason
    assert outcomes[revoked].status is Liveness.INACTIVE
    assert steps(outcomes[revoked])[-1] == (CONFIRM, "candidate", 200)
    assert outcomes[revoked].evidence[-1].meaning == "valid=false from authentication/validate"


def test_old_server_analysis_tokens(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    """An old server rejects live analysis tokens on projects/search and validate: the scanner
    endpoint proves the live one; a dead one stays unknown, never inactive or live."""
    server = make_host("old-server")
    live_sqa, live_sqp, dead_sqa = tokens.server("a"), tokens.server("p"), tokens.server("a")
    server.script(live_sqa, "reject", scanner=True)
    server.script(live_sqp, "forbidden", scanner=True)
    outcomes = check(
        settings(ca_bundle, sonar=(server.url,)), [(SERVER, live_sqa), (SERVER, live_sqp), (SERVER, dead_sqa)]
    )
    for token in (live_sqa, live_sqp):
        assert outcomes[token].status is Liveness.LIVE, outcomes[token].reason
        assert outcomes[token].reason.startswith("proven: HTTP 200 from settings/values (authenticated)")
        assert (SCANNER, "control", 401) in steps(outcomes[token])
    dead = outcomes[dead_sqa]
    assert dead.status is Liveness.UNKNOWN
    assert dead.reason.startswith("analysis tokens cannot be checked with this endpoint on this server")
    assert steps(dead)[-1] == (SCANNER, "candidate", 401)


def test_cloud_api_answers_403_to_dead_tokens(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator
) -> None:
    """Like api.sonarcloud.io: 403 for an expired or revoked token; only validate tells."""
    cloud = make_host("cloud", dead="forbidden")
    dead, live = tokens.sqco(), tokens.sqco()
    cloud.script(live, "forbidden", valid=True)
    outcomes = check(settings(ca_bundle, cloud=(cloud.url,)), [(CLOUD, dead), (CLOUD, live)])
    assert outcomes[dead].status is Liveness.INACTIVE
    assert steps(outcomes[dead])[-1] == (CONFIRM, "candidate", 200)
    assert outcomes[live].status is Liveness.LIVE
    assert (CONFIRM, "control", 200) in steps(outcomes[live])


def test_scoped_token_outside_its_scope(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    """404 alone proves nothing; with valid=true (a control got valid=false) it is live."""
    cloud = make_host("cloud")
    in_scope_elsewhere, dead = tokens.sqco(), tokens.sqco()
    cloud.script(in_scope_elsewhere, "notfound", valid=True)
    cloud.script(dead, "notfound")
    outcomes = check(settings(ca_bundle, cloud=(cloud.url,)), [(CLOUD, in_scope_elsewhere), (CLOUD, dead)])
    assert outcomes[in_scope_elsewhere].status is Liveness.LIVE
    assert outcomes[dead].status is Liveness.INACTIVE


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_host_that_accepts_anything_never_gets_the_token(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, tls: bool
) -> None:
    liar = make_host("liar", accept_all=True, tls=tls)
    sqco, squ = tokens.sqco(), tokens.server("u")
    outcomes = check(
        settings(ca_bundle, cloud=(liar.url,), sonar=(liar.url,)), [(CLOUD, sqco), (SERVER, squ)]
    )
    for token in (sqco, squ):
        assert outcomes[token].status is Liveness.UNKNOWN
        assert outcomes[token].reason.startswith("host does not discriminate")
        assert steps(outcomes[token]) == [(PROBE, "control", 200)]
    assert liar.count(sqco) == liar.count(squ) == 0


def test_cdn_403_page_is_never_proof(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    """A CDN answering 403 HTML to everything: every token is unknown, none live."""
    cdn = make_host("cdn", dead="cdn")
    items = [(CLOUD, tokens.sqco()) for _ in range(3)] + [(SERVER, tokens.server("u"))]
    outcomes = check(settings(ca_bundle, cloud=(cdn.url,), sonar=(cdn.url,)), items)
    assert {o.status for o in outcomes.values()} == {Liveness.UNKNOWN}
    for outcome in outcomes.values():
        assert "not JSON (a proxy or CDN page?)" in outcome.reason
        assert steps(outcome) == [(PROBE, "control", 403)]


def test_no_dead_token_is_ever_live(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    """Every dead-token behaviour at once, on every kind of host: nothing comes back live."""
    hosts = [
        make_host("server"),
        make_host("cloud-403", dead="forbidden"),
        make_host("cdn", dead="cdn"),
        make_host("liar", accept_all=True),
        make_host("plain", tls=False),
    ]
    dead: list[tuple[str, str]] = []
    for host in hosts:
        for action in ("reject", "expired", "forbidden", "notfound", "cdn", "html", "error"):
            token = tokens.sqco()
            host.script(token, action)
            dead.append((CLOUD, token))
            for kind in "upa":
                server_token = tokens.server(kind)
                host.script(server_token, action)
                dead.append((SERVER, server_token))
    for host in hosts:
        outcomes = check(settings(ca_bundle, cloud=(host.url,), sonar=(host.url,), max_requests=5000), dead)
        assert Liveness.LIVE not in {o.status for o in outcomes.values()}, host.name


def test_request_budget(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    server = make_host("server")
    items = [(SERVER, tokens.server("u")) for _ in range(6)]
    for _, token in items:
        server.script(token, "ok")
    outcomes = check(settings(ca_bundle, sonar=(server.url,), max_requests=4, concurrency=1), items)
    assert len(server.requests) == 4  # one control, three tokens
    statuses = [outcomes[token].status for _, token in items]
    assert statuses == [Liveness.LIVE] * 3 + [Liveness.UNKNOWN] * 3
    for _, token in items[3:]:
        assert outcomes[token].reason == "validation budget exhausted (4 requests or 120s)"


def test_deadline(make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator) -> None:
    slow = make_host("slow")
    slow.delay = 0.3
    items = [(CLOUD, tokens.sqco()) for _ in range(20)]
    started = time.monotonic()
    outcomes = check(settings(ca_bundle, cloud=(slow.url,), deadline=1.0, concurrency=2), items)
    assert time.monotonic() - started < 10  # far below 20 tokens x 4 requests x 0.3 s
    reasons = [o.reason for o in outcomes.values() if o.status is Liveness.UNKNOWN]
    assert any("validation budget exhausted" in reason for reason in reasons)
    assert Liveness.LIVE not in {o.status for o in outcomes.values()}


def test_socks_proxy_without_socks_support_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tokens: TokenGenerator
) -> None:
    pytest.importorskip("httpx")
    try:
        import socksio  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("socksio is installed")
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(UsageError, match=r"SOCKS proxy .* pip install 'httpx\[socks\]'"):
        make_client(ValidationConfig(cloud_urls=("https://sonar.example.com",)))


def test_ctrl_c_during_validation_stops_promptly(
    make_trickle_host: MakeTrickleHost, tokens: TokenGenerator, tmp_path: Path
) -> None:
    """A host that never finishes answering; SIGINT ends the run long before --validate-timeout."""
    host = make_trickle_host("headers")
    (tmp_path / "a.env").write_text("".join(f"SONAR_TOKEN={tokens.sqco()}\n" for _ in range(4)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKSCAN_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leakscan",
            "scan",
            "--validate",
            "--cloud-url",
            host.url,
            "--validate-timeout",
            "60",
            "--format",
            "json",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    while host.requests == 0 and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10  # not the 60 s the request could have waited
    assert proc.returncode == 130, stderr
    findings = json.loads(stdout)["findings"]
    assert {f["validation"]["status"] for f in findings} == {"not_checked"}
    assert {f["validation"]["reason"] for f in findings} == {"validation interrupted"}


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_scanned_configuration_cannot_choose_the_hosts(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    """hostile/.leakscan.toml (scanned content, no repository root) names a host: no token goes
    there, for either path; the run stops with one line naming the file and key."""
    evil, good = make_host("evil", accept_all=True), make_host("good")
    victim_token = tokens.sqco()
    good.script(victim_token, "ok")
    _tree(
        tmp_path,
        {
            "hostile/.leakscan.toml": f'cloud_urls = ["{evil.url}"]\n',
            "hostile/x.env": f"SONAR_TOKEN={tokens.sqco()}\n",
            "victim/ci.env": f"SONAR_TOKEN={victim_token}\n",
        },
    )
    args = ["scan", "--validate", "--ca-bundle", str(ca_bundle), "hostile", "victim"]
    refused = run_cli(*args, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: ") and refused.stderr.count("\n") == 1
    assert "hostile/.leakscan.toml: key 'cloud_urls': validation hosts are not taken" in refused.stderr
    assert "pass --cloud-url or LEAKSCAN_CLOUD_URL, or name the file with --config" in refused.stderr
    from_env = run_cli(*args, "--format", "json", cwd=tmp_path, env={"LEAKSCAN_CLOUD_URL": good.url})
    assert from_env.returncode == 1, from_env.stderr
    statuses = {f["path"]: f["validation"]["status"] for f in json.loads(from_env.stdout)["findings"]}
    assert statuses[str(Path("victim/ci.env"))] == "live"
    assert evil.requests == []
    assert good.count(victim_token) == 1


def test_a_subfolder_configuration_cannot_choose_the_hosts(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    """Inside a repository only the root's configuration (or --config) may name hosts."""
    evil, trusted = make_host("evil", accept_all=True), make_host("trusted")
    token = tokens.server("u")
    trusted.script(token, "ok")
    repo = tmp_path / "repo"
    _tree(
        repo,
        {".git/HEAD": "", "sub/.leakscan.toml": f'sonar_urls = ["{evil.url}"]\n', "sub/a.sh": f"T={token}\n"},
    )
    common = ["scan", "--validate", "--ca-bundle", str(ca_bundle), "--format", "json"]
    refused = run_cli(*common, "sub", cwd=repo)
    assert refused.returncode == 2 and "key 'sonar_urls': validation hosts are not taken" in refused.stderr
    (repo / "sub/.leakscan.toml").unlink()
    (repo / ".leakscan.toml").write_text(f'sonar_urls = ["{trusted.url}"]\n')
    accepted = run_cli(*common, "sub", cwd=repo)
    assert accepted.returncode == 1, accepted.stderr
    [finding] = json.loads(accepted.stdout)["findings"]
    assert (finding["validation"]["status"], finding["validation"]["host"]) == ("live", trusted.url)
    assert evil.requests == []


def test_fail_on_with_an_exhausted_budget(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    """Tokens past the budget are unknown: --fail-on live fails on them, proven-live does not."""
    server = make_host("server")
    live, dead = tokens.server("u"), tokens.server("u")
    server.script(live, "ok")
    _tree(
        tmp_path,
        {"a.sh": f"A={live}\n", "b.sh": f"B={dead}\n", "c.html": f"badge?token={tokens.server('b')}\n"},
    )
    base = ["scan", "--sonar-url", server.url, "--ca-bundle", str(ca_bundle), "--validate-rate", "500"]
    codes = {}
    for fail_on in ("any", "live", "proven-live", "none"):
        proc = run_cli(
            *base, "--fail-on", fail_on, "--validate-max-requests", "1", "--validate", str(tmp_path / "b.sh")
        )
        codes[fail_on] = proc.returncode
        assert "1 finding(s) (0 live, 0 inactive, 1 unknown, 0 not checked)" in proc.stdout, proc.stdout
    assert codes == {"any": 1, "live": 1, "proven-live": 0, "none": 0}
    proc = run_cli(*base, "--fail-on", "live", "--validate-max-requests", "1", str(tmp_path / "b.sh"))
    assert (
        "--fail-on live fails closed on 1 finding(s) that could not be checked (1 unknown, 0 not checked)"
        in proc.stdout
    )
    assert "validation budget exhausted (1 requests or 120s)" in proc.stdout


def test_revocation_guidance_badge_tokens_and_known_examples(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    """A live Server token gets revocation guidance in every format; a badge token is info and
    fails only with ',info'; SonarSource's documentation examples are suppressed and counted."""
    server = make_host("server")
    live, badge = tokens.server("u"), tokens.server("b")
    server.script(live, "ok")
    _tree(
        tmp_path,
        {
            "ci.sh": f"export SONAR_TOKEN={live}\n",
            "README.md": f"![QG]({server.url}/api/project_badges/measure?project=a&token={badge})\n",
            "docs.properties": "sonar.token=squ_b4556a16fa2d28519d2451a911d2e073024010bc\n"
            "sonar.login=9acf34ff1e738bcd6d5daf102a8cfcb8a158e44e\n",
        },
    )
    base = ["scan", "--validate", "--sonar-url", server.url, "--ca-bundle", str(ca_bundle), str(tmp_path)]
    revoke = f"Revoke it on {server.url}: its owner opens My Account > Security"
    text = run_cli(*base)
    assert text.returncode == 1, text.stderr
    assert f"  revoke:  {revoke}" in text.stdout
    assert f"POST {server.url}/api/user_tokens/revoke with the token's name" in text.stdout
    assert "leakscan: suppressed: known example: 2" in text.stdout
    report = json.loads(run_cli(*base, "--format", "json").stdout)
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    assert set(by_rule) == {"sonarqube-server-token", "sonarqube-project-badge-token"}
    assert by_rule["sonarqube-server-token"]["revocation"].startswith(revoke)
    badge_finding = by_rule["sonarqube-project-badge-token"]
    assert (badge_finding["severity"], badge_finding["revocation"]) == ("info", None)
    assert badge_finding["validation"]["reason"] == "no validator for this rule"
    assert report["stats"]["suppressed_known_example"] == 2
    assert server.count(badge) == 0
    sarif = json.loads(run_cli(*base, "--format", "sarif").stdout)
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert results["sonarqube-server-token"]["properties"]["revocation"].startswith(revoke)
    assert revoke in results["sonarqube-server-token"]["message"]["text"]
    assert results["sonarqube-project-badge-token"]["level"] == "note"
    for fmt in ("gitlab", "sonarqube"):
        assert "sonarqube-project-badge-token" in run_cli(*base, "--format", fmt).stdout
    only_badge = ["scan", str(tmp_path / "README.md")]
    assert run_cli(*only_badge).returncode == 0
    assert run_cli(*only_badge, "--fail-on", "any,info").returncode == 1
    assert run_cli(*only_badge, "--fail-on", "live").returncode == 0
    bad = run_cli(*only_badge, "--fail-on", "sometimes")
    assert bad.returncode == 2 and "invalid --fail-on 'sometimes'" in bad.stderr


def test_fail_on_live_fails_closed_on_a_server_token_never_checked(
    tokens: TokenGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first-use audit's D-M4, in process (CliRunner): no --sonar-url, so the squ_ token is
    not checked; `live` fails on it and says why, `proven-live` lets it pass."""
    from click.testing import CliRunner

    from leakscan.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dead2.properties").write_text(f"sonar.token={tokens.server('u')}\n")
    runner = CliRunner()
    closed = runner.invoke(cli, ["scan", "--fail-on", "live", "dead2.properties"])
    assert closed.exit_code == 1, closed.output
    assert "1 finding(s) (0 live, 0 inactive, 0 unknown, 1 not checked)" in closed.output
    assert (
        "--fail-on live fails closed on 1 finding(s) that could not be checked (0 unknown, 1 not checked)"
        in (closed.output)
    )
    assert runner.invoke(cli, ["scan", "--fail-on", "proven-live", "dead2.properties"]).exit_code == 0
