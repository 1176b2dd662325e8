"""A closed stdout/stderr pipe never turns findings into exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from leakscan.synthetic import TokenGenerator


def _run_with_closed_pipe(args: list[str], cwd: Path) -> int:
    """Run leakscan with stdout and stderr on a pipe whose reader is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKSCAN_")}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "leakscan", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write_end)
    return done.returncode


def test_findings_exit_1_when_stderr_is_closed(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    code = _run_with_closed_pipe(["scan", "--format", "json", "-o", "r.json", "a.txt"], tmp_path)
    assert code == 1
    assert len(json.loads((tmp_path / "r.json").read_text())["findings"]) == 1


def test_findings_exit_1_when_both_streams_are_closed(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    assert _run_with_closed_pipe(["scan", "a.txt"], tmp_path) == 1
    assert _run_with_closed_pipe(["scan", "--format", "json", "a.txt"], tmp_path) == 1


def test_clean_scan_still_exits_0_with_closed_stderr(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("nothing here\n")
    assert _run_with_closed_pipe(["scan", "--format", "json", "-o", "r.json", "a.txt"], tmp_path) == 0


def test_baseline_create_with_closed_stderr_still_exits_0(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "a.txt").write_text(f"token={tokens.sqco()}\n")
    assert _run_with_closed_pipe(["baseline", "create", "-o", "b.json", "a.txt"], tmp_path) == 0
    assert len(json.loads((tmp_path / "b.json").read_text())["entries"]) == 1


def test_listing_into_a_closed_pipe_exits_0(tmp_path: Path) -> None:
    assert _run_with_closed_pipe(["rules", "list"], tmp_path) == 0
