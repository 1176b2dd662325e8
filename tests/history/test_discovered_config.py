"""A configuration file found in the scanned repository is named in every report, with what it
turns off; `--no-config` ignores it (auditing someone else's repository)."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo

HOSTILE = 'exclude = ["*"]\nfail_on = "none"\n'


def test_history_names_discovered_config_and_empty_scan(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({"app.properties": f"sonar.token={tokens.sqco()}\n", ".leakscan.toml": HOSTILE})
    proc = run_cli("history", ".", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    assert "0 blob(s) scanned" in proc.stdout
    assert '.leakscan.toml (exclude: 1 pattern(s); fail_on = "none")' in proc.stdout
    assert "nothing scanned: the exclude pattern(s) (1) matched every input" in proc.stdout

    report = json.loads(run_cli("history", ".", "--format", "json", cwd=repo.path).stdout)
    assert any(n.startswith("configuration: ") and "fail_on" in n for n in report["stats"]["notes"])
    sarif = run_cli("history", ".", "--format", "sarif", cwd=repo.path).stdout
    assert "exclude: 1 pattern(s)" in sarif

    audited = run_cli("history", ".", "--no-config", "--format", "json", cwd=repo.path)
    assert audited.returncode == 1
    data = json.loads(audited.stdout)
    assert len(data["findings"]) == 1
    assert not any(n.startswith("configuration:") for n in data["stats"]["notes"])


def test_scan_names_config_in_cli_runner(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    repo.commit({"a.properties": f"sonar.token={tokens.sqco()}\n"})
    (repo.path / "pyproject.toml").write_text(
        '[tool.leakscan]\ndisable_rules = ["sonarqube-cloud-scoped-org-token"]\n'
    )
    here = os.getcwd()
    os.chdir(repo.path)
    try:
        result = CliRunner().invoke(cli, ["scan", "."])
        quiet = CliRunner().invoke(cli, ["scan", ".", "--no-config"])
    finally:
        os.chdir(here)
    assert (
        "pyproject.toml: [tool.leakscan] (disable_rules: sonarqube-cloud-scoped-org-token)" in result.output
    )
    assert quiet.exit_code == 1 and "configuration:" not in quiet.output


def test_explicit_config_gets_no_note(make_repo: MakeRepo, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"a.txt": "hello\n"})
    (repo.path / "mine.toml").write_text('fail_on = "none"\n')
    proc = run_cli("scan", ".", "--config", "mine.toml", cwd=repo.path)
    assert proc.returncode == 0 and "configuration:" not in proc.stdout
