"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

from dataclasses import replace

from leakscan.engine import Engine, prepare, run
from leakscan.models import Blob, ScanResult, StagedOrigin
from leakscan.options import ScanOptions
from leakscan.rules import Rule
from leakscan.sources.git import (
    PathFilter,
    StagedFile,
    added_ranges,
    in_ranges,
    index_ignore_files,
    iter_staged,
    open_repo,
    staged_index,
)


def scan_staged(
    options: ScanOptions,
    where: str = ".",
    *,
    whole_files: bool = False,
    rules: list[Rule] | None = None,
) -> ScanResult:
    """Scan the staged changes of the repository containing ``where``. Paths are repo-relative;
    those matching ``options.exclude`` or, unless ignore files are turned off, a staged
    ``.leakscanignore`` are not scanned."""
    repo = open_repo(where)
    index = staged_index(repo)
    ignore_files = index_ignore_files(repo, index) if options.use_ignore_files else None
    paths = PathFilter(options.exclude, ignore_files)
    engine = Engine(options, rules)

    def body(result: ScanResult) -> None:
        for item in iter_staged(repo, index, options.max_file_size, paths):
            if isinstance(item, StagedFile):
                _scan_file(engine, item, whole_files, result)
            else:
                result.record(item)

    return run("staged", options, body)


def _scan_file(engine: Engine, item: StagedFile, whole_files: bool, result: ScanResult) -> None:
    """Scan the staged version; unless whole files are wanted, keep only the findings that start
    in the bytes the change adds (the origin then carries those ranges)."""
    before = len(result.findings)
    engine.scan_blob(Blob(StagedOrigin(item.path), item.data), result)
    if whole_files or item.old is None or len(result.findings) == before:
        return
    data = prepare(item.data)
    old = prepare(item.old)
    assert isinstance(data, bytes), "a version with findings was scanned"
    # The old version counts as text whatever it holds: only the added ranges are wanted.
    changed = added_ranges(old if isinstance(old, bytes) else item.old, data)
    origin = StagedOrigin(item.path, tuple(changed))
    result.findings[before:] = [
        replace(f, origin=origin) for f in result.findings[before:] if in_ranges(changed, f.match.start)
    ]


def fix_hint(result: ScanResult) -> str:
    """What a developer whose commit was blocked should do."""
    count = len(result.findings)
    return "\n".join(
        [
            f"leakscan: commit blocked: {count} secret(s) in the staged changes (path:line:column above).",
            "  - Remove the token from the file and `git add` it again: the index is what gets committed.",
            "  - Revoke or rotate the token if it was ever pushed, shared or used (see 'fix' above).",
            "  - A false positive? Add `leakscan:allow` in a comment on that line.",
            "  - An old, accepted finding? Record it in a baseline "
            "(`leakscan baseline create`, then `--baseline`).",
        ]
    )
