"""Walks files and folders honouring .gitignore, .git/info/exclude and .leakscanignore."""

from __future__ import annotations

import os
import stat
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from leakscan.models import Blob, Failed, FileOrigin, Skipped, Unreadable
from leakscan.paths import find_repo_root
from leakscan.sources.ignore import IgnoreMatcher, compile_exclude, compile_files

if TYPE_CHECKING:
    import subprocess

GIT_IGNORE_FILES = (".gitignore",)  # defer to tracking, as git does
SCAN_IGNORE_FILES = (".leakscanignore",)  # apply to tracked files too
READ_CHUNK = 1 << 20
GIT_LS_FILES_TIMEOUT = 60


class _Level(Struct, frozen=True):
    base: str
    matcher: IgnoreMatcher
    git: bool = True  # a git ignore file (a tracked path is still scanned), else .leakscanignore


class _Folder(Struct, frozen=True):
    """A folder to list: where it is, how it is shown, the ignore levels above it, and whether
    a git ignore rule matched it (it is entered only for the tracked files below it)."""

    fs_path: str
    shown: str
    levels: list[_Level]
    ignored: bool


# A listed folder being walked: its entries left, the folder, its key prefix, its shown prefix.
_Frame = tuple[Iterator[os.DirEntry[str]], _Folder, str, str]


def _load_matcher(folder: str, names: Sequence[str], notes: list[str]) -> IgnoreMatcher | None:
    """The patterns of the ignore files ``names`` in ``folder``; invalid lines become notes."""
    files: list[tuple[str, list[str]]] = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            # Bytes that are not UTF-8 stay as the walk decodes names, so a pattern matches them.
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                files.append((path, handle.read().splitlines()))
        except OSError:
            continue
    if not files:
        return None
    matcher, problems = compile_files(files)
    notes.extend(problems)
    return matcher if matcher else None


def _decisions(levels: Sequence[_Level], rel_path: str, is_dir: bool) -> tuple[bool, bool]:
    """Whether the git ignore files, and whether the .leakscanignore files, ignore ``rel_path``:
    git semantics within each kind (the deepest, last matching pattern decides), in one pass."""
    git_decision = scan_decision = False
    for level in levels:
        if level.base and not rel_path.startswith(level.base):
            continue
        result = level.matcher.decide(rel_path[len(level.base) :], is_dir)
        if result is not None:
            if level.git:
                git_decision = result
            else:
                scan_decision = result
    return git_decision, scan_decision


