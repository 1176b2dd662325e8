"""The include:-able GitLab CI template: each job's before_script and script lines, run in one
bash process (as GitLab's shell executor does) against a temporary repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from leakscan.synthetic import TokenGenerator
from tests.ci.conftest import clean_env, pull_request_clone
from tests.conftest import REPO_ROOT

TEMPLATE = yaml.safe_load((REPO_ROOT / "templates" / "leakscan.gitlab-ci.yml").read_text(encoding="utf-8"))
PINNED = "git+https://gitlab.example.invalid/tools/leakscan.git@" + "0123456789abcdef" * 2 + "01234567"


def job(name: str) -> dict[str, Any]:
    """A job with its `extends:` resolved (one level, as the template uses)."""
    spec = dict(TEMPLATE[name])
    parent = TEMPLATE[spec.pop("extends")]
    return {**parent, **spec, "variables": {**parent.get("variables", {}), **spec.get("variables", {})}}


def run_job(name: str, workspace: Path, **env: str) -> subprocess.CompletedProcess[str]:
    spec = job(name)
    script = "\n".join(["set -eo pipefail", *spec["before_script"], *spec["script"]])
    variables = {k: str(v) for k, v in {**TEMPLATE["variables"], **spec["variables"]}.items()}
    return subprocess.run(
        ["bash", "-c", script],
        cwd=workspace,
        env=clean_env(CI="true", CI_PROJECT_DIR=str(workspace), **(variables | env)),
        capture_output=True,
        text=True,
        timeout=120,
    )


def report_paths(workspace: Path) -> list[str]:
    report = json.loads((workspace / "gl-secret-detection-report.json").read_text(encoding="utf-8"))
    return sorted(v["location"]["file"] for v in report["vulnerabilities"])


def test_merge_request_job_scans_the_merge_request(
    tmp_path: Path, tokens: TokenGenerator, ready_venv: Path
) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    base = subprocess.run(
        ["git", "merge-base", "HEAD", "origin/main"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    proc = run_job(
        "leakscan-merge-request",
        clone,
        CI_PIPELINE_SOURCE="merge_request_event",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=base,
        LEAKSCAN_SOURCE=PINNED,
        LEAKSCAN_VENV=str(ready_venv),
    )
    assert proc.returncode == 1, proc.stderr
    assert report_paths(clone) == ["new.env"]
    assert (
        TEMPLATE[".leakscan"]["artifacts"]["reports"]["secret_detection"] == "gl-secret-detection-report.json"
    )


@pytest.mark.parametrize("name", ["leakscan-audit", "leakscan-working-tree"])
def test_audit_and_working_tree_jobs(
    tmp_path: Path, tokens: TokenGenerator, ready_venv: Path, name: str
) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    proc = run_job(name, clone, LEAKSCAN_SOURCE=PINNED, LEAKSCAN_VENV=str(ready_venv))
    assert proc.returncode == 1, proc.stderr
    assert report_paths(clone) == ["new.env", "old.properties"]


def test_extra_args(tmp_path: Path, tokens: TokenGenerator, ready_venv: Path) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    proc = run_job(
        "leakscan-working-tree",
        clone,
        LEAKSCAN_SOURCE=PINNED,
        LEAKSCAN_VENV=str(ready_venv),
        LEAKSCAN_ARGS="--exclude new.env",
    )
    assert proc.returncode == 1, proc.stderr
    assert report_paths(clone) == ["old.properties"]


@pytest.mark.parametrize(
    "source",
    [
        "",
        "git+https://gitlab.example.invalid/tools/leakscan.git",
        "git+https://gitlab.example.invalid/tools/leakscan.git@v0.1.0",
        "git+https://gitlab.example.invalid/tools/leakscan.git@main",
        "leakscan",
    ],
)
def test_an_unpinned_source_is_refused(
    tmp_path: Path, tokens: TokenGenerator, ready_venv: Path, source: str
) -> None:
    clone, _, _ = pull_request_clone(tmp_path, tokens)
    proc = run_job("leakscan-audit", clone, LEAKSCAN_SOURCE=source, LEAKSCAN_VENV=str(ready_venv))
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith("leakscan: set LEAKSCAN_SOURCE to git+https://") and f"(got '{source}')" in line
    assert not (clone / "gl-secret-detection-report.json").exists()
