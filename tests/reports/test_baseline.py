"""Baselines: stable files, exact suppression, stale entries, prune, malformed files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from leakscan.baseline import (
    Baseline,
    BaselineEntry,
    baseline_from_findings,
    parse_baseline,
    render_baseline,
    split_findings,
)
from leakscan.errors import BaselineError
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import git, scan_tree, write_tree

CLOUD = "sonarqube-cloud-scoped-org-token"
GOOD_FP = "0123456789abcdef0123456789abcdef"


def test_file_is_sorted_indented_and_secret_free(tmp_path: Path, tokens: TokenGenerator) -> None:
    first, second = tokens.sqco(), tokens.server("u")
    write_tree(tmp_path, {"z.txt": f"a={first}\n", "a/b.txt": f"\n\nb={second}\n"})
    result = scan_tree(tmp_path)
    text = render_baseline(baseline_from_findings(reversed(result.findings)))
    data = json.loads(text)
    assert text.endswith("}\n") and text.count("\n") > 10
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["version"] == 1 and data["tool"] == "leakscan"
    assert [(e["path"], e["line"], e["rule_id"]) for e in data["entries"]] == [
        ("a/b.txt", 3, "sonarqube-server-token"),
        ("z.txt", 1, CLOUD),
    ]
    assert sorted(data["entries"][0]) == ["fingerprint", "line", "path", "rule_id"]
    for secret in (first, second):
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
        assert secret[5:15] not in text
    assert render_baseline(parse_baseline(text, "b.json")) == text


def test_fingerprint_survives_moving_lines_but_not_a_new_secret(
    tmp_path: Path, tokens: TokenGenerator
) -> None:
    old, new = tokens.sqco(), tokens.sqco()
    target = tmp_path / "app.properties"
    target.write_text(f"sonar.token={old}\n")
    baseline = baseline_from_findings(scan_tree(tmp_path).findings)
    target.write_text(f"# moved down\n\n\nname=x\nsonar.token={old}\n")
    moved = split_findings(baseline, scan_tree(tmp_path).findings)
    assert (moved.new, len(moved.suppressed), moved.stale) == ([], 1, ())
    target.write_text(f"# moved down\n\n\nname=x\nsonar.token={new}\n")
    replaced = split_findings(baseline, scan_tree(tmp_path).findings)
    assert [(f.secret.value, f.match.line) for f in replaced.new] == [(new, 5)]
    assert replaced.suppressed == [] and replaced.stale == baseline.entries


def test_same_secret_in_another_file_is_new(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    write_tree(tmp_path, {"a.txt": f"t={token}\n"})
    baseline = baseline_from_findings(scan_tree(tmp_path).findings)
    write_tree(tmp_path, {"b.txt": f"t={token}\n"})
    split = split_findings(baseline, scan_tree(tmp_path).findings)
    assert [f.stable_path for f in split.new] == ["b.txt"]
    assert [f.stable_path for f in split.suppressed] == ["a.txt"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "b.json: not valid JSON"),
        ("[]", "b.json: must be a JSON object"),
        ('{"entries": []}', "b.json: field 'version': missing"),
        (
            '{"version": 2, "entries": []}',
            "b.json: field 'version': 2 is newer than this leakscan supports",
        ),
        ('{"version": 1}', "b.json: field 'entries': must be a list"),
        ('{"version": 1, "entries": [], "secrets": []}', "b.json: unknown field 'secrets'"),
        ('{"version": 1, "entries": [3]}', "b.json: field 'entries[0]': must be an object"),
        (
            '{"version": 1, "entries": [{"rule_id": "r", "path": "p", "line": 1}]}',
            "b.json: field 'entries[0].fingerprint': missing",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "entries": [{"rule_id": "r", "path": "p", "line": "1", "fingerprint": GOOD_FP}],
                }
            ),
            "b.json: field 'entries[0].line': must be an integer",
        ),
        (
            json.dumps(
                {
                    "version": 1,
                    "entries": [{"rule_id": "r", "path": "p", "line": 1, "fingerprint": "xyz"}],
                }
            ),
            "b.json: field 'entries[0].fingerprint': must be 32 lowercase hex characters",
        ),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-version",
        "newer-version",
        "no-entries",
        "unknown-field",
        "entry-not-object",
        "missing-fingerprint",
        "line-type",
        "bad-fingerprint",
    ],
)
def test_malformed_baselines(text: str, message: str) -> None:
    with pytest.raises(BaselineError) as caught:
        parse_baseline(text, "b.json")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_every_problem_reported_at_once() -> None:
    text = json.dumps(
        {
            "version": 1,
            "entries": [{"path": 1, "line": 0, "rule_id": "r", "fingerprint": GOOD_FP}, {}],
        }
    )
    with pytest.raises(BaselineError) as caught:
        parse_baseline(text, "b.json")
    message = str(caught.value)
    assert "entries[0].path': must be a string" in message
    assert "entries[1].rule_id': missing" in message


def test_parse_keeps_entries() -> None:
    text = json.dumps(
        {
            "version": 1,
            "tool": "leakscan",
            "entries": [{"path": "a.txt", "line": 4, "rule_id": CLOUD, "fingerprint": GOOD_FP}],
        }
    )
    assert parse_baseline(text, "b.json") == Baseline((BaselineEntry("a.txt", 4, CLOUD, GOOD_FP),), "b.json")


# --- end to end -------------------------------------------------------------------------------


def test_adopt_with_committed_baseline_then_new_leak_fails(
    make_repo: Callable[[dict[str, str]], Path], tokens: TokenGenerator, run_cli: RunCli
) -> None:
    """The adoption story: old leaks are accepted in a committed baseline; a new one still fails."""
    old_cloud, old_server, new = tokens.sqco(), tokens.server("a"), tokens.sqco()
    repo = make_repo(
        {
            "legacy/sonar-project.properties": f"sonar.token={old_cloud}\n",
            "scripts/deploy.sh": f"#!/bin/sh\nexport SONAR_TOKEN={old_server}\n",
            "README.md": "demo\n",
        }
    )
    assert run_cli("scan", ".", cwd=repo).returncode == 1

    created = run_cli("baseline", "create", ".", "-o", ".leakscan-baseline.json", cwd=repo)
    assert created.returncode == 0, created.stderr
    assert created.stderr == "leakscan: .leakscan-baseline.json: 2 entries recorded\n"
    assert created.stdout == ""
    baseline_text = (repo / ".leakscan-baseline.json").read_text()
    assert old_cloud not in baseline_text and old_server not in baseline_text
    git(repo, "add", ".leakscan-baseline.json")
    git(repo, "commit", "-q", "-m", "Adopt leakscan with a baseline")

    clean = run_cli("scan", "--baseline", ".leakscan-baseline.json", "--format", "json", ".", cwd=repo)
    assert clean.returncode == 0, clean.stderr
    stats = json.loads(clean.stdout)["stats"]
    assert (stats["baseline_suppressed"], stats["baseline_stale"]) == (2, 0)
    assert "baseline .leakscan-baseline.json: 2 finding(s) suppressed" in clean.stderr

    # Unrelated edits move the old leak down: still accepted.
    deploy = repo / "scripts" / "deploy.sh"
    deploy.write_text(f"#!/bin/sh\nset -eu\n\necho deploying\nexport SONAR_TOKEN={old_server}\n")
    assert run_cli("scan", "--baseline", ".leakscan-baseline.json", ".", cwd=repo).returncode == 0

    # A new leak fails the build, and only the new one is reported.
    (repo / "app.env").write_text(f"SONAR_TOKEN={new}\n")
    failed = run_cli("scan", "--baseline", ".leakscan-baseline.json", "--format", "json", ".", cwd=repo)
    assert failed.returncode == 1, failed.stderr
    findings = json.loads(failed.stdout)["findings"]
    assert [(f["path"], f["line"], f["rule_id"]) for f in findings] == [("./app.env", 1, CLOUD)]

    # A new secret in place of an accepted one is new too.
    (repo / "app.env").unlink()
    replacement = tokens.sqco()
    (repo / "legacy" / "sonar-project.properties").write_text(f"sonar.token={replacement}\n")
    swapped = run_cli("scan", "--baseline", ".leakscan-baseline.json", "--format", "json", ".", cwd=repo)
    assert swapped.returncode == 1
    assert [f["path"] for f in json.loads(swapped.stdout)["findings"]] == [
        "./legacy/sonar-project.properties"
    ]
    assert json.loads(swapped.stdout)["stats"]["baseline_stale"] == 1


def test_stale_entries_reported_then_pruned(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    tree = write_tree(tmp_path / "tree", {"a.txt": f"x={tokens.sqco()}\n", "b.txt": f"y={tokens.sqco()}\n"})
    baseline = tmp_path / "baseline.json"
    assert run_cli("baseline", "create", str(tree), "-o", str(baseline)).returncode == 0
    (tree / "b.txt").write_text("fixed\n")
    proc = run_cli("scan", "--baseline", str(baseline), str(tree))
    assert proc.returncode == 0, proc.stderr
    assert (
        f"leakscan: baseline {baseline}: 1 finding(s) suppressed, 1 stale entry "
        "(run `leakscan baseline prune` to remove them)"
    ) in proc.stdout

    pruned = run_cli("baseline", "prune", "--baseline", str(baseline), str(tree))
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stderr == f"leakscan: {baseline}: 1 entry removed (stale), 1 kept\n"
    assert [e["path"] for e in json.loads(baseline.read_text())["entries"]] == ["a.txt"]
    after = run_cli("scan", "--baseline", str(baseline), "--format", "json", str(tree))
    assert json.loads(after.stdout)["stats"]["baseline_stale"] == 0


def test_prune_refuses_after_an_incomplete_scan(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    tree = write_tree(tmp_path / "tree", {"a.txt": f"x={tokens.sqco()}\n"})
    baseline = tmp_path / "baseline.json"
    assert run_cli("baseline", "create", str(tree), "-o", str(baseline)).returncode == 0
    before = baseline.read_text()
    proc = run_cli("baseline", "prune", "--baseline", str(baseline), str(tree), str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: baseline prune: scan incomplete, {baseline} left unchanged:")
    assert baseline.read_text() == before


def test_malformed_baseline_is_exit_2_with_file_and_field(tmp_path: Path, run_cli: RunCli) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text('{"version": 1, "entries": [{"rule_id": "r", "path": "p", "line": 1}]}')
    proc = run_cli("scan", "--baseline", str(baseline), str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == f"Error: {baseline}: field 'entries[0].fingerprint': missing\n"
    assert proc.stdout == ""


def test_missing_baseline_is_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("scan", "--baseline", str(tmp_path / "nope.json"), str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"Error: {tmp_path / 'nope.json'}: baseline file not found "
        "(create it with `leakscan baseline create`)\n"
    )


def test_prune_without_a_baseline_is_a_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("baseline", "prune", str(tmp_path))
    assert proc.returncode == 2
    assert "no baseline file: pass --baseline FILE or set `baseline`" in proc.stderr
