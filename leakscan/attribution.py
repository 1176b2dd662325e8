"""Attribution: the blobs (and messages) with matches from the history source → findings,
each credited to the commit that introduced it (or the annotated tag), with the number of
commits holding the secret, whether HEAD still does, whether only the stash reaches it, and its
exposure window (``leakscan.exposure``).

For the blobs with matches, the commits are walked again to find, per (rule, secret, path), the
earliest commit whose tree has the secret at that path while none of its parents' trees has it
there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pygit2

from leakscan.engine import make_finding
from leakscan.exposure import add_exposures
from leakscan.models import CommitInfo, Finding, GitBlobOrigin, Match
from leakscan.options import HistoryOptions
from leakscan.sources.git import (
    Oid,
    PathFilter,
    RefObject,
    TargetIndex,
    blob_at,
    commit_info,
    head_commit,
    load_commit,
    parent_ids,
    tree_id,
    walk_commits,
)
from leakscan.sources.history import BlobScanner, Collected, Key, Located, MessageFindings


def attribute(collected: Collected, history: HistoryOptions) -> list[Finding]:
    """The findings of what the history source collected, credited and with their exposure."""
    c = collected
    if not (c.targets or c.messages.found):
        return []
    attributor = Attributor(c.repo, c.targets, c.scanner, c.base, c.known, c.paths)
    stash_only = _stash_only_commits(c.repo) if not (history.branches or history.since_commit) else set()
    return add_exposures(
        c.repo,
        _findings(c.repo, c.walk.commits, c.trees, attributor, c.messages, c.tips.objects, stash_only),
    )


class Attributor:
    """Finds, for each (rule, secret, path) in the blobs with findings, the commit that
    introduced it, the number of commits containing the secret, and whether HEAD has it."""

    def __init__(
        self,
        repo: pygit2.Repository,
        targets: dict[Oid, tuple[Match, ...]],
        scanner: BlobScanner,
        base: frozenset[Oid],
        known: frozenset[Oid],
        paths: PathFilter,
    ) -> None:
        self.repo = repo
        self.targets = targets
        self.scanner = scanner
        self.base = base
        self.known = known
        self.paths = paths if paths.active else None
        self.index = TargetIndex(repo, frozenset(targets))
        self._keys: dict[Oid, dict[Key, tuple[Match, Oid]]] = {}
        self._outside: dict[Oid, tuple[Match, ...]] = {}

    def keys_of_tree(self, root: Oid) -> dict[Key, tuple[Match, Oid]]:
        """(rule, secret, path) → first match, for the target blobs under tree ``root``."""
        found = self._keys.get(root)
        if found is None:
            found = {}
            paths = self.paths
            for path, blob in self.index.entries(root):
                if paths is not None and paths.excluded(path):
                    continue
                for match in self.targets[blob]:
                    found.setdefault((match.rule.id, match.secret.value, path), (match, blob))
            self._keys[root] = found
        return found

    def _tree_has(self, root: Oid, key: Key) -> bool:
        """Whether tree ``root`` has the secret at the path. Blobs of the base (the trees the range
        is compared with) were never scanned, so the one at that path is scanned now."""
        if key in self.keys_of_tree(root):
            return True
        if not self.known:
            return False
        blob = blob_at(self.repo, root, key[2])
        if blob is None or blob not in self.known:
            return False
        matches = self._outside.get(blob)
        if matches is None:
            matches = self._outside[blob] = self.scanner.matches(blob, key[2])
        return any((m.rule.id, m.secret.value) == key[:2] for m in matches)

    def run(
        self, commits: Sequence[Oid], trees: dict[Oid, Oid], messages: dict[Oid, set[str]]
    ) -> tuple[dict[Key, tuple[Oid, tuple[Match, Oid]]], Counter[str], set[str]]:
        """What introduced each key, and per secret: how many commits hold it in their tree or
        message, and whether HEAD does (``messages``: the secrets of each commit message)."""
        introduced: dict[Key, tuple[Oid, tuple[Match, Oid]]] = {}
        counts: Counter[str] = Counter()
        for oid in commits:
            root = trees.get(oid)
            keys = self.keys_of_tree(root) if root is not None and self.targets else {}
            in_message = messages.get(oid)
            if in_message:
                counts.update(in_message.union(key[1] for key in keys))
            elif keys:
                counts.update({key[1] for key in keys})
            else:
                continue
            fresh = [key for key in keys if key not in introduced]
            if not fresh:
                continue
            parents = parent_ids(self.repo, oid)
            for key in fresh:
                if not any(self._parent_has(parent, key, trees) for parent in parents):
                    introduced[key] = (oid, keys[key])
        at_head: set[str] = set()
        head = head_commit(self.repo)
        head_tree = tree_id(self.repo, head) if head is not None else None
        if head_tree is not None and self.targets:
            at_head = {key[1] for key in self.keys_of_tree(head_tree)}
        if head is not None:
            at_head.update(messages.get(head, ()))
        return introduced, counts, at_head

    def _parent_has(self, parent: Oid, key: Key, trees: dict[Oid, Oid]) -> bool:
        root = trees.get(parent)
        if root is None and parent in self.base:
            root = tree_id(self.repo, parent)
        return root is not None and self._tree_has(root, key)


def _findings(
    repo: pygit2.Repository,
    commits: Sequence[Oid],
    trees: dict[Oid, Oid],
    attributor: Attributor,
    messages: MessageFindings,
    objects: Sequence[RefObject],
    stash_only: set[Oid],
) -> list[Finding]:
    introduced, counts, at_head = attributor.run(commits, trees, messages.secrets)
    infos: dict[Oid, CommitInfo] = {}
    located: list[Located] = []
    for key, (oid, (found, blob)) in introduced.items():
        info = infos.get(oid)
        if info is None:
            commit = load_commit(repo, oid)
            assert commit is not None, "attributed commits were read before"
            info = infos[oid] = commit_info(commit)
        located.append((key, GitBlobOrigin(str(blob), key[2], (str(oid),)), info, found))
    located.extend(messages.found)
    located.extend(_ref_object_keys(attributor, objects))
    return [
        make_finding(
            found,
            origin,
            commit=info,
            commits_count=counts[value],
            present_at_head=value in at_head,
            in_stash_only=info is not None and pygit2.Oid(hex=info.commit) in stash_only,
        )
        for (_, value, _), origin, info, found in located
    ]


def _stash_only_commits(repo: pygit2.Repository) -> set[Oid]:
    """Commits that only the stash reaches (its entries and their index/untracked parents)."""
    stashes = [stash.commit_id for stash in repo.listall_stashes()]
    if not stashes:
        return set()
    others: list[Oid] = []
    for name in repo.listall_references():
        if name == "refs/stash":
            continue
        try:
            target = repo.references[name].resolve().peel(pygit2.Commit).id
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            continue
        others.append(target)
    head = head_commit(repo)
    if head is not None:
        others.append(head)
    return set(walk_commits(repo, stashes, others, None).commits)


def _ref_object_keys(attributor: Attributor, objects: Sequence[RefObject]) -> list[Located]:
    """Findings in the blobs and trees refs point to, at paths under the ref's name, credited to
    the annotated tag (None for a lightweight ref)."""
    located: dict[Key, Located] = {}
    targets = attributor.targets
    paths = attributor.paths
    for ref in objects:
        if ref.is_tree:
            entries = [(f"{ref.name}/{path}", blob) for path, blob in attributor.index.entries(ref.oid)]
        else:
            entries = [(ref.name, ref.oid)] if ref.oid in targets else []
        for path, blob in entries:
            if paths is not None and paths.excluded(path):
                continue
            for match in targets[blob]:
                key = (match.rule.id, match.secret.value, path)
                located.setdefault(key, (key, GitBlobOrigin(str(blob), path), ref.tag, match))
    return list(located.values())
