"""``leakscan.entry.run`` leaves without the interpreter's teardown, but only once the output is
flushed and the exit handlers have run; with another thread alive it exits as usual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from leakscan.synthetic import TokenGenerator


def _python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )


def test_exit_handlers_run_and_exit_code_kept(tmp_path: Path, tokens: TokenGenerator) -> None:
    (tmp_path / "a.env").write_text(f"SONAR_TOKEN={tokens.sqco()}\n")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        f"sys.argv = ['leakscan', 'scan', {str(tmp_path)!r}]\n"
        "from leakscan.entry import run\nrun()\n"
    )
    proc = _python(code)
    assert proc.returncode == 1, proc.stderr
    assert "a.env:1" in proc.stdout
    assert proc.stderr.endswith("handler ran\n")


def test_large_report_is_written_whole(tmp_path: Path, tokens: TokenGenerator) -> None:
    """A report far larger than any stream buffer arrives complete through a pipe."""
    planted = sorted(tokens.sqco() for _ in range(300))
    for n, token in enumerate(planted):
        (tmp_path / f"f{n:03d}.env").write_text(f"SONAR_TOKEN={token}\n" + "# filler\n" * 50)
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan", "scan", "--format", "json", "--show-secrets", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stdout) > 200_000
    assert sorted(f["secret"] for f in json.loads(proc.stdout)["findings"]) == planted


def test_another_thread_is_waited_for() -> None:
    code = (
        "import sys, threading, time\n"
        "def late():\n    time.sleep(0.3)\n    print('thread finished', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "sys.argv = ['leakscan', '--version']\n"
        "from leakscan.entry import run\nrun()\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["leakscan, version 0.1.0", "thread finished"]


def test_exit_code_of_a_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan", "scan", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: No such option '--no-such-flag'")
