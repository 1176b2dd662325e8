"""Standard input as one blob."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from leakscan.content import Kind, sniff, to_scannable
from leakscan.models import Blob, Failed, Skipped
from leakscan.sources import SourceItem

STDIN_PATH = "<stdin>"


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
        kind = sniff(data)
        if kind is Kind.BINARY:
            yield Skipped(STDIN_PATH, "binary")
            return
        yield Blob(STDIN_PATH, to_scannable(data, kind))
