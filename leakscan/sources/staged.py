"""The staged changes through the git command line, without libgit2 (a pre-commit hook pays for
every import): ``git diff --cached --raw`` for what the next commit adds or modifies (renames
followed as ``diff.renames`` says, as libgit2's ``find_similar`` does), ``git ls-files`` for the
staged ``.leakscanignore`` files, and ``git cat-file --batch-check`` then ``--batch`` for sizes and
contents.
The files, skips and errors are the ones ``sources.git.iter_staged`` gives (libgit2), as blobs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from msgspec import Struct

from leakscan.errors import InputError
from leakscan.models import Blob, Failed, Skipped, StagedOrigin, Unreadable

IGNORE_FILE = ".leakscanignore"
MAX_IGNORE_FILE = 1024 * 1024
GITLINK = "160000"
_NO_FILE = "000000"


class Previous(Struct, frozen=True):
    """The HEAD version of a modified staged file (what its added lines are found against)."""

    data: bytes
    old_id: str
    new_id: str


class StagedRepo(Struct, frozen=True):
    """A repository with a work tree, and the index file git is to read (None: its own)."""

    git_dir: str
    index_file: str | None

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        """Run git on this repository; its stdout, or an InputError naming what failed."""
        env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
        env.pop("GIT_INDEX_FILE", None)
        if self.index_file is not None:
            env["GIT_INDEX_FILE"] = self.index_file
        env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
        proc = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args],
            input=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            problem = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(
                f"{self.git_dir}: git {args[0]} failed: {problem[-1] if problem else proc.returncode}"
            )
        return proc.stdout


def open_staged(where: str) -> StagedRepo:
    """The repository containing ``where`` and its index (``$GIT_INDEX_FILE`` when set, relative to
    the current folder as for git), with the errors ``sources.git.open_repo``/``staged_index`` give."""
    if not os.path.exists(where):
        raise InputError(f"{where}: no such file or directory")
    folder = where if os.path.isdir(where) else os.path.dirname(os.path.abspath(where))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(
        ["git", "-C", folder, "rev-parse", "--absolute-git-dir", "--is-bare-repository"],
        capture_output=True,
        env=env,
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        raise InputError(f"{where}: not a git repository (nor inside one)")
    git_dir = lines[0].rstrip("/") + "/"
    if lines[1] == "true":
        raise InputError(f"{git_dir}: bare repository: there is no index to scan")
    return StagedRepo(git_dir, index_file_path())


def index_file_path() -> str | None:
    name = os.environ.get("GIT_INDEX_FILE")
    if not name:
        return None
    path = os.path.abspath(name)
    if not os.path.isfile(path):
        raise InputError(f"GIT_INDEX_FILE={name}: no such index file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(8)
    except OSError as exc:
        raise InputError(f"GIT_INDEX_FILE={name}: cannot read the index: {exc.strerror or exc}") from exc
    if header[:4] != b"DIRC" or int.from_bytes(header[4:8], "big") not in (2, 3, 4):
        raise InputError(f"GIT_INDEX_FILE={name}: not a git index file")
    return path


class _Change(Struct, frozen=True):
    status: str
    path: str
    new_mode: str
    new_id: str
    old_mode: str
    old_id: str


def staged_changes(repo: StagedRepo) -> list[_Change]:
    """What the index changes relative to HEAD (everything it holds on an unborn branch)."""
    out = repo.git("diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-ext-diff", "--no-textconv")
    fields = out.split(b"\0")
    changes: list[_Change] = []
    at = 0
    while at < len(fields) - 1:
        meta = fields[at].decode("ascii").lstrip(":").split(" ")
        old_mode, new_mode, old_id, new_id, status = meta[0], meta[1], meta[2], meta[3], meta[4][:1]
        at += 1
        path = fields[at]
        if status in ("R", "C"):
            at += 1
            path = fields[at]
        at += 1
        changes.append(
            _Change(status, path.decode("utf-8", "surrogateescape"), new_mode, new_id, old_mode, old_id)
        )
    return changes


class ObjectReader:
    """Sizes and contents of objects by id: ``git cat-file --batch-check`` for all, then
    ``--batch`` for the blobs within the size limit."""

    def __init__(self, repo: StagedRepo) -> None:
        self.repo = repo

    def read(self, ids: Sequence[str], max_size: int) -> dict[str, bytes | int | None]:
        """Per id: the bytes, the size (int) when over ``max_size``, None when missing."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        info = self.repo.git("cat-file", "--batch-check", stdin="".join(f"{i}\n" for i in unique).encode())
        found: dict[str, bytes | int | None] = {}
        wanted: list[str] = []
        for oid, line in zip(unique, info.split(b"\n"), strict=False):
            parts = line.split(b" ")
            if len(parts) == 3 and parts[1] == b"blob":
                size = int(parts[2])
                found[oid] = size
                if size <= max_size:
                    wanted.append(oid)
            else:
                found[oid] = None
        if wanted:
            out = self.repo.git("cat-file", "--batch", stdin="".join(f"{i}\n" for i in wanted).encode())
            at = 0
            for oid in wanted:
                end = out.index(b"\n", at)
                size = int(out[at:end].split(b" ")[2])
                found[oid] = out[end + 1 : end + 1 + size]
                at = end + 2 + size
        return found


