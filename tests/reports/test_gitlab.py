"""GitLab secret-detection report: schema 15.2.4, deterministic ids, commits, status."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import jsonschema
import pytest

from leakscan.models import Failed, Skipped
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import (
    GITLAB_SCHEMA,
    as_history,
    render,
    scan_tree,
    validate,
    write_tree,
)


def test_working_tree_report(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    write_tree(tmp_path, {"conf/app.properties": f"a=1\nsonar.token={token}\n"})
    report = json.loads(render(scan_tree(tmp_path), "gitlab"))
    validate(report, GITLAB_SCHEMA)
    assert report["version"] == "15.2.4"
    scan = report["scan"]
    tool = {
        "id": "leakscan",
        "name": "leakscan",
        "version": "9.8.7",
        "vendor": {"name": "leakscan"},
    }
    assert scan["analyzer"] == tool and scan["scanner"] == tool
    assert (scan["type"], scan["status"], scan["messages"]) == ("secret_detection", "success", [])
    assert scan["end_time"] == "2025-03-04T05:06:07"
    assert re.fullmatch(r"2025-03-04T05:06:0[67]", scan["start_time"])
    [vulnerability] = report["vulnerabilities"]
    assert uuid.UUID(vulnerability["id"]).version == 5
    assert vulnerability["name"] == "SonarQube Cloud Scoped Organization Token"
    assert vulnerability["severity"] == "Critical"
    assert vulnerability["solution"].startswith("Revoke the token in SonarQube Cloud")
    assert vulnerability["identifiers"] == [
        {
            "type": "leakscan_rule_id",
            "name": "leakscan rule ID sonarqube-cloud-scoped-org-token",
            "value": "sonarqube-cloud-scoped-org-token",
        },
        {"type": "sonar_rule_key", "name": "Sonar rule S7791", "value": "S7791"},
        {"type": "cwe", "name": "CWE-798", "value": "798"},
    ]
    assert vulnerability["location"] == {
        "file": "conf/app.properties",
        "start_line": 2,
        "end_line": 2,
        "commit": {"sha": "0000000"},
    }
    assert vulnerability["details"]["secret"] == {
        "name": "Secret (redacted)",
        "type": "text",
        "value": token[:9] + "********",
    }
    assert "raw_source_code_extract" not in vulnerability
    assert token not in json.dumps(report)


def test_ids_are_deterministic_and_survive_moving_lines(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    target = tmp_path / "a.txt"
    target.write_text(f"x={token}\ny={token}\n")
    first = [v["id"] for v in json.loads(render(scan_tree(tmp_path), "gitlab"))["vulnerabilities"]]
    target.write_text(f"\n\nx={token}\n\ny={token}\n")
    moved = [v["id"] for v in json.loads(render(scan_tree(tmp_path), "gitlab"))["vulnerabilities"]]
    assert first == moved
    assert len(set(first)) == 2


def test_history_finding_carries_its_commit(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    sha = "0123456789abcdef" * 2 + "01234567"
    result.findings = [as_history(result.findings[0], sha=sha, live=True)]
    report = json.loads(render(result, "gitlab"))
    validate(report, GITLAB_SCHEMA)
    [vulnerability] = report["vulnerabilities"]
    assert vulnerability["location"]["commit"] == {
        "sha": sha,
        "author": "Ada Author",
        "date": "2024-01-02T03:04:05+00:00",
    }
    assert vulnerability["details"]["introduced_in"] == {
        "name": "Introduced in commit",
        "type": "commit",
        "value": sha,
    }
    assert vulnerability["details"]["commits_count"]["value"] == 3
    assert vulnerability["details"]["present_at_head"]["value"] is False
    assert vulnerability["details"]["validation"]["value"] == "Validation: live (https://sonarcloud.io)."
    assert "Introduced in commit 0123456789ab by Ada Author" in vulnerability["description"]


def test_incomplete_scan_is_a_failure_with_messages(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    result.skipped.append(Skipped("blob.bin", "binary"))
    result.errors.append(Failed("locked.txt", "cannot open: Permission denied"))
    report = json.loads(render(result, "gitlab"))
    validate(report, GITLAB_SCHEMA)
    assert report["scan"]["status"] == "failure"
    assert report["scan"]["messages"] == [
        {"level": "info", "value": "skipped blob.bin: binary"},
        {"level": "warn", "value": "locked.txt: cannot open: Permission denied"},
    ]
    result.errors.clear()
    result.interrupted = True
    report = json.loads(render(result, "gitlab"))
    assert report["scan"]["status"] == "failure"
    assert report["scan"]["messages"][-1]["level"] == "fatal"


def test_show_secrets_adds_the_raw_extract(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    write_tree(tmp_path, {"a.txt": f"x={token}\n"})
    report = json.loads(render(scan_tree(tmp_path), "gitlab", show_secrets=True))
    validate(report, GITLAB_SCHEMA)
    assert report["vulnerabilities"][0]["raw_source_code_extract"] == token


def test_schema_check_is_real(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    report = json.loads(render(scan_tree(tmp_path), "gitlab"))
    report["vulnerabilities"][0]["location"]["commit"]["sha"] = ""
    with pytest.raises(jsonschema.ValidationError):
        validate(report, GITLAB_SCHEMA)


def test_cli_clean_tree_gives_valid_empty_report(tmp_path: Path, run_cli: RunCli) -> None:
    write_tree(tmp_path, {"a.txt": "nothing to see\n"})
    proc = run_cli("scan", "--format", "gitlab", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    validate(report, GITLAB_SCHEMA)
    assert report["vulnerabilities"] == []
    assert report["scan"]["status"] == "success"
