"""Process behaviour: Ctrl-C, a closed pipe, an unexpected crash, a runaway regex."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import leakscan.scan
from leakscan.cli import main
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli


def test_ctrl_c_prints_partial_results_and_exits_130(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    (tmp_path / "found.txt").write_text(f"t={token}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscan", "scan", "--format", "json", str(tmp_path), "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # the folder is scanned; the command now waits on standard input
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    report = json.loads(stdout)
    assert [f["path"] for f in report["findings"]] == [str(tmp_path / "found.txt")]
    assert report["stats"]["interrupted"] is True and report["stats"]["complete"] is False


def test_closed_pipe_is_quiet(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "many.txt").write_text("".join(f"t={tokens.sqco()}\n" for _ in range(3000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscan", "scan", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert b"many.txt:1:3" in first
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_unexpected_exception_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(leakscan.scan.Scanner, "scan_files", explode)
    assert main(["scan", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == "Error: unexpected RuntimeError: disk on fire (re-run with --debug)\n"
    assert main(["--debug", "scan", str(tmp_path)]) == 2  # the traceback, and still exit 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: disk on fire" in err


def test_catastrophic_regex_is_bounded_and_reported(tmp_path: Path, run_cli: RunCli) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.toml").write_text(
        """version = 1
[[rules]]
id = "runaway"
name = "Runaway"
severity = "low"
message = "m"
remediation = "r"
keywords = ["aaaa"]
pattern = '(?P<secret>(a|aa)+b)'
[[rules.examples]]
text = "aaaab"
secret = "aaaab"
[[rules.negative_examples]]
text = "x"
reason = "no keyword"
"""
    )
    target = tmp_path / "target"
    target.mkdir()
    # Five hostile spots far apart: the rule is given up after the first timeout, not five times.
    (target / "evil.txt").write_text(("a" * 60 + "c\n" + "x\n" * 2000) * 5)
    (target / "fine.txt").write_text("nothing\n")
    started = time.monotonic()
    proc = run_cli("scan", "--rules", str(rules), "--format", "json", str(target), timeout=120)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2
    errors = json.loads(proc.stdout)["stats"]["errors"]
    assert len(errors) == 1 and errors[0]["path"] == str(target / "evil.txt")
    assert errors[0]["error"].startswith("rule 'runaway': regex search timed out")
    assert errors[0]["error"].endswith("rule skipped for the rest of this input")
    assert json.loads(proc.stdout)["stats"]["files_scanned"] == 2
