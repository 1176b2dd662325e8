"""Standard input as one blob."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from leakscan.models import STDIN_PATH, Blob, Failed, StdinOrigin
from leakscan.sources import SourceItem

__all__ = ["STDIN_PATH", "StdinSource"]


class StdinSource:
    """Reads a binary stream to the end and yields it as one blob."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[SourceItem]:
        try:
            data = self.stream.read()
        except OSError as exc:
            yield Failed(STDIN_PATH, f"cannot read: {exc.strerror or exc}")
            return
        yield Blob(StdinOrigin(), data)
