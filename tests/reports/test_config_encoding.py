"""A configuration file that is not UTF-8: one line naming the file, exit 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from leakscan.cli import main
from tests.conftest import RunCli


@pytest.mark.parametrize("name", [".leakscan.toml", "pyproject.toml", "custom.toml"])
def test_non_utf8_config_is_one_line_exit_2(tmp_path: Path, run_cli: RunCli, name: str) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / name).write_bytes(b"\xff\xfe")
    extra = ["--config", name] if name == "custom.toml" else []
    done = run_cli("scan", *extra, ".", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and name in lines[0] and "not UTF-8" in lines[0], done.stderr
    assert "unexpected" not in done.stderr


def test_non_utf8_config_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"key = '\xff'\n")
    assert main(["scan", "--config", str(bad), str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"Error: {bad}: invalid TOML: not UTF-8 (byte 7)\n"
