"""The libgit2 staged reader leakscan once shipped (``diff_to_index`` with ``find_similar``): the
reference the git-CLI reader (``leakscan.sources.staged``) is checked against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pygit2
from pygit2.enums import DeltaStatus

from leakscan.errors import InputError
from leakscan.models import Failed, Skipped
from leakscan.sources.git import GITLINK, ObjectError, Oid, read_blob
from leakscan.sources.staged import index_file_path


@dataclass(frozen=True, slots=True)
class StagedFile:
    """A file as it will be committed; ``old`` is its HEAD version (None for a new file)."""

    path: str
    data: bytes
    old: bytes | None


@dataclass(frozen=True, slots=True)
class LargeStagedFile:
    """A staged file over the size limit (not held)."""

    path: str
    oid: Oid
    size: int


def staged_index(repo: pygit2.Repository) -> pygit2.Index:
    """The index the next commit is made from: the file named by ``$GIT_INDEX_FILE`` when set
    (git sets it for hooks; ``git commit -a`` and ``git commit PATH`` use a temporary index), a
    relative name being relative to the current folder as for git; else the repository's index."""
    if repo.is_bare:
        raise InputError(f"{repo.path}: bare repository: there is no index to scan")
    path = index_file_path()
    if path is None:
        index: pygit2.Index = repo.index
        return index
    try:
        return pygit2.Index(path)
    except (pygit2.GitError, OSError, ValueError) as exc:
        raise InputError(
            f"GIT_INDEX_FILE={os.environ['GIT_INDEX_FILE']}: cannot read the index: {exc}"
        ) from exc


def iter_staged(
    repo: pygit2.Repository, index: pygit2.Index, max_size: int
) -> Iterator[StagedFile | LargeStagedFile | Skipped | Failed]:
    """Added and modified files of ``index`` (see ``staged_index``), compared with HEAD (renames
    followed)."""

    def keep(path: str) -> bool:
        return True

    if repo.head_is_unborn:
        for entry in index:
            if not keep(entry.path):
                continue
            if entry.mode == GITLINK:
                yield Skipped(entry.path, "submodule")
            else:
                yield _staged_file(repo, entry.path, entry.id, None, max_size)
        return
    head_tree = repo.head.peel(pygit2.Commit).tree
    diff = head_tree.diff_to_index(index)
    diff.find_similar()
    for delta in diff.deltas:
        status = delta.status
        if status in (DeltaStatus.DELETED, DeltaStatus.UNMODIFIED, DeltaStatus.IGNORED):
            continue
        new = delta.new_file
        if not keep(new.path):
            continue
        if status == DeltaStatus.CONFLICTED:
            yield Skipped(new.path, "merge conflict")
            continue
        if new.mode == GITLINK:
            yield Skipped(new.path, "submodule")
            continue
        old = delta.old_file
        old_id = old.id if status != DeltaStatus.ADDED and old.mode not in (0, GITLINK) else None
        yield _staged_file(repo, new.path, new.id, old_id, max_size)


def _staged_file(
    repo: pygit2.Repository, path: str, oid: Oid, old_oid: Oid | None, max_size: int
) -> StagedFile | LargeStagedFile | Skipped | Failed:
    try:
        data = read_blob(repo, oid, max_size)
        old = read_blob(repo, old_oid, max_size) if old_oid is not None else None
    except ObjectError as exc:
        return Failed(path, str(exc))
    if isinstance(data, int):
        return LargeStagedFile(path, oid, data)
    return StagedFile(path, data, old if isinstance(old, bytes) else None)
