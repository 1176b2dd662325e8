"""Exit codes and ``--fail-on``: what a ScanResult means for the caller's exit status."""

from __future__ import annotations

from leakscan.errors import ExitCode
from leakscan.models import Liveness, ScanResult

FAIL_ON_NAMES = ("any", "live", "none")


def exit_code_for(result: ScanResult, findings_code: int, fail_on: str = "any") -> int:
    """Findings that ``fail_on`` counts win over errors when their code is non-zero; otherwise an
    incomplete scan is an error (``--exit-code 0`` silences findings, not read errors).

    ``fail_on``: ``any`` finding, only ``live`` ones (then an unknown outcome, with no live one,
    is an error: the check is incomplete), or ``none``.
    """
    if result.interrupted:
        return ExitCode.INTERRUPTED
    statuses = {finding.validation.status for finding in result.findings}
    failing = (fail_on == "any" and bool(result.findings)) or (
        fail_on == "live" and Liveness.LIVE in statuses
    )
    if failing and findings_code != ExitCode.CLEAN:
        return findings_code
    if fail_on == "live" and not failing and Liveness.UNKNOWN in statuses:
        return ExitCode.ERROR
    if result.errors:
        return ExitCode.ERROR
    return ExitCode.CLEAN
