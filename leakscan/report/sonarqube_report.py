"""SonarQube generic external-issue report (``sonar.externalIssuesReportPaths``).

For SonarQube Server 10.3+ and SonarQube Cloud.

Rules carry both the Clean Code fields (``cleanCodeAttribute`` TRUSTWORTHY, one SECURITY impact)
and the deprecated ``type`` VULNERABILITY + ``severity`` pair, which the scanner accepts together
and which servers in Standard Experience mode display. Impact severities stay within
HIGH/MEDIUM/LOW, the values every 10.3+ server accepts (BLOCKER and INFO only arrived later).
Issues carry neither ``type`` nor ``severity``: the scanner rejects them on issues in this format.
Columns are 0-based, end exclusive; file paths are repository-relative.
"""

from __future__ import annotations

import json
from typing import Any

from leakscan.models import Finding, ScanResult, Severity
from leakscan.report import ReportContext
from leakscan.report.common import ci_place, history_sentence, shown_secret, used_rules, validation_sentence
from leakscan.rules import Rule

ENGINE_ID = "leakscan"
IMPACT_SEVERITY = {
    Severity.CRITICAL: "HIGH",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "LOW",
}
LEGACY_SEVERITY = {
    Severity.CRITICAL: "BLOCKER",
    Severity.HIGH: "CRITICAL",
    Severity.MEDIUM: "MAJOR",
    Severity.LOW: "MINOR",
    Severity.INFO: "INFO",
}


def rule_entry(rule: Rule) -> dict[str, Any]:
    name = f"{rule.name} ({rule.key})" if rule.key else rule.name
    return {
        "id": rule.id,
        "name": name,
        "description": f"{rule.message}\n\nRemediation: {rule.remediation}",
        "engineId": ENGINE_ID,
        "cleanCodeAttribute": "TRUSTWORTHY",
        "type": "VULNERABILITY",
        "severity": LEGACY_SEVERITY[rule.severity],
        "impacts": [{"softwareQuality": "SECURITY", "severity": IMPACT_SEVERITY[rule.severity]}],
    }


def issue_entry(finding: Finding, show_secrets: bool) -> dict[str, Any]:
    match, rule = finding.match, finding.rule
    parts = [
        f"{rule.name} exposed: {shown_secret(finding, show_secrets)}.",
        history_sentence(finding),
        validation_sentence(finding),
        "Revoke it and move it to a secret store.",
    ]
    place = ci_place(finding)
    if place.inside:
        parts.insert(1, place.inside)
        text_range = {"startLine": place.start_line}
    else:
        text_range = {
            "startLine": match.line,
            "endLine": match.end_line,
            "startColumn": match.utf16_column - 1,
            "endColumn": match.utf16_end_column - 1,
        }
    return {
        "ruleId": rule.id,
        "primaryLocation": {
            "message": " ".join(p for p in parts if p),
            "filePath": place.path,
            "textRange": text_range,
        },
    }


def render(result: ScanResult, context: ReportContext) -> str:
    report = {
        "rules": [rule_entry(rule) for rule in used_rules(result.findings)],
        "issues": [issue_entry(f, context.show_secrets) for f in result.findings],
    }
    return json.dumps(report, indent=2) + "\n"
