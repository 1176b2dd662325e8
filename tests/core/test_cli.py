"""End to end: the command as a subprocess (run_cli) and through click's CliRunner."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leakscan import __version__
from leakscan.cli import cli, main
from leakscan.rules import load_rules
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli, read_terminal

SQCO = "sonarqube-cloud-scoped-org-token"
RULES = {rule.id: rule for rule in load_rules()}
SUMMARY = re.compile(
    r"^leakscan: (\d+) finding\(s\)(?: \(\d+ live, \d+ inactive, \d+ unknown, \d+ not checked\))?, "
    r"(\d+) scanned \([^)]*\), (\d+) skipped(?: \(([^)]*)\))?, "
    r"(\d+) error\(s\), \d+\.\d\ds$"
)


def summary(text: str) -> tuple[str, ...]:
    """(findings, scanned, skipped, skipped by reason, errors) from the summary line."""
    line = next(line for line in text.splitlines() if line.startswith("leakscan: "))  # then notes
    match = SUMMARY.match(line)
    assert match, line
    return tuple(group or "" for group in match.groups())


def findings(stdout: str) -> list[tuple[Any, ...]]:
    return [
        (f["rule_id"], f["path"], f["line"], f["column"], f["secret"]) for f in json.loads(stdout)["findings"]
    ]


def redacted(token: str) -> str:
    prefix = token.split("_")[0] + "_" if "_" in token else ""
    return token[: len(prefix) + 4] + "********"


@pytest.fixture
def tree(tmp_path: Path, tokens: TokenGenerator) -> tuple[Path, str]:
    """A small tree with one token, plus ignored, binary and clean files."""
    root = tmp_path / "tree"
    token = tokens.sqco()
    (root / "config").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"token = {tokens.sqco()}\n")
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "cache.txt").write_text(f"sonar.token={tokens.sqco()}\n")
    (root / "config" / "sonar-project.properties").write_text(
        f"sonar.organization=acme\nsonar.token={token}\n"
    )
    # binary without a printable run to read (one with a token inside is found: tests/extract)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(128, 256)) * 4)
    (root / "README.md").write_text("# nothing to see\n")
    return root, token


# --- finding things, text output ---------------------------------------------------------------


def test_text_report(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, token = tree
    proc = run_cli("scan", str(root))
    assert (proc.returncode, proc.stderr) == (1, "")
    rule = RULES[SQCO]
    block, skipped, summary_line = proc.stdout.rstrip("\n").split("\n\n")
    [fingerprint] = [
        f["fingerprint"]
        for f in json.loads(run_cli("scan", "--format", "json", str(root)).stdout)["findings"]
    ]
    assert block.splitlines() == [
        f"{root}/config/sonar-project.properties:2:13  S7791 {rule.name} [critical]",
        f"  secret:  {redacted(token)}",
        f"  fingerprint: {fingerprint}",
        f"  {rule.message}",
        f"  fix: {rule.remediation}",
    ]
    assert skipped == f"skipped: {root}/logo.png: binary"
    assert summary(summary_line) == ("1", "3", "1", "1 binary", "0")
    assert token not in proc.stdout
    assert "\x1b[" not in proc.stdout


def test_ignored_files_and_dot_git_are_not_scanned(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, token = tree
    proc = run_cli("scan", "--format", "json", str(root))
    assert findings(proc.stdout) == [
        (SQCO, f"{root}/config/sonar-project.properties", 2, 13, redacted(token))
    ]
    everything = run_cli("scan", "--format", "json", "--no-ignore", str(root))
    assert [(f[1], f[2]) for f in findings(everything.stdout)] == [
        (f"{root}/config/sonar-project.properties", 2),
        (f"{root}/ignored/cache.txt", 1),
    ]


def test_relative_path_as_typed(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, token = tree
    proc = run_cli("scan", "--format", "json", "config", cwd=root)
    assert findings(proc.stdout) == [(SQCO, "config/sonar-project.properties", 2, 13, redacted(token))]
    default = run_cli("scan", "--format", "json", cwd=root)
    assert [f[1] for f in findings(default.stdout)] == ["./config/sonar-project.properties"]


def test_binary_file_is_skipped_and_listed(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, _ = tree
    proc = run_cli("scan", "--format", "json", str(root / "logo.png"))
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert report["stats"]["skipped"] == [{"path": f"{root}/logo.png", "reason": "binary"}]
    assert summary(proc.stderr) == ("0", "0", "1", "1 binary", "0")


def test_stdin(run_cli: RunCli, tokens: TokenGenerator) -> None:
    token = tokens.server("u")
    proc = run_cli("scan", "--format", "json", "-", input=f"line one\nexport SONAR_TOKEN={token}\n")
    assert proc.returncode == 1
    assert findings(proc.stdout) == [("sonarqube-server-token", "<stdin>", 2, 20, redacted(token))]


def test_clean_tree_exits_zero(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "a.txt").write_text("nothing\n")
    proc = run_cli("scan", str(tmp_path))
    assert proc.returncode == 0
    assert summary(proc.stdout) == ("0", "1", "0", "", "0")


# --- errors and exit codes ---------------------------------------------------------------------


def test_missing_path(tmp_path: Path, run_cli: RunCli) -> None:
    missing = tmp_path / "nope"
    proc = run_cli("scan", str(missing))
    assert proc.returncode == 2
    assert f"error: {missing}: cannot read: No such file or directory" in proc.stdout.splitlines()
    assert summary(proc.stdout) == ("0", "0", "0", "", "1")
    as_json = run_cli("scan", "--format", "json", str(missing))
    assert as_json.returncode == 2
    stats = json.loads(as_json.stdout)["stats"]
    assert stats["errors"] == [{"path": str(missing), "error": "cannot read: No such file or directory"}]
    assert stats["complete"] is False


def test_findings_win_over_errors(tree: tuple[Path, str], tmp_path: Path, run_cli: RunCli) -> None:
    root, _ = tree
    proc = run_cli("scan", str(root), str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert summary(proc.stdout) == ("1", "3", "1", "1 binary", "1")
    assert run_cli("scan", "--exit-code", "3", str(root), str(tmp_path / "nope")).returncode == 3


@pytest.mark.parametrize(("option", "code"), [([], 1), (["--exit-code", "3"], 3), (["--exit-code", "0"], 0)])
def test_exit_code_option(tree: tuple[Path, str], run_cli: RunCli, option: list[str], code: int) -> None:
    root, _ = tree
    assert run_cli("scan", *option, str(root)).returncode == code


def test_exit_code_does_not_change_clean_or_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "a.txt").write_text("x\n")
    assert run_cli("scan", "--exit-code", "3", str(tmp_path)).returncode == 0
    assert run_cli("scan", "--exit-code", "3", str(tmp_path / "nope")).returncode == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--format", "xml", "."], "Invalid value for '--format'"),
        (["scan", "--max-file-size", "lots", "."], "invalid size 'lots'"),
        (["scan", "--exit-code", "300", "."], "Invalid value for '--exit-code'"),
        (["scan", "--rules", "/nonexistent/rules.toml", "."], "/nonexistent/rules.toml"),
        (["scan", "--no-such-flag"], "No such option '--no-such-flag'"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(run_cli: RunCli, args: list[str], message: str) -> None:
    proc = run_cli(*args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def _drop_dac_override() -> None:
    """In the child: drop the capabilities that let root ignore file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_and_folder(tmp_path: Path, tokens: TokenGenerator) -> None:
    """chmod 000 makes a file unreadable; as root the child first drops CAP_DAC_OVERRIDE."""
    if os.geteuid() == 0 and not sys.platform.startswith("linux"):
        pytest.skip("root ignores file permissions and capabilities can only be dropped on Linux")
    (tmp_path / "locked.txt").write_text("x\n")
    (tmp_path / "closed").mkdir()
    (tmp_path / "closed" / "inner.txt").write_text("x\n")
    (tmp_path / "ok.txt").write_text("fine\n")
    (tmp_path / "locked.txt").chmod(0)
    (tmp_path / "closed").chmod(0)
    command = [sys.executable, "-m", "leakscan", "scan", "--format", "json", str(tmp_path)]
    preexec = _drop_dac_override if os.geteuid() == 0 else None
    try:
        proc = subprocess.run(command, capture_output=True, text=True, preexec_fn=preexec, timeout=60)
        (tmp_path / "ok.txt").write_text(f"t={tokens.sqco()}\n")
        with_finding = subprocess.run(command, capture_output=True, text=True, preexec_fn=preexec, timeout=60)
    finally:
        (tmp_path / "closed").chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["stats"]["errors"] == [
        {"path": f"{tmp_path}/closed", "error": "cannot list folder: Permission denied"},
        {"path": f"{tmp_path}/locked.txt", "error": "cannot open: Permission denied"},
    ]
    assert summary(proc.stderr) == ("0", "1", "0", "", "2")
    assert with_finding.returncode == 1


