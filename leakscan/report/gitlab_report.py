"""GitLab secret-detection report (``artifacts:reports:secret_detection``), schema 15.2.4.

Vulnerability ids are UUIDv5 of the leakscan fingerprint (plus its rank among equal
fingerprints), so they are the same on every run. ``location.commit.sha`` is the commit that
introduced a history finding; for files scanned from the working tree it is ``0000000``, the value
GitLab's own secret-detection analyzer writes when it scans without git history.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from leakscan.models import Finding, Liveness, ScanResult, Severity
from leakscan.report import ReportContext
from leakscan.report.common import (
    ci_place,
    effective_severity,
    history_sentence,
    occurrence_keys,
    validation_sentence,
)

SCHEMA_VERSION = "15.2.4"
WORKING_TREE_SHA = "0000000"
INTERRUPTED = "the scan was interrupted; results are partial"
VENDOR = "leakscan"
# A fixed namespace: ids depend only on the fingerprint, never on the machine or the run.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "leakscan:gitlab-vulnerability")
SEVERITY = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFO: "Info",
}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _identifiers(finding: Finding) -> list[dict[str, str]]:
    rule = finding.rule
    identifiers = [{"type": "leakscan_rule_id", "name": f"leakscan rule ID {rule.id}", "value": rule.id}]
    if rule.key:
        identifiers.append({"type": "sonar_rule_key", "name": f"Sonar rule {rule.key}", "value": rule.key})
    identifiers.append({"type": "cwe", "name": "CWE-798", "value": "798"})
    return identifiers


def _details(finding: Finding) -> dict[str, Any]:
    details: dict[str, Any] = {
        "secret": {"name": "Secret (redacted)", "type": "text", "value": finding.secret.redacted()},
        "fingerprint": {"name": "Fingerprint", "type": "text", "value": finding.fingerprint},
    }
    if finding.commit is not None:
        details["introduced_in"] = {
            "name": "Introduced in commit",
            "type": "commit",
            "value": finding.commit.commit,
        }
    if finding.commits_count is not None:
        details["commits_count"] = {
            "name": "Commits containing the secret",
            "type": "value",
            "value": finding.commits_count,
        }
        details["present_at_head"] = {
            "name": "Still present at HEAD",
            "type": "value",
            "value": bool(finding.present_at_head),
        }
    if finding.validation.status is not Liveness.NOT_CHECKED:
        details["validation"] = {
            "name": "Live validation",
            "type": "text",
            "value": validation_sentence(finding),
        }
    return details


def _vulnerability(finding: Finding, key: str, show_secrets: bool) -> dict[str, Any]:
    rule, commit = finding.rule, finding.commit
    place = ci_place(finding)
    description = " ".join(
        s for s in (rule.message, history_sentence(finding), validation_sentence(finding)) if s
    )
    location_commit: dict[str, str] = {"sha": commit.commit if commit else WORKING_TREE_SHA}
    if commit is not None:
        location_commit.update(author=commit.author, date=commit.date)
    item: dict[str, Any] = {
        "id": str(uuid.uuid5(ID_NAMESPACE, key)),
        "name": rule.name,
        "description": " ".join(part for part in (description, place.inside) if part),
        "severity": SEVERITY[effective_severity(finding)],
        "solution": rule.remediation,
        "identifiers": _identifiers(finding),
        "location": {
            "file": place.path,
            "start_line": place.start_line,
            "end_line": place.end_line,
            "commit": location_commit,
        },
        "details": _details(finding),
    }
    if show_secrets:
        item["raw_source_code_extract"] = finding.secret.value
    return item


def _messages(result: ScanResult) -> list[dict[str, str]]:
    messages = [{"level": "info", "value": f"skipped {s.path}: {s.reason}"} for s in result.skipped]
    messages += [{"level": "warn", "value": f"{e.path}: {e.error}"} for e in result.errors]
    messages += [{"level": "info", "value": note} for note in result.stats.notes]
    if result.interrupted:
        messages.append({"level": "fatal", "value": INTERRUPTED})
    return messages


def render(result: ScanResult, context: ReportContext) -> str:
    end = context.now or datetime.now(UTC)
    start = end - timedelta(seconds=result.stats.duration_s)
    tool = {
        "id": "leakscan",
        "name": "leakscan",
        "version": context.version or "unknown",
        "vendor": {"name": VENDOR},
    }
    if context.information_uri:
        tool["url"] = context.information_uri
    keys = occurrence_keys(result.findings)
    report = {
        "version": SCHEMA_VERSION,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "secret_detection",
            "start_time": _time(start),
            "end_time": _time(end),
            "status": "success" if result.complete else "failure",
            "messages": _messages(result),
        },
        "vulnerabilities": [
            _vulnerability(f, key, context.show_secrets) for f, key in zip(result.findings, keys, strict=True)
        ],
    }
    return json.dumps(report, indent=2) + "\n"
