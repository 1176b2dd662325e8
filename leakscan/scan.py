"""Files, folders and standard input through the engine; large trees across the worker pool."""

from __future__ import annotations

import itertools
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from typing import BinaryIO, cast

from leakscan.engine import Engine, fingerprint, run
from leakscan.models import Blob, Failed, Outcome, ScanResult
from leakscan.options import ScanOptions
from leakscan.parallel import Lost, default_workers, map_batches
from leakscan.rules import Rule
from leakscan.sources.files import FileReader, FileWalker, file_blob
from leakscan.sources.stdin import StdinSource, is_stream, named_stream

__all__ = ["Scanner", "fingerprint", "scan"]

# Below this much work, forking workers costs more than it saves. A file weighs its size plus
# FILE_WEIGHT (its listing, opening and examining), so ~3,300 small files are enough. Measured
# on 2 cores, this process alone against two workers: generated text trees 24 MB 0.123 s vs
# 0.135 s, 48 MB 0.139 vs 0.143, 96 MB 0.170 vs 0.161, 544 MB 0.48 vs 0.35 (benchmarks/files.py);
# ansible's folders lib (672 files) 0.132 vs 0.152, test/integration (3,290) 0.242 vs 0.235,
# the whole tree (4,993) 0.306 vs 0.266.
# A file whose name says it is compressed or an archive weighs PACKED_WEIGHT times its size:
# opening one costs ~50 ns a byte (pip's tests/data/packages: a 2.35 MB wheel 118 ms, a 1.32 MB
# tarball 57 ms), reading text ~1 ns. Its name only schedules it: what it holds is found by
# content, whatever the name.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
FILE_WEIGHT = 20 * 1024
PACKED_WEIGHT = 32
PACKED_SUFFIXES = (
    ".zip", ".whl", ".egg", ".jar", ".war", ".ear", ".apk", ".aar", ".nupkg",
    ".gz", ".tgz", ".bz2", ".tbz2", ".xz", ".txz", ".tar", ".docx", ".xlsx", ".pptx", ".odt",
)  # fmt: skip
BATCH_BYTES = 4 * 1024 * 1024
LOCAL_BATCH_BYTES = 1024 * 1024  # in this process: what a Ctrl-C may leave unexamined
WORKER_LOST = "<worker>"


def _work(blob: Blob) -> int:
    """What examining ``blob`` costs, in bytes of text: its size, ``PACKED_WEIGHT`` times that
    when its name says it is compressed or an archive."""
    return blob.size * PACKED_WEIGHT if blob.path[-6:].lower().endswith(PACKED_SUFFIXES) else blob.size


def _batches(blobs: Iterable[Blob], batch_bytes: int) -> Iterator[list[Blob]]:
    """Consecutive runs of ``blobs`` of about ``batch_bytes`` (a file weighs its ``_work`` + 4 KiB)."""
    batch: list[Blob] = []
    weight = 0
    for blob in blobs:
        batch.append(blob)
        weight += _work(blob) + 4096
        if weight >= batch_bytes:
            yield batch
            batch, weight = [], 0
    if batch:
        yield batch


def _drained(blobs: deque[Blob]) -> Iterator[Blob]:
    """The blobs listed so far, each let go of once taken."""
    while blobs:
        yield blobs.popleft()


def _remembered(batches: Iterator[list[Blob]], sent: deque[list[Blob]]) -> Iterator[list[tuple[str, int]]]:
    """``batches``, each kept in ``sent`` as it is handed to the pool, which gets of each file
    only where it is and its listed size (a pickled Blob costs ~20 times as much to send)."""
    for batch in batches:
        sent.append(batch)
        yield [(reader.fs_path, reader.size) for reader in (cast(FileReader, blob.reader) for blob in batch)]


def examine_batch(engine: Engine, batch: list[tuple[str, int]]) -> list[Outcome | int]:
    """Read and examine each file of a batch in a worker process. A file with nothing to report
    (most of them) comes back as the bytes scanned, any other as its outcome (matches by rule id)."""
    blobs = [file_blob(path, path, path, size) for path, size in batch]
    return [
        outcome.scanned_bytes if outcome.plain else outcome.portable()
        for outcome in engine.examine_many(blobs)
    ]


class Scanner(Engine):
    """The engine, plus reading files across the worker pool."""

    def scan_files(self, walker: FileWalker, result: ScanResult) -> None:
        """Read and detect while walking; fork workers once there is enough data to pay off."""
        blobs: deque[Blob] = deque()
        walked = self._iter_blobs(walker, result)
        pending = 0
        for blob in walked:
            blobs.append(blob)
            pending += _work(blob) + FILE_WEIGHT
            if pending >= PARALLEL_MIN_BYTES:
                break
        workers = self.options.workers or default_workers()
        if pending < PARALLEL_MIN_BYTES or workers <= 1:
            # In this process, a batch at a time (one keyword pass over its small files), each
            # file's findings kept as soon as it is examined: Ctrl-C still reports them.
            for group in _batches(itertools.chain(_drained(blobs), walked), LOCAL_BATCH_BYTES):
                for blob, outcome in zip(group, self.examine_many(group), strict=True):
                    self.add_outcome(outcome, blob.origin, result)
            return
        # The pool answers in batch order: each answer is for the oldest batch sent. Only the
        # batches in flight are held here, not a record of every file.
        sent: deque[list[Blob]] = deque()
        batches = _batches(itertools.chain(_drained(blobs), walked), BATCH_BYTES)
        for outcomes in map_batches(examine_batch, self, _remembered(batches, sent), workers):
            batch = sent.popleft()
            if isinstance(outcomes, Lost):
                self._lost(batch, outcomes.reason, result)
                continue
            for blob, answer in zip(batch, outcomes, strict=True):
                if isinstance(answer, int):
                    result.stats.count_scanned(answer)
                else:
                    self.add_outcome(answer, blob.origin, result)

    @staticmethod
    def _lost(batch: list[Blob], reason: str, result: ScanResult) -> None:
        """A worker died: its files failed, and the scan stopped (files not reached are unscanned)."""
        result.errors.extend(Failed(blob.path, reason) for blob in batch)
        if not any(e.path == WORKER_LOST for e in result.errors):
            result.errors.append(Failed(WORKER_LOST, f"{reason}: scan stopped, later files not scanned"))

    @staticmethod
    def _iter_blobs(walker: FileWalker, result: ScanResult) -> Iterator[Blob]:
        for item in walker:
            if isinstance(item, Blob):
                yield item
            else:
                result.record(item)


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
