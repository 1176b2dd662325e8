"""`.leakscanignore` and `--exclude` leave out tracked files in `scan`, as in `scan --staged`;
`.gitignore` defers to tracking (git semantics); `history` honours `--exclude`."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from leakscan.cli import cli
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo


def paths_found(stdout: str) -> list[str]:
    return sorted(f["path"].removeprefix("./") for f in json.loads(stdout)["findings"])


def test_tracked_file_in_leakscanignore_is_skipped_everywhere(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit(
        {
            "fixtures/fake.properties": f"sonar.token={tokens.sqco()}\n",
            "ignored.env": f"sonar.token={tokens.sqco()}\n",
            "app.properties": f"sonar.token={tokens.sqco()}\n",
        }
    )
    # Listed after they were committed: .leakscanignore leaves the tracked fixture out,
    # .gitignore does not leave out the tracked ignored.env.
    repo.commit({".leakscanignore": "fixtures/\n", ".gitignore": "*.env\n"})
    scanned = run_cli("scan", ".", "--format", "json", cwd=repo.path)
    assert scanned.returncode == 1, scanned.stderr
    assert paths_found(scanned.stdout) == ["app.properties", "ignored.env"]

    everything = run_cli("scan", ".", "--no-ignore", "--format", "json", cwd=repo.path)
    assert paths_found(everything.stdout) == ["app.properties", "fixtures/fake.properties", "ignored.env"]

    repo.stage({"fixtures/fake.properties": f"sonar.token={tokens.sqco()}\n"})
    staged = run_cli("scan", "--staged", "--format", "json", cwd=repo.path)
    assert staged.returncode == 0 and paths_found(staged.stdout) == []

    excluded = run_cli("scan", ".", "--exclude", "app.properties", "--format", "json", cwd=repo.path)
    assert paths_found(excluded.stdout) == ["ignored.env"]
    history = run_cli(
        "history", ".", "--exclude", "fixtures/", "--exclude", "*.env", "--format", "json", cwd=repo.path
    )
    assert paths_found(history.stdout) == ["app.properties"]


def test_leakscanignore_tracked_cli_runner(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    repo.commit({"sub/data.txt": f"{tokens.sqco()}\n", "sub/.leakscanignore": "data.txt\n"})
    here = os.getcwd()
    os.chdir(repo.path)
    try:
        result = CliRunner().invoke(cli, ["scan", "sub", "--format", "json"])
    finally:
        os.chdir(here)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []
