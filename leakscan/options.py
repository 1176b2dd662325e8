"""ScanOptions: every setting of a scan, in one frozen value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from leakscan.errors import UsageError

if TYPE_CHECKING:
    from leakscan.baseline import Baseline

DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and how. Paths may include '-' for standard input."""

    paths: tuple[str, ...] = (".",)
    extra_rules: tuple[Path, ...] = ()
    disable_rules: tuple[str, ...] = ()
    use_ignore_files: bool = True
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    allow_secrets: frozenset[str] = field(default_factory=frozenset)
    baseline: Baseline | None = None


def parse_size(text: str) -> int:
    """'1048576', '10MB' (10**6 bytes) or '10MiB' (2**20 bytes) → bytes."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"invalid size {text!r}: use a byte count or a number with KB/MB/GB/KiB/MiB/GiB")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    value = float(number) * base ** _POWERS[unit.upper()]
    if value != int(value):
        raise UsageError(f"invalid size {text!r}: not a whole number of bytes")
    return int(value)
