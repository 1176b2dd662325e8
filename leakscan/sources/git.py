"""Git access through pygit2: open a repository, pick the commits to walk, enumerate the blobs of
their trees once each, read blobs. No `git` subprocess, no parsing of
`git log` output. (The staged index is read through git itself: ``sources.staged``.)"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pygit2
from msgspec import Struct, field
from pygit2.enums import DiffOption, FileMode, ObjectType, SortMode

from leakscan.errors import InputError, UsageError
from leakscan.models import CommitInfo, Failed, Skipped, Unreadable
from leakscan.sources.pathfilter import PathFilter as PathFilter
from leakscan.sources.pathfilter import in_ranges as in_ranges

GITLINK = int(FileMode.COMMIT)
TREE = int(FileMode.TREE)
# Object types of tree entries: reading ``entry.type`` is ~8x cheaper than ``entry.filemode`` (an
# enum), and tree walks read it for every entry of every distinct tree.
TREE_ENTRY = pygit2.GIT_OBJECT_TREE
GITLINK_ENTRY = pygit2.GIT_OBJECT_COMMIT
Oid = pygit2.Oid


# libgit2 keeps parsed objects in a cache and maps pack files in large windows; both count in the
# resident memory of a history scan, which reads every object about once. Measured on git/git's
# full history: peak 1.09 GB with libgit2's defaults, 323 MiB with these limits (264 MiB with no
# cache at all, but the small cache keeps the trees attribution reads again: 0.36 s → 0.22 s on
# the history benchmark).
OBJECT_CACHE_BYTES = 32 * 1024 * 1024
PACK_WINDOW_BYTES = 32 * 1024 * 1024
PACK_MAPPED_LIMIT = 128 * 1024 * 1024


def limit_libgit2_memory() -> None:
    """Bound libgit2's object cache and pack mappings (process-wide libgit2 settings)."""
    pygit2.settings.enable_caching(True)
    pygit2.settings.cache_max_size(OBJECT_CACHE_BYTES)
    pygit2.settings.mwindow_size = PACK_WINDOW_BYTES
    pygit2.settings.mwindow_mapped_limit = PACK_MAPPED_LIMIT


def open_repo(where: str | Path) -> pygit2.Repository:
    """The repository containing ``where`` (normal, bare or linked worktree)."""
    if not os.path.exists(where):
        raise InputError(f"{where}: no such file or directory")
    found = pygit2.discover_repository(str(where))
    if found is None:
        raise InputError(f"{where}: not a git repository (nor inside one)")
    try:
        return pygit2.Repository(found)
    except pygit2.GitError as exc:
        raise InputError(f"{where}: cannot open git repository: {exc}") from exc


