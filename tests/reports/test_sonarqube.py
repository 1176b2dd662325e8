"""SonarQube generic issue import: checked against the scanner's own rules (REFERENCE (e)).

No JSON Schema is published for this format, so ``check_sonarqube_report`` enforces what
SonarQube's scanner (ExternalIssueReportValidator) and the documentation require.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import as_history, render, scan_tree, write_tree

QUALITIES = {"SECURITY", "RELIABILITY", "MAINTAINABILITY"}
IMPACT_SEVERITIES_10_3 = {"LOW", "MEDIUM", "HIGH"}
TYPES = {"BUG", "VULNERABILITY", "CODE_SMELL", "SECURITY_HOTSPOT"}
LEGACY_SEVERITIES = {"BLOCKER", "CRITICAL", "MAJOR", "MINOR", "INFO"}
ATTRIBUTES = {
    "FORMATTED",
    "CONVENTIONAL",
    "IDENTIFIABLE",
    "CLEAR",
    "LOGICAL",
    "COMPLETE",
    "EFFICIENT",
    "FOCUSED",
    "DISTINCT",
    "MODULAR",
    "TESTED",
    "LAWFUL",
    "TRUSTWORTHY",
    "RESPECTFUL",
}


def check_sonarqube_report(report: dict[str, Any]) -> list[str]:
    """Every problem the SonarQube scanner would reject (or a 10.3 server would not accept)."""
    problems: list[str] = []
    if set(report) != {"rules", "issues"}:
        problems.append(f"top level must be exactly rules + issues, got {sorted(report)}")
    ids: set[str] = set()
    for n, rule in enumerate(report.get("rules", [])):
        where = f"rules[{n}]"
        for key in ("id", "name", "engineId", "description", "cleanCodeAttribute"):
            if not isinstance(rule.get(key), str) or not rule[key]:
                problems.append(f"{where}.{key}: missing or empty")
        if rule.get("id") in ids:
            problems.append(f"{where}.id: duplicate")
        ids.add(rule.get("id"))
        if rule.get("cleanCodeAttribute") not in ATTRIBUTES:
            problems.append(f"{where}.cleanCodeAttribute: unknown")
        impacts, rtype, severity = rule.get("impacts"), rule.get("type"), rule.get("severity")
        if impacts is None and rtype is None:
            problems.append(f"{where}: needs impacts, or type + severity")
        if (rtype is None) != (severity is None):
            problems.append(f"{where}: type and severity must come together")
        if rtype is not None and rtype not in TYPES:
            problems.append(f"{where}.type: unknown")
        if severity is not None and severity not in LEGACY_SEVERITIES:
            problems.append(f"{where}.severity: unknown")
        if impacts is not None:
            if not impacts:
                problems.append(f"{where}.impacts: empty")
            if rtype == "SECURITY_HOTSPOT":
                problems.append(f"{where}.impacts: not allowed on security hotspots")
            for impact in impacts:
                if impact.get("softwareQuality") not in QUALITIES:
                    problems.append(f"{where}.impacts.softwareQuality: unknown")
                if impact.get("severity") not in IMPACT_SEVERITIES_10_3:
                    problems.append(f"{where}.impacts.severity: not accepted by SonarQube 10.3")
    for n, issue in enumerate(report.get("issues", [])):
        where = f"issues[{n}]"
        if issue.get("ruleId") not in ids:
            problems.append(f"{where}.ruleId: not among the rules")
        for key in ("type", "severity", "engineId"):
            if key in issue:
                problems.append(f"{where}.{key}: not allowed on issues in this format")
        location = issue.get("primaryLocation") or {}
        for key in ("message", "filePath"):
            if not isinstance(location.get(key), str) or not location[key]:
                problems.append(f"{where}.primaryLocation.{key}: missing")
        text_range = location.get("textRange")
        if text_range is not None:
            start_line = text_range.get("startLine")
            if not isinstance(start_line, int) or start_line < 1:
                problems.append(f"{where}.textRange.startLine: must be >= 1")
            start_column, end_column = text_range.get("startColumn"), text_range.get("endColumn")
            if start_column is not None and start_column < 0:
                problems.append(f"{where}.textRange.startColumn: must be >= 0")
            same_line = text_range.get("endLine", start_line) == start_line
            if (
                start_column is not None
                and end_column is not None
                and same_line
                and end_column <= start_column
            ):
                problems.append(f"{where}.textRange: empty range")
    return problems


def test_report_meets_the_scanner_rules(tmp_path: Path, tokens: TokenGenerator) -> None:
    token = tokens.sqco()
    write_tree(
        tmp_path,
        {
            "conf/app.properties": f"a=1\nsonar.token={token}\n",
            "n.npmrc": f"t={tokens.checksummed('npm_')}\n",
        },
    )
    report = json.loads(render(scan_tree(tmp_path), "sonarqube"))
    assert check_sonarqube_report(report) == []
    rules = {r["id"]: r for r in report["rules"]}
    assert rules["sonarqube-cloud-scoped-org-token"] == {
        "id": "sonarqube-cloud-scoped-org-token",
        "name": "SonarQube Cloud Scoped Organization Token (S7791)",
        "description": rules["sonarqube-cloud-scoped-org-token"]["description"],
        "engineId": "leakscan",
        "cleanCodeAttribute": "TRUSTWORTHY",
        "type": "VULNERABILITY",
        "severity": "BLOCKER",
        "impacts": [{"softwareQuality": "SECURITY", "severity": "HIGH"}],
    }
    assert "Remediation: Revoke the token" in rules["sonarqube-cloud-scoped-org-token"]["description"]
    assert (
        rules["npm-access-token"]["severity"],
        rules["npm-access-token"]["impacts"][0]["severity"],
    ) == (
        "CRITICAL",
        "HIGH",
    )
    issue = next(i for i in report["issues"] if i["ruleId"] == "sonarqube-cloud-scoped-org-token")
    assert issue == {
        "ruleId": "sonarqube-cloud-scoped-org-token",
        "primaryLocation": {
            "message": f"SonarQube Cloud Scoped Organization Token exposed: {token[:9]}********. "
            "Revoke it and move it to a secret store.",
            "filePath": "conf/app.properties",
            "textRange": {"startLine": 2, "endLine": 2, "startColumn": 12, "endColumn": 76},
        },
    }


def test_columns_are_utf16_code_units(tmp_path: Path, tokens: TokenGenerator) -> None:
    """SonarQube counts line offsets in Java chars: an emoji before the token is two of them."""
    token = tokens.sqco()
    write_tree(tmp_path, {"notes.md": f"\U0001f512 é token = {token}\n"})
    result = scan_tree(tmp_path)
    [finding] = result.findings
    assert (finding.match.column, finding.match.utf16_column) == (13, 14)
    report = json.loads(render(result, "sonarqube"))
    [issue] = report["issues"]
    text_range = issue["primaryLocation"]["textRange"]
    assert (text_range["startColumn"], text_range["endColumn"]) == (13, 13 + len(token))
    line = f"\U0001f512 é token = {token}".encode("utf-16-le")
    assert line[2 * text_range["startColumn"] : 2 * text_range["endColumn"]].decode("utf-16-le") == token


def test_history_issue_message_names_the_commit(tmp_path: Path, tokens: TokenGenerator) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    result.findings = [as_history(result.findings[0], sha="f" * 40)]
    report = json.loads(render(result, "sonarqube"))
    assert check_sonarqube_report(report) == []
    message = report["issues"][0]["primaryLocation"]["message"]
    assert "Introduced in commit ffffffffffff by Ada Author on 2024-01-02T03:04:05+00:00" in message


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda r: r["issues"][0].update(severity="BLOCKER"), "issues[0].severity: not allowed"),
        (lambda r: r["rules"][0].pop("type"), "rules[0]: type and severity must come together"),
        (
            lambda r: r["rules"][0]["impacts"][0].update(severity="BLOCKER"),
            "not accepted by SonarQube 10.3",
        ),
        (lambda r: r["issues"][0].update(ruleId="nope"), "issues[0].ruleId: not among the rules"),
        (
            lambda r: r["issues"][0]["primaryLocation"].pop("filePath"),
            "primaryLocation.filePath: missing",
        ),
    ],
    ids=[
        "severity-on-issue",
        "type-without-severity",
        "blocker-impact",
        "unknown-rule",
        "no-file-path",
    ],
)
def test_checker_catches_what_the_scanner_rejects(
    tmp_path: Path, tokens: TokenGenerator, mutate: Any, problem: str
) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    report = json.loads(render(scan_tree(tmp_path), "sonarqube"))
    mutate(report)
    assert any(problem in p for p in check_sonarqube_report(report))


def test_cli_sonarqube_with_exit_code_zero(tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli) -> None:
    """The SonarQube recipe: findings go to the report, not to the exit status."""
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    out = tmp_path / "leakscan-sonarqube.json"
    proc = run_cli("scan", "--format", "sonarqube", "--exit-code", "0", "-o", str(out), str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert check_sonarqube_report(report) == []
    assert [i["primaryLocation"]["filePath"] for i in report["issues"]] == ["a.txt"]
