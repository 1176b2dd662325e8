"""Fast access to a repository's objects: every object listed once in pack order (with its type
and size) by one ``git cat-file --batch-all-objects`` run, blobs read by id in that order by one
``git cat-file --batch`` process per reader, and a walk over raw tree objects that yields what
``TreeEnumerator`` yields (same blobs, same first paths, same order) at a fraction of the cost.

Nothing here decides what a result is: a blob git cannot deliver is reported as undelivered, and
the caller reads it the usual way (libgit2), so missing or damaged objects are described as before.
"""

from __future__ import annotations

import binascii
import os
import re
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import pygit2
from msgspec import Struct, field

from leakscan.models import Failed, Skipped
from leakscan.sources.git import BlobRef, parents_of

# Every git child: no pager, no prompt, and a bounded pack mapping (counted in resident memory).
GIT_OPTIONS = ("-c", "core.packedGitWindowSize=32m", "-c", "core.packedGitLimit=256m")
# Ids per request to a reader: far below a pipe's buffer (64 KiB), so writing a request never
# waits for the answers to be read.
MAX_REQUEST = 1000
_READ_SIZE = 1 << 18  # bytes asked of git's output at a time
# A reader's pipe from git holds this much (Linux; the default is 64 KiB): git inflates further
# ahead, and each blob crosses in fewer, larger copies (on mypy's 5.85 GB, reading every blob
# into Python took 11.5 CPU seconds through 64 KiB and 10.7 through 1 MiB).
PIPE_BYTES = 1 << 20

_TREE_MODE = 0o040000
_GITLINK_MODE = 0o160000
_TYPE_BITS = 0o170000
# One tree entry: octal mode, space, non-empty name, NUL, 20-byte id. Anything else in a tree
# object is caught by the last alternative (which then runs to the end), so one look at the last
# match tells whether the whole object parsed.
_ENTRY = re.compile(rb"([0-7]+) ([^\x00]+)\x00(.{20})|(.+)", re.S)


def repo_dir(repo: pygit2.Repository) -> str:
    """The git directory of ``repo``, as git's ``--git-dir`` takes it."""
    path: str = repo.path
    return path


def _git(git_dir: str, *args: str) -> list[str]:
    return ["git", *GIT_OPTIONS, f"--git-dir={git_dir}", *args]


def _widen(proc: subprocess.Popen[bytes]) -> None:
    """Make the pipe from ``proc`` hold ``PIPE_BYTES`` where the system allows it (not Linux, or
    over the user's pipe quota: the pipe keeps its size, which only costs speed)."""
    try:
        import fcntl  # not on Windows
    except ImportError:
        return
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None or proc.stdout is None:
        return
    try:
        fcntl.fcntl(proc.stdout.fileno(), setsize, PIPE_BYTES)
    except OSError:
        pass


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GIT_INDEX_FILE", None)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", GIT_NO_REPLACE_OBJECTS="1")
    return env


T = TypeVar("T")


