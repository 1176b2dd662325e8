"""Helpers for the report, baseline, configuration and recipe tests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from msgspec.structs import replace

from leakscan.models import CommitInfo, Finding, Liveness, ScanResult, Validation
from leakscan.options import ScanOptions
from leakscan.report import ReportContext, get_reporter
from leakscan.scan import scan
from tests.conftest import TEST_DATA

SARIF_SCHEMA = TEST_DATA / "schemas" / "sarif-schema-2.1.0.json"
GITLAB_SCHEMA = TEST_DATA / "schemas" / "gitlab-secret-detection-report-format.json"
FIXED_NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
CONTEXT = ReportContext(version="9.8.7", now=FIXED_NOW)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Author",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "Ada Author",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05+00:00",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def validate(report: dict[str, Any], schema_path: Path) -> None:
    """Raise jsonschema.ValidationError unless ``report`` is valid against the schema file."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator_class(schema, format_checker=validator_class.FORMAT_CHECKER).validate(report)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def scan_tree(root: Path, **options: Any) -> ScanResult:
    """Scan a real folder with the real pipeline."""
    return scan(ScanOptions(paths=(str(root),), **options))


def render(result: ScanResult, fmt: str, **context: Any) -> str:
    return get_reporter(fmt)(result, replace(CONTEXT, **context))


def as_history(finding: Finding, sha: str = "a" * 40, live: bool = False) -> Finding:
    """The same finding as the history command reports it (commit, counts, optional liveness)."""
    validation = (
        Validation(Liveness.LIVE, host="https://sonarcloud.io", checked_at="2025-03-04T05:06:07Z")
        if live
        else finding.validation
    )
    return replace(
        finding,
        commit=CommitInfo(sha, "Ada Author", "ada@example.com", "2024-01-02T03:04:05+00:00"),
        commits_count=3,
        present_at_head=False,
        validation=validation,
    )


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A git repository in tmp_path/repo with ``files`` committed (fixed identity and date)."""

    def make(files: dict[str, str]) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        write_tree(repo, files)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make
