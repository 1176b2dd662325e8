"""The git history as a source: every blob reachable from the chosen refs, each unique blob
scanned exactly once, and every commit and annotated-tag message.

1. Walk the commits (topological order, oldest first) and their trees, collecting each unique
   blob id once (a tree id seen before is skipped whole). Only ids and a path are kept.
2. Scan those blobs, in this process or in worker processes (``BlobScanner.scan_batch``),
   streaming: each blob is read, scanned and dropped. Blobs without findings are forgotten; the
   others (``Collected.targets``) go to ``leakscan.attribution``.

Blobs and trees that refs point to (not commits) are scanned the same way and reported under the
ref's name; commit messages and annotated-tag messages are scanned in this process (they are
small) and reported at the pseudo-paths ``<commit message>`` and ``<tag message: NAME>``.
"""

from __future__ import annotations

import gc
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import pygit2
from msgspec import Struct, field

from leakscan.models import (
    COMMIT_MESSAGE,
    KNOWN_EXAMPLES_KEY,
    Blob,
    CommitInfo,
    CommitMessageOrigin,
    Failed,
    GitBlobOrigin,
    Match,
    MatchRecord,
    Origin,
    Outcome,
    ScanResult,
    Skipped,
    TagMessageOrigin,
)
from leakscan.options import HistoryOptions, ScanOptions
from leakscan.parallel import Lost, map_batches
from leakscan.sources.git import (
    BlobRef,
    CommitWalk,
    OdbReader,
    Oid,
    PathFilter,
    RefObject,
    Tips,
    TreeEnumerator,
    blob_at,
    commit_info,
    default_tips,
    head_tips,
    limit_libgit2_memory,
    load_commit,
    named_tips,
    object_problem,
    parent_ids,
    parents_of,
    resolve_commit,
    tree_id,
    walk_commits,
)
from leakscan.sources.gitobjects import (
    ChangeStream,
    ChangesUnavailable,
    Listing,
    RawTreeEnumerator,
    TreeStream,
    repo_dir,
    scan_in_pack_order,
)

AUTO_PARALLEL_BLOBS = 2000
# From this many blobs in the object store on, blobs are read by id in pack order by the workers
# (each through git) while a thread walks the trees; below it, the in-process scan is cheaper.
PACK_ORDER_MIN_BLOBS = 2000
MESSAGE_BATCH = 256  # commit messages given one keyword pass together
BATCH_BLOBS = 256
WORKER_DIED = "worker process died"
SHALLOW_NOTE = "history truncated (shallow clone): commits before the shallow boundary are missing"


class Progress(Struct, frozen=True):
    """How far the blob scan has got."""

    blobs_done: int
    blobs_total: int
    bytes_done: int
    total_known: bool = True  # False while the tree walk is still finding blobs


class Examiner(Protocol):
    """What the history source needs of the engine (which sits above the sources)."""

    def examine(self, blob: Blob) -> Outcome: ...

    def examine_bytes(self, data: bytes) -> Outcome: ...

    def may_hold(self, buffers: Sequence[bytes]) -> list[int]: ...

    def resolve(self, matches: Iterable[Match | MatchRecord]) -> Iterator[Match]: ...


class BlobScanner:
    """Reads blobs by id and has the engine examine them (and what they hold)."""

    def __init__(
        self, repo: pygit2.Repository, examiner: Examiner, max_size: int, stream_large: bool = False
    ) -> None:
        self.repo = repo
        self.examiner = examiner
        self.max_size = max_size
        self.stream_large = stream_large  # --large-files scan: blobs over max_size are streamed

    def scan(self, oid: Oid, path: str = "", size: int = -1) -> Outcome:
        """The outcome of blob ``oid`` (first seen at ``path``; ``size`` if known). A blob over
        the size limit is skipped, or streamed when ``stream_large``."""
        if self.stream_large and size < 0:
            size = self._size(oid)
        reader = OdbReader(self.repo, oid, size if self.stream_large else -1)
        return self.examiner.examine(Blob(GitBlobOrigin(str(oid), path), reader=reader))

    def _size(self, oid: Oid) -> int:
        try:
            return int(self.repo.odb.read_header(oid)[1])
        except (KeyError, ValueError, pygit2.GitError):
            return -1  # the read reports what is wrong with it

    def matches(self, oid: Oid, path: str) -> tuple[Match, ...]:
        return tuple(self.examiner.resolve(self.scan(oid, path).matches))

    def notable(self, data: bytes) -> Outcome | None:
        """The outcome of scanning ``data`` (in a worker: matches by rule id), or None when it is
        scanned with nothing to report (most blobs: only the others cross back)."""
        outcome = self.examiner.examine_bytes(data)
        if outcome.skipped is None and outcome.failed is None and not outcome.notable:
            return None
        return outcome.portable()

    def scan_batch(self, refs: Sequence[tuple[str, str]]) -> list[Outcome]:
        return [self.scan(pygit2.Oid(hex=oid), path).portable() for oid, path in refs]