class Listing:
    """``git cat-file --batch-all-objects --unordered --batch-check``, started at once and read by
    a thread as git writes (so git never waits on a full pipe): the blobs listed so far, and the
    trees when asked for (ansible's 1.16 million trees would hold ~110 MB), can be taken while
    git is still listing."""

    def __init__(self, git_dir: str, *, blobs: bool = True, trees: bool = False) -> None:
        self.blobs: list[tuple[str, int]] = []  # (hex id, size), in pack order; only ever grows
        self.trees: list[str] = []
        self._keep_blobs, self._keep_trees = blobs, trees
        self._done = False
        self._ok = False
        self._changed = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                _git(
                    git_dir,
                    "cat-file",
                    "--batch-all-objects",
                    "--unordered",
                    "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_env(),
            )
        except OSError:
            self._done = True
            return
        threading.Thread(target=self._read, args=(self._proc,), name="object listing", daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        rest = b""
        try:
            fd = proc.stdout.fileno() if proc.stdout is not None else -1
            while chunk := os.read(fd, _READ_SIZE):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                self._add(lines)
        except (OSError, ValueError):
            rest = b"?"  # cut short: not a whole listing
        finally:
            code = proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            with self._changed:
                self._done = True
                self._ok = code == 0 and not rest
                self._changed.notify_all()

    def _add(self, lines: list[bytes]) -> None:
        blobs: list[tuple[str, int]] = []
        trees: list[str] = []
        for line in lines:
            parts = line.split(b" ")
            if len(parts) != 3:
                continue
            kind = parts[1]
            if kind == b"blob" and self._keep_blobs:
                blobs.append((parts[0].decode("ascii"), int(parts[2])))
            elif kind == b"tree" and self._keep_trees:
                trees.append(parts[0].decode("ascii"))
        with self._changed:
            self.blobs.extend(blobs)
            self.trees.extend(trees)
            self._changed.notify_all()

    @property
    def complete(self) -> bool:
        """Whether git has ended (the listing is whole, or all there will be)."""
        return self._done

    def has(self, blobs: int) -> bool:
        """Whether the store has at least ``blobs`` blobs: waits until git has listed that many, or
        has ended; False when it ended with fewer, or failed (not every object listed)."""
        with self._changed:
            self._changed.wait_for(lambda: self._done or len(self.blobs) >= blobs)
            return (self._ok or not self._done) and len(self.blobs) >= blobs

    def iter_blobs(self) -> Iterator[tuple[str, int]]:
        """The blobs in pack order as git lists them, until the listing ends."""
        return self._follow(self.blobs)

    def iter_trees(self) -> Iterator[str]:
        """The trees in pack order as git lists them, until the listing ends."""
        return self._follow(self.trees)

    def _follow(self, items: list[T]) -> Iterator[T]:
        taken = 0
        while True:
            with self._changed:
                while not self._done and len(items) <= taken:
                    self._changed.wait()
                batch, done = items[taken:], self._done
            taken += len(batch)
            yield from batch
            if done and taken >= len(items):
                return

    def close(self) -> None:
        """Stop git if it is still listing."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()


class BlobReader:
    """Reads blobs by id through one long-lived ``git cat-file --batch`` process (restarted if it
    dies). Ids git cannot deliver (missing, damaged, not a blob) come back as None."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes] | None:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(
                    _git(self.git_dir, "cat-file", "--batch"),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=_env(),
                )
            except OSError:
                self._proc = None
            else:
                _widen(self._proc)
        return self._proc

    def read(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """Each id with the blob's bytes (None when git does not deliver it), in order."""
        for start in range(0, len(ids), MAX_REQUEST):
            yield from self._request(ids[start : start + MAX_REQUEST])

    def _request(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        proc = self._start()
        if proc is None or proc.stdin is None or proc.stdout is None:
            yield from ((oid, None) for oid in ids)
            return
        try:
            proc.stdin.write("".join(f"{oid}\n" for oid in ids).encode("ascii"))
            proc.stdin.flush()
        except OSError:
            self.close()
            yield from ((oid, None) for oid in ids)
            return
        out = proc.stdout
        for done, oid in enumerate(ids):
            header = out.readline().split()
            if len(header) == 2 and header[0] == oid.encode() and header[1] == b"missing":
                yield oid, None
                continue
            data: bytes | None = None
            if len(header) == 3 and header[0] == oid.encode():
                size = int(header[2])
                data = out.read(size)
                if len(data) == size and out.read(1) == b"\n":
                    yield oid, data if header[1] == b"blob" else None
                    continue
            # The process died or said something unexpected: the rest is not delivered.
            self.close()
            yield from ((rest, None) for rest in ids[done:])
            return

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


class TreeStream:
    """Raw tree objects, read ahead in pack order by one ``git cat-file --batch`` process (fed
    from a thread) and handed out by id: each tree is asked for once, so it is dropped when taken.
    A tree the stream never delivers (missing, damaged) is None."""

    def __init__(self, git_dir: str, trees: Iterable[str]) -> None:
        self._held: dict[bytes, bytes] = {}
        self._done = False
        self._buffer, self._at = b"", 0  # git's output read so far, and where the next record starts
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                _git(git_dir, "cat-file", "--batch"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_env(),
            )
        except OSError:
            self._done = True
            return
        _widen(self._proc)
        self._feeder = threading.Thread(target=_feed, args=(self._proc, trees), daemon=True)
        self._feeder.start()

    def take(self, oid: bytes) -> bytes | None:
        """The raw tree ``oid`` (20-byte id), or None when the stream does not have it."""
        data = self._held.pop(oid, None)
        if data is not None or self._done:
            return data
        while (record := self._next()) is not None:
            got, body = record
            if got == oid:
                return body
            self._held[got] = body
        self.close()
        return None

    def _next(self) -> tuple[bytes, bytes] | None:
        """The next tree in the stream (its 20-byte id and body), skipping missing objects and
        other types; None at its end or when it is cut short."""
        buffer, at = self._buffer, self._at
        while True:
            eol = buffer.find(b"\n", at)
            if eol < 0:
                if not self._fill(buffer, at, 0):
                    return None
                buffer, at = self._buffer, 0
                continue
            header = buffer[at:eol].split()
            if len(header) == 2 and header[1] == b"missing":
                at = eol + 1
                continue
            if len(header) != 3:
                return None
            end = eol + 1 + int(header[2])
            if end >= len(buffer):
                if not self._fill(buffer, at, end - at + 1):
                    return None
                buffer, at = self._buffer, 0
                continue
            if buffer[end] != 0x0A:
                return None
            self._buffer, self._at = buffer, end + 1
            if header[1] != b"tree":
                at = end + 1
                continue
            return bytes.fromhex(header[0].decode("ascii")), buffer[eol + 1 : end]

    def _fill(self, buffer: bytes, at: int, need: int) -> bool:
        """Make the buffer ``buffer[at:]`` followed by more of git's output, at least ``need``
        bytes in all (or one more read); False at the end of the output."""
        fd = self._proc.stdout.fileno() if self._proc is not None and self._proc.stdout else -1
        parts = [buffer[at:]]
        size = len(parts[0])
        while True:
            chunk = os.read(fd, max(_READ_SIZE, need - size)) if fd >= 0 else b""
            if not chunk:
                self._buffer, self._at = b"", 0
                return False
            parts.append(chunk)
            size += len(chunk)
            if size >= need:
                self._buffer, self._at = b"".join(parts), 0
                return True

    def close(self) -> None:
        self._done = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def _feed(proc: subprocess.Popen[bytes], lines: Iterable[str]) -> None:
    """Write ``lines`` to git's input (from a thread: git's output is read meanwhile), then close it."""
    stdin = proc.stdin
    if stdin is None:
        return
    try:
        batch: list[str] = []
        for line in lines:
            batch.append(f"{line}\n")
            if len(batch) >= MAX_REQUEST:
                stdin.write("".join(batch).encode())
                batch = []
        stdin.write("".join(batch).encode())
        stdin.close()
    except (OSError, ValueError):
        pass


class ChangesUnavailable(Exception):
    """git could not say what a commit changed (a missing or damaged object, output not understood)."""


# One tree entry as the walk takes it: mode, name, 20-byte id, and b"" (``_ENTRY``'s groups).
Entry = tuple[bytes, bytes, bytes, bytes]
# What one commit changed: its changed folders ("" the root, else "a/b/") with their new entries in
# tree order (subtrees included), and the submodule entries among them (folder, name).
Changes = tuple[dict[str, list[Entry]], list[tuple[str, bytes]]]


# Every changed entry (-r), changed trees too (-t), merges by combined diff (-c), ids whole.
DIFF_TREE = ("diff-tree", "--stdin", "-r", "-t", "-c", "--raw", "-z", "--no-abbrev", "--no-renames", "--root")


class ChangeStream:
    """What each commit changed against its parents (a root commit: everything; a merge: only
    what differs from every parent, git's combined diff), from one ``git diff-tree --stdin -r -t
    -c`` run fed ``commit parent...`` lines in walk order (``commits``, with ``parents`` as
    ``CommitWalk.parents`` holds them; neither is copied); iterated, one ``Changes`` per commit
    given, in that order. Raises ``ChangesUnavailable`` when git cannot say it for every commit,
    or says it in a form not understood."""

    def __init__(self, git_dir: str, commits: Sequence[pygit2.Oid], parents: Sequence[bytes]) -> None:
        if len(commits) != len(parents):
            raise ValueError("one parents entry per commit")
        self._commits, self._parents = commits, parents
        self._folders: dict[bytes, str] = {}  # each folder's path as git gives it, decoded once
        # Every submodule change shown, and in tree order (no order file), whatever the config says.
        options = ("--always", "--ignore-submodules=none", f"-O{os.devnull}")
        try:
            self._proc = subprocess.Popen(
                _git(git_dir, *DIFF_TREE, *options),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_env(),
            )
        except OSError as exc:
            raise ChangesUnavailable(f"git diff-tree: {exc}") from exc
        _widen(self._proc)
        lines = (_stdin_line(commit, ids) for commit, ids in zip(commits, parents, strict=True))
        threading.Thread(target=_feed, args=(self._proc, lines), daemon=True).start()

    def __iter__(self) -> Iterator[Changes]:
        fd = self._proc.stdout.fileno() if self._proc.stdout is not None else -1
        expected = zip(self._commits, self._parents, strict=True)
        commit: str | None = None
        parents = 0
        changes: Changes = ({}, [])
        meta: bytes | None = None
        rest = b""
        while chunk := os.read(fd, _READ_SIZE):
            tokens = (rest + chunk).split(b"\0")
            rest = tokens.pop()
            for token in tokens:
                if meta is not None:
                    self._add(changes, meta, token, parents)
                    meta = None
                elif token[:1] == b":":
                    meta = token
                else:
                    if commit is not None:
                        yield _trees_listed(changes)
                    commit, changes = token.decode("ascii", "replace"), ({}, [])
                    asked, ids = next(expected, (None, b""))
                    if asked is None or commit != str(asked):
                        raise ChangesUnavailable(f"git diff-tree: unexpected output {token[:80]!r}")
                    parents = len(ids) // len(asked.raw)
        if commit is not None:
            yield _trees_listed(changes)
        if self._proc.wait() != 0 or rest or meta is not None or next(expected, None) is not None:
            raise ChangesUnavailable("git diff-tree did not describe every commit")

    def _add(self, changes: Changes, meta: bytes, path: bytes, parents: int) -> None:
        """One ``:old-mode new-mode old-id new-id status`` line and its path (for a merge of n
        parents, n colons, modes, ids and status letters, then the merge's own mode and id); a
        deleted entry is left out. A root commit's lines must all be additions (git saw no
        parent either)."""
        if parents == 1 and len(meta) == 98 and meta[0] == 58 and meta[1] != 58 and meta[96] == 32:
            mode, new = meta[8:14], meta[56:96]  # the usual line: one parent, 40-digit ids
        else:
            mode, new = _parsed(meta, parents)
        if mode == b"000000":
            return
        slash = path.rfind(b"/")
        raw = path[: slash + 1]
        folder = self._folders.get(raw)
        if folder is None:
            folder = self._folders[raw] = raw.decode("utf-8", "surrogateescape")
        name = path[slash + 1 :]
        if mode == b"040000":
            mode = b"40000"  # as a tree object spells it
        elif mode == b"160000":
            changes[1].append((folder, name))
        entry = (mode, name, binascii.unhexlify(new), b"")
        folders = changes[0]
        entries = folders.get(folder)
        if entries is None:
            folders[folder] = [entry]
        else:
            entries.append(entry)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def _parsed(meta: bytes, parents: int) -> tuple[bytes, bytes]:
    """The new mode and new id (hex) of any ``git diff-tree --raw`` line, checked whole."""
    n = max(parents, 1)
    width = (len(meta) - 2 * n) // (n + 1) - 8  # the length of an id in hex
    if (
        width < 40
        or len(meta) != 2 * n + (n + 1) * (8 + width)
        or meta[:n] != b":" * n
        or meta[n : n + 1] == b":"
        or meta[-n - 1 : -n] != b" "
    ):
        raise ChangesUnavailable(f"git diff-tree: unexpected line {meta[:120]!r}")
    if not parents and meta[-1:] != b"A":
        raise ChangesUnavailable("git diff-tree: a root commit has a parent for git")
    start = (9 + width) * n + 7
    return meta[8 * n : 8 * n + 6], meta[start : start + width]


def _stdin_line(commit: pygit2.Oid, parents: bytes) -> str:
    """``commit parent...`` in hex, as ``git diff-tree --stdin`` reads a commit and its parents."""
    return " ".join([str(commit), *(str(parent) for parent in parents_of(parents, commit))])


def _trees_listed(changes: Changes) -> Changes:
    """``changes``, once each changed folder is among its parent folder's changed entries as a
    tree (git's ``-t``); else ``ChangesUnavailable``: the walk would never enter that folder."""
    folders = changes[0]
    listed = {
        folder + entry[1].decode("utf-8", "surrogateescape") + "/"
        for folder, entries in folders.items()
        for entry in entries
        if entry[0] == b"40000"
    }
    if any(folder and folder not in listed for folder in folders):
        raise ChangesUnavailable("git diff-tree did not list the trees of the folders it changed")
    return changes


class RawTreeEnumerator:
    """``TreeEnumerator`` without a path filter, parsing raw tree objects: the same blobs with the
    same first paths in the same order, the same submodules and missing trees. A tree object the
    parser does not accept whole is read through pygit2 as before."""

    def __init__(
        self, repo: pygit2.Repository, stream: TreeStream | None = None, cancel: threading.Event | None = None
    ) -> None:
        self.repo = repo
        self.stream = stream
        self.cancel = cancel
        # As TreeEnumerator's, for the base of --since-commit (never set here: no base).
        self.known: frozenset[pygit2.Oid] = frozenset()
        self.revisited: dict[tuple[pygit2.Oid, str], None] = {}
        self.submodules: set[str] = set()
        self._paths: dict[str, str] = {}
        self._seen: set[bytes] = set()  # trees and blobs (their ids never collide)
        self._blobs: list[bytes] = []
        # Submodule entries a commit's changes showed, not yet reported: folder -> names.
        self._unreported: dict[str, set[bytes]] = {}
        self._read = repo.odb.read

    def forget(self) -> None:
        """Start again from nothing seen (a walk by changes that git could not finish)."""
        self.revisited.clear()
        self.submodules.clear()
        self._paths.clear()
        self._seen.clear()
        self._blobs.clear()
        self._unreported.clear()

    @property
    def seen_blobs(self) -> frozenset[pygit2.Oid]:
        """The blobs yielded or marked known so far."""
        return frozenset(pygit2.Oid(raw=raw) for raw in self._blobs)

    def mark_known(self, root: pygit2.Oid) -> None:
        """Treat every tree and blob under ``root`` as already seen (the base of --since-commit)."""
        for _ in self.iter_new(root):
            pass

    def iter_new(self, root: pygit2.Oid, prefix: str = "") -> Iterator[BlobRef | Skipped | Failed]:
        seen = self._seen
        if root.raw in seen:
            return
        seen.add(root.raw)
        stack: list[tuple[bytes, str]] = [(root.raw, prefix)]
        cancel = self.cancel
        while stack:
            if cancel is not None and cancel.is_set():
                return
            oid, prefix = stack.pop()
            entries = self._entries(oid)
            if entries is None:
                yield Failed(prefix.rstrip("/") or "/", f"missing tree object {pygit2.Oid(raw=oid)}")
                continue
            yield from self._visit(entries, prefix, stack)

    def iter_changed(
        self, root: pygit2.Oid, changes: Changes, parentless: bool = False
    ) -> Iterator[BlobRef | Skipped | Failed]:
        """``iter_new(root)`` for a commit whose parents' trees were walked before (or that has
        none), from only the entries that differ from every parent (``ChangeStream``): every other
        entry is a parent's, so already seen, and ``iter_new`` would leave it out. A folder that
        holds a submodule not yet reported is read whole, as ``iter_new`` reads it: the submodule's
        entry may be unchanged there, and reported at the new path of a copied folder. Raises
        ``ChangesUnavailable`` when a ``parentless`` commit (for libgit2) shows no change and its
        tree, not seen before, is not empty: git sees a parent there (a graft, say)."""
        folders, submodules = changes
        unreported = self._unreported
        for folder, name in submodules:
            if folder + name.decode("utf-8", "surrogateescape") not in self.submodules:
                unreported.setdefault(folder, set()).add(name)
        seen = self._seen
        if root.raw in seen:
            return
        if parentless and not folders and self._entries(root.raw):
            raise ChangesUnavailable(f"git shows no change for tree {root} of a root commit")
        seen.add(root.raw)
        stack: list[tuple[bytes, str]] = [(root.raw, "")]
        cancel = self.cancel
        while stack:
            if cancel is not None and cancel.is_set():
                return
            oid, prefix = stack.pop()
            if prefix not in unreported:
                yield from self._visit(folders.get(prefix, []), prefix, stack)
                continue
            entries = self._entries(oid)
            if entries is None:
                yield Failed(prefix.rstrip("/") or "/", f"missing tree object {pygit2.Oid(raw=oid)}")
                continue
            yield from self._visit(entries, prefix, stack)
            left = {
                name
                for name in unreported[prefix]
                if prefix + name.decode("utf-8", "surrogateescape") not in self.submodules
            }
            if left:
                unreported[prefix] = left
            else:
                del unreported[prefix]

    def _visit(
        self, entries: list[tuple[bytes, bytes, bytes, bytes]], prefix: str, stack: list[tuple[bytes, str]]
    ) -> Iterator[BlobRef | Skipped]:
        seen = self._seen
        # Most entries of a new tree version were seen in the version before: drop them first.
        for mode, name, entry_id, _ in [entry for entry in entries if entry[2] not in seen]:
            if entry_id in seen:  # the same id twice in this tree
                continue
            if mode == b"40000":
                kind = _TREE_MODE
            elif mode == b"160000":
                kind = _GITLINK_MODE
            else:
                kind = int(mode, 8) & _TYPE_BITS
            text = name.decode("utf-8", "surrogateescape")
            if kind == _GITLINK_MODE:
                path = prefix + text
                if path not in self.submodules:
                    self.submodules.add(path)
                    yield Skipped(path, "submodule")
            elif kind == _TREE_MODE:
                seen.add(entry_id)
                stack.append((entry_id, prefix + text + "/"))
            else:
                seen.add(entry_id)
                self._blobs.append(entry_id)
                path = prefix + text
                yield BlobRef(pygit2.Oid(raw=entry_id), self._paths.setdefault(path, path))

    def _entries(self, oid: bytes) -> list[tuple[bytes, bytes, bytes, bytes]] | None:
        """The entries of a tree (mode, name, id), or None when it is missing or not a tree."""
        data = self.stream.take(oid) if self.stream is not None else None
        if data is None:
            try:
                kind, data = self._read(pygit2.Oid(raw=oid))
            except (KeyError, ValueError, pygit2.GitError):
                return None
            if kind != pygit2.GIT_OBJECT_TREE:
                return None
        found: list[tuple[bytes, bytes, bytes, bytes]] = _ENTRY.findall(data)
        if found and found[-1][3]:
            return self._parsed_by_pygit2(oid)
        return found

    def _parsed_by_pygit2(self, oid: bytes) -> list[tuple[bytes, bytes, bytes, bytes]] | None:
        """An unusual tree object as libgit2 reads it (or None when libgit2 rejects it)."""
        try:
            tree = self.repo[pygit2.Oid(raw=oid)]
        except (KeyError, ValueError, pygit2.GitError):
            return None
        if not isinstance(tree, pygit2.Tree):
            return None
        return [
            (
                b"%o" % entry.filemode,
                (entry.name or "").encode("utf-8", "surrogateescape"),
                entry.id.raw,
                b"",
            )
            for entry in tree
        ]

    def new_blob(self, oid: pygit2.Oid, path: str) -> BlobRef | None:
        if oid.raw in self._seen:
            return None
        self._seen.add(oid.raw)
        self._blobs.append(oid.raw)
        return BlobRef(oid, path)


# --------------------------------------------------------------------------- blobs in pack order

CHUNK_BLOBS = 512
CHUNK_BYTES = 8 * 1024 * 1024

Chunk = list[str]
ChunkResult = tuple[list[str], list[tuple[str, Any]]]


class _WorkerState(Struct):
    git_dir: str
    scan: Callable[[bytes], Any]
    reader: BlobReader | None = None
    pid: int = -1


def _scan_chunk(state: _WorkerState, chunk: Chunk) -> ChunkResult:
    """In a worker: read the chunk's blobs through this process's reader and scan them. Returns
    the ids whose scan gave nothing to report, and (id, outcome) for the others; ids git did not
    deliver are in neither."""
    if state.reader is None or state.pid != os.getpid():
        state.reader, state.pid = BlobReader(state.git_dir), os.getpid()
    plain: list[str] = []
    special: list[tuple[str, Any]] = []
    for oid, data in state.reader.read(chunk):
        if data is None:
            continue
        outcome = state.scan(data)
        if outcome is None:
            plain.append(oid)
        else:
            special.append((oid, outcome))
    return plain, special


class _PackLanes:
    """The chunks of a pack-order scan: consecutive runs of the listing (deltas and their bases
    stay together), bounded in count and bytes; blobs over ``max_size`` are not read at all. Lane
    1 takes them from the end backwards once git has listed every blob (from the front until
    then), the other lanes from the front, until the two ends meet. Each git reader then goes
    through one stretch of the packs, and one that goes backwards finds a delta's bases among
    those it just inflated: mypy's blobs reached two processes in 5.2-5.5 s this way, against
    6.2-6.3 s with consecutive chunks dealt to alternate readers. ``sizes`` holds the bytes of
    each chunk given, in order. ``first`` runs before the first chunk is made."""

    def __init__(self, listing: Listing, max_size: int, first: Callable[[], None]) -> None:
        self.listing = listing
        self.max_size = max_size
        self.sizes: deque[int] = deque()
        self._first: Callable[[], None] | None = first
        self._listed = listing.iter_blobs()
        self._front = 0  # blobs taken from the front
        self._back: int | None = None  # where what the back lane took begins, once it began

    def take(self, lane: int) -> Chunk | None:
        first, self._first = self._first, None
        if first is not None:
            first()
        backwards = lane == 1 and self.listing.complete
        chunk: Chunk = []
        size = 0
        for oid, length in self._from_back() if backwards else self._from_front():
            if length > self.max_size:
                continue
            chunk.append(oid)
            size += length
            if len(chunk) >= CHUNK_BLOBS or size >= CHUNK_BYTES:
                break
        if not chunk:
            return None
        self.sizes.append(size)
        return chunk

    def _from_front(self) -> Iterator[tuple[str, int]]:
        while self._back is None or self._front < self._back:
            item = next(self._listed, None)
            if item is None:
                return
            self._front += 1
            yield item

    def _from_back(self) -> Iterator[tuple[str, int]]:
        blobs = self.listing.blobs  # whole: git has ended
        if self._back is None:
            self._back = len(blobs)
        while self._back > self._front:
            self._back -= 1
            yield blobs[self._back]


class PackScan(Struct):
    """What the workers gave: ids scanned with nothing to report, (id → outcome) for the others,
    ids of chunks whose worker died (→ why), whether the scan stopped early (a worker died: the
    chunks not yet sent were not scanned), and whether it was interrupted."""

    plain: set[str] = field(default_factory=set)
    outcomes: dict[str, Any] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    interrupted: bool = False


def scan_in_pack_order(
    git_dir: str,
    listing: Listing,
    scan: Callable[[bytes], Any],
    max_size: int,
    workers: int,
    alongside: Callable[[threading.Event], T],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PackScan, T]:
    """Scan the blobs ``listing`` gives (hex id, size; pack order) in the worker pool, each worker
    reading through its own ``git cat-file --batch`` (chunks as ``_PackLanes`` deals them), while
    ``alongside`` (the tree walk) runs in a thread of this process, started once the workers are
    forked. ``scan(data)`` returns None for a blob with nothing to report, else a picklable
    outcome: only ids and outcomes cross processes. ``alongside`` gets an event that is set when
    the scan is interrupted; it should then return. ``progress`` gets the blobs and bytes done
    after each chunk."""
    from leakscan.parallel import Lost, map_batches

    found = PackScan()
    state = _WorkerState(git_dir, scan)
    cancel = threading.Event()
    box: dict[str, Any] = {}
    threads: list[threading.Thread] = []

    def run_alongside() -> None:
        try:
            box["value"] = alongside(cancel)
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    def start_alongside() -> None:
        thread = threading.Thread(target=run_alongside, name="tree walk", daemon=True)
        threads.append(thread)
        thread.start()

    chunks = _PackLanes(listing, max_size, start_alongside)

    done = done_bytes = 0
    try:
        for item in map_batches(_scan_chunk, state, chunks, workers):
            if isinstance(item, Lost):
                found.lost.update((oid, item.reason) for oid in item.batch)
                found.stopped = True
                done += len(item.batch)
            else:
                plain, special = item
                found.plain.update(plain)
                found.outcomes.update(special)
                done += len(plain) + len(special)
            done_bytes += chunks.sizes.popleft()
            if progress is not None:
                progress(done, done_bytes)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the pool is stopped; the walk ends early
        found.interrupted = True
        cancel.set()
    except BaseException:
        cancel.set()
        raise
    finally:
        for thread in threads:
            thread.join()
        if state.reader is not None:
            state.reader.close()
    if not threads:  # no chunk at all: the walk still has to run
        run_alongside()
    if "error" in box:
        raise box["error"]
    return found, box["value"]