def ignore_files(repo: StagedRepo) -> Callable[[str], bytes | None]:
    """Reads the ``.leakscanignore`` of a folder (``""`` or ``"dir/"``) as staged in the index;
    only the ones the index lists are read."""
    listed = repo.git("ls-files", "-s", "-z", "--", f":(glob)**/{IGNORE_FILE}")
    ids: dict[str, str] = {}
    for record in listed.split(b"\0"):
        if b"\t" not in record:
            continue
        meta, path = record.split(b"\t", 1)
        name = path.decode("utf-8", "surrogateescape")
        ids.setdefault(name, meta.split(b" ")[1].decode("ascii"))
    contents = ObjectReader(repo).read(list(ids.values()), MAX_IGNORE_FILE) if ids else {}

    def read(base: str) -> bytes | None:
        oid = ids.get(base + IGNORE_FILE)
        data = contents.get(oid) if oid is not None else None
        return data if isinstance(data, bytes) else None

    return read


class StagedSource:
    """Added and modified files of the index compared with HEAD (renames followed), as blobs
    with a ``StagedOrigin``: held, or read through git when over ``max_size``. Files ``keep``
    rejects are passed over. ``previous`` holds, per path, the HEAD version of each modified file
    that is held; ``staged_bytes`` the bytes held."""

    def __init__(self, repo: StagedRepo, max_size: int, keep: Callable[[str], bool] | None = None) -> None:
        self.repo = repo
        self.previous: dict[str, Previous] = {}
        self.items = list(self._items(max_size, keep))
        self.staged_bytes = sum(len(item.data) for item in self.items if isinstance(item, Blob))
        self.streamed = any(isinstance(item, Blob) and item.reader is not None for item in self.items)

    def __iter__(self) -> Iterator[Blob | Skipped | Failed]:
        return iter(self.items)

    def _items(self, max_size: int, keep: Callable[[str], bool] | None) -> Iterator[Blob | Skipped | Failed]:
        scanned: list[_Change] = []
        for change in staged_changes(self.repo):
            if change.status == "D" or (keep is not None and not keep(change.path)):
                continue
            if change.status == "U":
                yield Skipped(change.path, "merge conflict")
            elif change.new_mode == GITLINK:
                yield Skipped(change.path, "submodule")
            else:
                scanned.append(change)
        old_ids = [c.old_id for c in scanned if _has_old(c)]
        objects = ObjectReader(self.repo).read([c.new_id for c in scanned] + old_ids, max_size)
        for change in scanned:
            data = objects.get(change.new_id)
            old = objects.get(change.old_id) if _has_old(change) else None
            if data is None:
                yield Failed(change.path, f"missing blob object {change.new_id}")
            elif _has_old(change) and old is None:
                yield Failed(change.path, f"missing blob object {change.old_id}")
            elif isinstance(data, int):
                yield Blob(
                    StagedOrigin(change.path), reader=GitBlobReader(self.repo.git_dir, change.new_id, data)
                )
            else:
                if isinstance(old, bytes):
                    self.previous[change.path] = Previous(old, change.old_id, change.new_id)
                yield Blob(StagedOrigin(change.path), data)


class GitBlobReader(Struct, frozen=True):
    """A blob of the object store by id, read through ``git cat-file blob`` (streamed: a staged
    file over the size limit is never held)."""

    git_dir: str
    oid: str
    size: int

    def read(self, limit: int) -> bytes:
        if self.size > limit:
            raise Unreadable(f"too large ({self.size} bytes > {limit})", skip=True)
        with self.stream() as read:
            return b"".join(iter(lambda: read(1 << 20), b""))

    @contextmanager
    def stream(self) -> Iterator[Callable[[int], bytes]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
        proc = subprocess.Popen(
            ["git", f"--git-dir={self.git_dir}", "cat-file", "blob", self.oid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        stdout = proc.stdout
        ended = False

        def read(size: int) -> bytes:
            nonlocal ended
            data = stdout.read(size)
            if not data and not ended:
                ended = True
                if proc.wait() != 0:
                    raise Unreadable(f"unreadable blob object {self.oid}")
            return data

        try:
            yield read
        finally:
            stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def added_lines(repo: StagedRepo, old_id: str, new_id: str, new: bytes) -> list[tuple[int, int]]:
    """Byte ranges ``(start, end)`` of blob ``new`` (its bytes), one per line added or changed
    relative to blob ``old_id``: git's lines, which end at LF only. The same xdiff with the same
    settings as ``sources.git.added_ranges`` (no indent heuristic, no context, text forced)."""
    out = repo.git(
        "diff",
        "-U0",
        "--no-indent-heuristic",
        "--text",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        old_id,
        new_id,
    )
    starts = [0]
    at = new.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = new.find(b"\n", at + 1)
    if starts[-1] == len(new):
        starts.pop()
    ranges: list[tuple[int, int]] = []
    for line in out.split(b"\n"):
        if not line.startswith(b"@@ "):
            continue
        added = line.split(b" ")[2]  # +start[,count]
        first, _, count = added[1:].partition(b",")
        number = int(count) if count else 1
        for index in range(int(first) - 1, int(first) - 1 + number):
            end = starts[index + 1] if index + 1 < len(starts) else len(new)
            ranges.append((starts[index], end))
    return ranges


def _has_old(change: _Change) -> bool:
    return change.status != "A" and change.old_mode not in (_NO_FILE, GITLINK)
