"""Standard input, or a pipe or device named on the command line, as one blob."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from leakscan.models import STDIN_PATH, Blob, Failed, Skipped, StdinOrigin
from leakscan.sources import SourceItem

__all__ = ["STDIN_PATH", "StdinSource", "is_stream", "named_stream"]


def is_stream(path: str) -> bool:
    """Whether ``path`` names a pipe, socket or character device (``<(cmd)``, ``/dev/stdin``),
    which is read to its end like standard input rather than walked."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


class StdinSource:
    """Reads a binary stream to its end (at most ``max_size`` bytes) and yields it as one blob;
    a longer stream is skipped as too large, without holding more than ``max_size + 1`` bytes."""

    def __init__(self, stream: BinaryIO, max_size: int, path: str = STDIN_PATH) -> None:
        self.stream = stream
        self.max_size = max_size
        self.path = path

    def __iter__(self) -> Iterator[SourceItem]:
        try:
            data = self.stream.read(self.max_size + 1)
        except OSError as exc:
            yield Failed(self.path, f"cannot read: {exc.strerror or exc}")
            return
        if len(data) > self.max_size:
            yield Skipped(self.path, f"too large (more than {self.max_size} bytes)")
            return
        yield Blob(StdinOrigin(self.path), data)


def named_stream(path: str, max_size: int) -> Iterator[SourceItem]:
    """The pipe or device at ``path`` read as a stream (see ``is_stream``)."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below, after the source is consumed
    except OSError as exc:
        yield Failed(path, f"cannot open: {exc.strerror or exc}")
        return
    with stream:
        yield from StdinSource(stream, max_size, path)
