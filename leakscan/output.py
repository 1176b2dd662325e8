"""Writing reports and baselines to files: atomically when the target is a regular file."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from leakscan.errors import LeakscanError

STDOUT = "-"


def write_atomically(target: Path, text: str, what: str = "report") -> None:
    """Write ``text`` to ``target``. ``-`` is standard output. A missing or regular file (or the
    file a symlink points to) is replaced atomically: a temporary file in its folder is renamed
    over it, so a full disk or a crash leaves the old file (or none), never a truncated one. A
    FIFO, device or other non-regular file is opened and written in place, never replaced."""
    if str(target) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(os.path.realpath(target)) if target.is_symlink() else target
    try:
        mode = target.stat().st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        _write_in_place(target, text, what)
        return
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


def _write_in_place(target: Path, text: str, what: str) -> None:
    """A FIFO or device: open it for writing (no rename, no temporary file)."""
    try:
        with target.open("w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
    except OSError as exc:
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
