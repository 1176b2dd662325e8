"""The one adapter between audits and the history scanner: audit one repository.

A task (``RepoTask``) names a repository; ``audit_repository`` mirrors it (or opens a local one),
compares its ref tips with the last audit, and otherwise scans its history, skipping the blobs
the store already scanned without a match. It returns a compact ``RepoOutcome``: findings with
provenance and the ids of the blobs it scanned clean, never blob contents. Everything it needs
travels in its arguments, so it runs the same in a local process pool and on a Dask worker.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import time
from pathlib import Path

import pygit2
from msgspec import Struct, field

from leakscan import __version__
from leakscan.audit.mirror import MirrorError, mirror
from leakscan.errors import LeakscanError
from leakscan.models import CommitInfo, Exposure, MatchRecord, Origin
from leakscan.options import HistoryOptions, ScanOptions
from leakscan.rules import Rule, iter_builtin_rule_files, iter_rule_files

OID_SIZE = 20
MAX_ERRORS_SHOWN = 3


class RepoTask(Struct, frozen=True):
    """One repository to audit. ``url`` is shown and stored (no credentials); ``fetch_url`` is
    what git is given; ``local`` repositories are scanned in place, others mirrored into
    ``cache``. ``previous_tips``: the ref tips of the last audit under the same rules."""

    name: str
    url: str
    fetch_url: str
    local: bool
    options: ScanOptions
    cache: Path
    previous_tips: dict[str, str] | None = None
    token_env: str | None = None
    timeout: float = 600.0
    retries: int = 2
    workers: int = 1


class FindingRecord(Struct, frozen=True):
    """A history finding in compact, picklable form (rule named by id)."""

    match: MatchRecord
    origin: Origin
    fingerprint: str
    commit: CommitInfo | None
    commits_count: int | None
    present_at_head: bool | None
    exposure: Exposure | None

    @property
    def path(self) -> str:
        return self.origin.path


class RepoOutcome(Struct, frozen=True):
    """What auditing one repository gave. ``status``: ok, unchanged (tips as last time) or error."""

    name: str
    url: str
    status: str
    error: str | None = None
    tips: dict[str, str] = field(default_factory=dict)
    commits: int = 0
    blobs_scanned: int = 0
    blobs_skipped: int = 0
    bytes_scanned: int = 0
    clean_blobs: bytes = b""
    findings: tuple[FindingRecord, ...] = ()
    duration_s: float = 0.0


class BlobSet:
    """Sorted, packed 20-byte blob ids with binary-search membership: 20 bytes per blob."""

    def __init__(self, packed: bytes) -> None:
        self.packed = packed
        self._count = len(packed) // OID_SIZE

    def __len__(self) -> int:
        return self._count

    def _at(self, index: int) -> bytes:
        return self.packed[index * OID_SIZE : (index + 1) * OID_SIZE]

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, bytes) or not self._count:
            return False
        index = bisect.bisect_left(range(self._count), oid, key=self._at)
        return index < self._count and self._at(index) == oid


def ruleset_fingerprint(options: ScanOptions) -> str:
    """What decides detection: leakscan's version, every rule file's text, disabled rules, the
    size limit and the allow-list. A change to any of them rescans every blob."""
    digest = hashlib.sha256(f"leakscan {__version__}\n".encode())
    texts = list(iter_builtin_rule_files())
    texts += [(str(path), path.read_text(encoding="utf-8")) for path in iter_rule_files(options.extra_rules)]
    for name, text in texts:
        digest.update(f"{len(text)}:{Path(name).name}\n".encode())
        digest.update(text.encode())
    digest.update(repr((sorted(options.disable_rules), options.max_file_size)).encode())
    digest.update(repr(sorted(options.allow_secrets)).encode())
    return digest.hexdigest()[:32]


def ref_tips(repo: pygit2.Repository) -> dict[str, str]:
    """Every ref name (and HEAD) → the id it points to."""
    tips: dict[str, str] = {}
    for name in repo.listall_references():
        try:
            tips[name] = str(repo.references[name].resolve().target)
        except (KeyError, pygit2.GitError):
            tips[name] = "dangling"
    try:
        tips["HEAD"] = "unborn" if repo.head_is_unborn else str(repo.head.target)
    except pygit2.GitError:
        tips["HEAD"] = "unreadable"
    return tips


def audit_repository(task: RepoTask, rules: list[Rule], known: BlobSet) -> RepoOutcome:
    """Audit one repository; every failure becomes an ``error`` outcome, nothing is raised."""
    from leakscan.history import scan_history
    from leakscan.sources.git import open_repo

    started = time.perf_counter()
    try:
        if task.local:
            path = Path(task.fetch_url)
        else:
            token = os.environ.get(task.token_env) if task.token_env else None
            path = mirror(task.fetch_url, task.cache, timeout=task.timeout, retries=task.retries, token=token)
        tips = ref_tips(open_repo(path))
        if task.previous_tips is not None and tips == task.previous_tips:
            return RepoOutcome(task.name, task.url, "unchanged", tips=tips, duration_s=_since(started))
        history = HistoryOptions(repo=str(path), workers=task.workers, skip_blobs=known)
        result = scan_history(task.options, history, rules=rules)
    except (LeakscanError, MirrorError, OSError, pygit2.GitError) as exc:
        return RepoOutcome(task.name, task.url, "error", error=str(exc), duration_s=_since(started))
    error = None
    if result.errors:
        shown = "; ".join(f"{e.path}: {e.error}" for e in result.errors[:MAX_ERRORS_SHOWN])
        more = len(result.errors) - MAX_ERRORS_SHOWN
        error = f"{len(result.errors)} error(s): {shown}" + (f"; and {more} more" if more > 0 else "")
    findings = tuple(
        FindingRecord(
            MatchRecord.of(f.match),
            f.origin,
            f.fingerprint,
            f.commit,
            f.commits_count,
            f.present_at_head,
            f.exposure,
        )
        for f in result.findings
    )
    stats = result.stats
    return RepoOutcome(
        task.name,
        task.url,
        "error" if error else "ok",
        error=error,
        tips=tips,
        commits=stats.extra.get("commits_scanned", 0),
        blobs_scanned=stats.files_scanned,
        blobs_skipped=stats.extra.get("blobs_already_scanned", 0),
        bytes_scanned=stats.bytes_scanned,
        clean_blobs=bytes(result.clean_blobs),
        findings=findings,
        duration_s=_since(started),
    )


def _since(started: float) -> float:
    return time.perf_counter() - started
