"""``--fail-on``: which findings make a scan fail, and the exit code that follows.

``any`` finding; ``live``: proven live ones *and* every one that could not be checked
(``unknown``, ``not_checked``): it fails closed; ``proven-live``: only proven live ones;
``none``. Findings of severity ``info`` (badge tokens) count only when ``info`` is added:
``--fail-on any,info``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from msgspec import Struct

from leakscan.errors import ExitCode, UsageError
from leakscan.models import Finding, Liveness, ScanResult, Severity

LEVELS = ("any", "live", "proven-live", "none")
FLAGS = ("info",)
UNCHECKED = (Liveness.UNKNOWN, Liveness.NOT_CHECKED)


class FailOn(Struct, frozen=True):
    """A parsed ``--fail-on`` value."""

    level: str = "any"
    info: bool = False

    @property
    def needs_validation(self) -> bool:
        return self.level in ("live", "proven-live")

    def __str__(self) -> str:
        return self.level + (",info" if self.info else "")


def parse_fail_on(text: str) -> FailOn:
    """'any', 'live', 'proven-live', 'none', each optionally with ',info'; 'info' alone is 'any,info'."""
    words = [word.strip() for word in text.split(",") if word.strip()]
    levels = [word for word in words if word in LEVELS]
    unknown = [word for word in words if word not in LEVELS + FLAGS]
    repeated = sorted({word for word, count in Counter(words).items() if count > 1})
    if repeated and not unknown:
        raise UsageError(f"invalid --fail-on {text!r}: {', '.join(repeated)} given twice")
    if unknown or len(levels) > 1 or not words:
        raise UsageError(
            f"invalid --fail-on {text!r}: use one of {', '.join(LEVELS)}, optionally with ',info' "
            "(info findings such as badge tokens fail only then)"
        )
    return FailOn(levels[0] if levels else "any", "info" in words)


def failing(findings: Sequence[Finding], fail_on: FailOn) -> list[Finding]:
    """The findings that make the scan fail under ``fail_on``."""
    counted = [f for f in findings if fail_on.info or f.rule.severity is not Severity.INFO]
    if fail_on.level == "any":
        return counted
    if fail_on.level == "live":
        return [
            f for f in counted if f.validation.status is Liveness.LIVE or f.validation.status in UNCHECKED
        ]
    if fail_on.level == "proven-live":
        return [f for f in counted if f.validation.status is Liveness.LIVE]
    return []


def exit_code(result: ScanResult, findings_code: int, fail_on: FailOn) -> int:
    """Interrupted: 130. Failing findings: ``findings_code`` unless it is 0. Errors: 2. Else 0."""
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if failing(result.findings, fail_on) and findings_code != ExitCode.CLEAN:
        return findings_code
    if result.errors:
        return ExitCode.ERROR
    return ExitCode.CLEAN


def fail_on_note(result: ScanResult, fail_on: FailOn) -> str:
    """For ``--fail-on live``: the failing findings that were not proven live, and why they fail."""
    if fail_on.level != "live":
        return ""
    counts = Counter(f.validation.status for f in failing(result.findings, fail_on))
    unchecked = counts[Liveness.UNKNOWN] + counts[Liveness.NOT_CHECKED]
    if not unchecked:
        return ""
    return (
        f"--fail-on live fails closed on {unchecked} finding(s) that could not be checked "
        f"({counts[Liveness.UNKNOWN]} unknown, {counts[Liveness.NOT_CHECKED]} not checked); "
        "--fail-on proven-live fails only on proven live ones"
    )


def liveness_counts(findings: Sequence[Finding]) -> str:
    """'1 live, 0 inactive, 2 unknown, 0 not checked' over ``findings``."""
    counts = Counter(f.validation.status for f in findings)
    return ", ".join(f"{counts[status]} {status.value.replace('_', ' ')}" for status in Liveness)


def exit_code_for(result: ScanResult, findings_code: int, fail_on: str = "any") -> int:
    """``exit_code`` with ``fail_on`` as written on the command line or in the configuration."""
    return exit_code(result, findings_code, parse_fail_on(fail_on))