class WorkerScan(Struct):
    """What a worker needs to scan blobs (reaches it through fork); each worker opens the
    repository itself, on its first batch."""

    repo_path: str
    examiner: Examiner
    max_size: int
    stream_large: bool
    scanner: BlobScanner | None = None

    def scan_batch(self, refs: Sequence[tuple[str, str]]) -> list[Outcome]:
        if self.scanner is None:
            limit_libgit2_memory()
            repo = pygit2.Repository(self.repo_path)
            self.scanner = BlobScanner(repo, self.examiner, self.max_size, self.stream_large)
        return self.scanner.scan_batch(refs)


def _scan_in_worker(state: WorkerScan, refs: list[tuple[str, str]]) -> list[Outcome]:
    return state.scan_batch(refs)


def _batches(pending: Iterable[BlobRef]) -> Iterator[list[BlobRef]]:
    refs = iter(pending)
    while batch := list(itertools.islice(refs, BATCH_BLOBS)):
        yield batch


def iter_outcomes(
    scanner: BlobScanner, pending: Iterable[BlobRef], workers: int
) -> Iterator[tuple[BlobRef, Outcome]]:
    """Scan ``pending`` blobs, in order, in this process or across ``workers`` processes (the
    worker pool). ``pending`` is consumed lazily (the tree walk goes on between batches). The
    blobs of a batch whose worker died come back as failed with the reason."""
    if workers <= 1:
        for batch in _batches(pending):
            for ref in batch:
                yield ref, scanner.scan(ref.oid, ref.path)
        return
    state = WorkerScan(scanner.repo.path, scanner.examiner, scanner.max_size, scanner.stream_large)
    made: deque[list[BlobRef]] = deque()

    def batches() -> Iterator[list[tuple[str, str]]]:
        for batch in _batches(pending):
            made.append(batch)
            yield [(str(ref.oid), ref.path) for ref in batch]

    for item in map_batches(_scan_in_worker, state, batches(), workers):
        batch = made.popleft()
        if isinstance(item, Lost):
            for ref in batch:
                yield ref, Outcome(failed=f"blob {ref.oid}: {item.reason}")
        else:
            yield from zip(batch, item, strict=True)


Key = tuple[str, str, str]  # rule id, secret, path
# A finding before it is made: its key, where it is, the commit (or tag) credited, the match.
Located = tuple[Key, Origin, CommitInfo | None, Match]


class Collected(Struct):
    """What the history source gave: the blobs with matches (``targets``), the message findings,
    and what attribution needs to credit them to commits."""

    repo: pygit2.Repository
    walk: CommitWalk
    trees: dict[Oid, Oid]
    tips: Tips
    base: frozenset[Oid]
    known: frozenset[Oid]
    paths: PathFilter
    scanner: BlobScanner
    targets: dict[Oid, tuple[Match, ...]]
    messages: MessageFindings
    enumerator: TreeEnumerator | RawTreeEnumerator


