"""Inline allow markers of other tools, and what the summary counts that was not reported:
suppressed lines, and untracked files an ignore file left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo


@pytest.mark.parametrize(
    "comment", ["# leakscan:allow", "# gitleaks:allow", "# pragma: allowlist secret", "// NOSONAR"]
)
def test_inline_markers_suppress_and_are_counted(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli, comment: str
) -> None:
    allowed, kept = tokens.sqco(), tokens.sqco()
    (tmp_path / "a.env").write_text(f"SONAR_TOKEN={allowed}  {comment}\nOTHER={kept}\n")
    proc = run_cli("scan", "--format", "json", "--show-secrets", str(tmp_path))
    report = json.loads(proc.stdout)
    assert [f["secret"] for f in report["findings"]] == [kept]
    assert report["stats"]["suppressed"] == 1
    text = run_cli("scan", str(tmp_path)).stdout
    assert "leakscan: 1 finding(s) suppressed by an inline allow marker" in text


def test_markers_are_case_sensitive_and_exact(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    (tmp_path / "a.env").write_text(f"SONAR_TOKEN={tokens.sqco()}  # nosonar pragma: allowlist\n")
    report = json.loads(run_cli("scan", "--format", "json", str(tmp_path)).stdout)
    assert len(report["findings"]) == 1 and report["stats"]["suppressed"] == 0


def test_history_counts_suppressed(make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli) -> None:
    repo = make_repo()
    repo.commit({"a.env": f"SONAR_TOKEN={tokens.sqco()} # gitleaks:allow\n"})
    repo.commit(message=f"rotate {tokens.sqco()} NOSONAR")
    report = json.loads(run_cli("history", "--format", "json", str(repo.path)).stdout)
    assert report["findings"] == [] and report["stats"]["suppressed"] == 2


def test_ignored_untracked_files_are_counted(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    repo.commit({"app.py": "x = 1\n", "tracked.log": "t\n"})
    repo.commit({".gitignore": ".env\nbuild/\n*.log\n"})  # tracked.log stays tracked: scanned
    repo.write({".env": f"SONAR_TOKEN={tokens.sqco()}\n", "build/out.txt": "o\n", "b.log": "b\n"})
    proc = run_cli("scan", cwd=repo.path)
    assert proc.returncode == 0
    assert (
        "leakscan: 2 ignored files and 1 ignored folder not scanned (untracked, matched by an ignore "
        "file); --no-ignore to scan them"
    ) in proc.stdout.splitlines()
    stats = json.loads(run_cli("scan", "--format", "json", cwd=repo.path).stdout)["stats"]
    assert (stats["ignored_files"], stats["ignored_folders"]) == (2, 1)
    assert run_cli("scan", "--no-ignore", cwd=repo.path).returncode == 1
    assert "ignored" not in run_cli("scan", "--no-ignore", cwd=repo.path).stdout
