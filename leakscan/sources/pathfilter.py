"""Which repo-relative paths a git scan leaves out (``--exclude`` and staged ``.leakscanignore``
files); no libgit2 here, so that ``scan --staged`` starts fast."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

from leakscan.sources.ignore import IgnoreMatcher, compile_exclude, compile_lines

IGNORE_FILE = ".leakscanignore"


class PathFilter:
    """Which repo-relative paths to leave out: the ``exclude`` patterns and the ignore files of
    the folders above a path (gitignore syntax; a path is left out when it or a folder above it
    is, and among ignore files the deepest, last matching pattern decides). Each ignore file is
    compiled once; invalid lines in it are left out with a note in ``notes``."""

    def __init__(
        self, exclude: Sequence[str], ignore_file: Callable[[str], bytes | None] | None = None
    ) -> None:
        self.exclude = compile_exclude(exclude) if exclude else None
        self.ignore_file = ignore_file
        self.notes: list[str] = []
        self._levels: dict[str, tuple[tuple[str, IgnoreMatcher], ...]] = {}
        self._decided: dict[str, bool] = {}

    @property
    def active(self) -> bool:
        """Whether any path can be left out at all."""
        return self.exclude is not None or self.ignore_file is not None

    def excluded(self, path: str, is_dir: bool = False) -> bool:
        """Whether the file (or folder) at ``path`` is left out: its folders are decided top
        down (memoised, no recursion over the depth), then the path itself."""
        key = path + "/" if is_dir else path
        decided = self._decided.get(key)
        if decided is not None:
            return decided
        levels = self._folder_levels("")
        start = 0
        while (slash := path.find("/", start)) >= 0:
            folder = path[: slash + 1]
            known = self._decided.get(folder)
            if known is None:
                known = self._matches(levels, folder[:-1], True)
                self._decided[folder] = known
            if known:
                self._decided[key] = True
                return True
            levels = self._folder_levels(folder, levels)
            start = slash + 1
        decided = self._matches(levels, path, is_dir)
        self._decided[key] = decided
        return decided

    def _matches(self, levels: tuple[tuple[str, IgnoreMatcher], ...], path: str, is_dir: bool) -> bool:
        if self.exclude is not None and self.exclude.ignored(path, is_dir):
            return True
        decision = False
        for base, matcher in levels:
            result = matcher.decide(path[len(base) :], is_dir)
            if result is not None:
                decision = result
        return decision

    def _folder_levels(
        self, base: str, above: tuple[tuple[str, IgnoreMatcher], ...] = ()
    ) -> tuple[tuple[str, IgnoreMatcher], ...]:
        """The ignore files that apply inside folder ``base`` (``""`` or ``"dir/"``), given
        those that apply in its parent."""
        levels = self._levels.get(base)
        if levels is None:
            levels = above
            if self.ignore_file is not None and (data := self.ignore_file(base)):
                lines = data.decode("utf-8", errors="surrogateescape").splitlines()  # as paths are
                matcher, notes = compile_lines(lines, base + IGNORE_FILE)
                self.notes.extend(notes)
                if matcher:
                    levels = (*above, (base, matcher))
            self._levels[base] = levels
        return levels


def in_ranges(ranges: Sequence[tuple[int, int]], offset: int) -> bool:
    """Whether ``offset`` falls inside one of the sorted, disjoint ``ranges``."""
    at = bisect.bisect_right(ranges, (offset, math.inf)) - 1
    return at >= 0 and ranges[at][0] <= offset < ranges[at][1]
