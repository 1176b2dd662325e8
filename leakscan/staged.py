"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

from dataclasses import replace

import pygit2

from leakscan.content import SNIFF_BYTES, sniff
from leakscan.detect import detect_stream
from leakscan.engine import NOT_SCANNED, STREAM_CHUNK, STREAM_OVERLAP, Engine, prepare, run
from leakscan.models import Blob, Failed, Finding, ScanResult, Skipped, StagedOrigin, wrap_origin
from leakscan.options import ScanOptions
from leakscan.rules import Rule
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
                elif isinstance(item, LargeStagedFile):
                    _scan_large_file(engine, repo, item, result)
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


def _scan_large_file(
    engine: Engine, repo: pygit2.Repository, item: LargeStagedFile, result: ScanResult
) -> None:
    """A staged file over ``--max-file-size`` is streamed and scanned whole (its HEAD version is
    not held to compare with), so a commit hook never lets a big file through unread."""
    try:
        with open_blob_stream(repo, item.oid) as stream:
            head = stream.read(SNIFF_BYTES)
            kind = sniff(head)
            if kind in NOT_SCANNED:
                result.skipped.append(Skipped(item.path, kind.value))
                return
            pending = [head]

            def read_raw(size: int) -> bytes:  # the sniffed head first, then the rest
                first = pending.pop() if pending else b""
                return first + stream.read(max(0, size - len(first))) if size > len(first) else first

            detection = detect_stream(
                engine.detector, decoded_reader(kind, read_raw), STREAM_CHUNK, STREAM_OVERLAP
            )
    except (ObjectError, OSError) as exc:
        result.errors.append(Failed(item.path, str(exc)))
        return
    result.stats.files_scanned += 1
    result.stats.bytes_scanned += item.size
    result.stats.suppressed += len(detection.suppressed)
    result.errors.extend(Failed(item.path, error) for error in detection.errors)
    engine.add_matches(detection.matches, StagedOrigin(item.path), result)


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
