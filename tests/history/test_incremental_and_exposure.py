"""The history scanner's incremental hook (skip_blobs, clean_blobs) and the exposure window."""

from __future__ import annotations

import json

import pygit2

from leakscan.history import HistoryOptions, scan_history
from leakscan.options import ScanOptions
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.gitrepo import MakeRepo

RULE = "sonarqube-cloud-scoped-org-token"


def _raw_ids(packed: bytearray) -> set[bytes]:
    return {bytes(packed[i : i + 20]) for i in range(0, len(packed), 20)}


def test_skip_blobs_are_counted_not_scanned_and_clean_blobs_listed(
    make_repo: MakeRepo, tokens: TokenGenerator
) -> None:
    repo = make_repo()
    token = tokens.sqco()
    repo.commit({"a.txt": "plain\n", "b.txt": "other\n", "conf.properties": f"sonar.token={token}\n"})
    first = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path), workers=1))
    blob_a = pygit2.Repository(str(repo.path)).revparse_single("HEAD:a.txt").id
    blob_b = pygit2.Repository(str(repo.path)).revparse_single("HEAD:b.txt").id
    blob_conf = pygit2.Repository(str(repo.path)).revparse_single("HEAD:conf.properties").id
    assert _raw_ids(first.clean_blobs) == {blob_a.raw, blob_b.raw}  # the blob with a match is not clean
    assert "blobs_already_scanned" not in first.stats.extra

    again = scan_history(
        ScanOptions(), HistoryOptions(repo=str(repo.path), workers=1, skip_blobs={blob_a.raw, blob_b.raw})
    )
    assert again.stats.extra["blobs_already_scanned"] == 2
    assert again.stats.files_scanned == 1
    assert [(f.secret.value, f.path) for f in again.findings] == [(token, "conf.properties")]
    assert _raw_ids(again.clean_blobs) == set()
    assert blob_conf.raw not in _raw_ids(first.clean_blobs)


def test_exposure_window_of_a_removed_token(
    make_repo: MakeRepo, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    repo = make_repo()
    token = tokens.sqco()
    repo.commit({"README": "hello\n"}, message="start")
    introduced = repo.commit({"conf.properties": f"sonar.token={token}\n"}, message="add")
    repo.branch("keep")
    repo.commit({"conf.properties": "sonar.token=${SONAR_TOKEN}\n"}, message="edit")
    removed = repo.head()
    repo.commit({"README": "hello again\n"}, message="later")
    repo.tag("v1")
    proc = run_cli("history", str(repo.path), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    exposure = finding["exposure"]
    assert exposure["introduced_commit"] == introduced
    assert exposure["refs"] == ["keep", "main", "v1"]
    assert exposure["default_branch"] == "main"
    assert exposure["present_at_default_branch"] is False
    assert exposure["removed_commit"] == removed
    assert exposure["removed_at"] == repo.iso_date(removed)
    assert exposure["days_exposed"] == round(1 / 24, 2)  # the fixed clock: one hour per commit


def test_exposure_of_a_token_still_at_the_tip(make_repo: MakeRepo, tokens: TokenGenerator) -> None:
    repo = make_repo()
    token = tokens.sqco()
    repo.commit({"conf.properties": f"sonar.token={token}\n"})
    repo.checkout("side", create=True)
    repo.commit({"other.txt": "x\n"})
    repo.checkout("main")
    (finding,) = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path), workers=1)).findings
    exposure = finding.exposure
    assert exposure is not None
    assert exposure.refs == ("main", "side")
    assert exposure.present_at_default_branch is True
    assert exposure.removed_at is None
    assert exposure.days_exposed is None  # still open: reports count it up to their own time
