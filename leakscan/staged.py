"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

import time

import pygit2

from leakscan.content import SNIFF_BYTES, Kind, sniff, to_scannable
from leakscan.detect import detect_stream
from leakscan.models import Blob, Failed, ScanResult, Skipped
from leakscan.options import ScanOptions
from leakscan.rules import Rule
from leakscan.scan import STREAM_CHUNK, STREAM_OVERLAP, Scanner, finalize
from leakscan.sources.files import decoded_reader
from leakscan.sources.git import (
    LargeStagedFile,
    ObjectError,
    PathFilter,
    StagedFile,
    added_ranges,
    in_ranges,
    index_ignore_files,
    iter_staged,
    open_blob_stream,
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
    started = time.perf_counter()
    repo = open_repo(where)
    index = staged_index(repo)
    ignore_files = index_ignore_files(repo, index) if options.use_ignore_files else None
    paths = PathFilter(options.exclude, ignore_files)
    scanner = Scanner(options, rules)
    result = ScanResult(kind="staged")
    try:
        for item in iter_staged(repo, index, options.max_file_size, paths):
            if isinstance(item, StagedFile):
                _scan_file(scanner, item, whole_files, result)
            elif isinstance(item, LargeStagedFile):
                _scan_large_file(scanner, repo, item, result)
            else:
                result.record(item)
    except KeyboardInterrupt:
        result.interrupted = True
    result.stats.notes.extend(paths.notes)
    finalize(result, options)
    result.stats.duration_s = time.perf_counter() - started
    return result


def _scan_file(scanner: Scanner, item: StagedFile, whole_files: bool, result: ScanResult) -> None:
    kind = sniff(item.data)
    if kind in (Kind.BINARY, Kind.LFS_POINTER):
        result.skipped.append(Skipped(item.path, kind.value))
        return
    data = to_scannable(item.data, kind)
    blob = Blob(item.path, data, item.path)
    if whole_files or item.old is None:
        scanner.scan_blob(blob, result)
        return
    before = len(result.findings)
    scanner.scan_blob(blob, result)
    if len(result.findings) == before:
        return
    old = to_scannable(item.old, sniff(item.old))
    changed = added_ranges(old, data)
    result.findings[before:] = [f for f in result.findings[before:] if in_ranges(changed, f.match.start)]


def _scan_large_file(
    scanner: Scanner, repo: pygit2.Repository, item: LargeStagedFile, result: ScanResult
) -> None:
    """A staged file over ``--max-file-size`` is streamed and scanned whole (its HEAD version is
    not held to compare with), so a commit hook never lets a big file through unread."""
    try:
        with open_blob_stream(repo, item.oid) as stream:
            head = stream.read(SNIFF_BYTES)
            kind = sniff(head)
            if kind in (Kind.BINARY, Kind.LFS_POINTER):
                result.skipped.append(Skipped(item.path, kind.value))
                return
            pending = [head]

            def read_raw(size: int) -> bytes:  # the sniffed head first, then the rest
                first = pending.pop() if pending else b""
                return first + stream.read(max(0, size - len(first))) if size > len(first) else first

            detection = detect_stream(
                scanner.detector, decoded_reader(kind, read_raw), STREAM_CHUNK, STREAM_OVERLAP
            )
    except (ObjectError, OSError) as exc:
        result.errors.append(Failed(item.path, str(exc)))
        return
    result.stats.files_scanned += 1
    result.stats.bytes_scanned += item.size
    result.stats.suppressed += len(detection.suppressed)
    result.errors.extend(Failed(item.path, error) for error in detection.errors)
    scanner.add_matches(detection.matches, item.path, item.path, result)


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
