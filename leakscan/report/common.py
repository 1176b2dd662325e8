"""Helpers shared by the machine-readable CI formats (SARIF, GitLab, SonarQube)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from msgspec import Struct

from leakscan.models import Finding, LayerOrigin, Liveness, Severity
from leakscan.rules import Rule


def shown_secret(finding: Finding, show_secrets: bool) -> str:
    """The secret as reports may print it: redacted unless the user asked for it whole."""
    return finding.secret.value if show_secrets else finding.secret.redacted()


def occurrence_keys(findings: Sequence[Finding]) -> list[str]:
    """A stable key per finding: fingerprint plus its rank among equal fingerprints.

    The same secret twice in one file shares a fingerprint; the rank (1, 2, ...) keeps the two
    apart without depending on line numbers, so keys survive unrelated edits.
    """
    seen: Counter[str] = Counter()
    keys = []
    for finding in findings:
        seen[finding.fingerprint] += 1
        keys.append(f"{finding.fingerprint}:{seen[finding.fingerprint]}")
    return keys


def used_rules(findings: Sequence[Finding]) -> list[Rule]:
    """The rules that produced ``findings``, each once, sorted by id."""
    rules = {f.rule.id: f.rule for f in findings}
    return [rules[rule_id] for rule_id in sorted(rules)]


def effective_severity(finding: Finding) -> Severity:
    """The rule's severity, raised to critical when the token was confirmed live."""
    if finding.validation.status is Liveness.LIVE:
        return Severity.CRITICAL
    return finding.rule.severity


def history_sentence(finding: Finding) -> str:
    """'Introduced in commit … by … on …; …' for history findings, '' otherwise."""
    commit = finding.commit
    if commit is None:
        return ""
    text = f"Introduced in commit {commit.commit[:12]} by {commit.author} on {commit.date}"
    if finding.commits_count is not None:
        state = "still present at HEAD" if finding.present_at_head else "no longer present at HEAD"
        text += f"; in {finding.commits_count} commit(s), {state}"
    return text + "."


def validation_sentence(finding: Finding) -> str:
    """'Validation: live (host) …' when a live check ran, '' otherwise."""
    validation = finding.validation
    if validation.status is Liveness.NOT_CHECKED:
        return ""
    text = f"Validation: {validation.status.value}"
    if validation.host:
        text += f" ({validation.host})"
    if validation.reason:
        text += f": {validation.reason}"
    return text + "."


class Place(Struct, frozen=True):
    """Where a CI format points: a real file and a region in it. For a finding inside an archive
    member or a decoded region, the outer file (at the encoded region where that is known, else
    line 1), with ``inside`` naming the member and encoding and the position there."""

    path: str
    start_line: int
    start_column: int
    end_line: int
    end_column: int
    inside: str = ""


def ci_place(finding: Finding) -> Place:
    """The file and region a CI format reports for ``finding``."""
    match, origin = finding.match, finding.origin
    if not isinstance(origin, LayerOrigin):
        return Place(finding.stable_path, match.line, match.column, match.end_line, match.end_column)
    outer = origin.root.stable_path
    line, column = origin.root_position or (1, 1)
    inside = f"Found inside {finding.stable_path}, at line {match.line}, column {match.column} there."
    return Place(outer, line, column, line, column, inside)
