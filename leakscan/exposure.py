"""Exposure window of history findings: which refs still reach the introducing commit, whether the
default branch's tip still holds the secret, the first default-branch commit that removed it, and
for how many days it was exposed."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime

import pygit2
from msgspec.structs import replace

from leakscan.models import CommitInfo, Exposure, Finding
from leakscan.sources.git import Oid, blob_at, commit_info, load_commit, parent_ids, tree_id

SECONDS_PER_DAY = 86400.0


def days_between(start: str, end: str | None, now: datetime | None = None) -> float | None:
    """Days from ISO date ``start`` to ``end`` (or ``now``), rounded to 0.01; None if unparsable."""
    try:
        first = datetime.fromisoformat(start)
        last = datetime.fromisoformat(end) if end else (now or datetime.now(UTC))
    except ValueError:
        return None
    return round(max(0.0, (last - first).total_seconds()) / SECONDS_PER_DAY, 2)


class ExposureTracer:
    """Computes exposures in one repository; caches the default-branch chain and blob contents."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.refs = _named_commits(repo)
        self.default_branch, tip = _default_branch(repo)
        self.chain = _first_parent_chain(repo, tip) if tip is not None else []
        self._holds: dict[tuple[Oid, bytes], bool] = {}
        self._reaching: dict[Oid, tuple[str, ...]] = {}

    def exposure(self, finding: Finding) -> Exposure | None:
        """The exposure of one history finding (None for findings without a commit)."""
        if finding.commit is None:
            return None
        try:
            introduced = pygit2.Oid(hex=finding.commit.commit)
        except ValueError:
            return None
        refs = self._refs_reaching(introduced)
        if finding.path.startswith("<") or not self.chain:
            return Exposure(refs, self.default_branch, None, None, None)
        secret = finding.secret.value.encode("utf-8", "surrogateescape")
        present = [self._holds_at(commit, finding.path, secret) for commit in self.chain]
        removed: CommitInfo | None = None
        if True in present:
            first = present.index(True)
            gone = next((i for i in range(first, len(present)) if not present[i]), None)
            if gone is not None:
                commit = load_commit(self.repo, self.chain[gone])
                removed = commit_info(commit) if commit is not None else None
        # An open window (still present) has no length yet: reports count it up to their own time.
        days = days_between(finding.commit.date, removed.date) if removed else None
        return Exposure(refs, self.default_branch, present[-1], removed, days)

    def _refs_reaching(self, commit: Oid) -> tuple[str, ...]:
        """Names of the refs whose history holds ``commit``: one ``git for-each-ref --contains``
        (git shares the walk among all refs), else libgit2 per ref."""
        cached = self._reaching.get(commit)
        if cached is not None:
            return cached
        if not isinstance(self.repo.get(commit), pygit2.Commit):  # a tag object: git would peel it
            found = tuple(name for name, tip in self.refs if self._reaches(tip, commit))
            self._reaching[commit] = found
            return found
        try:
            listed = subprocess.run(
                [
                    "git",
                    "--git-dir",
                    self.repo.path,
                    "for-each-ref",
                    f"--contains={commit}",
                    "--format=%(refname)",
                    "refs/heads",
                    "refs/tags",
                    "refs/remotes",
                ],
                capture_output=True,
                check=True,
                timeout=600,
            ).stdout.decode("utf-8", "surrogateescape")
            names = {line.split("/", 2)[2] for line in listed.splitlines() if line.count("/") >= 2}
            found = tuple(name for name, _ in self.refs if name in names)
        except (OSError, subprocess.SubprocessError):
            found = tuple(name for name, tip in self.refs if self._reaches(tip, commit))
        self._reaching[commit] = found
        return found

    def _reaches(self, tip: Oid, commit: Oid) -> bool:
        try:
            return tip == commit or bool(self.repo.descendant_of(tip, commit))
        except pygit2.GitError:
            return False

    def _holds_at(self, commit: Oid, path: str, secret: bytes) -> bool:
        root = tree_id(self.repo, commit)
        blob = blob_at(self.repo, root, path) if root is not None else None
        if blob is None:
            return False
        key = (blob, secret)
        held = self._holds.get(key)
        if held is None:
            try:
                obj = self.repo[blob]
                held = isinstance(obj, pygit2.Blob) and secret in obj.data
            except (KeyError, ValueError, pygit2.GitError):
                held = False
            self._holds[key] = held
        return held


def add_exposures(repo: pygit2.Repository, findings: Sequence[Finding]) -> list[Finding]:
    """``findings`` with their exposure window filled in."""
    if not findings:
        return list(findings)
    tracer = ExposureTracer(repo)
    return [replace(f, exposure=tracer.exposure(f)) for f in findings]


def _named_commits(repo: pygit2.Repository) -> list[tuple[str, Oid]]:
    """Branch and tag short names (local and remote branches, tags) with the commit each peels to."""
    named: list[tuple[str, Oid]] = []
    for name in sorted(repo.listall_references()):
        if not name.startswith(("refs/heads/", "refs/tags/", "refs/remotes/")):
            continue
        try:
            commit = repo.references[name].resolve().peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            continue
        if name.endswith("/HEAD"):
            continue
        named.append((name.split("/", 2)[2], commit.id))
    return named


def _default_branch(repo: pygit2.Repository) -> tuple[str | None, Oid | None]:
    try:
        if repo.head_is_unborn:
            return None, None
        head = repo.head
    except pygit2.GitError:
        return None, None
    try:
        commit = head.peel(pygit2.Commit)
    except (ValueError, pygit2.GitError):
        return None, None
    return (head.shorthand if repo.head_is_detached is False else None), commit.id


def _first_parent_chain(repo: pygit2.Repository, tip: Oid) -> list[Oid]:
    """The default branch's first-parent commits, oldest first."""
    chain: list[Oid] = []
    seen: set[Oid] = set()
    current: Oid | None = tip
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(current)
        parents = parent_ids(repo, current)
        current = parents[0] if parents else None
    chain.reverse()
    return chain