def test_fifo_does_not_hang_and_is_counted(tmp_path: Path, run_cli: RunCli) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "a.txt").write_text("x\n")
    proc = run_cli("scan", str(tmp_path), timeout=60)
    assert proc.returncode == 0
    assert summary(proc.stdout) == ("0", "1", "1", "1 not a regular file", "0")


def test_summary_counts_skipped_by_reason(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00\x01\x02\x03\xff" * 10)
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02\x03\xff" * 10)
    (tmp_path / "big.txt").write_text(f"t={tokens.sqco()}\n" + "x" * 2000)
    (tmp_path / "link").symlink_to(tmp_path / "a.bin")
    (tmp_path / "small.txt").write_text("x\n")
    proc = run_cli("scan", "--max-file-size", "1KB", str(tmp_path))
    assert proc.returncode == 0
    assert summary(proc.stdout) == ("0", "1", "4", "2 binary, 1 symlink, 1 too large", "0")
    as_json = run_cli("scan", "--format", "json", "--max-file-size", "1KB", str(tmp_path))
    assert json.loads(as_json.stdout)["stats"]["skipped"] == [
        {"path": f"{tmp_path}/a.bin", "reason": "binary"},
        {"path": f"{tmp_path}/b.bin", "reason": "binary"},
        {"path": f"{tmp_path}/big.txt", "reason": "too large (2067 bytes > 1000)"},
        {"path": f"{tmp_path}/link", "reason": "symlink"},
    ]


@pytest.mark.parametrize(
    ("size", "scanned"),
    [("2067", True), ("2066", False), ("2KB", False), ("3KiB", True), ("1MiB", True)],
)
def test_max_file_size_units(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli, size: str, scanned: bool
) -> None:
    (tmp_path / "big.txt").write_text(f"t={tokens.sqco()}\n" + "x" * 2000)
    proc = run_cli("scan", "--max-file-size", size, str(tmp_path))
    assert proc.returncode == (1 if scanned else 0)


# --- JSON --------------------------------------------------------------------------------------

FINDING_FIELDS: dict[str, type | tuple[type, ...]] = {
    "rule_id": str,
    "rule_key": (str, type(None)),
    "rule_name": str,
    "severity": str,
    "message": str,
    "path": str,
    "line": int,
    "column": int,
    "end_line": int,
    "end_column": int,
    "secret": str,
    "secret_sha256": str,
    "fingerprint": str,
    "checksum": str,
    "commit": type(None),
    "author": type(None),
    "email": type(None),
    "date": type(None),
    "validation": dict,
    "revocation": type(None),
}
STATS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "files_scanned": int,
    "bytes_scanned": int,
    "findings": int,
    "skipped": list,
    "errors": list,
    "duration_s": (int, float),
    "complete": bool,
    "interrupted": bool,
    "notes": list,
}