def common_dir(repo: pygit2.Repository) -> Path:
    """The folder shared by all worktrees of ``repo`` (its own git dir unless a linked worktree)."""
    git_dir = Path(repo.path)
    marker = git_dir / "commondir"
    if marker.is_file():
        return (git_dir / marker.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


_RAW_DATE = re.compile(rb"> (-?\d+) ([+-])(\d\d)(\d\d)$")


def _signed(obj: pygit2.Commit | pygit2.Tag, who: pygit2.Signature, header: bytes) -> CommitInfo:
    """Name, email and date of ``who``; the date is read from the raw ``header`` line (libgit2
    resets offsets it does not like, such as ``+2359``, to UTC). A date no calendar can show
    (a hostile timestamp) is given in git's raw form, ``@<seconds> <offset>``."""
    seconds, offset = who.time, who.offset
    sign, hours, minutes = ("-" if offset < 0 else "+"), abs(offset) // 60, abs(offset) % 60
    for line in obj.read_raw().split(b"\n\n", 1)[0].split(b"\n"):
        found = _RAW_DATE.search(line) if line.startswith(header + b" ") else None
        if found is not None:
            seconds, sign = int(found[1]), found[2].decode()
            hours, minutes = int(found[3]), int(found[4])
            break
    try:
        zone = timezone((-1 if sign == "-" else 1) * timedelta(hours=hours, minutes=minutes))
        date = datetime.fromtimestamp(seconds, zone).isoformat()
    except (ValueError, OverflowError, OSError):
        date = f"@{seconds} {sign}{hours:02d}{minutes:02d}"
    return CommitInfo(str(obj.id), who.name, who.email, date)


def commit_info(commit: pygit2.Commit) -> CommitInfo:
    """Commit id, author name and email, and author date in ISO 8601 with its UTC offset."""
    return _signed(commit, commit.author, b"author")


class RefObject(Struct, frozen=True):
    """A blob or tree a ref points to (directly or through annotated tags), shown at path
    ``name``; ``tag`` is the annotated tag the ref points to, None for a lightweight ref."""

    name: str
    oid: Oid
    is_tree: bool
    tag: CommitInfo | None


class TagMessage(Struct, frozen=True):
    """The message of an annotated tag, with the tag as its commit information."""

    name: str
    message: bytes
    tag: CommitInfo


class Tips(Struct):
    """Commits to start the walk from, blobs and trees refs point to, annotated-tag messages, and
    refs that could not be used."""

    commits: list[Oid] = field(default_factory=list)
    objects: list[RefObject] = field(default_factory=list)
    tag_messages: dict[Oid, TagMessage] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    _listed: set[Oid] = field(default_factory=set)  # ``commits``, looked up by thousands of refs

    def add_commit(self, oid: Oid) -> None:
        """Start the walk from ``oid`` too (once however many refs name it)."""
        if oid not in self._listed:
            self._listed.add(oid)
            self.commits.append(oid)


def tag_info(tag: pygit2.Tag) -> CommitInfo:
    """An annotated tag as commit information: the tag id, tagger name, email and date."""
    tagger = tag.tagger
    return _signed(tag, tagger, b"tagger") if tagger is not None else CommitInfo(str(tag.id), "", "", "")


def peel_ref(repo: pygit2.Repository, oid: Oid, name: str, tips: Tips) -> None:
    """Follow annotated tags (keeping their messages) down to a commit, a blob or a tree; record
    what can't be followed."""
    outer: CommitInfo | None = None
    seen = 0
    while seen < 64:
        seen += 1
        try:
            obj = repo[oid]
        except (KeyError, ValueError, pygit2.GitError):
            tips.errors.append(Failed(name, object_problem(repo, oid, "object")))
            return
        if obj.type == ObjectType.COMMIT:
            tips.add_commit(oid)
            return
        if obj.type in (ObjectType.BLOB, ObjectType.TREE):
            is_tree = obj.type == ObjectType.TREE
            tips.objects.append(RefObject(name, oid, is_tree, outer))
            return
        if not isinstance(obj, pygit2.Tag):
            tips.skipped.append(Skipped(name, f"ref points to a {obj.type_str}, not a commit"))
            return
        if oid not in tips.tag_messages:
            tips.tag_messages[oid] = TagMessage(obj.name or name, obj.raw_message or b"", tag_info(obj))
        if outer is None:
            outer = tips.tag_messages[oid].tag
        oid = obj.target
    tips.errors.append(Failed(name, "tag chain too long"))


def default_tips(repo: pygit2.Repository) -> Tips:
    """Every ref (branches, remote-tracking branches, tags, notes, stash), every stash entry of
    the stash reflog, and HEAD."""
    tips = Tips()
    listed = repo.listall_references()
    tips.errors.extend(_broken_loose_refs(repo, set(listed)))
    for name in sorted(listed):
        try:
            target = repo.references[name].resolve().target
        except (KeyError, pygit2.GitError):
            target = None
        if not isinstance(target, Oid):
            tips.skipped.append(Skipped(name, "dangling symbolic ref"))
            continue
        peel_ref(repo, target, name, tips)
    for index, stash in enumerate(repo.listall_stashes()):
        peel_ref(repo, stash.commit_id, f"stash@{{{index}}}", tips)
    head = head_commit(repo)
    if head is not None:
        peel_ref(repo, head, "HEAD", tips)
    return tips


def _broken_loose_refs(repo: pygit2.Repository, listed: set[str]) -> list[Failed]:
    """Loose ref files libgit2 passed over (git says "ignoring broken ref"): their commits
    would go unscanned, so each is an error."""
    refs = common_dir(repo) / "refs"
    broken: list[Failed] = []
    for folder, _, files in os.walk(refs):
        for file in files:
            name = Path(folder, file).relative_to(refs.parent).as_posix()
            if name in listed or file.endswith(".lock"):
                continue
            try:
                content = Path(folder, file).read_bytes()[:200].decode("utf-8", errors="replace").strip()
            except OSError as exc:
                content = f"cannot read: {exc.strerror or exc}"
            broken.append(Failed(name, f"broken ref ({content[:80]!r}): its commits are not scanned"))
    return broken


def head_tips(repo: pygit2.Repository) -> Tips:
    """HEAD alone (nothing for an unborn branch)."""
    tips = Tips()
    head = head_commit(repo)
    if head is not None:
        tips.add_commit(head)
    return tips


def named_tips(repo: pygit2.Repository, names: Sequence[str]) -> Tips:
    """The given branches, tags or commits (``--branch``); a tag may point to a blob or tree."""
    tips = Tips()
    for name in names:
        try:
            obj = repo.revparse_single(name)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
            raise UsageError(f"--branch {name!r}: no such branch, tag or commit in {repo.path}") from exc
        peel_ref(repo, obj.id, _full_ref_name(repo, name), tips)
    return tips


def _full_ref_name(repo: pygit2.Repository, name: str) -> str:
    """``refs/tags/v1`` for ``v1`` (as in a scan of every ref); other revisions as given."""
    try:
        full: str = repo.lookup_reference_dwim(name).name
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        return name
    return full


def head_commit(repo: pygit2.Repository) -> Oid | None:
    """The commit HEAD points to, or None for an unborn branch."""
    if repo.head_is_unborn:
        return None
    target = repo.head.target
    return target if isinstance(target, Oid) else None


def resolve_commit(repo: pygit2.Repository, rev: str, option: str) -> Oid:
    """A revision (branch, tag, remote branch, sha, ``HEAD~2``) as a commit id, or a UsageError."""
    try:
        obj = repo.revparse_single(rev)
        commit = obj.peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise UsageError(f"{option} {rev!r}: no such branch, tag or commit in {repo.path}") from exc
    return commit.id


class CommitWalk(Struct):
    """The commits to scan, oldest first in topological order, each one's parents (in line with
    ``commits``: their raw ids joined, b"" for none; ~60 bytes a commit), and what limited the
    walk."""

    commits: list[Oid]
    errors: list[Failed]
    truncated: bool
    parents: list[bytes] = field(default_factory=list)


def parents_of(joined: bytes, commit: Oid) -> list[Oid]:
    """The parents of ``commit`` from their ids as ``CommitWalk.parents`` joins them."""
    width = len(commit.raw)
    return [Oid(raw=joined[at : at + width]) for at in range(0, len(joined), width)]


def walk_commits(
    repo: pygit2.Repository, tips: Sequence[Oid], hidden: Sequence[Oid], max_commits: int | None
) -> CommitWalk:
    """Commits reachable from ``tips`` and not from ``hidden``: the newest ``max_commits`` in
    topological order, returned oldest first (parents before children)."""
    errors: list[Failed] = []
    newest_first: list[Oid] = []
    parents: list[bytes] = []
    truncated = False
    if tips:
        walker = repo.walk(None, SortMode.TOPOLOGICAL)
        for tip in tips:
            walker.push(tip)
        for oid in hidden:
            walker.hide(oid)
        try:
            for commit in walker:
                if max_commits is not None and len(newest_first) >= max_commits:
                    truncated = True
                    break
                newest_first.append(commit.id)
                parents.append(b"".join(parent.raw for parent in commit.parent_ids))
        except (KeyError, ValueError, pygit2.GitError) as exc:
            errors.append(Failed("<commit graph>", f"cannot walk commits: {exc}"))
    newest_first.reverse()
    parents.reverse()
    return CommitWalk(newest_first, errors, truncated, parents)


def load_commit(repo: pygit2.Repository, oid: Oid) -> pygit2.Commit | None:
    """The commit object, or None when it is missing or not a commit."""
    try:
        commit = repo[oid]
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def object_problem(repo: pygit2.Repository, oid: Oid, kind: str) -> str:
    """Why an object could not be loaded: missing, or present but not parseable."""
    try:
        present = repo.odb.exists(oid)
    except (ValueError, pygit2.GitError):
        present = False
    return f"{kind} {oid} is there but cannot be parsed" if present else f"missing {kind} {oid}"


def tree_id(repo: pygit2.Repository, commit_oid: Oid) -> Oid | None:
    """The root tree of a commit, or None when the commit object is missing."""
    commit = load_commit(repo, commit_oid)
    return commit.tree_id if commit is not None else None


def parent_ids(repo: pygit2.Repository, commit_oid: Oid) -> list[Oid]:
    """The parents of a commit (none at a shallow boundary or when the commit is missing)."""
    commit = load_commit(repo, commit_oid)
    return list(commit.parent_ids) if commit is not None else []


def load_tree(repo: pygit2.Repository, oid: Oid) -> pygit2.Tree | None:
    """The tree object, or None when it is missing."""
    try:
        tree = repo[oid]
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return tree if isinstance(tree, pygit2.Tree) else None


# --------------------------------------------------------------------------- trees and blobs


class BlobRef(Struct, frozen=True):
    """A blob to scan and the first path it was seen at."""

    oid: Oid
    path: str


class TreeEnumerator:
    """Walks trees, yielding each blob not seen before exactly once.

    Remembers the ids of trees and blobs already visited, so a subtree that did not change
    between commits is skipped at once: the cost is proportional to the number of distinct
    trees, not to commits × files. With a path filter, what a tree holds to scan depends on
    where it sits, so a tree counts as seen per (id, path), and a blob at a path left out is not
    marked as seen: the same blob met later at another path is still yielded.
    """

    def __init__(self, repo: pygit2.Repository, paths: PathFilter | None = None) -> None:
        self.repo = repo
        self.seen_trees: set[Oid | tuple[Oid, str]] = set()
        self.seen_blobs: set[Oid] = set()
        self.submodules: set[str] = set()
        self.filter = paths if paths is not None and paths.active else None
        self._paths: dict[str, str] = {}
        # Once the base of --since-commit is marked (``known``): blobs of the base met again in a
        # changed tree, with their path there, since a known blob may sit at a new path (a copy).
        self.known: frozenset[Oid] = frozenset()
        self.revisited: dict[tuple[Oid, str], None] = {}

    def mark_known(self, root: Oid) -> None:
        """Treat every tree and blob under ``root`` as already seen (the base of --since-commit)."""
        for item in self.iter_new(root):
            if isinstance(item, Failed):
                continue

    def new_blob(self, oid: Oid, path: str) -> BlobRef | None:
        """A single blob (one a ref points to) at ``path``, unless seen before or left out."""
        if oid in self.seen_blobs or (self.filter is not None and self.filter.excluded(path)):
            return None
        self.seen_blobs.add(oid)
        return BlobRef(oid, path)

    def iter_new(self, root: Oid, prefix: str = "") -> Iterator[BlobRef | Skipped | Failed]:
        """Blobs under tree ``root`` (shown under ``prefix``, e.g. ``"name/"``) not yielded
        before; Skipped for submodules, Failed for missing trees."""
        excluded = self.filter.excluded if self.filter is not None else None
        seen_trees = self.seen_trees
        key = root if excluded is None else (root, prefix)
        if key in seen_trees:
            return
        seen_trees.add(key)
        stack: list[tuple[Oid, str]] = [(root, prefix)]
        while stack:
            oid, prefix = stack.pop()
            tree = load_tree(self.repo, oid)
            if tree is None:
                yield Failed(prefix.rstrip("/") or "/", f"missing tree object {oid}")
                continue
            entries = list(tree)
            for entry in entries:
                kind = entry.type
                entry_id = entry.id
                name = entry.name or ""
                if kind == GITLINK_ENTRY:
                    path = prefix + name
                    if path not in self.submodules and not (excluded and excluded(path, True)):
                        self.submodules.add(path)
                        yield Skipped(path, "submodule")
                elif kind == TREE_ENTRY:
                    if excluded is None:
                        if entry_id not in seen_trees:
                            seen_trees.add(entry_id)
                            stack.append((entry_id, prefix + name + "/"))
                    else:
                        sub = prefix + name + "/"
                        if (entry_id, sub) not in seen_trees and not excluded(sub[:-1], True):
                            seen_trees.add((entry_id, sub))
                            stack.append((entry_id, sub))
                elif entry_id not in self.seen_blobs:
                    path = prefix + name
                    if excluded is not None and excluded(path):
                        continue
                    self.seen_blobs.add(entry_id)
                    yield BlobRef(entry_id, self._paths.setdefault(path, path))
                elif entry_id in self.known:
                    path = prefix + name
                    if excluded is None or not excluded(path):
                        self.revisited[(entry_id, path)] = None


class TargetIndex:
    """Where given blobs sit in trees: tree id → (path, blob id) pairs of the target blobs under it.

    Memoised per tree id, so attributing findings costs one pass over the distinct trees.
    """

    def __init__(self, repo: pygit2.Repository, targets: frozenset[Oid]) -> None:
        self.repo = repo
        self.targets = targets
        self._memo: dict[Oid, tuple[tuple[str, Oid], ...]] = {}

    def entries(self, root: Oid) -> tuple[tuple[str, Oid], ...]:
        memo = self._memo
        found = memo.get(root)
        if found is not None:
            return found
        pending: list[tuple[Oid, bool]] = [(root, False)]
        while pending:
            oid, expanded = pending.pop()
            if oid in memo:
                continue
            tree = load_tree(self.repo, oid)
            if tree is None:
                memo[oid] = ()
                continue
            children = list(tree)
            subtrees = [e.id for e in children if e.type == TREE_ENTRY and e.id not in memo]
            if subtrees and not expanded:
                pending.append((oid, True))
                pending.extend((sub, False) for sub in subtrees)
                continue
            result: list[tuple[str, Oid]] = []
            for entry in children:
                kind = entry.type
                if kind == TREE_ENTRY:
                    result.extend((f"{entry.name}/{path}", blob) for path, blob in memo[entry.id])
                elif kind != GITLINK_ENTRY and entry.id in self.targets:
                    result.append((entry.name or "", entry.id))
            memo[oid] = tuple(result) if result else ()
        return memo[root]


class ObjectError(Exception):
    """A git object that is missing or cannot be read (a damaged repository)."""


def read_blob(repo: pygit2.Repository, oid: Oid, max_size: int) -> bytes | int:
    """The blob's bytes, or its size (int) when over ``max_size``; ObjectError when the object
    is missing or damaged."""
    odb = repo.odb
    try:
        _, size = odb.read_header(oid)
        if size > max_size:
            return int(size)
        _, data = odb.read(oid)
    except KeyError as exc:
        raise ObjectError(f"missing blob object {oid}") from exc
    except (ValueError, pygit2.GitError) as exc:
        raise ObjectError(f"unreadable blob object {oid}: {exc}") from exc
    return bytes(data)


class OdbReader(Struct, frozen=True):
    """A blob of the object store by id, through libgit2 (its size is known once it is read)."""

    repo: pygit2.Repository
    oid: Oid
    size: int = -1

    def read(self, limit: int) -> bytes:
        try:
            data = read_blob(self.repo, self.oid, limit)
        except ObjectError as exc:
            raise Unreadable(str(exc)) from exc
        if isinstance(data, int):
            raise Unreadable(f"too large ({data} bytes > {limit})", skip=True)
        return data

    @contextmanager
    def stream(self) -> Iterator[Callable[[int], bytes]]:
        try:
            blob = self.repo[self.oid]
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise Unreadable(f"unreadable blob object {self.oid}: {exc}") from exc
        if not isinstance(blob, pygit2.Blob):
            raise Unreadable(f"object {self.oid} is not a blob")
        with pygit2.BlobIO(blob) as stream:
            yield stream.read


def blob_at(repo: pygit2.Repository, root: Oid, path: str) -> Oid | None:
    """The id of the blob at ``path`` in tree ``root``, if there is one."""
    tree = load_tree(repo, root)
    try:
        entry = tree / path if tree is not None else None
    except (KeyError, ValueError, pygit2.GitError):
        return None
    if entry is None or entry.filemode in (TREE, GITLINK):
        return None
    oid: Oid = entry.id
    return oid


def added_ranges(old: bytes, new: bytes) -> list[tuple[int, int]]:
    """Byte ranges ``(start, end)`` of ``new``, in order, that are added or changed relative to
    ``old``: git's lines, which end at LF only, so a lone CR never shifts them."""
    patch = pygit2.Patch.create_from(old, new, flag=DiffOption.FORCE_TEXT, context_lines=0, interhunk_lines=0)
    return [
        (line.content_offset, line.content_offset + len(line.raw_content))
        for hunk in patch.hunks
        for line in hunk.lines
        if line.origin == "+"
    ]
