"""Text report controls: message and fix once per rule, -q/-v, skipped and failed inputs named
(up to a limit), fingerprints; history output says what holds a finding and counts commits."""

from __future__ import annotations

import json
from pathlib import Path

from leakscan.report.text_report import LIST_LIMIT
from leakscan.rules import load_rules
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo

SQCO = {rule.id: rule for rule in load_rules()}["sonarqube-cloud-scoped-org-token"]


def _three_leaks(root: Path, tokens: TokenGenerator) -> list[str]:
    found = [tokens.sqco() for _ in range(3)]
    for index, token in enumerate(found):
        (root / f"f{index}.env").write_text(f"SONAR_TOKEN={token}\n")
    return found


def test_message_and_fix_once_per_rule(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    _three_leaks(tmp_path, tokens)
    out = run_cli("scan", str(tmp_path)).stdout
    assert out.count(SQCO.message) == 1 and out.count(f"fix: {SQCO.remediation}") == 1
    assert out.count("  secret:  ") == 3
    verbose = run_cli("scan", "-v", str(tmp_path)).stdout
    assert verbose.count(SQCO.message) == 3 and verbose.count(f"fix: {SQCO.remediation}") == 3


def test_fingerprints_are_printed_to_copy_into_a_baseline(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    _three_leaks(tmp_path, tokens)
    report = json.loads(run_cli("scan", "--format", "json", str(tmp_path)).stdout)
    out = run_cli("scan", str(tmp_path)).stdout
    for finding in report["findings"]:
        assert f"  fingerprint: {finding['fingerprint']}" in out.splitlines()


def test_quiet_prints_the_summary_only(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    found = _three_leaks(tmp_path, tokens)
    proc = run_cli("scan", "-q", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.startswith(
        "leakscan: 3 finding(s) (0 live, 0 inactive, 0 unknown, 3 not checked), 3 scanned"
    )
    assert len(proc.stdout.splitlines()) == 1 and not any(t[:9] in proc.stdout for t in found)
    both = run_cli("scan", "-q", "-v", str(tmp_path))
    assert both.returncode == 2 and "--quiet and --verbose exclude each other" in both.stderr


def test_skipped_and_failed_inputs_are_named_up_to_a_limit(tmp_path: Path, run_cli: RunCli) -> None:
    for index in range(LIST_LIMIT + 5):
        (tmp_path / f"blob{index:02}.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "big.txt").write_text("x" * 2000)
    missing = tmp_path / "missing.txt"
    out = run_cli("scan", "--max-file-size", "1KiB", str(tmp_path), str(missing)).stdout
    lines = out.splitlines()
    named = [line for line in lines if line.startswith("skipped: ")]
    assert len(named) == LIST_LIMIT
    assert named[0] == f"skipped: {tmp_path}/big.txt: too large (2000 bytes > 1024)"
    assert f"… and {LIST_LIMIT + 6 - LIST_LIMIT} more skipped; see --format json (or --verbose)" in lines
    assert f"error: {missing}: cannot read: No such file or directory" in lines
    verbose = run_cli("scan", "-v", "--max-file-size", "1KiB", str(tmp_path)).stdout
    assert len([line for line in verbose.splitlines() if line.startswith("skipped: ")]) == LIST_LIMIT + 6


def test_history_says_commit_tag_or_stash_and_counts(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    in_commit, in_tag, in_stash = tokens.sqco(), tokens.sqco(), tokens.sqco()
    repo = make_repo()
    sha = repo.commit({"a.env": f"SONAR_TOKEN={in_commit}\n"})
    repo.git("tag", "-a", "v1", "-m", f"release {in_tag}")
    repo.write({"a.env": f"SONAR_TOKEN={in_commit}\nOTHER={in_stash}\n"})
    repo.git("stash", "-q")
    out = run_cli("history", str(repo.path)).stdout
    lines = out.splitlines()
    assert any(line.startswith(f"  commit:  {sha[:12]} by ") for line in lines)
    assert any(line.startswith("  tag:     ") for line in lines)
    [stash] = [line for line in lines if line.startswith("  stash:   ")]
    assert stash.endswith("(only in refs/stash)")
    report = json.loads(run_cli("history", "--format", "json", str(repo.path)).stdout)
    commits, blobs = report["stats"]["commits_scanned"], report["stats"]["files_scanned"]
    assert (
        "leakscan: 3 finding(s) (0 live, 0 inactive, 0 unknown, 3 not checked), "
        f"{commits} commit(s) walked, {blobs} blob(s) scanned (" in out
    )
