"""The documented, stable JSON report."""

from __future__ import annotations

import json
from typing import Any

from leakscan.models import CommitInfo, Exposure, Finding, LayerOrigin, ScanResult, Validation
from leakscan.report import ReportContext
from leakscan.revoke import revocation_guidance

TOOL_NAME = "leakscan"


def finding_to_dict(finding: Finding, show_secrets: bool) -> dict[str, Any]:
    """One finding as the JSON report shows it."""
    match, rule = finding.match, finding.rule
    commit = finding.commit
    item: dict[str, Any] = {
        "rule_id": rule.id,
        "rule_key": rule.key,
        "rule_name": rule.name,
        "severity": rule.severity.value,
        "message": rule.message,
        "path": finding.path,
        "line": match.line,
        "column": match.column,
        "end_line": match.end_line,
        "end_column": match.end_column,
        "secret": match.secret.value if show_secrets else match.secret.redacted(),
        "secret_sha256": match.secret.sha256,
        "fingerprint": finding.fingerprint,
        "checksum": match.checksum.value,
        "commit": commit.commit if commit else None,
        "author": commit.author if commit else None,
        "email": commit.email if commit else None,
        "date": commit.date if commit else None,
        "validation": validation_to_dict(finding.validation),
        "revocation": revocation_guidance(finding) or None,
    }
    origin = finding.origin
    if isinstance(origin, LayerOrigin):
        position = origin.root_position
        item["outer"] = {
            "path": origin.root.path,
            "line": position[0] if position else None,
            "column": position[1] if position else None,
            "layers": [
                {"member": step.member, "encoding": step.encoding, "line": step.line, "column": step.column}
                for step in origin.steps()
            ],
        }
    if finding.commits_count is not None:
        item["commits_count"] = finding.commits_count
        item["present_at_head"] = finding.present_at_head
    if finding.exposure is not None:
        item["exposure"] = exposure_to_dict(finding.exposure, commit)
    return item


def exposure_to_dict(exposure: Exposure, introduced: CommitInfo | None) -> dict[str, Any]:
    """A finding's exposure window as the JSON report shows it (dates ISO 8601)."""
    removed = exposure.removed_at
    return {
        "introduced_commit": introduced.commit if introduced else None,
        "introduced_author": introduced.author if introduced else None,
        "introduced_at": introduced.date if introduced else None,
        "refs": list(exposure.refs),
        "default_branch": exposure.default_branch,
        "present_at_default_branch": exposure.present_at_default_branch,
        "removed_at": removed.date if removed else None,
        "removed_commit": removed.commit if removed else None,
        "removed_author": removed.author if removed else None,
        "days_exposed": exposure.days_exposed,
    }


def validation_to_dict(validation: Validation) -> dict[str, Any]:
    """A live check's outcome with its evidence: every request behind it, in order."""
    return {
        "status": validation.status.value,
        "host": validation.host,
        "checked_at": validation.checked_at,
        "reason": validation.reason,
        "evidence": [
            {
                "host": step.host,
                "endpoint": step.endpoint,
                "token": step.token,
                "status": step.status,
                "meaning": step.meaning,
            }
            for step in validation.evidence
        ],
    }


def stats_to_dict(result: ScanResult) -> dict[str, Any]:
    stats = result.stats
    data: dict[str, Any] = {
        "files_scanned": stats.files_scanned,
        "bytes_scanned": stats.bytes_scanned,
        "suppressed": stats.suppressed,
        "findings": len(result.findings),
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "errors": [{"path": e.path, "error": e.error} for e in result.errors],
        "duration_s": round(stats.duration_s, 3),
        "complete": result.complete,
        "interrupted": result.interrupted,
        "notes": list(stats.notes),
    }
    data.update(stats.extra)
    return data


def build_document(result: ScanResult, version: str, show_secrets: bool) -> dict[str, Any]:
    """The JSON report as a dict (the HTML report renders from it too)."""
    return {
        "tool": {"name": TOOL_NAME, "version": version},
        "findings": [finding_to_dict(f, show_secrets) for f in result.findings],
        "stats": stats_to_dict(result),
    }


def render(result: ScanResult, context: ReportContext) -> str:
    return json.dumps(build_document(result, context.version, context.show_secrets), indent=2) + "\n"
