"""`scan --staged -q`: the summary and its notes only, no "commit blocked" advice."""

from __future__ import annotations

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo


def test_quiet_staged_prints_summary_only(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.stage({"deploy.sh": f"export SONAR_TOKEN={tokens.sqco()}\n"})
    quiet = run_cli("scan", "--staged", "-q", cwd=repo.path)
    assert quiet.returncode == 1
    assert "commit blocked" not in quiet.stdout + quiet.stderr
    assert "1 finding" in quiet.stdout
    loud = run_cli("scan", "--staged", cwd=repo.path)
    assert loud.returncode == 1 and "commit blocked" in loud.stderr