def test_json_report_fields(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    sqco, ghp = tokens.sqco(), tokens.checksummed("ghp_")
    content = f"é = '{sqco}'\n\ttoken: {ghp}\n"
    (tmp_path / "app.yml").write_text(content)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02\x03\xff")
    proc = run_cli("scan", "--format", "json", str(tmp_path), str(tmp_path / "nope"))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert list(report) == ["tool", "findings", "stats"]
    assert report["tool"] == {"name": "leakscan", "version": __version__}
    for finding in report["findings"]:
        assert set(finding) == set(FINDING_FIELDS)
        for name, kind in FINDING_FIELDS.items():
            assert isinstance(finding[name], kind), name
        assert re.fullmatch(r"[0-9a-f]{64}", finding["secret_sha256"])
        assert re.fullmatch(r"[0-9a-f]{32}", finding["fingerprint"])
    first, second = report["findings"]
    assert first == {
        "rule_id": SQCO,
        "rule_key": "S7791",
        "rule_name": "SonarQube Cloud Scoped Organization Token",
        "severity": "critical",
        "message": RULES[SQCO].message,
        "path": f"{tmp_path}/app.yml",
        "line": 1,
        "column": 6,
        "end_line": 1,
        "end_column": 70,
        "secret": redacted(sqco),
        "secret_sha256": hashlib.sha256(sqco.encode()).hexdigest(),
        "fingerprint": first["fingerprint"],
        "checksum": "none",
        "commit": None,
        "author": None,
        "email": None,
        "date": None,
        "validation": {
            "status": "not_checked",
            "host": None,
            "checked_at": None,
            "reason": "validation off",
            "evidence": [],
        },
        "revocation": None,
    }
    line = content.splitlines()[0]
    assert line[first["column"] - 1 : first["end_column"] - 1] == sqco
    assert (second["rule_id"], second["rule_key"], second["severity"]) == (
        "github-token",
        None,
        "high",
    )
    assert (second["line"], second["column"], second["end_column"], second["checksum"]) == (
        2,
        9,
        49,
        "valid",
    )
    stats = report["stats"]
    assert set(stats) >= set(STATS_FIELDS)
    for name, kind in STATS_FIELDS.items():
        assert isinstance(stats[name], kind), name
    assert (stats["files_scanned"], stats["bytes_scanned"], stats["findings"]) == (
        1,
        len(content.encode()),
        2,
    )
    assert stats["skipped"] == [{"path": f"{tmp_path}/blob.bin", "reason": "binary"}]
    assert stats["errors"] == [
        {"path": f"{tmp_path}/nope", "error": "cannot read: No such file or directory"}
    ]
    assert (stats["complete"], stats["interrupted"]) == (False, False)
    assert sqco not in proc.stdout + proc.stderr and ghp not in proc.stdout + proc.stderr
    assert summary(proc.stderr) == ("2", "1", "1", "1 binary", "1")


def test_fingerprint_is_the_same_across_runs_and_places(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    token = tokens.sqco()
    for name in ("one", "two"):
        repo = tmp_path / name
        (repo / ".git").mkdir(parents=True)
        (repo / "src").mkdir()
        padding = "\n" * (3 if name == "two" else 0)
        (repo / "src" / "c.env").write_text(f"{padding}T={token}\n")
    one = json.loads(run_cli("scan", "--format", "json", str(tmp_path / "one")).stdout)["findings"]
    two = json.loads(run_cli("scan", "--format", "json", "src", cwd=tmp_path / "two").stdout)["findings"]
    assert (one[0]["line"], two[0]["line"]) == (1, 4)
    assert one[0]["fingerprint"] == two[0]["fingerprint"]


def test_show_secrets(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, token = tree
    as_json = run_cli("scan", "--format", "json", "--show-secrets", str(root))
    assert findings(as_json.stdout)[0][4] == token
    as_text = run_cli("scan", "--show-secrets", str(root))
    assert f"  secret:  {token}" in as_text.stdout.splitlines()


def test_output_file(tree: tuple[Path, str], tmp_path: Path, run_cli: RunCli) -> None:
    root, token = tree
    out = tmp_path / "report.json"
    proc = run_cli("scan", "--format", "json", "--output", str(out), str(root))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert summary(proc.stderr) == ("1", "3", "1", "1 binary", "0")
    assert findings(out.read_text())[0][4] == redacted(token)
    text_out = tmp_path / "report.txt"
    proc = run_cli("scan", "-o", str(text_out), str(root))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert text_out.read_text().startswith(f"{root}/config/sonar-project.properties:2:13  S7791 ")
    assert token not in text_out.read_text()


def test_output_to_unwritable_place(tree: tuple[Path, str], tmp_path: Path, run_cli: RunCli) -> None:
    root, _ = tree
    proc = run_cli("scan", "--output", str(tmp_path / "missing-dir" / "r.txt"), str(root))
    assert proc.returncode == 2
    assert proc.stderr == (  # found before scanning: one line
        f"Error: --output: {tmp_path}/missing-dir/r.txt: folder {tmp_path}/missing-dir does not exist\n"
    )


# --- colour ------------------------------------------------------------------------------------


def _run_on_tty(args: list[str], env: dict[str, str]) -> str:
    """Run leakscan with stdout on a pseudo-terminal; return what it printed there."""
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | env
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leakscan", *args],
            stdout=follower,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=full_env,
        )
        os.close(follower)
        output = read_terminal(leader)
        proc.wait(timeout=60)
    finally:
        os.close(leader)
    return output


def test_colour_only_on_a_terminal_and_never_with_no_color(tree: tuple[Path, str]) -> None:
    root, _ = tree
    on_tty = _run_on_tty(["scan", str(root)], {})
    assert "\x1b[1m" in on_tty and "\x1b[31m" in on_tty
    assert "\x1b[" not in _run_on_tty(["scan", str(root)], {"NO_COLOR": "1"})


def test_no_colour_when_piped(tree: tuple[Path, str], run_cli: RunCli) -> None:
    root, _ = tree
    assert "\x1b[" not in run_cli("scan", str(root)).stdout


# --- CliRunner and the installed command -------------------------------------------------------


def test_clirunner_scan_and_stdin(tree: tuple[Path, str], tokens: TokenGenerator) -> None:
    root, token = tree
    runner = CliRunner()
    result = runner.invoke(cli, ["scan", "--format", "json", str(root)])
    assert result.exit_code == 1
    assert findings(result.stdout) == [
        (SQCO, f"{root}/config/sonar-project.properties", 2, 13, redacted(token))
    ]
    piped = tokens.sqco()
    result = runner.invoke(cli, ["scan", "-", "--format", "json"], input=f"x={piped}\n")
    assert result.exit_code == 1
    assert findings(result.stdout) == [(SQCO, "<stdin>", 1, 3, redacted(piped))]
    result = runner.invoke(cli, ["scan", str(root / "README.md")])
    assert result.exit_code == 0


def test_clirunner_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["scan", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert f"error: {tmp_path}/nope: cannot read: No such file or directory" in result.stdout
    result = runner.invoke(cli, ["scan", "--max-file-size", "10XB", str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid size '10XB'" in result.stderr


def test_main_turns_rule_errors_into_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = Path(__file__).parent / "data" / "rules" / "invalid" / "unknown-severity.toml"
    assert main(["scan", "--rules", str(bad), str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"Error: {bad}: rule 'acme-internal-token': field 'severity': 'urgent' is not one of "
        "info, low, medium, high, critical\n"
    )


def test_version(run_cli: RunCli) -> None:
    proc = run_cli("--version")
    assert (proc.returncode, proc.stdout) == (0, f"leakscan, version {__version__}\n")


def test_console_script_from_unrelated_directory(tmp_path: Path, tokens: TokenGenerator) -> None:
    """The installed `leakscan` finds its rule files wherever it runs (they ship in the package)."""
    script = Path(sys.executable).parent / "leakscan"
    assert script.exists()
    token = tokens.sqco()
    (tmp_path / "app.env").write_text(f"SONAR_TOKEN={token}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NO_COLOR")}
    listing = subprocess.run(
        [str(script), "rules", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(RULES)
    proc = subprocess.run(
        [str(script), "scan", "--format", "json", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert findings(proc.stdout) == [(SQCO, "./app.env", 1, 13, redacted(token))]


def test_color_flag_and_environment(tree: tuple[Path, str], run_cli: RunCli) -> None:
    """--color always/never win; for auto a non-empty NO_COLOR disables, FORCE_COLOR forces."""
    root, _ = tree
    assert "\x1b[31m" in run_cli("scan", "--color", "always", str(root)).stdout
    assert "\x1b[31m" in run_cli("scan", "--color", "always", str(root), env={"NO_COLOR": "1"}).stdout
    assert "\x1b[31m" in run_cli("scan", str(root), env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run_cli("scan", str(root), env={"FORCE_COLOR": "0"}).stdout
    assert "\x1b[" not in run_cli("scan", str(root), env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" not in _run_on_tty(["scan", "--color", "never", str(root)], {})
    assert "\x1b[31m" in _run_on_tty(["scan", str(root)], {"NO_COLOR": ""})  # empty: not set


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["scan", "--formt", "json", "."],
            "Error: No such option '--formt'. Did you mean '--format'? (see 'leakscan scan --help')",
        ),
        (["scan", "--format", "xml", "."], "Error: Invalid value for '--format': 'xml' is not one of"),
        (["bogus"], "Error: No such command 'bogus'. (see 'leakscan --help')"),
        (
            ["history", "--max-commits", "0", "."],
            "Error: Invalid value for '--max-commits': 0 is not in the range x>=1.",
        ),
    ],
)
def test_usage_errors_are_one_line_naming_the_flag(run_cli: RunCli, args: list[str], message: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
