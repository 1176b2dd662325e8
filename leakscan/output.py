"""Writing reports and baselines to files atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from leakscan.errors import LeakscanError


def write_atomically(target: Path, text: str, what: str = "report") -> None:
    """Write ``text`` to a temporary file in ``target``'s folder, then rename it over
    ``target``: a full disk or a crash leaves the old file (or none), never a truncated one."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise LeakscanError(f"{target}: cannot write {what}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _keep_mode(target, temporary)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise LeakscanError(f"{target}: cannot write {what}: {exc.strerror or exc}") from exc


def _keep_mode(target: Path, temporary: str) -> None:
    """A replaced file keeps its permissions; a new one gets the usual ones (umask)."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temporary, mode)
