"""Files, folders and standard input through the engine; large trees across the worker pool."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from leakscan.content import Kind
from leakscan.detect import Detector, detect_stream
from leakscan.engine import (
    STREAM_CHUNK,
    STREAM_OVERLAP,
    Engine,
    count_known_examples,
    fingerprint,
    run,
)
from leakscan.layered import LayeredDetector
from leakscan.models import Failed, FileOrigin, Match, MatchRecord, ScanResult, Skipped
from leakscan.options import ScanOptions
from leakscan.parallel import Lost, default_workers, map_batches
from leakscan.rules import Rule
from leakscan.sources.files import FileRef, FileWalker, open_stream, read_file
from leakscan.sources.stdin import StdinSource, is_stream, named_stream

__all__ = ["Scanner", "fingerprint", "scan"]

# Below this much data, forking workers costs more than it saves.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 4 * 1024 * 1024
WORKER_LOST = "<worker>"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What scanning one file gave. ``matches`` are Match objects in this process and
    MatchRecords (rule by id: cheap to pickle) when they come back from a worker."""

    index: int
    scanned_bytes: int
    problem: Skipped | Failed | None
    matches: tuple[Match, ...] | tuple[MatchRecord, ...]
    errors: tuple[str, ...]
    suppressed: int = 0
    known_examples: int = 0
    skips: tuple[tuple[str, str], ...] = ()  # layers left closed: (path suffix, reason)


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
    """What each worker needs to scan files; reaches workers through fork. ``portable``: send
    matches back as MatchRecords (they cross a process boundary)."""

    detector: Detector
    layered: LayeredDetector
    max_file_size: int
    portable: bool = False


def scan_file_batch(state: FileScanState, batch: list[tuple[int, FileRef]]) -> list[FileOutcome]:
    """Read and scan each file of a batch (runs in a worker process or in this one)."""
    outcomes = []
    for index, ref in batch:
        if ref.size > state.max_file_size:
            outcomes.append(_scan_large_file(state, index, ref))
            continue
        item = read_file(ref, state.max_file_size)
        if isinstance(item, Skipped | Failed):
            outcomes.append(FileOutcome(index, 0, item, (), ()))
            continue
        examined = state.layered.examine(item.data)
        if isinstance(examined, Kind):
            outcomes.append(FileOutcome(index, 0, Skipped(ref.path, examined.value), (), ()))
            continue
        outcomes.append(
            FileOutcome(
                index,
                examined.scanned_bytes,
                None,
                _carry(state, examined.matches),
                tuple(examined.errors),
                examined.suppressed,
                examined.known_examples,
                tuple(examined.skips),
            )
        )
    return outcomes


def _carry(state: FileScanState, matches: list[Match]) -> tuple[Match, ...] | tuple[MatchRecord, ...]:
    return tuple(MatchRecord.of(m) for m in matches) if state.portable else tuple(matches)


def _scan_large_file(state: FileScanState, index: int, ref: FileRef) -> FileOutcome:
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
        detection = detect_stream(state.detector, counting_read, STREAM_CHUNK, STREAM_OVERLAP)
    except OSError as exc:
        return FileOutcome(index, 0, Failed(ref.path, f"cannot read: {exc.strerror or exc}"), (), ())
    finally:
        os.close(fd)
    matches, errors = _carry(state, detection.matches), tuple(detection.errors)
    return FileOutcome(
        index, total, None, matches, errors, len(detection.suppressed), detection.known_examples
    )


class Scanner(Engine):
    """The engine, plus reading files across the worker pool."""

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
        state = FileScanState(self.detector, self.layered, self.options.max_file_size, portable=workers > 1)
        for outcomes in map_batches(scan_file_batch, state, batches, workers):
            if isinstance(outcomes, Lost):
                self._lost(outcomes, result)
                continue
            for outcome in outcomes:
                self._merge(refs[outcome.index], outcome, result)

    @staticmethod
    def _lost(lost: Lost[list[tuple[int, FileRef]]], result: ScanResult) -> None:
        """A worker died: its files failed, and the scan stopped (files not reached are unscanned)."""
        result.errors.extend(Failed(ref.path, lost.reason) for _, ref in lost.batch)
        if not any(e.path == WORKER_LOST for e in result.errors):
            result.errors.append(Failed(WORKER_LOST, f"{lost.reason}: scan stopped, later files not scanned"))

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
        result.skipped.extend(Skipped(ref.path + where, reason) for where, reason in outcome.skips)
        matches = (
            m if isinstance(m, Match) else m.to_match(self.rules_by_id[m.rule_id]) for m in outcome.matches
        )
        self.add_matches(matches, FileOrigin(ref.path, ref.key_path), result)


def scan(
    options: ScanOptions, *, rules: list[Rule] | None = None, stdin: BinaryIO | None = None
) -> ScanResult:
    """Scan the paths in ``options`` ('-' is standard input) and return everything found."""
    scanner = Scanner(options, rules)
    seen: set[tuple[int, int]] = set()  # files already found through another path argument

    def body(result: ScanResult) -> None:
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
                if any(e.path == WORKER_LOST for e in result.errors):
                    return

    return run("scan", options, body)


def _count_ignored(walker: FileWalker, result: ScanResult) -> None:
    extra = result.stats.extra
    extra["ignored_files"] = extra.get("ignored_files", 0) + walker.ignored_files
    extra["ignored_folders"] = extra.get("ignored_folders", 0) + walker.ignored_folders
