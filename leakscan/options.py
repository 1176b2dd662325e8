"""ScanOptions: every setting of a scan, in one frozen value."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from msgspec import Struct, field
from msgspec.structs import force_setattr

from leakscan.errors import UsageError

if TYPE_CHECKING:
    from leakscan.baseline import Baseline

DEFAULT_DECODE_DEPTH = 3
MAX_DECODE_DEPTH = 10
DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?))?B?\s*$", re.IGNORECASE)
_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}
_USER_INFO = re.compile(r"^(\s*(?:[^:/?#]*://)?)([^/?#@]*:[^/?#]*)@")

CLOUD_URLS = ("https://sonarcloud.io", "https://sonarqube.us")


class ValidationConfig(Struct, frozen=True):
    """Settings of the live check (``leakscan/validate.py``); its presence turns validation on.

    ``cloud_urls`` are tried in order for SonarQube Cloud tokens, ``sonar_urls`` for SonarQube
    Server tokens. Every URL must be HTTPS, or plain HTTP on a loopback address. At most
    ``max_requests`` requests are sent and the whole check ends ``deadline`` seconds after it
    starts; tokens left then are ``unknown`` (validation budget exhausted).
    """

    cloud_urls: tuple[str, ...] = CLOUD_URLS
    sonar_urls: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    timeout: float = 10.0
    concurrency: int = 4
    rate: float = 5.0
    max_retries: int = 2
    backoff: float = 1.0
    max_retry_after: float = 30.0
    max_requests: int = 500
    deadline: float = 120.0
    progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        force_setattr(self, "cloud_urls", tuple(check_base_url(u) for u in self.cloud_urls))
        force_setattr(self, "sonar_urls", tuple(check_base_url(u) for u in self.sonar_urls))
        for name in ("timeout", "rate", "deadline"):
            if not getattr(self, name) > 0:
                raise UsageError(f"validation {name} must be > 0, not {getattr(self, name)!r}")
        if self.concurrency < 1 or self.max_retries < 0 or self.max_requests < 0:
            raise UsageError("validation concurrency must be >= 1, retries and max requests >= 0")


class ScanOptions(Struct, frozen=True):
    """What to scan and how. Paths may include '-' for standard input; workers 0 = one per core."""

    paths: tuple[str, ...] = (".",)
    extra_rules: tuple[Path, ...] = ()
    disable_rules: tuple[str, ...] = ()
    use_ignore_files: bool = True
    exclude: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    scan_large_files: bool = False
    decode_depth: int = DEFAULT_DECODE_DEPTH  # nested encodings and archives opened; 0 = off
    allow_secrets: frozenset[str] = field(default_factory=frozenset)
    workers: int = 0
    validation: ValidationConfig | None = None
    baseline: Baseline | None = None


class HistoryOptions(Struct, frozen=True):
    """What part of a repository's history to scan. ``workers`` 0 means automatic.

    ``skip_blobs``: raw 20-byte ids of blobs not to scan again (an incremental audit's blobs
    already scanned without a match under the same rules); they are counted, not scanned.
    """

    repo: str = "."
    branches: tuple[str, ...] = ()
    since_commit: str | None = None
    max_commits: int | None = None
    workers: int = 0
    skip_blobs: Container[bytes] | None = None


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


def check_size_limit(size: int, shown: object) -> int:
    """A ``max_file_size`` must be at least one byte: 0 would skip everything (it does not mean
    "no limit"; ``--large-files scan`` streams big files instead)."""
    if size < 1:
        raise UsageError(
            f"invalid size {shown!r}: must be at least 1 byte (0 is not 'no limit': "
            "files over the limit are listed as skipped, or streamed with --large-files scan)"
        )
    return size


def check_base_url(url: str) -> str:
    """A validation host URL without trailing slash; HTTPS, or HTTP only on a loopback address.

    Messages show the URL with any password masked.
    """
    shown = repr(mask_password(url))
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        raise UsageError(f"invalid URL {shown}: {exc}") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise UsageError(f"invalid URL {shown}: expected https://HOST[:PORT][/PATH]")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise UsageError(f"invalid URL {shown}: no user info, query or fragment allowed")
    if parts.scheme == "http" and not is_loopback(host):
        raise UsageError(
            f"invalid URL {shown}: plain http:// is only allowed for loopback addresses "
            "(127.0.0.0/8, ::1, localhost); use https://"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def mask_password(url: str) -> str:
    """``url`` with the password of its user info (``user:password@``) replaced by ``***``."""
    return _USER_INFO.sub(lambda m: m.group(1) + m.group(2).split(":", 1)[0] + ":***@", url)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
