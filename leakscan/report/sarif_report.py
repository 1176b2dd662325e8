"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

One run; a rule descriptor per rule used; one result per finding with a stable
``partialFingerprints.primaryLocationLineHash`` derived from the leakscan fingerprint (rule, path,
secret digest), so code scanning keeps one alert per leak however the lines move. Skipped inputs,
read errors and notes become tool-execution notifications; an incomplete scan sets
``executionSuccessful`` to false.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from leakscan.models import Finding, Liveness, ScanResult, Severity
from leakscan.report import ReportContext
from leakscan.report.common import (
    ci_place,
    effective_severity,
    history_sentence,
    occurrence_keys,
    shown_secret,
    used_rules,
    validation_sentence,
)
from leakscan.revoke import revocation_guidance
from leakscan.rules import Rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "leakscan"
INTERRUPTED = "the scan was interrupted; results are partial"

# GitHub: > 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def artifact_uri(path: str) -> str:
    """A repository-relative POSIX path as a URI reference (spaces and odd bytes escaped)."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _camel(rule_id: str) -> str:
    return "".join(word.capitalize() for word in rule_id.split("-"))


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    title = f"{rule.name} ({rule.key})" if rule.key else rule.name
    tags = ["security", "secret", "external/cwe/cwe-798"]
    if rule.key:
        tags.append(f"sonar/{rule.key}")
    return {
        "id": rule.id,
        "name": _camel(rule.id),
        "shortDescription": {"text": title[:1024]},
        "fullDescription": {"text": rule.message[:1024]},
        "help": {
            "text": f"{rule.message}\n\nRemediation: {rule.remediation}",
            "markdown": f"{rule.message}\n\n**Remediation:** {rule.remediation}",
        },
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "tags": tags,
            "precision": "very-high" if rule.checksum.scheme != "none" else "high",
            "security-severity": SECURITY_SEVERITY[rule.severity],
        },
    }


def _result(finding: Finding, key: str, index: int, context: ReportContext) -> dict[str, Any]:
    rule = finding.rule
    place = ci_place(finding)
    text = f"{rule.name} exposed: {shown_secret(finding, context.show_secrets)}."
    revoke = revocation_guidance(finding)
    extra = " ".join(s for s in (history_sentence(finding), validation_sentence(finding), revoke) if s)
    properties: dict[str, Any] = {}
    if finding.commit is not None:
        properties.update(
            commit=finding.commit.commit,
            author=finding.commit.author,
            email=finding.commit.email,
            date=finding.commit.date,
        )
    if finding.commits_count is not None:
        properties.update(commits_count=finding.commits_count, present_at_head=finding.present_at_head)
    if finding.validation.status is not Liveness.NOT_CHECKED:
        validation = finding.validation
        properties["validation"] = {
            "status": validation.status.value,
            "host": validation.host,
            "checked_at": validation.checked_at,
            "reason": validation.reason,
        }
    if revoke:
        properties["revocation"] = revoke
    item: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": LEVEL[effective_severity(finding)],
        "message": {"text": " ".join(part for part in (text, place.inside, extra) if part)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(place.path)},
                    "region": {
                        "startLine": place.start_line,
                        "startColumn": place.start_column,
                        "endLine": place.end_line,
                        "endColumn": place.end_column,
                    },
                }
            }
        ],
        "partialFingerprints": {
            "primaryLocationLineHash": key,
            "leakscanFingerprint/v1": finding.fingerprint,
        },
    }
    if properties:
        item["properties"] = properties
    return item


def _notifications(result: ScanResult) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    for skipped in result.skipped:
        notes.append(_notification("skipped", "note", f"skipped: {skipped.reason}", skipped.path))
    for error in result.errors:
        notes.append(_notification("error", "error", error.error, error.path))
    for text in result.stats.notes:
        notes.append(_notification("note", "note", text, None))
    if result.interrupted:
        notes.append(_notification("interrupted", "error", INTERRUPTED, None))
    return notes


def _notification(kind: str, level: str, text: str, path: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "descriptor": {"id": f"leakscan/{kind}"},
        "level": level,
        "message": {"text": text},
    }
    if path is not None:
        location = {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)}}}
        item["locations"] = [location]
    return item


def render(result: ScanResult, context: ReportContext) -> str:
    rules = used_rules(result.findings)
    index = {rule.id: n for n, rule in enumerate(rules)}
    keys = occurrence_keys(result.findings)
    driver: dict[str, Any] = {"name": TOOL_NAME, "version": context.version}
    if context.information_uri:
        driver["informationUri"] = context.information_uri
    driver["semanticVersion"] = context.version
    driver["rules"] = [rule_descriptor(rule) for rule in rules]
    run = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "invocations": [
            {
                "executionSuccessful": result.complete,
                "toolExecutionNotifications": _notifications(result),
            }
        ],
        "results": [
            _result(finding, key, index[finding.rule.id], context)
            for finding, key in zip(result.findings, keys, strict=True)
        ],
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
