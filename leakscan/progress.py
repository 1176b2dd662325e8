"""Progress lines on a terminal's stderr: history blobs and validated tokens."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from leakscan.report.text_report import human_size

if TYPE_CHECKING:
    from leakscan.sources.history import Progress

MIN_TOKENS = 5


def is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


SPINNER = "|/-\\"


class ProgressBar:
    """Blobs done / total, bytes and rate on one line, redrawn at most ten times a second. Until
    the tree walk has found every blob, the total is not known: a spinner, not a bar."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._drawn = 0.0
        self._shown = False
        self._turns = 0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and progress.blobs_done < progress.blobs_total:
            return
        self._drawn = now
        rate = progress.bytes_done / max(now - self._started, 1e-6)
        sizes = f"{human_size(progress.bytes_done)}, {human_size(rate)}/s"
        if not progress.total_known:
            self._turns += 1
            spin = SPINNER[self._turns % len(SPINNER)]
            self._stream.write(f"\r[{spin}] {progress.blobs_done} blobs, still walking trees, {sizes}\033[K")
        else:
            total = max(progress.blobs_total, 1)
            filled = int(24 * progress.blobs_done / total)
            self._stream.write(
                f"\r[{'#' * filled}{'.' * (24 - filled)}] "
                f"{progress.blobs_done}/{progress.blobs_total} blobs, {sizes}\033[K"
            )
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


def token_progress(stream: TextIO) -> Callable[[int, int], None] | None:
    """Validation progress on a terminal, when more than a handful of tokens are checked."""
    if not is_terminal(stream):
        return None

    def show(done: int, total: int) -> None:
        if total <= MIN_TOKENS:
            return
        stream.write(f"\rleakscan: validating {done}/{total} token(s)")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show
