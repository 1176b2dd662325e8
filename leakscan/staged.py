"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

from msgspec.structs import replace

from leakscan.engine import Engine, prepare, run
from leakscan.examples import load_checked_rules
from leakscan.models import Blob, Finding, ScanResult, StagedOrigin, wrap_origin
from leakscan.options import ScanOptions
from leakscan.rules import Rule
from leakscan.sources.pathfilter import PathFilter, in_ranges
from leakscan.sources.staged import (
    Previous,
    StagedRepo,
    StagedSource,
    added_lines,
    ignore_files,
    open_staged,
)

SMALL_STAGED_BYTES = 4 * 1024 * 1024


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
    repo = open_staged(where)
    paths = PathFilter(options.exclude, ignore_files(repo) if options.use_ignore_files else None)
    rules = (
        rules if rules is not None else load_checked_rules(options.extra_rules, disable=options.disable_rules)
    )
    keep = (lambda path: not paths.excluded(path)) if paths.active else None
    source = StagedSource(repo, options.max_file_size, keep)
    # A commit's few changed bytes are found faster by one bytes.find per keyword than by
    # compiling a Hyperscan database first (same offsets either way).
    small = source.staged_bytes <= SMALL_STAGED_BYTES and not source.streamed
    engine = Engine(options, rules, keyword_engine="python" if small else "auto")

    def body(result: ScanResult) -> None:
        try:
            for item in source:
                if not isinstance(item, Blob):
                    result.record(item)
                    continue
                before = len(result.findings)
                engine.scan_blob(item, result)
                previous = source.previous.get(item.path)
                if not whole_files and previous is not None and len(result.findings) > before:
                    _keep_added(repo, item, previous, result, before)
        finally:
            result.stats.notes.extend(paths.notes)

    return run("staged", options, body)


def _keep_added(repo: StagedRepo, blob: Blob, previous: Previous, result: ScanResult, first: int) -> None:
    """Keep only the findings (from ``first`` on) that start in the bytes the change adds to a
    modified file; their origin then carries those ranges."""
    data = prepare(blob.data)
    if not isinstance(data, bytes):
        return  # binary (an archive, a compiled file): its findings came from inside, scanned whole
    old = prepare(previous.data)
    # The old version counts as text whatever it holds: only the added ranges are wanted.
    old_text = old if isinstance(old, bytes) else previous.data
    if data is blob.data and old_text is previous.data:  # bytes as stored: git diffs the blobs
        changed = added_lines(repo, previous.old_id, previous.new_id, data)
    else:  # decoded (UTF-16, a BOM dropped): the decoded texts are compared, by libgit2
        from leakscan.sources.git import added_ranges

        changed = added_ranges(old_text, data)
    origin = StagedOrigin(blob.path, tuple(changed))
    result.findings[first:] = [
        replace(f, origin=wrap_origin(origin, f.match.layer))
        for f in result.findings[first:]
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
