"""A first end-to-end check: a planted token is found and redacted; a clean tree exits 0."""

from __future__ import annotations

import json
from pathlib import Path

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli


def test_planted_token_found_and_redacted(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    token = tokens.sqco()
    (tmp_path / "sonar-project.properties").write_text(f"sonar.organization=acme\nsonar.token={token}\n")
    proc = run_cli("scan", "--format", "json", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    [finding] = report["findings"]
    assert (finding["rule_id"], finding["line"], finding["column"]) == (
        "sonarqube-cloud-scoped-org-token",
        2,
        13,
    )
    assert token not in proc.stdout and token not in proc.stderr
    assert finding["secret"] == token[:9] + "********"


def test_clean_tree_exits_zero(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "a.txt").write_text("nothing here\n")
    proc = run_cli("scan", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "0 finding(s)" in proc.stdout
