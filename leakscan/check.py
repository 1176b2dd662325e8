"""Wiring behind ``leakscan validate``: recognise each token with the detector, then validate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from msgspec import Struct

from leakscan.detect import Detector
from leakscan.models import Liveness, Secret, Validation
from leakscan.options import ValidationConfig
from leakscan.rules import Rule

if TYPE_CHECKING:
    import httpx

LEGACY_CONTEXT = "sonar.token="


class TokenCheck(Struct, frozen=True):
    """One given token: the rule it was recognised by (None: not recognised) and the outcome."""

    secret: Secret
    rule: Rule | None
    validation: Validation


def identify(detector: Detector, token: str) -> tuple[Rule | None, str]:
    """The rule whose pattern matches ``token`` as a whole, or None and why not.

    The token is tried alone, then after a ``sonar.token=`` key: legacy 40-hex SonarQube tokens
    are only recognised next to such a key.
    """
    rejected: list[str] = []
    for text in (token, LEGACY_CONTEXT + token):
        detection = detector.detect(text.encode("utf-8", "surrogateescape"))
        for match in detection.matches:
            if match.secret.value == token:
                return match.rule, ""
        rejected.extend(f"rule {rule.id}: {reason}" for rule, reason in detection.rejected)
    if rejected:
        return None, "not a plausible token (" + "; ".join(dict.fromkeys(rejected)) + ")"
    return None, "not a recognised token"


def check_tokens(
    tokens: Sequence[str],
    rules: Sequence[Rule],
    config: ValidationConfig,
    *,
    client: httpx.Client | None = None,
) -> list[TokenCheck]:
    """Recognise and validate each unique token, in the order given."""
    detector = Detector(rules)
    identified = {token: identify(detector, token) for token in dict.fromkeys(tokens)}
    keys = [(rule.validation, Secret(token)) for token, (rule, _) in identified.items() if rule]
    outcomes = {}
    if keys:
        from leakscan.validate import TokenValidator

        with TokenValidator(config, client=client) as validator:
            outcomes = validator.validate_many(keys)
    checks = []
    for token, (rule, problem) in identified.items():
        secret = Secret(token)
        if rule is None:
            checks.append(TokenCheck(secret, None, Validation(Liveness.NOT_CHECKED, reason=problem)))
        else:
            checks.append(TokenCheck(secret, rule, outcomes[(rule.validation, secret)]))
    return checks


def render_checks(checks: Sequence[TokenCheck], fmt: str, version: str) -> str:
    """The `leakscan validate` report: one line per token, or JSON."""
    if fmt == "json":
        import json

        from leakscan.report.json_report import validation_to_dict

        results = [
            {
                "secret": check.secret.redacted(),
                "secret_sha256": check.secret.sha256,
                "rule_id": check.rule.id if check.rule else None,
                **validation_to_dict(check.validation),
            }
            for check in checks
        ]
        report = {"tool": {"name": "leakscan", "version": version}, "results": results}
        return json.dumps(report, indent=2) + "\n"
    rows = []
    for check in checks:
        outcome = check.validation
        host = f" [{outcome.host}]" if outcome.host else ""
        rule = check.rule.id if check.rule else "-"
        rows.append((check.secret.redacted(), outcome.status.value, rule, outcome.reason + host))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def checks_exit_code(checks: Sequence[TokenCheck]) -> int:
    """1 if any token is live; 0 if all were checked and none is live; 2 otherwise."""
    statuses = {check.validation.status for check in checks}
    if Liveness.LIVE in statuses:
        return 1
    return 0 if statuses == {Liveness.INACTIVE} else 2
