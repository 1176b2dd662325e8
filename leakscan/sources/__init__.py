"""Sources yield what there is to scan; every input they pass over is reported, never dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from leakscan.models import Blob, Failed, Skipped

SourceItem = Blob | Skipped | Failed


class Source(Protocol):
    """Anything that yields blobs, and a Skipped or Failed record for each input it can't scan."""

    def __iter__(self) -> Iterator[SourceItem]: ...
