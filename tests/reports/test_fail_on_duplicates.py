"""`--fail-on` rejects a repeated word; `scan --staged -` says stdin can't be combined."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.cli import main
from leakscan.errors import UsageError
from leakscan.policy import parse_fail_on
from tests.conftest import RunCli
from tests.gitrepo import run_git


@pytest.mark.parametrize("value", ["info,info", "any,any", "live,info,info"])
def test_repeated_word_is_rejected(value: str) -> None:
    with pytest.raises(UsageError, match="given twice"):
        parse_fail_on(value)


def test_repeated_word_one_line_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    done = run_cli("scan", "--fail-on", "info,info", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == "Error: invalid --fail-on 'info,info': info given twice\n"


def test_unknown_value_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--fail-on", "sometimes", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "invalid --fail-on 'sometimes'" in err


def test_staged_with_stdin_is_explained(tmp_path: Path, run_cli: RunCli) -> None:
    run_git(tmp_path, "init", "-q")
    done = run_cli("scan", "--staged", "-", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "Error: --staged scans the git index: '-' (standard input) cannot be combined with it\n"
    )
