"""`leakscan audit`: many repositories, a store kept across audits, re-audits scan only new blobs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leakscan.audit.runner import AuditOptions, AuditSummary, run_audit
from leakscan.audit.scan_repo import RepoOutcome
from leakscan.audit.store import Store
from leakscan.audit.targets import Target, parse_target
from leakscan.cli import cli
from leakscan.options import ScanOptions
from tests.audit.conftest import MakeEstate
from tests.conftest import RunCli
from tests.gitrepo import run_git
from tests.reports.conftest import SARIF_SCHEMA, validate

RULE = "sonarqube-cloud-scoped-org-token"


def audit(targets: list[Target], store: Path, **options: Any) -> tuple[AuditSummary, list[RepoOutcome]]:
    outcomes: list[RepoOutcome] = []
    summary = run_audit(
        targets,
        ScanOptions(**options.pop("scan", {})),
        AuditOptions(store=store, cache=store.parent / "cache", workers=options.pop("workers", 1), **options),
        progress=lambda _summary, outcome: outcomes.append(outcome),
    )
    return summary, outcomes


def stored_findings(store: Path) -> list[tuple[str, str, str, str | None]]:
    """(repository, path, secret, fixed_at) of every stored finding."""
    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT r.name, f.path, f.secret, f.fixed_at FROM findings f"
        " JOIN repositories r ON r.id = f.repository"
        " ORDER BY r.name, f.path"
    ).fetchall()
    db.close()
    return [tuple(row) for row in rows]


def damage(repo_path: Path) -> None:
    """Delete the loose object of conf/sonar.properties' blob: the history can't be read whole."""
    blob = run_git(repo_path, "rev-parse", "HEAD:conf/sonar.properties")
    (repo_path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()


def test_audit_bare_nonbare_damaged_unreachable_then_rerun_scans_nothing(
    make_estate: MakeEstate, tmp_path: Path
) -> None:
    estate = make_estate(3)
    bare = estate.bare("r1")
    damage(estate.repos["r2"].path)
    targets = [
        *parse_target(str(estate.repos["r0"].path)),
        *parse_target(str(bare)),
        *parse_target(str(estate.repos["r2"].path)),
        *parse_target(f"file://{tmp_path}/does-not-exist.git"),
    ]
    store = tmp_path / "audit.sqlite"
    summary, outcomes = audit(targets, store, retries=0)
    assert sorted((o.name, o.status) for o in outcomes) == [
        ("does-not-exist", "error"),
        ("r0", "ok"),
        ("r1", "ok"),
        ("r2", "error"),
    ]
    errors = {o.name: o.error or "" for o in summary.failed}
    assert "missing blob object" in errors["r2"]
    assert "does-not-exist.git" in errors["does-not-exist"]
    assert stored_findings(store) == [
        ("r0", "conf/sonar.properties", estate.tokens["r0"], None),
        ("r1", "conf/sonar.properties", estate.tokens["r1"], None),
    ]
    assert summary.blobs_scanned == 4 + 4 + 3  # r2 lost one blob

    again, outcomes = audit(targets[:2], store)
    assert [o.status for o in outcomes] == ["unchanged", "unchanged"]
    assert again.blobs_scanned == 0
    assert again.new_findings == 0


def test_new_commit_scans_only_its_new_blobs_and_fixes_are_tracked(
    make_estate: MakeEstate, tmp_path: Path
) -> None:
    estate = make_estate(2)
    targets = [t for name in ("r0", "r1") for t in parse_target(str(estate.repos[name].path))]
    store = tmp_path / "audit.sqlite"
    audit(targets, store)
    repo = estate.repos["r0"]
    repo.commit({"src/new.py": "NEW = 1\n", "src/other.py": "OTHER = 2\n"}, message="two new files")
    summary, outcomes = audit(targets, store)
    by_name = {o.name: o for o in outcomes}
    assert by_name["r0"].status == "ok" and by_name["r1"].status == "unchanged"
    # the two new blobs, plus the blob with the finding (blobs with matches are always rescanned)
    assert by_name["r0"].blobs_scanned == 3
    assert by_name["r0"].blobs_skipped == 3
    assert summary.new_findings == 0

    # history rewritten without the token: the finding is fixed, kept with its history
    run_git(repo.path, "checkout", "-q", "--orphan", "clean")
    run_git(repo.path, "rm", "-q", "--cached", "conf/sonar.properties")
    repo.commit(message="clean start")
    run_git(repo.path, "branch", "-D", "main")
    audit(targets, store)
    rows = stored_findings(store)
    assert [(name, fixed is not None) for name, _path, _secret, fixed in rows] == [
        ("r0", True),
        ("r1", False),
    ]


def test_fork_shares_blobs_and_rule_change_rescans(make_estate: MakeEstate, tmp_path: Path) -> None:
    estate = make_estate(1)
    store = tmp_path / "audit.sqlite"
    audit(parse_target(str(estate.repos["r0"].path)), store)
    fork = tmp_path / "fork"
    run_git(tmp_path, "clone", "-q", str(estate.repos["r0"].path), str(fork))
    _, (outcome,) = audit(parse_target(str(fork)), store)
    assert (outcome.blobs_scanned, outcome.blobs_skipped) == (1, 3)  # only the blob with the token
    assert [(name, path) for name, path, _s, _f in stored_findings(store)] == [
        ("fork", "conf/sonar.properties"),
        ("r0", "conf/sonar.properties"),
    ]
    _, (outcome,) = audit(parse_target(str(fork)), store, scan={"max_file_size": 1 << 20})
    assert (outcome.blobs_scanned, outcome.blobs_skipped) == (4, 0)  # new ruleset fingerprint


def test_mirrors_urls_into_the_cache_and_fetches_later(make_estate: MakeEstate, tmp_path: Path) -> None:
    estate = make_estate(1)
    url = f"file://{estate.repos['r0'].path}"
    store = tmp_path / "audit.sqlite"
    _, (outcome,) = audit(parse_target(url), store)
    assert outcome.status == "ok"
    mirrors = list((tmp_path / "cache").iterdir())
    assert len(mirrors) == 1 and mirrors[0].name.startswith("r0-")
    assert run_git(mirrors[0], "config", "remote.origin.mirror") == "true"
    estate.repos["r0"].commit({"x.txt": "x\n"})
    _, (outcome,) = audit(parse_target(url), store)
    assert (outcome.status, outcome.blobs_scanned) == ("ok", 2)


def test_cli_audit_and_report_formats(make_estate: MakeEstate, tmp_path: Path, run_cli: RunCli) -> None:
    estate = make_estate(2)
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# the estate\n{estate.repos['r0'].path}  # first\n\n{estate.repos['r1'].path}\n")
    store = tmp_path / "s.sqlite"
    args = ["audit", "--repos", str(listing), "--store", str(store), "--cache", str(tmp_path / "c")]
    proc = run_cli(*args, "--workers", "2")
    assert proc.returncode == 1, proc.stderr  # new findings
    assert proc.stdout == ""
    assert "audit: [2/2]" in proc.stderr
    assert "2/2 repositories (2 scanned, 0 unchanged, 0 failed), 8 blobs scanned" in proc.stderr

    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "0 blobs scanned" in result.stderr

    report = json.loads(run_cli("audit", "report", "--store", str(store), "--show-secrets").stdout)
    assert [(f["repository"], f["path"], f["secret"], f["status"]) for f in report["findings"]] == [
        ("r0", "conf/sonar.properties", estate.tokens["r0"], "open"),
        ("r1", "conf/sonar.properties", estate.tokens["r1"], "open"),
    ]
    assert [(r["name"], r["status"], r["commits"], r["blobs"]) for r in report["repositories"]] == [
        ("r0", "ok", 3, 4),
        ("r1", "ok", 3, 4),
    ]
    first = report["findings"][0]
    assert first["exposure"]["present_at_default_branch"] is True
    assert first["commit"] == run_git(estate.repos["r0"].path, "rev-parse", "HEAD~1")

    csv_text = run_cli("audit", "report", "--store", str(store), "--format", "csv").stdout
    lines = csv_text.splitlines()
    assert lines[0].startswith("repository,status,rule_id,")
    assert lines[1].startswith(f"r0,open,{RULE},critical,conf/sonar.properties,1,13,sqco_")
    assert estate.tokens["r0"] not in csv_text

    sarif = json.loads(run_cli("audit", "report", "--store", str(store), "--format", "sarif").stdout)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
    ]
    assert uris == ["r0/conf/sonar.properties", "r1/conf/sonar.properties"]
    validate(sarif, SARIF_SCHEMA)


def test_html_report_when_the_renderer_exists(
    make_estate: MakeEstate, tmp_path: Path, run_cli: RunCli
) -> None:
    estate = make_estate(1)
    store = tmp_path / "s.sqlite"
    run_cli("audit", str(estate.repos["r0"].path), "--store", str(store), "--cache", str(tmp_path / "c"))
    proc = run_cli("audit", "report", "--store", str(store), "--format", "html")
    try:
        import leakscan.report.html_report  # noqa: F401
    except ImportError:
        assert proc.returncode == 2
        assert "needs leakscan.report.html_report" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert "<html" in proc.stdout and "r0" in proc.stdout
        assert estate.tokens["r0"] not in proc.stdout


def test_bad_inputs_are_one_line_errors(tmp_path: Path, run_cli: RunCli) -> None:
    proc = run_cli("audit", str(tmp_path / "nope"), "--store", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {tmp_path / 'nope'}: no such repository path, and not a git URL"
    (tmp_path / "empty").mkdir()
    proc = run_cli("audit", str(tmp_path / "empty"), "--store", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert "neither a git repository nor a folder of repositories" in proc.stderr
    proc = run_cli("audit", "--store", str(tmp_path / "s"))
    assert proc.returncode == 2 and "nothing to audit" in proc.stderr


def test_folder_of_clones_and_mirrors(make_estate: MakeEstate, tmp_path: Path) -> None:
    estate = make_estate(2)
    folder = tmp_path / "clones"
    folder.mkdir()
    shutil.move(str(estate.repos["r0"].path), folder / "r0")
    shutil.move(str(estate.bare("r1")), folder / "r1.git")
    (folder / "notes").mkdir()
    assert [(t.name, t.local) for t in parse_target(str(folder))] == [("r0", True), ("r1", True)]


def test_store_is_private(make_estate: MakeEstate, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    Store(store).close()
    assert os.stat(store).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("status", ["unchanged"])
def test_unchanged_marks_findings_seen(make_estate: MakeEstate, tmp_path: Path, status: str) -> None:
    estate = make_estate(1)
    store = tmp_path / "s.sqlite"
    targets = parse_target(str(estate.repos["r0"].path))
    audit(targets, store)
    db = sqlite3.connect(store)
    (before,) = db.execute("SELECT last_seen FROM findings").fetchone()
    _, (outcome,) = audit(targets, store)
    (after,) = db.execute("SELECT last_seen FROM findings").fetchone()
    assert outcome.status == status and after > before


def test_ctrl_c_keeps_finished_repositories_and_the_next_audit_resumes(
    make_estate: MakeEstate, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    estate = make_estate(6, bulk=300)
    store = tmp_path / "s.sqlite"
    args = [sys.executable, "-m", "leakscan", "audit", *(str(r.path) for r in estate.repos.values())]
    args += ["--store", str(store), "--cache", str(tmp_path / "c"), "--workers", "1"]
    with subprocess.Popen(args, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("audit: [1/6] r0: ok:"), first
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 130
    assert "audit: interrupted; finished repositories are kept" in rest
    finished = {name for name, *_ in stored_findings(store)}
    assert "r0" in finished and len(finished) < 6
    _, outcomes = audit(
        parse_target(str(estate.repos["r0"].path)) + parse_target(str(estate.repos["r5"].path)), store
    )
    assert [(o.name, o.status) for o in outcomes] == [("r0", "unchanged"), ("r5", "ok")]


def test_local_pool_worker_killed_mid_audit(make_estate: MakeEstate, tmp_path: Path) -> None:
    import multiprocessing
    import signal

    estate = make_estate(6, bulk=300)
    targets = [t for name in sorted(estate.repos) for t in parse_target(str(estate.repos[name].path))]
    store = tmp_path / "s.sqlite"
    outcomes: list[RepoOutcome] = []
    killed: list[int] = []

    def progress(_summary: AuditSummary, outcome: RepoOutcome) -> None:
        outcomes.append(outcome)
        children = [p.pid for p in multiprocessing.active_children() if p.pid is not None]
        if not killed and children:
            os.kill(children[0], signal.SIGKILL)
            killed.append(children[0])

    summary = run_audit(
        targets, ScanOptions(), AuditOptions(store=store, cache=tmp_path / "c", workers=2), progress=progress
    )
    assert killed
    assert sorted((o.name, o.status) for o in outcomes) == [(name, "ok") for name in sorted(estate.repos)]
    assert summary.failed == []
    assert stored_findings(store) == [
        (name, "conf/sonar.properties", estate.tokens[name], None) for name in sorted(estate.repos)
    ]
