"""End to end: ``leakscan validate`` and ``scan --validate`` against the local HTTPS hosts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from leakscan.progress import token_progress
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo
from tests.validation.conftest import FakeSonarHost, MakeHost, MakeTrickleHost, RecordingProxy

PROBE = "/api/projects/search"
CONFIRM = "/api/authentication/validate"


def host_args(ca_bundle: Path, *cloud: FakeSonarHost, sonar: tuple[FakeSonarHost, ...] = ()) -> list[str]:
    args = ["--ca-bundle", str(ca_bundle), "--validate-timeout", "0.3", "--validate-rate", "200"]
    for host in cloud:
        args += ["--cloud-url", host.url]
    for host in sonar:
        args += ["--sonar-url", host.url]
    return args


def assert_hidden(tokens: list[str], *texts: str) -> None:
    for token in tokens:
        for text in texts:
            assert token not in text


def test_validate_reports_each_token(
    eu: FakeSonarHost, us: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    live, dead, flaky = tokens.sqco(), tokens.sqco(), tokens.sqco()
    us.script(live, "ok")
    eu.script(flaky, "html")
    proc = run_cli("validate", live, dead, flaky, *host_args(ca_bundle, eu, us))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == [
        f"{live[:9]}********  live      sonarqube-cloud-scoped-org-token  proven: HTTP 200 from "
        f"projects/search (authenticated); a random control token was rejected [{us.url}]",
        f"{dead[:9]}********  inactive  sonarqube-cloud-scoped-org-token  rejected by "
        f"{eu.url} (HTTP 401 from projects/search, valid=false from authentication/validate); "
        f"{us.url} (HTTP 401 from projects/search, valid=false from authentication/validate)"
        f" [{eu.url}, {us.url}]",
        f"{flaky[:9]}********  unknown   sonarqube-cloud-scoped-org-token  "
        f"HTTP 200 with an answer that is not JSON (a proxy or CDN page?); rejected by {us.url} [{eu.url}]",
    ]
    assert proc.stderr == ""
    assert_hidden([live, dead, flaky], proc.stdout, proc.stderr)


@pytest.mark.parametrize(
    ("scripts", "code"),
    [({}, 0), ({"eu": "ok"}, 1), ({"eu": "error"}, 2), ({"eu": "slow"}, 2)],
    ids=["inactive-0", "live-1", "server-error-2", "timeout-2"],
)
def test_validate_exit_codes(
    eu: FakeSonarHost,
    us: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    run_cli: RunCli,
    scripts: dict[str, str],
    code: int,
) -> None:
    token = tokens.sqco()
    for name, action in scripts.items():
        {"eu": eu, "us": us}[name].script(token, action)
    proc = run_cli("validate", "--format", "json", token, *host_args(ca_bundle, eu, us))
    assert proc.returncode == code, proc.stderr
    [result] = json.loads(proc.stdout)["results"]
    assert result["secret"] == token[:9] + "********"
    assert result["rule_id"] == "sonarqube-cloud-scoped-org-token"
    assert result["status"] == {0: "inactive", 1: "live", 2: "unknown"}[code]
    assert_hidden([token], proc.stdout, proc.stderr)


def test_validate_reads_stdin_and_recognises_each_kind(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    eu, server = make_host("eu"), make_host("server")
    sqco, squ, legacy = tokens.sqco(), tokens.server("u"), tokens.hex40()
    server.script(squ, "forbidden", valid=True)
    stdin = f"{sqco}\n\n  {squ}  \n{legacy}\nnot-a-token\n{sqco}\n"
    proc = run_cli(
        "validate", "-", "--format", "json", *host_args(ca_bundle, eu, sonar=(server,)), input=stdin
    )
    assert proc.returncode == 1, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [(r["rule_id"], r["status"]) for r in results] == [
        ("sonarqube-cloud-scoped-org-token", "inactive"),
        ("sonarqube-server-token", "live"),
        ("sonarqube-legacy-token", "inactive"),
        (None, "not_checked"),
    ]
    assert results[3]["reason"] == "not a recognised token"
    assert results[1]["host"] == server.url
    assert eu.count(sqco) == 2 and server.count(sqco) == 0
    assert (server.count(squ), server.count(legacy)) == (2, 2)
    assert [e["endpoint"] for e in results[1]["evidence"]] == [
        f"GET {PROBE}",
        f"GET {PROBE}",
        f"GET {CONFIRM}",
        f"GET {CONFIRM}",
    ]
    assert [(e["token"], e["status"]) for e in results[1]["evidence"]] == [
        ("control", 401),
        ("candidate", 403),
        ("control", 200),
        ("candidate", 200),
    ]
    assert eu.count(squ) == eu.count(legacy) == 0
    assert_hidden([sqco, squ, legacy], proc.stdout, proc.stderr)


def test_validate_without_sonar_url_is_not_checked(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.server("p")
    proc = run_cli("validate", token, *host_args(ca_bundle, eu))
    assert proc.returncode == 2
    assert proc.stdout == (
        f"{token[:8]}********  not_checked  sonarqube-server-token  "
        "no SonarQube Server URL given (--sonar-url)\n"
    )
    assert eu.requests == []


def test_validate_rejects_placeholders(run_cli: RunCli, eu: FakeSonarHost, ca_bundle: Path) -> None:
    placeholder = "sqco_" + "x" * 59
    proc = run_cli("validate", "--format", "json", placeholder, *host_args(ca_bundle, eu))
    assert proc.returncode == 2
    [result] = json.loads(proc.stdout)["results"]
    assert (result["status"], result["rule_id"]) == ("not_checked", None)
    assert result["reason"].startswith("not a plausible token (rule sonarqube-cloud-scoped-org-token: ")
    assert eu.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cloud-url", "http://sonarcloud.example.com"],
            "plain http:// is only allowed for loopback",
        ),
        (["--sonar-url", "ftp://127.0.0.1"], "expected https://HOST[:PORT][/PATH]"),
    ],
)
def test_bad_url_is_a_usage_error(
    run_cli: RunCli, tokens: TokenGenerator, args: list[str], message: str
) -> None:
    for command in (["validate", tokens.sqco()], ["scan", "--validate", "-"]):
        proc = run_cli(*command, *args)
        assert proc.returncode == 2
        assert proc.stderr.startswith("Error: invalid URL ") and message in proc.stderr
        assert proc.stdout == ""


def test_validate_needs_a_token(run_cli: RunCli) -> None:
    proc = run_cli("validate", "-", input="\n\n")
    assert proc.returncode == 2
    assert proc.stderr == "Error: validate: no token given (pass TOKEN arguments, or '-' to read stdin)\n"


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_scan_validate_end_to_end(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    eu, us, server, named = (
        make_host("eu"),
        make_host("us"),
        make_host("server"),
        make_host("named-in-content"),
    )
    live, dead, squ = tokens.sqco(), tokens.sqco(), tokens.server("u")
    us.script(live, "forbidden", valid=True)
    server.script(squ, "reject")
    write_tree(
        tmp_path,
        {
            "a/dead.properties": f"sonar.host.url={named.url}\nsonar.token={dead}\n",
            "b/live.properties": f"sonar.host.url={named.url}\nsonar.token={live}\n",
            "c/copy.env": f"SONAR_TOKEN={live}\nSONAR_HOST_URL={named.url}\n",
            "d/server.sh": f"export SONAR_TOKEN={squ}\n",
        },
    )
    args = ["scan", "--validate", *host_args(ca_bundle, eu, us, sonar=(server,)), str(tmp_path)]
    proc = run_cli(*args, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    got = [
        (
            Path(f["path"]).relative_to(tmp_path).as_posix(),
            f["validation"]["status"],
            f["validation"]["host"],
        )
        for f in findings
    ]
    assert got == [
        ("b/live.properties", "live", us.url),
        ("c/copy.env", "live", us.url),
        ("a/dead.properties", "inactive", f"{eu.url}, {us.url}"),
        ("d/server.sh", "inactive", server.url),
    ]
    for finding in findings:
        assert set(finding["validation"]) == {"status", "host", "checked_at", "reason", "evidence"}
    assert findings[0]["validation"]["reason"] == (
        "proven: HTTP 403 from projects/search (proves nothing alone), valid=true from "
        "authentication/validate; a random control token got valid=false"
    )
    assert (
        "leakscan: validation: 3 unique secret(s): 1 live, 2 inactive, 0 unknown, 0 not checked"
        in proc.stderr
    )
    assert (eu.count(live), us.count(live)) == (2, 2)
    assert (eu.count(dead, PROBE), eu.count(dead, CONFIRM), us.count(dead)) == (1, 1, 2)
    assert (server.count(squ), eu.count(squ), us.count(squ)) == (2, 0, 0)
    assert named.requests == []
    assert_hidden([live, dead, squ], proc.stdout, proc.stderr)

    text = run_cli(*args)
    assert text.returncode == 1
    blocks = text.stdout.split("\n\n")
    assert blocks[0].startswith(f"{tmp_path}/b/live.properties:2:13  LIVE TOKEN: S7791 ")
    assert "  check:   LIVE: revoke it now: live (proven: HTTP 403" in blocks[0]
    assert blocks[1].startswith(f"{tmp_path}/c/copy.env:1:13  LIVE TOKEN: ")
    assert blocks[2].startswith(f"{tmp_path}/a/dead.properties:2:13  S7791 ")
    assert "  check:   inactive (rejected by " in blocks[2]
    assert_hidden([live, dead, squ], text.stdout, text.stderr)
    assert (eu.count(live), us.count(live)) == (4, 4)


def test_scan_without_validate_never_touches_the_network(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    token = tokens.sqco()
    write_tree(tmp_path, {"x.properties": f"sonar.token={token}\n"})
    proc = run_cli("scan", "--format", "json", *host_args(ca_bundle, eu), str(tmp_path))
    assert proc.returncode == 1
    [finding] = json.loads(proc.stdout)["findings"]
    assert finding["validation"] == {
        "status": "not_checked",
        "host": None,
        "checked_at": None,
        "reason": "validation off",
        "evidence": [],
    }
    assert eu.requests == []


@pytest.mark.parametrize(
    ("action", "fail_on", "code"),
    [
        ("ok", "live", 1),
        (None, "live", 0),
        ("error", "live", 1),
        ("ok", "proven-live", 1),
        (None, "proven-live", 0),
        ("error", "proven-live", 0),
        (None, "any", 1),
        ("ok", "none", 0),
        (None, "none", 0),
    ],
    ids=[
        "live-fails",
        "inactive-passes",
        "unknown-fails-closed",
        "proven-live-fails",
        "proven-live-inactive-passes",
        "proven-live-unknown-passes",
        "any-fails",
        "none-live",
        "none-inactive",
    ],
)
def test_fail_on(
    eu: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    run_cli: RunCli,
    tmp_path: Path,
    action: str | None,
    fail_on: str,
    code: int,
) -> None:
    token = tokens.sqco()
    if action:
        eu.script(token, action)
    write_tree(tmp_path, {"x.properties": f"sonar.token={token}\n"})
    extra = ["--validate"] if fail_on not in ("live", "proven-live") else []
    proc = run_cli("scan", "--fail-on", fail_on, *extra, *host_args(ca_bundle, eu), str(tmp_path))
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert eu.count(token) >= 1
    assert "leakscan: validation: 1 unique secret(s): " in proc.stdout
    closed = "leakscan: --fail-on live fails closed on 1 finding(s) that could not be checked (1 unknown"
    assert (closed in proc.stdout) == (action == "error" and fail_on == "live")


def test_ssl_cert_file_in_the_environment(
    eu: FakeSonarHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    eu.script(token, "ok")
    proc = run_cli(
        "validate",
        token,
        "--cloud-url",
        eu.url,
        "--validate-rate",
        "200",
        env={"SSL_CERT_FILE": str(ca_bundle)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert " live " in proc.stdout


def test_httpx_is_imported_only_when_validating() -> None:
    modules = "leakscan.cli, leakscan.scan, leakscan.report.text_report, leakscan.report.json_report"
    code = f"import sys, {modules}; print('httpx' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "False\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_for_more_than_a_handful() -> None:
    terminal = _Terminal()
    show = token_progress(terminal)
    assert show is not None
    show(0, 3)
    show(3, 3)
    assert terminal.getvalue() == ""
    for done in range(7):
        show(done, 6)
    assert terminal.getvalue().endswith(
        "\rleakscan: validating 5/6 token(s)\rleakscan: validating 6/6 token(s)\n"
    )
    assert token_progress(io.StringIO()) is None


@pytest.mark.parametrize("stage", ["headers", "body"])
def test_validate_timeout_bounds_the_whole_request(
    make_trickle_host: MakeTrickleHost,
    tokens: TokenGenerator,
    run_cli: RunCli,
    stage: str,
) -> None:
    """A 403 trickled a byte every 0.5 s used to hang `validate --validate-timeout 1` forever."""
    host = make_trickle_host(stage)
    token = tokens.sqco()
    proc = run_cli("validate", token, "--validate-timeout", "1", "--cloud-url", host.url, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == (
        f"{token[:9]}********  unknown  sonarqube-cloud-scoped-org-token  "
        f"control probe failed: timeout: no complete answer within 1s [{host.url}]\n"
    )
    assert proc.stderr == ""


def _write_config(folder: Path, body: str) -> Path:
    (folder / ".git").mkdir(exist_ok=True)
    path = folder / ".leakscan.toml"
    path.write_text(body)
    return path


@pytest.mark.parametrize("how", ["discovered", "explicit"])
def test_validate_uses_the_configured_hosts(
    make_host: MakeHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    run_cli: RunCli,
    recording_proxy: RecordingProxy,
    tmp_path: Path,
    how: str,
) -> None:
    """A repository that set a gateway never sends its tokens to the public hosts.

    HTTPS_PROXY catches any request to a public host (sonarcloud.io), so nothing leaves the machine.
    """
    gateway, server = make_host("gateway"), make_host("server")
    cloud, squ = tokens.sqco(), tokens.server("u")
    gateway.script(cloud, "notfound", valid=True)
    server.script(squ, "ok")
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repo / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    config = _write_config(repo, f'cloud_urls = ["{gateway.url}"]\nsonar_urls = ["{server.url}/"]\n')
    args = ["validate", cloud, squ, "--ca-bundle", str(ca_bundle), "--validate-rate", "200"]
    if how == "explicit":
        args += ["--config", str(config)]
    cwd = repo / "sub" if how == "discovered" else elsewhere
    proc = run_cli(*args, cwd=cwd, env={"HTTPS_PROXY": recording_proxy.url})
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{cloud[:9]}********  live  sonarqube-cloud-scoped-org-token  proven: HTTP 404 from "
        "projects/search (proves nothing alone), valid=true from authentication/validate; "
        f"a random control token got valid=false [{gateway.url}]",
        f"{squ[:8]}********   live  sonarqube-server-token            proven: HTTP 200 from "
        f"projects/search (authenticated); a random control token was rejected [{server.url}]",
    ]
    assert (gateway.count(cloud), server.count(squ)) == (2, 1)
    assert (recording_proxy.connections, bytes(recording_proxy.received)) == (0, b"")


def test_validate_command_line_hosts_override_the_configuration(
    make_host: MakeHost, ca_bundle: Path, tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    configured, given = make_host("configured"), make_host("given")
    token = tokens.sqco()
    given.script(token, "ok")
    _write_config(tmp_path, f'cloud_urls = ["{configured.url}"]\n')
    proc = run_cli("validate", token, *host_args(ca_bundle, given), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert (configured.requests, given.count(token)) == ([], 1)


def test_validate_reports_a_bad_configuration(
    tokens: TokenGenerator, run_cli: RunCli, tmp_path: Path
) -> None:
    config = _write_config(tmp_path, 'cloud_urls = ["http://gateway.example.com"]\n')
    proc = run_cli("validate", tokens.sqco(), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"Error: {config}: key 'cloud_urls': invalid URL 'http://gateway.example.com': plain "
        "http:// is only allowed for loopback addresses (127.0.0.0/8, ::1, localhost); use https://\n"
    )
    assert proc.stdout == ""


@pytest.mark.parametrize("command", ["create", "prune"])
@pytest.mark.parametrize("history", [False, True], ids=["files", "history"])
def test_baseline_never_validates_even_with_fail_on_live(
    eu: FakeSonarHost,
    ca_bundle: Path,
    tokens: TokenGenerator,
    run_cli: RunCli,
    recording_proxy: RecordingProxy,
    make_repo: MakeRepo,
    command: str,
    history: bool,
) -> None:
    """`baseline` has no validation options: the configuration's fail_on = "live" must not make
    it send accepted tokens anywhere."""
    token = tokens.sqco()
    eu.script(token, "ok")
    repo = make_repo()
    repo.commit(
        {
            ".leakscan.toml": f'fail_on = "live"\ncloud_urls = ["{eu.url}"]\nbaseline = "accepted.json"\n',
            "x.properties": f"sonar.token={token}\n",
        }
    )
    extra = ["--history", "--no-progress"] if history else []
    env = {"HTTPS_PROXY": recording_proxy.url, "SSL_CERT_FILE": str(ca_bundle)}
    if command == "prune":
        created = run_cli("baseline", "create", *extra, ".", cwd=repo.path, env=env)
        assert created.returncode == 0, created.stderr
    proc = run_cli("baseline", command, *extra, ".", cwd=repo.path, env=env)
    assert proc.returncode == 0, proc.stderr
    entries = json.loads((repo.path / "accepted.json").read_text())["entries"]
    assert [(e["path"], e["rule_id"]) for e in entries] == [
        ("x.properties", "sonarqube-cloud-scoped-org-token")
    ]
    assert "validation" not in proc.stderr
    assert eu.requests == []
    assert (recording_proxy.connections, bytes(recording_proxy.received)) == (0, b"")
