"""ScanOptions: every setting of a scan, in one frozen value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from leakscan.errors import UsageError

DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?))?B?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and how. Paths may include '-' for standard input; workers 0 = one per core."""

    paths: tuple[str, ...] = (".",)
    extra_rules: tuple[Path, ...] = ()
    disable_rules: tuple[str, ...] = ()
    use_ignore_files: bool = True
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    scan_large_files: bool = False
    allow_secrets: frozenset[str] = field(default_factory=frozenset)
    workers: int = 0


def parse_size(text: str) -> int:
    """'1048576', '10MB' (10**6 bytes) or '10MiB' (2**20 bytes) → bytes."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"invalid size {text!r}: use a byte count or a number with KB/MB/GB/KiB/MiB/GiB")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    value = float(number) * base ** _POWERS[(unit or "").upper()]
    if value != int(value):
        raise UsageError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)