def collect(
    repo: pygit2.Repository,
    history: HistoryOptions,
    options: ScanOptions,
    examiner: Examiner,
    allowed: frozenset[str],
    result: ScanResult,
    progress: Callable[[Progress], None] | None,
) -> Collected:
    """Walk the commits and trees, scan each unique blob once and every commit and tag message;
    counts, skips and errors go to ``result``."""
    paths = PathFilter(options.exclude)
    whole = (
        not paths.active
        and not history.since_commit
        and history.max_commits is None
        and history.skip_blobs is None  # an audit's incremental run: the known blobs are left out
    )
    listing = Listing(repo_dir(repo)) if whole else None  # git lists while the refs and commits are read
    # Every ref's tips (no --branch) are read beside the blob scan when it is in pack order.
    tips: Tips | None = None
    try:
        if listing is None or history.branches:
            tips = _record_tips(_tips(repo, history), result)
        since = history.since_commit
        hidden = [resolve_commit(repo, since, "--since-commit")] if since else []
    except BaseException:
        if listing is not None:
            listing.close()
        raise
    scanner = BlobScanner(repo, examiner, options.max_file_size, options.scan_large_files)
    enumerator: TreeEnumerator | RawTreeEnumerator = TreeEnumerator(repo, paths)
    messages = MessageFindings(examiner, allowed)
    # A whole history with enough blobs is scanned in pack order (from the first blobs git lists,
    # while it lists the rest); the commits are walked and read there, while the workers scan. A
    # whole walk has no base: every parent it can read is walked (had the walk broken off, the
    # commits it did not reach are no base to hide blobs behind).
    walked = Walked(messages, tips or Tips())
    pack_order = listing is not None and listing.has(PACK_ORDER_MIN_BLOBS)
    base: frozenset[Oid] = frozenset()
    if not pack_order:
        walked.tips = tips = tips or _record_tips(_tips(repo, history), result)
        walked.walk = walk_commits(repo, tips.commits, hidden, history.max_commits)
        result.errors.extend(walked.walk.errors)
        _read_commits(repo, walked, result)
        base = _base_commits(repo, walked.walk.commits, walked.trees)
        for parent in sorted(base, key=str):
            root = tree_id(repo, parent)
            if root is not None:
                enumerator.mark_known(root)
    known = enumerator.known = frozenset(enumerator.seen_blobs)
    trees = walked.trees
    targets: dict[Oid, tuple[Match, ...]] = {}
    try:
        if pack_order and listing is not None:
            raw = RawTreeEnumerator(repo)
            enumerator = raw
            workers = history.workers or _cores()
            with _cycle_collection_paused():
                read_tips = tips is None
                outcomes = _pack_order_outcomes(scanner, listing, raw, walked, read_tips, workers, progress)
                _fold(outcomes.walked, result)
                _scan_blobs(scanner, outcomes.pairs, allowed, targets, result, progress, outcomes.stopped)
            result.interrupted = outcomes.interrupted
        else:
            from_commits = _from_commits(enumerator, walked.walk.commits, trees)
            new_blobs = _iter_new_blobs(enumerator, from_commits, walked.tips.objects, result)
            if history.skip_blobs is not None:
                new_blobs = _unless_known(new_blobs, history.skip_blobs, result)
            pending = PendingBlobs(new_blobs)
            # Blobs are scanned while the trees are still being walked; both cores are used once
            # the history turns out to be large enough to pay for starting the workers.
            large = pending.prefetch(AUTO_PARALLEL_BLOBS) >= AUTO_PARALLEL_BLOBS
            workers = history.workers or (_cores() if large else 1)
            pairs = iter_outcomes(scanner, pending, workers)
            _scan_blobs(scanner, pairs, allowed, targets, result, progress, pending=pending)
        targets.update(_scan_copies(repo, scanner, enumerator, base, allowed, result))
    except KeyboardInterrupt:
        # The blobs scanned so far keep their findings: they are attributed and reported.
        result.interrupted = True
    finally:
        if listing is not None:
            listing.close()
    tips = walked.tips
    for tag in tips.tag_messages.values():
        messages.scan_tag(tag.name, tag.message, tag.tag, result)
    return Collected(
        repo, walked.walk, trees, tips, base, known, paths, scanner, targets, messages, enumerator
    )


def _read_commits(
    repo: pygit2.Repository, walked: Walked, result: ScanResult, cancel: threading.Event | None = None
) -> None:
    """Each walked commit's root tree (into ``walked.trees``) and its message scanned; a commit
    that cannot be read is an error. Stops early when ``cancel`` is set."""
    trees = walked.trees
    commits = walked.walk.commits
    for start in range(0, len(commits), MESSAGE_BATCH):
        if cancel is not None and cancel.is_set():
            return
        batch: list[pygit2.Commit] = []
        for oid in commits[start : start + MESSAGE_BATCH]:
            commit = load_commit(repo, oid)
            if commit is None:
                result.errors.append(Failed(str(oid), object_problem(repo, oid, "commit object")))
            else:
                trees[oid] = commit.tree_id
                batch.append(commit)
        walked.messages.scan_commits(batch, result)


