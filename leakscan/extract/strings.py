"""Printable strings in binary data, like ``strings``: ASCII runs and UTF-16LE runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from leakscan.extract.decode import TriggerIndex
from leakscan.extract.layer import Layer, Step, StepKind

if TYPE_CHECKING:
    import regex


class StringsFinder:
    """Runs of at least ``min_length`` printable characters."""

    def __init__(self, min_length: int) -> None:
        self._ascii = re.compile(rb"[\x20-\x7e\t]{%d,}" % min_length)
        self._min_length = min_length
        self._utf16_pattern: regex.Pattern[bytes] | None = None

    @property
    def _utf16(self) -> regex.Pattern[bytes]:
        """UTF-16LE runs, compiled on first use (most scans meet no binary data). The same results
        from either module; ``regex`` is ~40x faster on this one, ``re`` on ASCII."""
        if self._utf16_pattern is None:
            import regex

            self._utf16_pattern = regex.compile(rb"(?:[\x20-\x7e\t]\x00){%d,}" % self._min_length)
        return self._utf16_pattern

    def found(self, data: bytes) -> bool:
        """Whether ``layer(data, …)`` has a run (it is not None)."""
        return self._ascii.search(data) is not None or self._utf16.search(data) is not None

    def layer(self, data: bytes, steps: tuple[Step, ...]) -> Layer | None:
        """One layer with each run on its own line (UTF-16LE runs as UTF-8), mapped back to
        ``data``; None when there is no run."""
        runs = [(m.start(), m.group(), 1) for m in self._ascii.finditer(data)]
        runs.extend(
            (m.start(), m.group().decode("utf-16-le").encode(), 2) for m in self._utf16.finditer(data)
        )
        if not runs:
            return None
        runs.sort()
        parts: list[bytes] = []
        segments: list[tuple[int, int, int, int]] = []
        offset = 0
        for start, text, width in runs:
            segments.append((offset, start, len(text), width))
            parts.append(text)
            offset += len(text) + 1
        step = Step(StepKind.STRINGS, start=0, end=len(data))
        return Layer((*steps, step), b"\n".join(parts), text=False, segments=tuple(segments))


class KeywordProbe:
    """Whether binary data holds any of some literals as bytes or as UTF-16LE: where none is,
    no strings layer of it can hold one (its runs are substrings of the data, UTF-16LE runs
    decoded), so a detector gated on those literals finds nothing there."""

    def __init__(self, literals: Iterable[bytes]) -> None:
        forms = {
            form for literal in literals for form in (literal, literal.decode("latin-1").encode("utf-16-le"))
        }
        self._index = TriggerIndex(dict.fromkeys(forms, StepKind.STRINGS))

    def found(self, data: bytes) -> bool:
        return self._index.any(data)
