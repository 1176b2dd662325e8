"""Reports of an audit, rendered from the store without rescanning: json, sarif, csv, html.

The JSON document is the ``--format json`` report shape, with per finding ``repository``,
``repository_url``, ``status`` (open / fixed), ``first_seen``, ``last_seen``, ``fixed_at``, and a
top-level ``repositories`` list; the HTML renderer takes that same document.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from msgspec.structs import replace

from leakscan.audit.store import Store, StoredFinding
from leakscan.errors import UsageError
from leakscan.exposure import days_between
from leakscan.models import NOT_CHECKED, FileOrigin, Finding, ScanResult
from leakscan.report import ReportContext
from leakscan.report.json_report import TOOL_NAME, finding_to_dict
from leakscan.rules import Rule

AUDIT_FORMATS = ("json", "sarif", "csv", "html")
CSV_COLUMNS = (
    "repository",
    "status",
    "rule_id",
    "severity",
    "path",
    "line",
    "column",
    "secret",
    "secret_sha256",
    "commit",
    "author",
    "date",
    "present_at_head",
    "days_exposed",
    "validation",
    "first_seen",
    "last_seen",
    "fixed_at",
)


def _finding(stored: StoredFinding, rules: dict[str, Rule]) -> Finding:
    record = stored.record
    rule = rules.get(record.match.rule_id)
    if rule is None:
        raise UsageError(
            f"rule '{record.match.rule_id}' of the store is not loaded: give its file with --rules"
        )
    return Finding(
        match=record.match.to_match(rule),
        origin=record.origin,
        fingerprint=record.fingerprint,
        commit=record.commit,
        commits_count=record.commits_count,
        present_at_head=record.present_at_head,
        validation=stored.validation or NOT_CHECKED,
        exposure=record.exposure,
    )


def build_audit_document(
    store: Store, rules: list[Rule], *, version: str, show_secrets: bool, now: datetime | None = None
) -> dict[str, Any]:
    """The audit's JSON report document, from the store."""
    when = now or datetime.now(UTC)
    by_id = {rule.id: rule for rule in rules}
    findings = []
    for stored in store.iter_findings({rule.id: rule.validation for rule in rules}):
        item = finding_to_dict(_finding(stored, by_id), show_secrets)
        exposure = item.get("exposure")
        if (
            exposure
            and stored.fixed_at is None
            and exposure["removed_at"] is None
            and exposure["introduced_at"]
        ):
            exposure["days_exposed"] = days_between(exposure["introduced_at"], None, when)
        item.update(
            repository=stored.repository,
            repository_url=stored.repository_url,
            status="fixed" if stored.fixed_at else "open",
            first_seen=stored.first_seen,
            last_seen=stored.last_seen,
            fixed_at=stored.fixed_at,
        )
        findings.append(item)
    repositories = [
        {
            "name": r.name,
            "url": r.url,
            "status": r.status,
            "error": r.error,
            "last_audit": r.last_audit,
            "refs": r.refs,
            "commits": r.commits,
            "blobs": r.blobs,
        }
        for r in store.repositories()
    ]
    counts = store.counts()
    failed = [r for r in repositories if r["status"] == "error"]
    return {
        "tool": {"name": TOOL_NAME, "version": version},
        "kind": "audit",
        "generated_at": when.isoformat(timespec="seconds"),
        "findings": findings,
        "stats": {
            "repositories_scanned": len(repositories),
            "repositories_failed": len(failed),
            "commits_scanned": sum(int(r["commits"] or 0) for r in repositories),
            "blobs_scanned": counts["scanned_blobs"],
            "findings": len(findings),
            "open_findings": sum(1 for f in findings if f["status"] == "open"),
            "fixed_findings": sum(1 for f in findings if f["status"] == "fixed"),
            "skipped": [],
            "errors": [{"path": r["name"], "error": r["error"]} for r in failed],
            "complete": not failed,
        },
        "repositories": repositories,
    }


def render_audit(
    store: Store,
    rules: list[Rule],
    fmt: str,
    *,
    version: str,
    show_secrets: bool,
    now: datetime | None = None,
) -> str:
    """The report in ``fmt`` (one of AUDIT_FORMATS)."""
    document = build_audit_document(store, rules, version=version, show_secrets=show_secrets, now=now)
    if fmt == "json":
        return json.dumps(document, indent=2) + "\n"
    if fmt == "csv":
        return _csv(document)
    if fmt == "sarif":
        return _sarif(store, rules, version, show_secrets)
    try:
        html = importlib.import_module("leakscan.report.html_report")
    except ImportError as exc:
        raise UsageError("--format html needs leakscan.report.html_report, which this build lacks") from exc
    text: str = html.render_html(document, now)
    return text


def _csv(document: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for item in document["findings"]:
        exposure = item.get("exposure") or {}
        writer.writerow(
            {**item, "days_exposed": exposure.get("days_exposed"), "validation": item["validation"]["status"]}
        )
    return out.getvalue()


def _sarif(store: Store, rules: list[Rule], version: str, show_secrets: bool) -> str:
    """Open findings as one SARIF run; paths are prefixed with the repository name."""
    from leakscan.report.sarif_report import render

    by_id = {rule.id: rule for rule in rules}
    result = ScanResult(kind="history")
    for stored in store.iter_findings({rule.id: rule.validation for rule in rules}):
        if stored.fixed_at is None:
            finding = _finding(stored, by_id)
            shown = FileOrigin(f"{stored.repository}/{finding.path}")
            result.findings.append(replace(finding, origin=shown))
    for repo in store.repositories():
        if repo.status == "error":
            result.errors.append(_failed(repo.name, repo.error or "failed"))
    return render(result, ReportContext(show_secrets=show_secrets, version=version))


def _failed(name: str, error: str) -> Any:
    from leakscan.models import Failed

    return Failed(name, error)
