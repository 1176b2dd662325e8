"""The pipeline: sources → detect → plausibility → allow-lists → ScanResult."""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from leakscan.baseline import Baseline, split_findings
from leakscan.detect import Detector, detect_stream
from leakscan.models import (
    Blob,
    Failed,
    Finding,
    Liveness,
    Match,
    MatchRecord,
    ScanResult,
    Skipped,
)
from leakscan.options import ScanOptions
from leakscan.parallel import default_workers, map_batches
from leakscan.rules import Rule, load_rules
from leakscan.sources import Source
from leakscan.sources.files import FileRef, FileWalker, open_stream, read_file
from leakscan.sources.stdin import StdinSource, is_stream, named_stream

# Below this much data, forking workers costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 4 * 1024 * 1024
# Files over --max-file-size are streamed (with --large-files=scan) in chunks that overlap by far
# more than any rule's match and context.
STREAM_CHUNK = 8 * 1024 * 1024
STREAM_OVERLAP = 64 * 1024


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What scanning one file gave, in a form that crosses process boundaries cheaply."""

    index: int
    scanned_bytes: int
    problem: Skipped | Failed | None
    matches: tuple[MatchRecord, ...]
    errors: tuple[str, ...]
    suppressed: int = 0
    known_examples: int = 0


KNOWN_EXAMPLES_KEY = "suppressed_known_example"


def fingerprint(rule_id: str, stable_path: str, secret_sha256: str) -> str:
    """Stable across runs and machines, survives lines moving, reveals nothing of the secret."""
    text = f"{rule_id}\0{stable_path}\0{secret_sha256}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def finding_from_match(match: Match, path: str, stable_path: str) -> Finding:
    return Finding(
        match=match,
        path=path,
        fingerprint=fingerprint(match.rule.id, stable_path, match.secret.sha256),
        key_path=stable_path,
    )


def _iter_batches(
    refs: list[FileRef], more: Iterator[FileRef], batch_bytes: int
) -> Iterator[list[tuple[int, FileRef]]]:
    """Batches of about ``batch_bytes``: first of ``refs``, then of ``more`` (appended to refs)."""
    batch: list[tuple[int, FileRef]] = []
    weight = 0
    for index, ref in enumerate(itertools.chain(list(refs), _appending(refs, more))):
        batch.append((index, ref))
        weight += ref.size + 4096
        if weight >= batch_bytes:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def _appending(refs: list[FileRef], more: Iterator[FileRef]) -> Iterator[FileRef]:
    for ref in more:
        refs.append(ref)
        yield ref


@dataclass(frozen=True, slots=True)
class FileScanState:
    """What each worker needs to scan files; reaches workers through fork."""

    detector: Detector
    max_file_size: int


def scan_file_batch(state: FileScanState, batch: list[tuple[int, FileRef]]) -> list[FileOutcome]:
    """Read and scan each file of a batch (runs in a worker process or in this one)."""
    outcomes = []
    for index, ref in batch:
        if ref.size > state.max_file_size:
            outcomes.append(_scan_large_file(state.detector, index, ref))
            continue
        item = read_file(ref, state.max_file_size)
        if not isinstance(item, Blob):
            outcomes.append(FileOutcome(index, 0, item, (), ()))
            continue
        detection = state.detector.detect(item.data)
        records = tuple(MatchRecord.of(m) for m in detection.matches)
        outcomes.append(
            FileOutcome(
                index,
                len(item.data),
                None,
                records,
                tuple(detection.errors),
                len(detection.suppressed),
                detection.known_examples,
            )
        )
    return outcomes


def _scan_large_file(detector: Detector, index: int, ref: FileRef) -> FileOutcome:
    """Stream a file larger than --max-file-size in overlapping chunks (--large-files=scan)."""
    opened = open_stream(ref)
    if not isinstance(opened, tuple):
        return FileOutcome(index, 0, opened, (), ())
    fd, read = opened
    total = 0

    def counting_read(size: int) -> bytes:
        nonlocal total
        data = read(size)
        total += len(data)
        return data

    try:
        detection = detect_stream(detector, counting_read, STREAM_CHUNK, STREAM_OVERLAP)
    except OSError as exc:
        return FileOutcome(index, 0, Failed(ref.path, f"cannot read: {exc.strerror or exc}"), (), ())
    finally:
        os.close(fd)
    records = tuple(MatchRecord.of(m) for m in detection.matches)
    return FileOutcome(
        index,
        total,
        None,
        records,
        tuple(detection.errors),
        len(detection.suppressed),
        detection.known_examples,
    )


class Scanner:
    """Holds the compiled rules and detector for one scan."""

    def __init__(self, options: ScanOptions, rules: list[Rule] | None = None) -> None:
        self.options = options
        self.rules = (
            rules if rules is not None else load_rules(options.extra_rules, disable=options.disable_rules)
        )
        self.rules_by_id = {rule.id: rule for rule in self.rules}
        self.detector = Detector(self.rules)

    def add_matches(self, matches: Iterable[Match], path: str, stable_path: str, result: ScanResult) -> None:
        """Turn matches into findings, dropping allow-listed secrets."""
        allowed = self.options.allow_secrets
        for match in matches:
            if match.secret.sha256 not in allowed:
                result.findings.append(finding_from_match(match, path, stable_path))

    def scan_blob(self, blob: Blob, result: ScanResult) -> None:
        """Detect in one blob and add its findings and regex errors to ``result``."""
        detection = self.detector.detect(blob.data)
        result.stats.files_scanned += 1
        result.stats.bytes_scanned += len(blob.data)
        result.stats.suppressed += len(detection.suppressed)
        result.errors.extend(Failed(blob.path, error) for error in detection.errors)
        count_known_examples(result, detection.known_examples)
        self.add_matches(detection.matches, blob.path, blob.stable_path, result)

    def consume(self, items: Source, result: ScanResult) -> None:
        for item in items:
            if isinstance(item, Blob):
                self.scan_blob(item, result)
            else:
                result.record(item)

    def scan_files(self, walker: FileWalker, result: ScanResult) -> None:
        """Read and detect while walking; fork workers once there is enough data to pay off."""
        refs: list[FileRef] = []
        walked = self._iter_refs(walker, result)
        pending = 0
        for ref in walked:
            refs.append(ref)
            pending += ref.size
            if pending >= PARALLEL_MIN_BYTES:
                break
        workers = self.options.workers or default_workers()
        if pending < PARALLEL_MIN_BYTES or workers <= 1:
            refs.extend(walked)
            # One file per batch in this process: each file's findings are kept as soon as it is
            # scanned, so Ctrl-C still reports what was found so far.
            batches: Iterable[list[tuple[int, FileRef]]] = [[item] for item in enumerate(refs)]
            workers = 1
        else:
            batches = _iter_batches(refs, walked, BATCH_BYTES)
        state = FileScanState(self.detector, self.options.max_file_size)
        for outcomes in map_batches(scan_file_batch, state, batches, workers):
            for outcome in outcomes:
                self._merge(refs[outcome.index], outcome, result)

    @staticmethod
    def _iter_refs(walker: FileWalker, result: ScanResult) -> Iterator[FileRef]:
        for item in walker:
            if isinstance(item, FileRef):
                yield item
            else:
                result.record(item)

    def _merge(self, ref: FileRef, outcome: FileOutcome, result: ScanResult) -> None:
        if outcome.problem is not None:
            result.record(outcome.problem)
            return
        result.stats.files_scanned += 1
        result.stats.bytes_scanned += outcome.scanned_bytes
        result.stats.suppressed += outcome.suppressed
        result.errors.extend(Failed(ref.path, error) for error in outcome.errors)
        count_known_examples(result, outcome.known_examples)
        matches = (record.to_match(self.rules_by_id[record.rule_id]) for record in outcome.matches)
        self.add_matches(matches, ref.path, ref.key_path, result)


def scan(
    options: ScanOptions, *, rules: list[Rule] | None = None, stdin: BinaryIO | None = None
) -> ScanResult:
    """Scan the paths in ``options`` ('-' is standard input) and return everything found."""
    started = time.perf_counter()
    scanner = Scanner(options, rules)
    result = ScanResult()
    seen: set[tuple[int, int]] = set()  # files already found through another path argument
    try:
        for path in options.paths:
            if path == "-":
                stream = stdin if stdin is not None else sys.stdin.buffer
                scanner.consume(StdinSource(stream, options.max_file_size), result)
            elif is_stream(path):
                scanner.consume(named_stream(path, options.max_file_size), result)
            else:
                walker = FileWalker(
                    [path],
                    use_ignore_files=options.use_ignore_files,
                    exclude=options.exclude,
                    max_file_size=options.max_file_size,
                    scan_large_files=options.scan_large_files,
                    seen=seen,
                )
                try:
                    scanner.scan_files(walker, result)
                finally:
                    _count_ignored(walker, result)
                result.stats.notes.extend(walker.notes)
    except KeyboardInterrupt:
        result.interrupted = True
    finalize(result, options)
    result.stats.duration_s = time.perf_counter() - started
    return result


def _count_ignored(walker: FileWalker, result: ScanResult) -> None:
    extra = result.stats.extra
    extra["ignored_files"] = extra.get("ignored_files", 0) + walker.ignored_files
    extra["ignored_folders"] = extra.get("ignored_folders", 0) + walker.ignored_folders


def count_known_examples(result: ScanResult, count: int) -> None:
    """Count public documentation example tokens that were suppressed (``suppressed: known example``)."""
    if count:
        result.stats.extra[KNOWN_EXAMPLES_KEY] = result.stats.extra.get(KNOWN_EXAMPLES_KEY, 0) + count


def finalize(result: ScanResult, options: ScanOptions) -> None:
    """The stages after detection, shared by every kind of scan (files, stdin, staged, history).

    Later stages (baseline, validation) plug in here so that every command applies them alike.
    The baseline comes first, so that accepted findings are never sent for validation.
    """
    if result.stats.extra.get(KNOWN_EXAMPLES_KEY):
        result.stats.notes.append(f"suppressed: known example: {result.stats.extra[KNOWN_EXAMPLES_KEY]}")
    if options.baseline is not None:
        apply_baseline(result, options.baseline)
    result.findings.sort(key=lambda f: (f.path, f.match.line, f.match.column, f.rule.id))
    result.skipped.sort(key=lambda s: s.path)
    result.errors.sort(key=lambda e: e.path)
    if options.validation is not None:
        from leakscan.validate import apply_validation  # imports httpx: only when asked for

        apply_validation(result, options.validation)
        result.findings.sort(key=lambda f: f.validation.status is not Liveness.LIVE)


def apply_baseline(result: ScanResult, baseline: Baseline) -> None:
    """Drop accepted findings; count suppressed findings and stale entries in stats and notes."""
    split = split_findings(baseline, result.findings)
    result.findings = split.new
    result.stats.extra["baseline_suppressed"] = len(split.suppressed)
    result.stats.extra["baseline_stale"] = len(split.stale)
    note = f"baseline {baseline.source}: {len(split.suppressed)} finding(s) suppressed"
    if split.stale:
        note += (
            f", {len(split.stale)} stale entr{'y' if len(split.stale) == 1 else 'ies'} "
            "(run `leakscan baseline prune` to remove them)"
        )
    result.stats.notes.append(note)
