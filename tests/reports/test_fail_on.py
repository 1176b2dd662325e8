"""`fail_on` decides which findings make the exit code 1; errors and interruption keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from msgspec.structs import replace

from leakscan.models import Failed, Liveness, Validation
from leakscan.policy import exit_code_for
from leakscan.synthetic import TokenGenerator
from tests.conftest import RunCli
from tests.reports.conftest import scan_tree, write_tree


@pytest.mark.parametrize(
    ("fail_on", "live", "errors", "interrupted", "expected"),
    [
        ("any", False, False, False, 1),
        ("live", False, False, False, 1),
        ("live", True, False, False, 1),
        ("proven-live", False, False, False, 0),
        ("proven-live", True, False, False, 1),
        ("proven-live", False, True, False, 2),
        ("none", True, False, False, 0),
        ("none", False, True, False, 2),
        ("live", False, True, False, 1),
        ("any", False, True, False, 1),
        ("none", False, False, True, 130),
    ],
    ids=[
        "any",
        "live-fails-closed-on-not-checked",
        "live-with-live",
        "proven-live-passes-not-checked",
        "proven-live-with-live",
        "proven-live-with-errors",
        "none",
        "none-with-errors",
        "live-not-checked-wins-over-errors",
        "findings-win-over-errors",
        "interrupted",
    ],
)
def test_exit_code(
    tmp_path: Path,
    tokens: TokenGenerator,
    fail_on: str,
    live: bool,
    errors: bool,
    interrupted: bool,
    expected: int,
) -> None:
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    if live:
        result.findings = [replace(result.findings[0], validation=Validation(Liveness.LIVE, host="h"))]
    if errors:
        result.errors.append(Failed("b.txt", "cannot open: Permission denied"))
    result.interrupted = interrupted
    assert exit_code_for(result, 1, fail_on) == expected


@pytest.mark.parametrize(
    ("fail_on", "live", "unknown", "errors", "expected"),
    [
        ("any", False, False, False, 0),
        ("any", False, False, True, 2),
        ("live", True, False, True, 2),
        ("live", True, True, False, 0),
        ("live", False, True, False, 0),
        ("proven-live", False, True, True, 2),
    ],
    ids=[
        "findings-silenced",
        "errors-still-fail",
        "live-silenced-errors-still-fail",
        "live-found-unknown-rest",
        "unknown-fails-closed-and-is-silenced",
        "proven-live-errors-still-fail",
    ],
)
def test_exit_code_zero_silences_findings_not_errors(
    tmp_path: Path,
    tokens: TokenGenerator,
    fail_on: str,
    live: bool,
    unknown: bool,
    errors: bool,
    expected: int,
) -> None:
    """`--exit-code 0` works like `--fail-on none`: an incomplete scan still exits 2."""
    write_tree(tmp_path, {"a.txt": f"x={tokens.sqco()}\n", "b.txt": f"y={tokens.sqco()}\n"})
    result = scan_tree(tmp_path)
    outcomes = [
        Liveness.LIVE if live else Liveness.INACTIVE,
        Liveness.UNKNOWN if unknown else Liveness.INACTIVE,
    ]
    result.findings = [
        replace(finding, validation=Validation(status, host="h"))
        for finding, status in zip(result.findings, outcomes, strict=True)
    ]
    if errors:
        result.errors.append(Failed("c.txt", "cannot open: Permission denied"))
    assert exit_code_for(result, 0, fail_on) == expected


def test_cli_exit_code_zero_with_a_missing_path(
    tmp_path: Path, tokens: TokenGenerator, run_cli: RunCli
) -> None:
    write_tree(tmp_path, {"a.env": f"SONAR_TOKEN={tokens.sqco()}\n"})
    proc = run_cli("scan", "--exit-code", "0", "nonexist", ".", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "a.env:1:13" in proc.stdout
    assert "nonexist" in proc.stdout + proc.stderr
    clean = run_cli("scan", "--exit-code", "0", ".", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
