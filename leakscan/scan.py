"""The pipeline: sources → detect → plausibility → allow-lists → ScanResult."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable
from typing import BinaryIO

from leakscan.baseline import Baseline, split_findings
from leakscan.detect import Detector
from leakscan.models import Blob, Failed, Finding, Match, ScanResult, Skipped
from leakscan.options import ScanOptions
from leakscan.rules import Rule, load_rules
from leakscan.sources import SourceItem
from leakscan.sources.files import FileSource, FileWalker
from leakscan.sources.stdin import StdinSource


def fingerprint(rule_id: str, stable_path: str, secret_sha256: str) -> str:
    """Stable across runs and machines, survives lines moving, reveals nothing of the secret."""
    text = f"{rule_id}\0{stable_path}\0{secret_sha256}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def finding_from_match(match: Match, blob: Blob) -> Finding:
    return Finding(
        match=match,
        path=blob.path,
        fingerprint=fingerprint(match.rule.id, blob.stable_path, match.secret.sha256),
        key_path=blob.stable_path,
    )


class Scanner:
    """Holds the compiled rules and detector for one scan."""

    def __init__(self, options: ScanOptions, rules: list[Rule] | None = None) -> None:
        self.options = options
        self.rules = rules if rules is not None else load_rules(
            options.extra_rules, disable=options.disable_rules
        )
        self.detector = Detector(self.rules)

    def scan_blob(self, blob: Blob, result: ScanResult) -> None:
        """Detect in one blob and add its findings and regex errors to ``result``."""
        detection = self.detector.detect(blob.data)
        result.stats.files_scanned += 1
        result.stats.bytes_scanned += len(blob.data)
        for error in detection.errors:
            result.errors.append(Failed(blob.path, error))
        allowed = self.options.allow_secrets
        for match in detection.matches:
            if match.secret.sha256 in allowed:
                continue
            result.findings.append(finding_from_match(match, blob))

    def consume(self, items: Iterable[SourceItem], result: ScanResult) -> None:
        for item in items:
            if isinstance(item, Blob):
                self.scan_blob(item, result)
            elif isinstance(item, Skipped):
                result.skipped.append(item)
            else:
                result.errors.append(item)


def scan(
    options: ScanOptions, *, rules: list[Rule] | None = None, stdin: BinaryIO | None = None
) -> ScanResult:
    """Scan the paths in ``options`` ('-' is standard input) and return everything found."""
    started = time.perf_counter()
    scanner = Scanner(options, rules)
    result = ScanResult()
    try:
        for path in options.paths:
            if path == "-":
                stream = stdin if stdin is not None else sys.stdin.buffer
                scanner.consume(StdinSource(stream), result)
            else:
                walker = FileWalker(
                    [path],
                    use_ignore_files=options.use_ignore_files,
                    exclude=options.exclude,
                    max_file_size=options.max_file_size,
                )
                scanner.consume(FileSource(walker), result)
    except KeyboardInterrupt:
        result.interrupted = True
    finalize(result, options)
    result.stats.duration_s = time.perf_counter() - started
    return result


def finalize(result: ScanResult, options: ScanOptions) -> None:
    """The stages after detection, shared by every kind of scan (files, stdin, staged, history).

    Later stages (baseline, validation) plug in here so that every command applies them alike.
    The baseline comes first, so that accepted findings are never sent for validation.
    """
    if options.baseline is not None:
        apply_baseline(result, options.baseline)
    result.findings.sort(key=lambda f: (f.path, f.match.line, f.match.column, f.rule.id))


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
