"""`-o TARGET`: atomic replace for regular files only; FIFOs written in place; symlinks followed;
`-o -` is standard output."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli


def _leak(tmp_path: Path, tokens: TokenGenerator) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.txt").write_text(f"token={tokens.sqco()}\n")
    return folder


def test_fifo_is_written_in_place_not_replaced(tmp_path: Path, tokens: TokenGenerator) -> None:
    folder = _leak(tmp_path, tokens)
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "-o", str(fifo), str(folder)])
    reader.join(timeout=60)
    assert result.exit_code == 1, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO
    assert len(json.loads(received[0])["findings"]) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_symlink_target_is_replaced_link_kept(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    folder = _leak(tmp_path, tokens)
    real = tmp_path / "reports" / "real.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    done = run_cli("scan", "--format", "json", "-o", str(link), str(folder))
    assert done.returncode == 1, done.stderr
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert len(json.loads(real.read_text())["findings"]) == 1


def test_dash_is_stdout_for_reports_and_baselines(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    folder = _leak(tmp_path, tokens)
    done = run_cli("scan", "--format", "json", "-o", "-", str(folder), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert len(json.loads(done.stdout)["findings"]) == 1
    created = run_cli("baseline", "create", "-o", "-", str(folder), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert len(json.loads(created.stdout)["entries"]) == 1
    assert not (tmp_path / "-").exists()


def test_baseline_into_fifo(tmp_path: Path, tokens: TokenGenerator) -> None:
    folder = _leak(tmp_path, tokens)
    fifo = tmp_path / "baseline.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = CliRunner().invoke(cli, ["baseline", "create", "-o", str(fifo), str(folder)])
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert len(json.loads(received[0])["entries"]) == 1


def test_regular_file_still_replaced_atomically(tmp_path: Path, tokens: TokenGenerator) -> None:
    folder = _leak(tmp_path, tokens)
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o600)
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "-o", str(target), str(folder)])
    assert result.exit_code == 1, result.output
    assert len(json.loads(target.read_text())["findings"]) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
