"""Baseline files: accepted findings recorded by fingerprint, so that only new ones fail.

A baseline holds, per accepted finding, the rule id, the repository-relative path, the line (for
people reading the file) and the fingerprint (what matching uses). The fingerprint is a truncated
hash of rule id, path and the secret's SHA-256: it survives lines moving, changes when a different
secret appears in the same place, and cannot be turned back into the secret.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from msgspec import Struct

from leakscan.errors import BaselineError
from leakscan.models import Finding

BASELINE_VERSION = 1
TOOL_NAME = "leakscan"
# A baseline holds a few hundred bytes per accepted finding; anything larger is not one.
MAX_BASELINE_BYTES = 64 * 1024 * 1024
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")
_ENTRY_FIELDS: dict[str, type] = {"rule_id": str, "path": str, "line": int, "fingerprint": str}


class BaselineEntry(Struct, frozen=True, order=True):
    """One accepted finding. Field order is the sort order of the file."""

    path: str
    line: int
    rule_id: str
    fingerprint: str


class Baseline(Struct, frozen=True):
    """The accepted findings, and where they were read from (for messages)."""

    entries: tuple[BaselineEntry, ...]
    source: str = ""

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(entry.fingerprint for entry in self.entries)


class BaselineSplit(Struct, frozen=True):
    """Findings split by a baseline: new ones, suppressed ones, and entries nothing matched."""

    new: list[Finding]
    suppressed: list[Finding]
    stale: tuple[BaselineEntry, ...]


def entry_for(finding: Finding) -> BaselineEntry:
    return BaselineEntry(
        path=finding.stable_path,
        line=finding.match.line,
        rule_id=finding.rule.id,
        fingerprint=finding.fingerprint,
    )


def baseline_from_findings(findings: Iterable[Finding], source: str = "") -> Baseline:
    """A baseline that accepts exactly ``findings`` (duplicates collapse, order is canonical)."""
    return Baseline(tuple(sorted({entry_for(f) for f in findings})), source)


def split_findings(baseline: Baseline, findings: Iterable[Finding]) -> BaselineSplit:
    """Suppress findings whose fingerprint the baseline records; report entries left unmatched."""
    accepted = baseline.fingerprints
    new: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in findings:
        (suppressed if finding.fingerprint in accepted else new).append(finding)
    seen = {f.fingerprint for f in suppressed}
    stale = tuple(e for e in baseline.entries if e.fingerprint not in seen)
    return BaselineSplit(new, suppressed, stale)


def prune_baseline(baseline: Baseline, findings: Iterable[Finding]) -> Baseline:
    """Keep only the entries that still match a finding."""
    current = {f.fingerprint for f in findings}
    kept = tuple(e for e in baseline.entries if e.fingerprint in current)
    return Baseline(kept, baseline.source)


def render_baseline(baseline: Baseline) -> str:
    """Stable, diff-friendly JSON: sorted entries, sorted keys, two-space indent, final newline."""
    data = {
        "version": BASELINE_VERSION,
        "tool": TOOL_NAME,
        "entries": [
            {"fingerprint": e.fingerprint, "line": e.line, "path": e.path, "rule_id": e.rule_id}
            for e in sorted(baseline.entries)
        ],
    }
    import json

    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_baseline(path: Path) -> Baseline:
    """Read and check a baseline file; every problem is reported in one message."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except FileNotFoundError as exc:
        raise BaselineError(
            f"{path}: baseline file not found (create it with `leakscan baseline create`)"
        ) from exc
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BaselineError(f"{path}: baseline must be a regular file (not a pipe or device)")
            data = handle.read(MAX_BASELINE_BYTES + 1)
        except OSError as exc:
            raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from exc
    if len(data) > MAX_BASELINE_BYTES:
        raise BaselineError(f"{path}: baseline larger than {MAX_BASELINE_BYTES} bytes")
    return parse_baseline(data.decode("utf-8", errors="surrogateescape"), str(path))


def parse_baseline(text: str, source: str) -> Baseline:
    """Parse a baseline's text; raise BaselineError naming the file and every bad field."""
    import json  # only with a baseline: a scan without one does not import it

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{source}: not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BaselineError(f"{source}: not valid JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise BaselineError(f"{source}: must be a JSON object with 'version' and 'entries'")
    problems: list[str] = []
    for key in sorted(set(data) - {"version", "tool", "entries"}):
        problems.append(f"unknown field '{key}'")
    version = data.get("version")
    if "version" not in data:
        problems.append("field 'version': missing")
    elif not isinstance(version, int) or isinstance(version, bool):
        problems.append("field 'version': must be an integer")
    elif version > BASELINE_VERSION:
        problems.append(
            f"field 'version': {version} is newer than this leakscan supports "
            f"({BASELINE_VERSION}); upgrade leakscan"
        )
    elif version != BASELINE_VERSION:
        problems.append(f"field 'version': unsupported version {version}")
    if "tool" in data and not isinstance(data["tool"], str):
        problems.append("field 'tool': must be a string")
    entries = data.get("entries")
    parsed: list[BaselineEntry] = []
    if not isinstance(entries, list):
        problems.append("field 'entries': must be a list")
    else:
        for index, item in enumerate(entries):
            entry = _parse_entry(item, f"entries[{index}]", problems)
            if entry is not None:
                parsed.append(entry)
    if problems:
        raise BaselineError(f"{source}: " + "; ".join(problems))
    return Baseline(tuple(parsed), source)


def _parse_entry(item: Any, where: str, problems: list[str]) -> BaselineEntry | None:
    if not isinstance(item, dict):
        problems.append(f"field '{where}': must be an object")
        return None
    before = len(problems)
    for key in sorted(set(item) - _ENTRY_FIELDS.keys()):
        problems.append(f"field '{where}.{key}': unknown field")
    for key, kind in _ENTRY_FIELDS.items():
        value = item.get(key)
        if key not in item:
            problems.append(f"field '{where}.{key}': missing")
        elif not isinstance(value, kind) or isinstance(value, bool):
            expected = "an integer" if kind is int else "a string"
            problems.append(f"field '{where}.{key}': must be {expected}")
    if len(problems) > before:
        return None
    if not _FINGERPRINT.match(item["fingerprint"]):
        problems.append(f"field '{where}.fingerprint': must be 32 lowercase hex characters")
    if item["line"] < 1:
        problems.append(f"field '{where}.line': must be >= 1")
    if len(problems) > before:
        return None
    return BaselineEntry(item["path"], item["line"], item["rule_id"], item["fingerprint"])
