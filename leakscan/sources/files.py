"""Walks files and folders honouring .gitignore, .git/info/exclude and .leakscanignore."""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakscan.content import SNIFF_BYTES, Kind, sniff
from leakscan.models import Blob, Failed, FileOrigin, Skipped
from leakscan.paths import find_repo_root

if TYPE_CHECKING:
    import pathspec

IGNORE_FILES = (".gitignore", ".leakscanignore")
READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRef:
    """A regular file found by the walker, not yet read."""

    fs_path: str
    path: str
    key_path: str
    size: int


@dataclass(frozen=True, slots=True)
class _Level:
    base: str
    spec: pathspec.GitIgnoreSpec


def _load_spec(folder: str, names: Sequence[str]) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in names:
        try:
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as handle:
                lines.extend(handle.read().splitlines())
        except OSError:
            continue
    return _compile_patterns(lines) if lines else None


def _compile_patterns(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec:
    import pathspec  # only where there are patterns: start-up time matters

    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _is_ignored(levels: Sequence[_Level], rel_path: str, is_dir: bool) -> bool:
    """Git semantics: the deepest, last matching pattern decides."""
    decision = False
    for level in levels:
        if level.base and not rel_path.startswith(level.base):
            continue
        sub = rel_path[len(level.base) :]
        result = level.spec.check_file(sub + "/" if is_dir else sub)
        if result.include is not None:
            decision = result.include
    return decision


class TrackedPaths:
    """The paths in a repository's index, read on first use: git never ignores a tracked file,
    whatever .gitignore says, so neither does the walker. Read only once an ignore rule would
    skip something (most walks never need it)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self._files: set[str] | None = None
        self._dirs: set[str] = set()

    def has(self, key: str, is_dir: bool) -> bool:
        """Whether git tracks this file, or (for a folder) any file below it."""
        if self._files is None:
            self._files = self._load()
            self._dirs = {path[: i + 1] for path in self._files for i, c in enumerate(path) if c == "/"}
        return key + "/" in self._dirs if is_dir else key in self._files

    def _load(self) -> set[str]:
        import pygit2

        try:
            return {entry.path for entry in pygit2.Repository(str(self.repo)).index}
        except (pygit2.GitError, OSError, ValueError):
            return set()  # no readable index: plain ignore-file semantics


class FileWalker:
    """Yields a FileRef for each file to scan, and a Skipped or Failed for each it passes over."""

    def __init__(
        self,
        roots: Sequence[str],
        *,
        use_ignore_files: bool = True,
        exclude: Sequence[str] = (),
        max_file_size: int = 50 * 1024 * 1024,
        scan_large_files: bool = False,
    ) -> None:
        self.roots = roots
        self.use_ignore_files = use_ignore_files
        self.exclude = _compile_patterns(exclude) if exclude else None
        self.max_file_size = max_file_size
        self.scan_large_files = scan_large_files

    def __iter__(self) -> Iterator[FileRef | Skipped | Failed]:
        for root in self.roots:
            yield from self._walk_root(root)

    def _walk_root(self, root: str) -> Iterator[FileRef | Skipped | Failed]:
        try:
            st = os.stat(root)  # a symlink named on the command line is followed
        except OSError as exc:
            yield Failed(root, f"cannot read: {exc.strerror or exc}")
            return
        absolute = Path(os.path.realpath(root) if os.path.islink(root) else os.path.abspath(root))
        repo = find_repo_root(absolute)
        anchor = repo if repo is not None else (absolute if stat.S_ISDIR(st.st_mode) else absolute.parent)
        if stat.S_ISDIR(st.st_mode):
            levels = self._ancestor_levels(anchor, absolute, repo) if self.use_ignore_files else []
            tracked = TrackedPaths(repo) if repo is not None else None
            yield from self._walk_dir(str(absolute), root, anchor, levels, tracked)
        else:
            # A file named on the command line is scanned even if an ignore file lists it.
            key = absolute.relative_to(anchor).as_posix()
            yield from self._classify(str(absolute), root, key, st)

    def _ancestor_levels(self, anchor: Path, target: Path, repo: Path | None) -> list[_Level]:
        """Ignore files from the repository root down to (not including) the scanned folder."""
        levels: list[_Level] = []
        if repo is not None:
            spec = _load_spec(str(repo / ".git" / "info"), ("exclude",))
            if spec is not None:
                levels.append(_Level("", spec))
        folder = anchor
        while folder != target:
            spec = _load_spec(str(folder), IGNORE_FILES)
            if spec is not None:
                levels.append(_Level(_rel_base(anchor, folder), spec))
            folder = folder / target.relative_to(folder).parts[0]
        return levels

    def _walk_dir(
        self,
        fs_dir: str,
        shown_dir: str,
        anchor: Path,
        levels: list[_Level],
        tracked: TrackedPaths | None,
    ) -> Iterator[FileRef | Skipped | Failed]:
        base = _rel_base(anchor, Path(fs_dir))
        if self.use_ignore_files:
            spec = _load_spec(fs_dir, IGNORE_FILES)
            if spec is not None:
                levels = [*levels, _Level(base, spec)]
        try:
            with os.scandir(fs_dir) as scanner:
                entries = sorted(scanner, key=lambda e: e.name)
        except OSError as exc:
            yield Failed(shown_dir, f"cannot list folder: {exc.strerror or exc}")
            return
        for entry in entries:
            if entry.name == ".git":
                continue
            shown = os.path.join(shown_dir, entry.name)
            key = base + entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                yield Failed(shown, f"cannot stat: {exc.strerror or exc}")
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if levels and _is_ignored(levels, key, is_dir):
                if tracked is None or not tracked.has(key, is_dir):
                    continue
            if self.exclude is not None and self.exclude.match_file(key + "/" if is_dir else key):
                continue
            if is_dir:
                yield from self._walk_dir(entry.path, shown, anchor, levels, tracked)
            else:
                yield from self._classify(entry.path, shown, key, st)

    def _classify(
        self, fs_path: str, shown: str, key: str, st: os.stat_result
    ) -> Iterator[FileRef | Skipped | Failed]:
        if stat.S_ISLNK(st.st_mode):
            yield Skipped(shown, "symlink")
        elif not stat.S_ISREG(st.st_mode):
            yield Skipped(shown, "not a regular file")
        elif st.st_size > self.max_file_size and not self.scan_large_files:
            yield Skipped(shown, f"too large ({st.st_size} bytes > {self.max_file_size})")
        else:
            yield FileRef(fs_path, shown, key, st.st_size)


def _rel_base(anchor: Path, folder: Path) -> str:
    rel = folder.relative_to(anchor).as_posix()
    return "" if rel == "." else rel + "/"


def read_file(ref: FileRef) -> Blob | Skipped | Failed:
    """Read one file without following a swapped-in FIFO or device (its content is not judged
    here: the engine applies the one content policy)."""
    try:
        fd = os.open(ref.fs_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return Failed(ref.path, f"cannot open: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Skipped(ref.path, "not a regular file")
        data = _read_all(fd, st.st_size)
    except OSError as exc:
        return Failed(ref.path, f"cannot read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    return Blob(FileOrigin(ref.path, ref.key_path), data)


def _read_all(fd: int, size_hint: int) -> bytes:
    """Read to the end with as few system calls (and copies) as possible."""
    data = os.read(fd, size_hint + 1)
    if len(data) <= size_hint:
        return data
    chunks = [data]
    while chunk := os.read(fd, READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def open_stream(ref: FileRef) -> tuple[int, Callable[[int], bytes]] | Skipped | Failed:
    """Open a file too large to hold: (fd, read function yielding UTF-8), or why not."""
    try:
        fd = os.open(ref.fs_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        return Failed(ref.path, f"cannot open: {exc.strerror or exc}")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return Skipped(ref.path, "not a regular file")
        kind = sniff(os.pread(fd, SNIFF_BYTES, 0))
    except OSError as exc:
        os.close(fd)
        return Failed(ref.path, f"cannot read: {exc.strerror or exc}")
    if kind is Kind.BINARY:
        os.close(fd)
        return Skipped(ref.path, "binary")
    if kind in (Kind.UTF16_LE, Kind.UTF16_BE):
        decoder = codecs.getincrementaldecoder(kind.value)("replace")
        first = True

        def read_utf16(size: int) -> bytes:
            nonlocal first
            raw = os.read(fd, size)
            text = decoder.decode(raw, final=not raw)
            if first:
                text, first = text.lstrip("\ufeff"), False
            return text.encode("utf-8") if text or not raw else read_utf16(size)

        return fd, read_utf16
    return fd, lambda size: os.read(fd, size)
