"""Usage errors are found before anything is scanned or sent: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import leakscan.scan
from leakscan.cli import main
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli

CASES = [
    (["scan", "-q", "-v"], "--quiet and --verbose exclude each other"),
    (["scan", "-v", "--quiet"], "--quiet and --verbose exclude each other"),
    (["history", "-q", "-v"], "--quiet and --verbose exclude each other"),
    (["scan", "-o", "missing/dir/x.json"], "--output: missing/dir/x.json: folder missing/dir does not exist"),
    (
        ["baseline", "create", "-o", "missing/b.json"],
        "--output: missing/b.json: folder missing does not exist",
    ),
]


@pytest.mark.parametrize(("args", "message"), CASES)
def test_usage_error_before_scanning(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_scan(*args: object) -> None:
        raise AssertionError("scanned before the usage error")

    monkeypatch.setattr(leakscan.scan.Scanner, "scan_files", no_scan)
    monkeypatch.chdir(tmp_path)
    assert main([*args, "."]) == 2
    assert capsys.readouterr().err == f"Error: {message}\n"


def test_subprocess_one_line(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    done = run_cli("scan", "--validate", "-o", "/nonexistent-leakscan/x.json", "a.txt", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr
        == "Error: --output: /nonexistent-leakscan/x.json: folder /nonexistent-leakscan does not exist\n"
    )
    assert done.stdout == ""


def test_dash_and_existing_folder_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("clean\n")
    result = CliRunner().invoke(
        leakscan.cli.cli, ["scan", "-o", str(tmp_path / "r.txt"), str(tmp_path / "a.txt")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.txt").exists()
