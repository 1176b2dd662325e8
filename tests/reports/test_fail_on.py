"""`fail_on` decides which findings make the exit code 1; errors and interruption keep theirs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from leakscan.cli import exit_code_for
from leakscan.models import Failed, Liveness, Validation
from leakscan.synthetic import TokenGenerator
from tests.reports.conftest import scan_tree, write_tree


@pytest.mark.parametrize(
    ("fail_on", "live", "errors", "interrupted", "expected"),
    [
        ("any", False, False, False, 1),
        ("live", False, False, False, 0),
        ("live", True, False, False, 1),
        ("none", True, False, False, 0),
        ("none", False, True, False, 2),
        ("live", False, True, False, 2),
        ("any", False, True, False, 1),
        ("none", False, False, True, 130),
    ],
    ids=[
        "any",
        "live-without-live",
        "live-with-live",
        "none",
        "none-with-errors",
        "live-with-errors",
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
        result.findings = [
            replace(result.findings[0], validation=Validation(Liveness.LIVE, host="h"))
        ]
    if errors:
        result.errors.append(Failed("b.txt", "cannot open: Permission denied"))
    result.interrupted = interrupted
    assert exit_code_for(result, 1, fail_on) == expected
