"""The one pipeline every source goes through:

    source → content → extract → detect → judge → allow-list → [attribution, git] → baseline
           → validate → ScanResult

``Engine`` holds the compiled rules of one scan and turns blobs into findings; ``run`` is the
skeleton every kind of scan shares (timer, Ctrl-C, the stages after detection). The drivers of
each kind of input (``scan``, ``staged``, ``history``) feed it.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from msgspec import Struct

from leakscan.baseline import Baseline, split_findings
from leakscan.content import SNIFF_BYTES, Kind, decoded_reader, sniff, to_scannable
from leakscan.detect import detect_stream
from leakscan.examples import load_checked_rules
from leakscan.extract import Limits
from leakscan.layered import Examined, LayeredDetector
from leakscan.models import (
    KNOWN_EXAMPLES_KEY,
    Blob,
    CommitInfo,
    Failed,
    Finding,
    Liveness,
    Match,
    MatchRecord,
    Origin,
    Outcome,
    Reader,
    ScanResult,
    Skipped,
    Unreadable,
    wrap_origin,
)
from leakscan.options import ScanOptions
from leakscan.rules import Rule
from leakscan.sources import Source

# Files (and staged blobs) too large to hold are streamed in chunks that overlap by far more than
# any rule's match and context.
STREAM_CHUNK = 8 * 1024 * 1024
STREAM_OVERLAP = 64 * 1024
# What the content policy skips, whatever the source.
NOT_SCANNED = (Kind.BINARY, Kind.LFS_POINTER)
# ``examine_many`` takes the keyword pass over files up to this size together; a larger file
# mostly holds a keyword somewhere, and would be scanned twice.
GROUPED_MAX_BYTES = 64 * 1024


def fingerprint(rule_id: str, stable_path: str, secret_sha256: str) -> str:
    """Stable across runs and machines, survives lines moving, reveals nothing of the secret."""
    text = f"{rule_id}\0{stable_path}\0{secret_sha256}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def make_finding(
    match: Match,
    origin: Origin,
    *,
    commit: CommitInfo | None = None,
    commits_count: int | None = None,
    present_at_head: bool | None = None,
    in_stash_only: bool = False,
) -> Finding:
    """The one place a Finding is made: its fingerprint comes from the origin's stable path (with
    the archive members and encodings the match was found through)."""
    origin = wrap_origin(origin, match.layer)
    return Finding(
        match=match,
        origin=origin,
        fingerprint=fingerprint(match.rule.id, origin.stable_path, match.secret.sha256),
        commit=commit,
        commits_count=commits_count,
        present_at_head=present_at_head,
        in_stash_only=in_stash_only,
    )


def prepare(data: bytes) -> bytes | Kind:
    """The content policy, alike for every source: the bytes the detector reads (UTF-16 as
    UTF-8, no BOM), or the Kind that is not scanned (binary, Git LFS pointer)."""
    kind = sniff(data)
    if kind in NOT_SCANNED:
        return kind
    return to_scannable(data, kind)


class Allowed(Struct, frozen=True):
    """The allow-list: secrets (by SHA-256) that are never findings."""

    hashes: frozenset[str]

    def keep(self, matches: Iterable[Match]) -> list[Match]:
        hashes = self.hashes
        if not hashes:
            return list(matches)
        return [m for m in matches if m.secret.sha256 not in hashes]


def outcome_of(examined: Examined, size: int) -> Outcome:
    return Outcome(
        tuple(examined.matches),
        tuple(examined.errors),
        tuple(examined.skips),
        examined.scanned_bytes,
        examined.suppressed,
        examined.known_examples,
        size=size,
    )


class Engine:
    """The compiled rules and detector of one scan, and the stages from content to findings."""

    def __init__(
        self, options: ScanOptions, rules: list[Rule] | None = None, *, keyword_engine: str = "auto"
    ) -> None:
        self.options = options
        self.rules = (
            rules
            if rules is not None
            else load_checked_rules(options.extra_rules, disable=options.disable_rules)
        )
        self.rules_by_id = {rule.id: rule for rule in self.rules}
        self.layered = LayeredDetector(self.rules, Limits(depth=options.decode_depth), keyword_engine)
        self.detector = self.layered.detector
        self.allowed = Allowed(options.allow_secrets)

    def examine(self, blob: Blob) -> Outcome:
        """Read (a blob over ``max_file_size`` is streamed), apply the content policy, detect in
        the blob and in what it holds. Runs where the blob is read: a worker, or this process."""
        if blob.reader is not None and blob.reader.size > self.options.max_file_size:
            return self.examine_stream(blob.reader)
        loaded = blob.load(self.options.max_file_size)
        if isinstance(loaded, Skipped):
            return Outcome(skipped=loaded.reason)
        if isinstance(loaded, Failed):
            return Outcome(failed=loaded.error)
        return self.examine_bytes(loaded.data)

    def examine_many(self, blobs: Sequence[Blob]) -> Iterator[Outcome]:
        """``examine`` for each blob, in order. The small ones are read first, and one keyword
        pass over their texts (``may_hold``) picks those that can hold anything; the others are
        plain text without a keyword or trigger, only counted (~2.5 us a file less)."""
        grouped = min(self.options.max_file_size, GROUPED_MAX_BYTES)
        held = [self._held(blob, grouped) if blob.size <= grouped else None for blob in blobs]
        texts = [(index, item) for index, item in enumerate(held) if isinstance(item, bytes)]
        kept = {texts[at][0] for at in self.may_hold([data for _, data in texts])}
        for index, (blob, item) in enumerate(zip(blobs, held, strict=True)):
            if item is None:
                yield self.examine(blob)
            elif isinstance(item, Outcome):
                yield item
            elif index in kept:
                yield self.examine_bytes(item)
            else:
                yield Outcome(scanned_bytes=len(item), size=len(item))

    def _held(self, blob: Blob, grouped: int) -> bytes | Outcome:
        """A small blob's bytes, or its outcome when it cannot be read, or when it grew past
        ``grouped`` since it was listed (examined at once: a batch never holds more than its
        listed sizes)."""
        loaded = blob.load(self.options.max_file_size)
        if isinstance(loaded, Skipped):
            return Outcome(skipped=loaded.reason)
        if isinstance(loaded, Failed):
            return Outcome(failed=loaded.error)
        return loaded.data if len(loaded.data) <= grouped else self.examine_bytes(loaded.data)

    def examine_bytes(self, data: bytes) -> Outcome:
        """``examine`` for bytes already held."""
        examined = self.layered.examine(data)
        if isinstance(examined, Kind):
            return Outcome(skipped=examined.value, size=len(data))
        return outcome_of(examined, len(data))

    def may_hold(self, buffers: Sequence[bytes]) -> list[int]:
        """The indices (ascending) of the ``buffers`` that ``examine_bytes`` could find anything
        in; the others are plain text without a keyword or trigger, which examines to nothing.
        One keyword pass over the text buffers joined, instead of one per buffer."""
        kept: set[int] = set()
        texts: list[int] = []
        starts: list[int] = []
        offset = 0
        for index, data in enumerate(buffers):
            if sniff(data) is not Kind.TEXT:
                kept.add(index)
                continue
            texts.append(index)
            starts.append(offset)
            offset += len(data) + 1
        if not texts:
            return sorted(kept)
        joined = b"\n".join(buffers[index] for index in texts)
        # A hit starts inside the buffer that holds it; one across a joint only keeps one more.
        kept.update(
            texts[bisect.bisect_right(starts, at) - 1] for at in self.detector.keywords.offsets(joined)
        )
        return sorted(kept)

    def examine_stream(self, reader: Reader) -> Outcome:
        """A blob too large to hold, read in overlapping chunks: the content policy on its head,
        then the detector (not the extract stage) on the text."""
        read_bytes = 0
        try:
            with reader.stream() as read:
                head = read(SNIFF_BYTES)
                kind = sniff(head)
                if kind in NOT_SCANNED:
                    return Outcome(skipped=kind.value)
                pending = [head]

                def read_raw(size: int) -> bytes:  # the sniffed head first, then the rest
                    nonlocal read_bytes
                    first = pending.pop() if pending else b""
                    data = first + read(size - len(first)) if size > len(first) else first
                    read_bytes += len(data)
                    return data

                detection = detect_stream(
                    self.detector, decoded_reader(kind, read_raw), STREAM_CHUNK, STREAM_OVERLAP
                )
        except Unreadable as problem:
            return Outcome(skipped=problem.reason) if problem.skip else Outcome(failed=problem.reason)
        return Outcome(
            tuple(detection.matches),
            tuple(detection.errors),
            scanned_bytes=read_bytes,
            suppressed=len(detection.suppressed),
            known_examples=detection.known_examples,
            size=read_bytes,
        )

    def add_outcome(self, outcome: Outcome, origin: Origin, result: ScanResult) -> None:
        """Keep what scanning one blob gave: counts, what was not scanned, findings."""
        if outcome.skipped is not None:
            result.skipped.append(Skipped(origin.path, outcome.skipped))
            return
        if outcome.failed is not None:
            result.errors.append(Failed(origin.path, outcome.failed))
            return
        stats = result.stats
        stats.count_scanned(outcome.scanned_bytes)
        if not outcome.notable:  # most files: nothing else to keep
            return
        stats.suppressed += outcome.suppressed
        result.count_known_examples(outcome.known_examples)
        result.errors.extend(Failed(origin.path, error) for error in outcome.errors)
        result.skipped.extend(Skipped(origin.path + where, reason) for where, reason in outcome.skips)
        self.add_matches(self.resolve(outcome.matches), origin, result)

    def resolve(self, matches: Iterable[Match | MatchRecord]) -> Iterator[Match]:
        """Matches as Match objects again (MatchRecords came from another process)."""
        by_id = self.rules_by_id
        for m in matches:
            yield m if isinstance(m, Match) else m.to_match(by_id[m.rule_id])

    def add_matches(self, matches: Iterable[Match], origin: Origin, result: ScanResult) -> None:
        """Turn matches into findings, dropping allow-listed secrets."""
        result.findings.extend(make_finding(match, origin) for match in self.allowed.keep(matches))

    def scan_blob(self, blob: Blob, result: ScanResult) -> None:
        """Examine one blob here and keep what it gave."""
        self.add_outcome(self.examine(blob), blob.origin, result)

    def consume(self, items: Source, result: ScanResult) -> None:
        """Scan every blob of a source; keep what it could not scan."""
        for item in items:
            if isinstance(item, Blob):
                self.scan_blob(item, result)
            else:
                result.record(item)


def run(kind: str, options: ScanOptions, body: Callable[[ScanResult], None]) -> ScanResult:
    """The skeleton of every scan: ``body`` fills the result (Ctrl-C or SIGTERM keep what it has
    found so far, marked interrupted), then baseline and validation, then the duration."""
    started = time.perf_counter()
    result = ScanResult(kind=kind)
    try:
        body(result)
    except KeyboardInterrupt:
        result.interrupted = True
    finalize(result, options)
    result.stats.duration_s = time.perf_counter() - started
    return result


def finalize(result: ScanResult, options: ScanOptions) -> None:
    """The stages after detection, shared by every kind of scan (files, stdin, staged, history).

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