def _fold(part: ScanResult, result: ScanResult) -> None:
    """Add what a thread recorded apart (skips, errors, counts) to ``result``."""
    result.skipped.extend(part.skipped)
    result.errors.extend(part.errors)
    result.stats.suppressed += part.stats.suppressed
    result.count_known_examples(part.stats.extra.get(KNOWN_EXAMPLES_KEY, 0))


def _record_tips(tips: Tips, result: ScanResult) -> Tips:
    """``tips``, with the refs they could not use recorded in ``result``."""
    result.skipped.extend(tips.skipped)
    result.errors.extend(tips.errors)
    return tips


def _tips(repo: pygit2.Repository, history: HistoryOptions) -> Tips:
    """--branch names the tips; with --since-commit alone, the commits on HEAD that REV doesn't
    have; otherwise every ref."""
    if history.branches:
        return named_tips(repo, history.branches)
    if history.since_commit:
        return head_tips(repo)
    return default_tips(repo)


def _base_commits(repo: pygit2.Repository, commits: Sequence[Oid], trees: dict[Oid, Oid]) -> frozenset[Oid]:
    """Parents of walked commits that were left out of the walk (by --since-commit or
    --max-commits): the range is compared with them. A shallow boundary has no parents at all."""
    base: set[Oid] = set()
    for oid in commits:
        if oid in trees:
            base.update(p for p in parent_ids(repo, oid) if p not in trees and tree_id(repo, p) is not None)
    return frozenset(base)


def _cores() -> int:
    return min(2, os.cpu_count() or 1)


class PendingBlobs:
    """The blobs still to scan, produced lazily by the tree walk; counts how many it has made."""

    def __init__(self, source: Iterator[BlobRef]) -> None:
        self._source = source
        self._head: list[BlobRef] = []
        self.count = 0
        self.complete = False  # the walk has ended: ``count`` is the total

    def prefetch(self, limit: int) -> int:
        """Walk ahead until ``limit`` blobs are known (or the walk ends); return how many."""
        self._head = list(itertools.islice(self._counted(), limit))
        return len(self._head)

    def __iter__(self) -> Iterator[BlobRef]:
        head, self._head = self._head, []
        yield from head
        yield from self._counted()

    def _counted(self) -> Iterator[BlobRef]:
        for ref in self._source:
            self.count += 1
            yield ref
        self.complete = True


def _from_commits(
    enumerator: TreeEnumerator | RawTreeEnumerator, commits: Sequence[Oid], trees: dict[Oid, Oid]
) -> Iterator[BlobRef | Skipped | Failed]:
    """What the walk meets in the commits' trees, commit by commit."""
    for oid in commits:
        if oid in trees:
            yield from enumerator.iter_new(trees[oid])


def _change_stream(git_dir: str, walk: CommitWalk) -> ChangeStream | None:
    """What each walked commit changed, asked of git as soon as the commits are known (git works
    while they are read); None when the walk is incomplete (a parent may not be walked)."""
    if walk.errors or walk.truncated:
        return None
    try:
        return ChangeStream(git_dir, walk.commits, walk.parents)
    except ChangesUnavailable:
        return None


def _walk_changes(
    enumerator: RawTreeEnumerator, changes: ChangeStream, walked: Walked
) -> list[BlobRef | Skipped | Failed] | None:
    """The walk of every commit's tree (``_from_commits``) from what each commit changed against
    its parents, which the walk order (parents first) has walked before: git compares the trees
    in C, and only changed entries are looked at here. None, with nothing walked, when git cannot
    say it for some commit, or a commit or one of its parents was not read."""
    trees, parents = walked.trees, walked.walk.parents
    items: list[BlobRef | Skipped | Failed] = []
    try:
        stream = iter(changes)
        cancel = enumerator.cancel
        for oid, ids in zip(walked.walk.commits, parents, strict=True):
            if cancel is not None and cancel.is_set():
                return items  # as far as it went, as the whole walk stops
            if oid not in trees or any(parent not in trees for parent in parents_of(ids, oid)):
                raise ChangesUnavailable(f"commit {oid} or one of its parents not read")
            items.extend(enumerator.iter_changed(trees[oid], next(stream), parentless=not ids))
        if next(stream, None) is not None:
            raise ChangesUnavailable("git diff-tree described more commits than asked")
    except (ChangesUnavailable, StopIteration):
        enumerator.forget()
        return None
    finally:
        changes.close()  # git's work is not needed past here, or past a problem
    return items


