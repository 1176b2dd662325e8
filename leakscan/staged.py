"""Scanning what is about to be committed: the index version of added and modified files, keeping
only secrets that start in the bytes the staged change adds or modifies (unless whole files are
asked for)."""

from __future__ import annotations

from dataclasses import replace

from leakscan.content import SNIFF_BYTES, sniff
from leakscan.detect import detect_stream
from leakscan.engine import NOT_SCANNED, STREAM_CHUNK, STREAM_OVERLAP, Engine, prepare, run
from leakscan.examples import load_checked_rules
from leakscan.models import Blob, Failed, Finding, ScanResult, Skipped, StagedOrigin, wrap_origin
from leakscan.options import ScanOptions
from leakscan.rules import Rule
from leakscan.sources.files import decoded_reader
from leakscan.sources.gitindex import (
    LargeStagedFile,
    StagedFile,
    StagedRepo,
    added_lines,
    ignore_files,
    iter_staged,
    open_staged,
)
from leakscan.sources.pathfilter import PathFilter, in_ranges

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
    items = list(iter_staged(repo, options.max_file_size, keep))
    # A commit's few changed bytes are found faster by one bytes.find per keyword than by
    # compiling a Hyperscan database first (same offsets either way).
    staged_bytes = sum(len(i.data) if isinstance(i, StagedFile) else 0 for i in items)
    large = any(isinstance(i, LargeStagedFile) for i in items)
    small = staged_bytes <= SMALL_STAGED_BYTES and not large
    engine = Engine(options, rules, keyword_engine="python" if small else "auto")

    def body(result: ScanResult) -> None:
        try:
            for item in items:
                if isinstance(item, StagedFile):
                    _scan_file(engine, repo, item, whole_files, result)
                elif isinstance(item, LargeStagedFile):
                    _scan_large_file(engine, repo, item, result)
                else:
                    result.record(item)
        finally:
            result.stats.notes.extend(paths.notes)

    return run("staged", options, body)


def _scan_file(
    engine: Engine, repo: StagedRepo, item: StagedFile, whole_files: bool, result: ScanResult
) -> None:
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
    old_text = old if isinstance(old, bytes) else item.old
    if data is item.data and old_text is item.old:  # bytes as stored: git diffs the blobs themselves
        changed = added_lines(repo, item.old_id, item.new_id, data)
    else:  # decoded (UTF-16, a BOM dropped): the decoded texts are compared, by libgit2
        from leakscan.sources.git import added_ranges

        changed = added_ranges(old_text, data)
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


def _scan_large_file(engine: Engine, repo: StagedRepo, item: LargeStagedFile, result: ScanResult) -> None:
    """A staged file over ``--max-file-size`` is streamed and scanned whole (its HEAD version is
    not held to compare with), so a commit hook never lets a big file through unread. Rare, so
    libgit2 (its blob stream) is loaded only here."""
    import pygit2

    from leakscan.sources.git import ObjectError, open_blob_stream, open_repo

    try:
        with open_blob_stream(open_repo(repo.git_dir), pygit2.Oid(hex=item.oid)) as stream:
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
