"""The one pipeline every source goes through:

    source → content → extract → detect → judge → allow-list → [attribution, git] → baseline
           → validate → ScanResult

``Engine`` holds the compiled rules of one scan and turns blobs into findings; ``run`` is the
skeleton every kind of scan shares (timer, Ctrl-C, the stages after detection). The drivers of
each kind of input (``scan``, ``staged``, ``history``) feed it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from leakscan.baseline import Baseline, split_findings
from leakscan.content import Kind, sniff, to_scannable
from leakscan.examples import load_checked_rules
from leakscan.extract import Limits
from leakscan.layered import Examined, LayeredDetector
from leakscan.models import (
    Blob,
    CommitInfo,
    Failed,
    Finding,
    Liveness,
    Match,
    Origin,
    ScanResult,
    Skipped,
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


def prepare_blob(blob: Blob | Skipped | Failed) -> Blob | Skipped | Failed:
    """``prepare`` for what a source yields: the scannable Blob, or a Skipped naming the kind
    (a Skipped or Failed passes through)."""
    if not isinstance(blob, Blob):
        return blob
    prepared = prepare(blob.data)
    if isinstance(prepared, Kind):
        return Skipped(blob.path, prepared.value)
    return blob if prepared is blob.data else Blob(blob.origin, prepared)


@dataclass(frozen=True, slots=True)
class Allowed:
    """The allow-list: secrets (by SHA-256) that are never findings."""

    hashes: frozenset[str]

    def keep(self, matches: Iterable[Match]) -> list[Match]:
        hashes = self.hashes
        if not hashes:
            return list(matches)
        return [m for m in matches if m.secret.sha256 not in hashes]


class Engine:
    """The compiled rules and detector of one scan, and the stages from content to findings."""

    def __init__(self, options: ScanOptions, rules: list[Rule] | None = None) -> None:
        self.options = options
        self.rules = (
            rules
            if rules is not None
            else load_checked_rules(options.extra_rules, disable=options.disable_rules)
        )
        self.rules_by_id = {rule.id: rule for rule in self.rules}
        self.layered = LayeredDetector(self.rules, Limits(depth=options.decode_depth))
        self.detector = self.layered.detector
        self.allowed = Allowed(options.allow_secrets)

    def add_matches(self, matches: Iterable[Match], origin: Origin, result: ScanResult) -> None:
        """Turn matches into findings, dropping allow-listed secrets."""
        result.findings.extend(make_finding(match, origin) for match in self.allowed.keep(matches))

    def scan_blob(self, blob: Blob, result: ScanResult) -> None:
        """Content policy, detect (in the blob and what it holds) and allow-list one blob; add
        its findings, regex errors and the layers a limit kept closed."""
        examined = self.layered.examine(blob.data)
        if isinstance(examined, Kind):
            result.record(Skipped(blob.path, examined.value))
            return
        self.add_examined(examined, blob.origin, result)

    def add_examined(self, examined: Examined, origin: Origin, result: ScanResult) -> None:
        """Count one examined input and keep what it gave."""
        result.stats.files_scanned += 1
        result.stats.bytes_scanned += examined.scanned_bytes
        result.stats.suppressed += examined.suppressed
        count_known_examples(result, examined.known_examples)
        result.errors.extend(Failed(origin.path, error) for error in examined.errors)
        result.skipped.extend(Skipped(origin.path + where, reason) for where, reason in examined.skips)
        self.add_matches(examined.matches, origin, result)

    def consume(self, items: Source, result: ScanResult) -> None:
        """Scan every blob of a source; keep what it could not scan."""
        for item in items:
            if isinstance(item, Blob):
                self.scan_blob(item, result)
            else:
                result.record(item)


KNOWN_EXAMPLES_KEY = "suppressed_known_example"


def count_known_examples(result: ScanResult, count: int) -> None:
    """Count public documentation example tokens that were suppressed (``suppressed: known example``)."""
    if count:
        result.stats.extra[KNOWN_EXAMPLES_KEY] = result.stats.extra.get(KNOWN_EXAMPLES_KEY, 0) + count


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