def _iter_new_blobs(
    enumerator: TreeEnumerator | RawTreeEnumerator,
    from_commits: Iterable[BlobRef | Skipped | Failed],
    objects: Sequence[RefObject],
    result: ScanResult,
) -> Iterator[BlobRef]:
    """Each blob not seen before, from the commits' trees (``from_commits``), then from refs to
    trees and blobs; skipped entries (submodules) and unreadable trees go to ``result``."""
    for item in itertools.chain(
        from_commits,
        itertools.chain.from_iterable(
            enumerator.iter_new(ref.oid, ref.name + "/") for ref in objects if ref.is_tree
        ),
    ):
        if isinstance(item, BlobRef):
            yield item
        else:
            result.record(item)
    for ref in objects:
        if not ref.is_tree:
            blob = enumerator.new_blob(ref.oid, ref.name)
            if blob is not None:
                yield blob


def _unless_known(blobs: Iterator[BlobRef], known: Container[bytes], result: ScanResult) -> Iterator[BlobRef]:
    """The blobs not in ``known``; the others are counted in ``blobs_already_scanned``."""
    result.stats.extra["blobs_already_scanned"] = 0
    for ref in blobs:
        if ref.oid.raw in known:
            result.stats.extra["blobs_already_scanned"] += 1
        else:
            yield ref


def _scan_copies(
    repo: pygit2.Repository,
    scanner: BlobScanner,
    enumerator: TreeEnumerator | RawTreeEnumerator,
    base: frozenset[Oid],
    allowed: frozenset[str],
    result: ScanResult,
) -> dict[Oid, tuple[Match, ...]]:
    """Blobs of the base that the range puts at a path where no base tree has them (a copy, or a
    move across folders): scanned too, since what is new there is the path. Attribution then
    reports only the new paths."""
    roots = [root for root in (tree_id(repo, parent) for parent in sorted(base, key=str)) if root]
    targets: dict[Oid, tuple[Match, ...]] = {}
    done: set[Oid] = set()
    for blob, path in enumerator.revisited:
        if blob in done or any(blob_at(repo, root, path) == blob for root in roots):
            continue
        done.add(blob)
        outcome = scanner.scan(blob, path)
        if outcome.failed is not None:
            result.errors.append(Failed(path, outcome.failed))
            continue
        if outcome.skipped is not None:
            result.skipped.append(Skipped(path, outcome.skipped))
            continue
        result.stats.files_scanned += 1
        result.stats.bytes_scanned += outcome.size
        result.stats.suppressed += outcome.suppressed
        result.count_known_examples(outcome.known_examples)
        result.skipped.extend(Skipped(path + where, reason) for where, reason in outcome.skips)
        matches = tuple(
            m for m in scanner.examiner.resolve(outcome.matches) if m.secret.sha256 not in allowed
        )
        if matches:
            targets[blob] = matches
    return targets


class Walked(Struct):
    """The tips, the commit walk from them, each commit's root tree (``trees``) and the findings
    in their messages: made before the blob scan, or (a whole history in pack order) beside it."""

    messages: MessageFindings
    tips: Tips = field(default_factory=Tips)
    walk: CommitWalk = field(default_factory=lambda: CommitWalk([], [], False))
    trees: dict[Oid, Oid] = field(default_factory=dict)