class TrackedPaths:
    """The paths in a repository's index: git never ignores a tracked file, whatever .gitignore
    says, so neither does the walker. ``git ls-files`` is started with the walk (``start``: it
    reads the index on another core while the walk lists folders) and read once an ignore rule
    would skip something. When git cannot list them, libgit2 reads the index (a SHA-256
    repository, no git installed); when that fails too, every file is treated as tracked
    (scanned) and a note says why."""

    def __init__(self, repo: Path, notes: list[str]) -> None:
        self.repo = repo
        self.notes = notes
        self._files: list[str] | None = None  # sorted: a folder is a prefix search
        self._unknown = False
        self._git: subprocess.Popen[bytes] | None = None
        self._git_problem = ""

    def start(self) -> None:
        """Ask git for the list now, to have it at hand when first needed."""
        import subprocess  # ~2 ms to import: only for a tree inside a git work tree

        if self._git is None and self._files is None and not self._git_problem:
            command = ["git", "-C", str(self.repo), "ls-files", "-z"]
            try:
                self._git = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            except OSError as exc:
                self._git_problem = f"git ls-files: {exc}"

    def close(self) -> None:
        """Stop a listing nobody needed."""
        if self._git is not None:
            self._git.kill()
            self._git.communicate()
            self._git = None

    def has(self, key: str, is_dir: bool) -> bool:
        """Whether git tracks this file, or (for a folder) any file below it."""
        if self._files is None:
            self._files = sorted(self._load())  # git lists them sorted already: a linear pass
        if self._unknown:
            return True
        files = self._files
        wanted = key + "/" if is_dir else key
        at = bisect_left(files, wanted)
        return at < len(files) and (files[at].startswith(wanted) if is_dir else files[at] == key)

    def _load(self) -> list[str]:
        """What ``git ls-files`` says (a process start costs less than importing libgit2), else
        libgit2; the note names both problems when neither can read the index."""
        listed = self._listed_by_git()
        if listed is not None:
            return listed
        import pygit2

        try:
            return [entry.path for entry in pygit2.Repository(str(self.repo)).index]
        except (pygit2.GitError, OSError, ValueError) as exc:
            problem = str(exc)
        if not self._has_index():
            return []  # no index at all (no commit yet, or a stray .git folder): nothing tracked
        self._unknown = True
        self.notes.append(
            f"{self.repo}: cannot read the git index ({problem}; {self._git_problem}): "
            "files the ignore rules match are scanned"
        )
        return []

    def _listed_by_git(self) -> list[str] | None:
        import subprocess

        self.start()
        proc, self._git = self._git, None
        if proc is None:
            return None
        try:
            listed, errors = proc.communicate(timeout=GIT_LS_FILES_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self._git_problem = f"git ls-files: no answer in {GIT_LS_FILES_TIMEOUT} s"
            return None
        if proc.returncode != 0:
            said = os.fsdecode(errors).strip().splitlines()
            self._git_problem = f"git ls-files: exit code {proc.returncode}" + (
                f": {said[-1]}" if said else ""
            )
            return None
        return [path for path in os.fsdecode(listed).split("\0") if path]

    def _has_index(self) -> bool:
        dot_git = self.repo / ".git"
        if dot_git.is_file():  # a linked worktree or submodule: "gitdir: PATH"
            try:
                line = dot_git.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return True
            git_dir = self.repo / line.removeprefix("gitdir:").strip()
        else:
            git_dir = dot_git
        return (git_dir / "index").exists()


class FileWalker:
    """Yields a Blob (read on demand) for each file to scan, and a Skipped or Failed for each it passes over.
    Notes (invalid ignore-file lines, an unreadable index) collect in ``notes``."""

    def __init__(
        self,
        roots: Sequence[str],
        *,
        use_ignore_files: bool = True,
        exclude: Sequence[str] = (),
        max_file_size: int = 50 * 1024 * 1024,
        scan_large_files: bool = False,
        seen: set[tuple[int, int]] | None = None,
    ) -> None:
        self.roots = roots
        self.seen = seen if seen is not None else set()
        self.use_ignore_files = use_ignore_files
        self.exclude = compile_exclude(exclude) if exclude else None
        self.max_file_size = max_file_size
        self.scan_large_files = scan_large_files
        # Untracked files and folders an ignore file left out (not walked into, so not counted inside).
        self.ignored_files = 0
        self.ignored_folders = 0
        self.notes: list[str] = []

    def __iter__(self) -> Iterator[Blob | Skipped | Failed]:
        for root in self.roots:
            yield from self._walk_root(root)

    def _walk_root(self, root: str) -> Iterator[Blob | Skipped | Failed]:
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
            tracked = TrackedPaths(repo, self.notes) if repo is not None and self.use_ignore_files else None
            if tracked is not None:
                tracked.start()
            try:
                yield from self._walk_tree(_Folder(str(absolute), root, levels, False), anchor, tracked)
            finally:
                if tracked is not None:
                    tracked.close()
        else:
            # A file named on the command line is scanned even if an ignore file lists it.
            key = absolute.relative_to(anchor).as_posix()
            item = self._classify(str(absolute), root, key, st)
            if item is not None:
                yield item

    def _ancestor_levels(self, anchor: Path, target: Path, repo: Path | None) -> list[_Level]:
        """Ignore files from the repository root down to (not including) the scanned folder."""
        levels: list[_Level] = []
        if repo is not None:
            matcher = _load_matcher(str(repo / ".git" / "info"), ("exclude",), self.notes)
            if matcher is not None:
                levels.append(_Level("", matcher))
        folder = anchor
        while folder != target:
            levels.extend(self._folder_levels(str(folder), _rel_base(anchor, folder)))
            folder = folder / target.relative_to(folder).parts[0]
        return levels

    def _folder_levels(self, folder: str, base: str, listed: Collection[str] | None = None) -> list[_Level]:
        """The ignore levels one folder adds: its .gitignore, then its .leakscanignore (only
        those in ``listed``, the folder's listing, when it is known)."""
        levels: list[_Level] = []
        for names, git in ((GIT_IGNORE_FILES, True), (SCAN_IGNORE_FILES, False)):
            present = [name for name in names if listed is None or name in listed]
            matcher = _load_matcher(folder, present, self.notes) if present else None
            if matcher is not None:
                levels.append(_Level(base, matcher, git))
        return levels

    def _walk_tree(
        self, top: _Folder, anchor: Path, tracked: TrackedPaths | None
    ) -> Iterator[Blob | Skipped | Failed]:
        """Depth first in name order, with an explicit stack of listed folders (no recursion over
        path depth). Runs for every entry of a tree: a folder's entries are taken in one inner
        loop, and only files are stat'ed (the listing says what is a folder or a symlink)."""
        frame = self._list(top, _rel_base(anchor, Path(top.fs_path)))
        if isinstance(frame, Failed):
            yield frame
            return
        stack = [frame]
        exclude = self.exclude
        while stack:
            entries, folder, base, shown_prefix = stack[-1]
            levels = folder.levels
            for entry in entries:
                name = entry.name
                key = base + name
                is_dir = entry.is_dir(follow_symlinks=False)
                ignored, left_out = _decisions(levels, key, is_dir) if levels else (False, False)
                ignored = ignored or folder.ignored
                if left_out or (ignored and (tracked is None or not tracked.has(key, is_dir))):
                    if is_dir:
                        self.ignored_folders += 1
                    else:
                        self.ignored_files += 1
                    continue
                if exclude is not None and exclude.ignored(key, is_dir):
                    continue
                if is_dir:
                    below = self._list(_Folder(entry.path, shown_prefix + name, levels, ignored), key + "/")
                    if isinstance(below, Failed):
                        yield below
                        continue
                    stack.append(below)
                    break  # the folder's entries first; this loop resumes where it stopped
                if entry.is_symlink():
                    yield Skipped(shown_prefix + name, "symlink")
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError as exc:
                    yield Failed(shown_prefix + name, f"cannot stat: {exc.strerror or exc}")
                    continue
                item = self._classify(entry.path, shown_prefix + name, key, st)
                if item is not None:
                    yield item
            else:
                stack.pop()

    def _list(self, folder: _Folder, base: str) -> _Frame | Failed:
        """One folder's entries in name order (``.git`` left out), with the ignore levels that
        apply in it. Only the ignore files the listing shows are opened."""
        try:
            with os.scandir(folder.fs_path) as scanner:
                entries = sorted(scanner, key=_name)
        except OSError as exc:
            if self.use_ignore_files:  # notes on its ignore files, as when it can be listed
                self._folder_levels(folder.fs_path, base)
            return Failed(folder.shown, f"cannot list folder: {exc.strerror or exc}")
        if self.use_ignore_files:
            added = self._folder_levels(folder.fs_path, base, {entry.name for entry in entries})
            if added:
                folder = _Folder(folder.fs_path, folder.shown, [*folder.levels, *added], folder.ignored)
        shown = folder.shown
        prefix = shown if not shown or shown.endswith("/") else shown + "/"  # as os.path.join
        return iter([entry for entry in entries if entry.name != ".git"]), folder, base, prefix

    def _classify(self, fs_path: str, shown: str, key: str, st: os.stat_result) -> Blob | Skipped | None:
        """A file as a blob to read, or why it is passed over (None: already found, ``scan d d/sub``)."""
        if stat.S_ISLNK(st.st_mode):
            return Skipped(shown, "symlink")
        if not stat.S_ISREG(st.st_mode):
            return Skipped(shown, "not a regular file")
        if st.st_size > self.max_file_size and not self.scan_large_files:
            return Skipped(shown, f"too large ({st.st_size} bytes > {self.max_file_size})")
        if (st.st_dev, st.st_ino) in self.seen:
            return None
        self.seen.add((st.st_dev, st.st_ino))
        return file_blob(fs_path, shown, key, st.st_size)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _rel_base(anchor: Path, folder: Path) -> str:
    rel = folder.relative_to(anchor).as_posix()
    return "" if rel == "." else rel + "/"


class FileReader(Struct, frozen=True):
    """Reads one listed file where it is scanned, never following a FIFO or device swapped in
    since it was listed (its content is not judged here: the engine applies the content policy)."""

    fs_path: str
    size: int

    def read(self, limit: int) -> bytes:
        """At most ``limit + 1`` bytes are read: a file that grew past the limit after it was
        listed is skipped as too large, not read whole."""
        fd = self._open()
        try:
            data = _read_at_most(fd, self.size, limit + 1)
        except OSError as exc:
            raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        if len(data) > limit:
            raise Unreadable(f"too large (grew past {limit} bytes while being read)", skip=True)
        return data

    @contextmanager
    def stream(self) -> Iterator[Callable[[int], bytes]]:
        fd = self._open()

        def read(size: int) -> bytes:
            try:
                return os.read(fd, size)
            except OSError as exc:
                raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc

        try:
            yield read
        finally:
            os.close(fd)

    def _open(self) -> int:
        try:
            fd = os.open(self.fs_path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise Unreadable(f"cannot open: {exc.strerror or exc}") from exc
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError as exc:
            os.close(fd)
            raise Unreadable(f"cannot read: {exc.strerror or exc}") from exc
        if not regular:
            os.close(fd)
            raise Unreadable("not a regular file", skip=True)
        return fd


def file_blob(fs_path: str, path: str, key_path: str, size: int) -> Blob:
    """A listed file as a blob read on demand (``path`` as shown, ``key_path`` for fingerprints)."""
    return Blob(FileOrigin(path, key_path), reader=FileReader(fs_path, size))


def _read_at_most(fd: int, size_hint: int, limit: int) -> bytes:
    """Read to the end, or ``limit`` bytes, with as few system calls (and copies) as possible."""
    data = os.read(fd, min(size_hint + 1, limit))
    if len(data) <= size_hint or len(data) >= limit:
        return data
    chunks = [data]
    total = len(data)
    while total < limit and (chunk := os.read(fd, min(READ_CHUNK, limit - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
