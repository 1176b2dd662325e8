"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

from dataclasses import replace

from leakscan.engine import Engine, prepare, run
from leakscan.models import Blob, Finding, ScanResult, StagedOrigin, wrap_origin
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
        try:
            for item in iter_staged(repo, index, options.max_file_size, paths):
                if isinstance(item, StagedFile):
                    _scan_file(engine, item, whole_files, result)
                else:
                    result.record(item)
        finally:
            result.stats.notes.extend(paths.notes)

    return run("staged", options, body)


def _scan_file(engine: Engine, item: StagedFile, whole_files: bool, result: ScanResult) -> None:
    """Scan the staged version; unless whole files are wanted, keep only the findings that start
    in the bytes the change adds (the origin then carries those ranges)."""
    before = len(result.findings)
    engine.scan_blob(Blob(StagedOrigin(item.path), item.data), result)
    if whole_files or item.old is None or len(result.findings) == before:
        return
    data = prepare(item.data)
    if not isinstance(data, bytes):
        return  # binary (an archive, a compiled file): its findings came from inside, scanned whole
    old = prepare(item.old)
    # The old version counts as text whatever it holds: only the added ranges are wanted.
    changed = added_ranges(old if isinstance(old, bytes) else item.old, data)
    origin = StagedOrigin(item.path, tuple(changed))
    result.findings[before:] = [
        replace(f, origin=wrap_origin(origin, f.match.layer))
        for f in result.findings[before:]
        if _is_added(f, changed, data)
    ]


def _is_added(finding: Finding, changed: list[tuple[int, int]], data: bytes) -> bool:
    """Whether a finding starts in the added bytes; one in a decoded region counts where the
    region starts, one in an archive member always (a staged archive is scanned whole)."""
    if not finding.match.layer:
        return in_ranges(changed, finding.match.start)
    first = finding.match.layer[0]
    if first.member or first.line is None or first.column is None:
        return True
    return in_ranges(changed, offset_of(data, first.line, first.column))


def offset_of(data: bytes, line: int, column: int) -> int:
    """Byte offset of a 1-based (line, column in characters) position; LF, CRLF and CR end lines."""
    at = 0
    for _ in range(line - 1):
        lf, cr = data.find(b"\n", at), data.find(b"\r", at)
        ends = [i for i in (lf, cr) if i >= 0]
        if not ends:
            return len(data)
        end = min(ends)
        at = end + (2 if data.startswith(b"\r\n", end) else 1)
    text = data[at : at + 4 * column].decode("utf-8", "replace")
    return at + len(text[: column - 1].encode("utf-8"))


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