class PackOrderOutcomes(Struct):
    """Each walked blob with its outcome (walk order), what the walk recorded (unreadable
    commits, message counts, submodules, missing trees), and how the pack-order scan ended."""

    pairs: list[tuple[BlobRef, Outcome]]
    walked: ScanResult
    stopped: bool
    interrupted: bool


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """No cyclic garbage collection in this process meanwhile: the walk's sets, dicts and
    records hold no cycles (refcounting frees them), yet each full collection would traverse
    them all (mypy: 0.4 s). What was made meanwhile then joins the oldest generation at once
    (``freeze`` + ``unfreeze``), not through young-generation passes over all of it. Forked
    workers collect as usual (``parallel``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def _pack_order_outcomes(
    scanner: BlobScanner,
    listing: Listing,
    enumerator: RawTreeEnumerator,
    history: Walked,
    read_tips: bool,
    workers: int,
    progress: Callable[[Progress], None] | None,
) -> PackOrderOutcomes:
    """Every blob of the object store scanned in pack order by the workers (each reading through
    git), while a thread here reads the commits (scanning their messages) and walks the trees for
    the blobs to report and their first paths (results go to a private record, replayed in walk
    order). A blob git did not deliver (missing, damaged) is read here through libgit2, as the
    in-process scan reads it; the blobs of a chunk whose worker died are unreadable with the
    reason, and the ones never sent are not scanned (as with the in-process scan)."""
    git_dir = repo_dir(scanner.repo)
    walked = ScanResult(kind="history")

    def walk(cancel: threading.Event) -> list[BlobRef]:
        enumerator.cancel = cancel
        stream: TreeStream | None = None
        changes: ChangeStream | None = None
        trees: Listing | None = None
        try:
            if read_tips:  # every ref: nothing here can be a usage error
                history.tips = _record_tips(default_tips(scanner.repo), walked)
            history.walk = walk_commits(scanner.repo, history.tips.commits, (), None)
            walked.errors.extend(history.walk.errors)
            changes = _change_stream(git_dir, history.walk)
            _read_commits(scanner.repo, history, walked, cancel)
            changed = _walk_changes(enumerator, changes, history) if changes is not None else None
            items: Iterable[BlobRef | Skipped | Failed]
            if changed is None and not cancel.is_set():  # git could not say: whole trees are read
                trees = Listing(git_dir, blobs=False, trees=True)
                enumerator.stream = stream = TreeStream(git_dir, trees.iter_trees())
                items = _from_commits(enumerator, history.walk.commits, history.trees)
            else:  # what git said; nothing more once the scan is stopped (git may have died of it)
                items = changed or []
            return list(_iter_new_blobs(enumerator, items, history.tips.objects, walked))
        finally:
            for child in (changes, stream, trees):
                if child is not None:
                    child.close()

    def report(done: int, done_bytes: int) -> None:
        if progress is not None:  # the total known so far: git may still be listing
            progress(Progress(done, max(done, len(listing.blobs)), done_bytes, listing.complete))

    found, refs = scan_in_pack_order(
        git_dir, listing, scanner.notable, scanner.max_size, workers, walk, report
    )
    sizes = dict(listing.blobs)
    pairs: list[tuple[BlobRef, Outcome]] = []
    for ref in refs:
        oid = str(ref.oid)
        size = sizes.get(oid, -1)
        if oid in found.plain:
            outcome = Outcome(size=size)
        elif (got := found.outcomes.get(oid)) is not None:
            outcome = got
        elif size > scanner.max_size and scanner.stream_large:
            outcome = scanner.scan(ref.oid, ref.path, size)  # streamed here, in this process
        elif size > scanner.max_size:
            outcome = Outcome(skipped=f"too large ({size} bytes > {scanner.max_size})", size=size)
        elif oid in found.lost:
            outcome = Outcome(failed=f"blob {oid}: {found.lost[oid]}")
        elif found.stopped or found.interrupted:
            continue  # never reached: the scan stopped
        else:
            outcome = scanner.scan(ref.oid, ref.path)
        pairs.append((ref, outcome))
    return PackOrderOutcomes(pairs, walked, found.stopped, found.interrupted)


def _scan_blobs(
    scanner: BlobScanner,
    outcomes: Iterable[tuple[BlobRef, Outcome]],
    allowed: frozenset[str],
    targets: dict[Oid, tuple[Match, ...]],
    result: ScanResult,
    progress: Callable[[Progress], None] | None,
    stopped: bool = False,
    pending: PendingBlobs | None = None,
) -> None:
    """Record the outcome of each blob, scanned once; keep (in ``targets``) the matches of the
    blobs with any. A worker's death ends the blob scan: its blobs failed, and the blobs not
    reached are counted (``stopped``: it happened in a pack-order scan)."""
    skipped: set[tuple[str, str]] = set()
    stats = result.stats
    resolve = scanner.examiner.resolve
    done = 0
    lost = stopped
    for ref, outcome in outcomes:
        done += 1
        if outcome.failed is not None:
            result.errors.append(Failed(ref.path, outcome.failed))
            lost = lost or WORKER_DIED in outcome.failed
        elif outcome.skipped is not None:
            # One record per path and kind (binary, too large, …), however many versions it had.
            kind = (ref.path, outcome.skipped.partition(" (")[0])
            if kind not in skipped:
                skipped.add(kind)
                result.skipped.append(Skipped(ref.path, outcome.skipped))
        elif not outcome.notable:  # most blobs: counted, nothing to report
            stats.files_scanned += 1
            stats.bytes_scanned += outcome.size
            result.clean_blobs += ref.oid.raw
        else:
            stats.files_scanned += 1
            stats.bytes_scanned += outcome.size
            stats.suppressed += outcome.suppressed
            result.count_known_examples(outcome.known_examples)
            result.errors.extend(Failed(ref.path, f"blob {ref.oid}: {e}") for e in outcome.errors)
            result.skipped.extend(Skipped(ref.path + where, reason) for where, reason in outcome.skips)
            matches = tuple(
                m for m in resolve(outcome.matches) if not allowed or m.secret.sha256 not in allowed
            )
            if matches:
                targets[ref.oid] = matches
            elif not outcome.errors:
                result.clean_blobs += ref.oid.raw
        if progress is not None and pending is not None and done % 64 == 0:
            progress(Progress(done, max(done, pending.count), stats.bytes_scanned, pending.complete))
    if progress is not None:
        progress(Progress(done, done, stats.bytes_scanned))
    if lost:
        result.errors.append(
            Failed("<worker>", f"{WORKER_DIED}: blob scan stopped, blobs not yet reached were not scanned")
        )


class MessageFindings:
    """Secrets in commit and annotated-tag messages (examined by the engine like any blob): per
    (rule, secret, pseudo-path) the first message holding it, and the secrets of each commit
    message (for counts and HEAD)."""

    def __init__(self, examiner: Examiner, allowed: frozenset[str]) -> None:
        self.examiner = examiner
        self.allowed = allowed
        self.secrets: dict[Oid, set[str]] = {}
        self._first: dict[Key, Located] = {}

    @property
    def found(self) -> list[Located]:
        return list(self._first.values())

    def _detect(self, message: bytes, where: str, result: ScanResult) -> list[Match]:
        outcome = self.examiner.examine_bytes(message)
        result.errors.extend(Failed(where, error) for error in outcome.errors)
        result.stats.suppressed += outcome.suppressed
        result.count_known_examples(outcome.known_examples)
        return [
            m
            for m in self.examiner.resolve(outcome.matches)
            if not self.allowed or m.secret.sha256 not in self.allowed
        ]

    def scan_commits(self, commits: Sequence[pygit2.Commit], result: ScanResult) -> None:
        """Scan the commits' messages, in order (oldest first: the first holder is kept); one
        keyword pass over them all leaves out the messages that hold nothing to find."""
        for index in self.examiner.may_hold([commit.raw_message for commit in commits]):
            self.scan_commit(commits[index], result)

    def scan_commit(self, commit: pygit2.Commit, result: ScanResult) -> None:
        """Scan one commit's message."""
        oid = commit.id
        matches = self._detect(commit.raw_message, f"{COMMIT_MESSAGE} {oid}", result)
        if not matches:
            return
        self.secrets[oid] = {m.secret.value for m in matches}
        info = commit_info(commit)
        for match in matches:
            key = (match.rule.id, match.secret.value, COMMIT_MESSAGE)
            self._first.setdefault(key, (key, CommitMessageOrigin(str(oid)), info, match))

    def scan_tag(self, name: str, message: bytes, tag: CommitInfo, result: ScanResult) -> None:
        """Scan one annotated tag's message."""
        origin = TagMessageOrigin(name)
        for match in self._detect(message, origin.path, result):
            key = (match.rule.id, match.secret.value, origin.path)
            self._first.setdefault(key, (key, origin, tag, match))


def add_notes(
    repo: pygit2.Repository,
    history: HistoryOptions,
    truncated: bool,
    enumerator: TreeEnumerator | RawTreeEnumerator,
    result: ScanResult,
) -> None:
    """Notes on what the walk could not cover (shallow clone, --max-commits, submodules)."""
    notes = result.stats.notes
    if repo.is_shallow:
        notes.append(SHALLOW_NOTE)
    if truncated:
        notes.append(f"history limited to the newest {history.max_commits} commit(s) (--max-commits)")
    if enumerator.submodules:
        notes.append("submodules not entered: " + ", ".join(sorted(enumerator.submodules)))
