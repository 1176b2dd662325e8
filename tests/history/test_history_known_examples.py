"""History counts SonarSource's documentation example tokens it suppresses, as file scans do:
in blobs (in-process and pack-order scans alike) and in commit messages."""

from __future__ import annotations

import pytest

from leakscan.history import HistoryOptions, scan_history
from leakscan.options import ScanOptions
from leakscan.sources import history as history_module
from tests.gitrepo import MakeRepo

# Public examples from SonarSource's rule S6702 (stored as SHA-256 in the rule files).
SERVER_EXAMPLE = "squ_b4556a16fa2d28519d2451a911d2e073024010bc"
LEGACY_EXAMPLE = "9acf34ff1e738bcd6d5daf102a8cfcb8a158e44e"


@pytest.mark.parametrize("minimum", [10**9, 0], ids=["in-process", "pack-order"])
def test_known_examples_in_history_are_counted(
    make_repo: MakeRepo, monkeypatch: pytest.MonkeyPatch, minimum: int
) -> None:
    monkeypatch.setattr(history_module, "PACK_ORDER_MIN_BLOBS", minimum)
    repo = make_repo()
    repo.commit({"docs.properties": f"sonar.token={SERVER_EXAMPLE}\n"}, "docs")
    repo.commit({"notes.txt": "hello\n"}, f"as in the docs: sonar.login={LEGACY_EXAMPLE}")
    result = scan_history(ScanOptions(), HistoryOptions(repo=str(repo.path)))
    assert result.findings == []
    assert result.stats.extra["suppressed_known_example"] == 2
    assert "suppressed: known example: 2" in result.stats.notes
