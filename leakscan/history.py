"""Git history audit: the history source (``leakscan.sources.history``: each unique blob reachable
from the chosen refs scanned exactly once, plus commit and tag messages) → attribution
(``leakscan.attribution``: only the blobs with findings traced back to the commits that
introduced them), inside the engine's shared skeleton.
"""

from __future__ import annotations

from collections.abc import Callable

import pygit2

from leakscan.attribution import attribute
from leakscan.engine import Engine, run
from leakscan.models import ScanResult
from leakscan.options import HistoryOptions, ScanOptions
from leakscan.rules import Rule
from leakscan.sources.git import limit_libgit2_memory, open_repo
from leakscan.sources.history import Progress, add_notes, collect

__all__ = ["HistoryOptions", "Progress", "scan_history"]


def scan_history(
    options: ScanOptions,
    history: HistoryOptions,
    *,
    rules: list[Rule] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> ScanResult:
    """Scan everything reachable from the chosen refs; each unique blob once."""
    engine = Engine(options, rules)
    limit_libgit2_memory()
    repo = open_repo(history.repo)
    return run("history", options, lambda result: _scan(engine, repo, history, result, progress))


def _scan(
    engine: Engine,
    repo: pygit2.Repository,
    history: HistoryOptions,
    result: ScanResult,
    progress: Callable[[Progress], None] | None,
) -> None:
    collected = collect(repo, history, engine.options, engine, engine.allowed.hashes, result, progress)
    result.findings.extend(attribute(collected, history))
    add_notes(repo, history, collected.walk.truncated, collected.enumerator, result)
    result.stats.extra["commits_scanned"] = len(collected.walk.commits)
