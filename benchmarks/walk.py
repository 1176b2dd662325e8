"""The history scan's tree walk alone, two ways, on one repository: from what each commit changed
(``git diff-tree --stdin``, what a whole-history scan uses) and over whole trees (raw tree objects
streamed by ``git cat-file --batch``, the fallback). Checks that both give the same blobs, first
paths, submodules and seen objects, then prints wall and CPU seconds (this process and its git
children) for each, interleaved over the rounds.

Usage: python benchmarks/walk.py REPO [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from leakscan.models import ScanResult
from leakscan.sources import history
from leakscan.sources.git import default_tips, load_commit, open_repo, walk_commits
from leakscan.sources.gitobjects import Listing, RawTreeEnumerator, TreeStream, repo_dir

Walk = tuple[list[tuple[str, str]], RawTreeEnumerator]


def _cpu() -> float:
    """CPU seconds of this process and of its waited-for children (the git runs)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    repo = open_repo(args.repo)
    git_dir = repo_dir(repo)
    tips = default_tips(repo)
    walked = history.Walked(history.MessageFindings.__new__(history.MessageFindings), tips)
    walked.walk = walk_commits(repo, tips.commits, (), None)
    for oid in walked.walk.commits:
        commit = load_commit(repo, oid)
        if commit is not None:
            walked.trees[oid] = commit.tree_id

    def blobs(enumerator: RawTreeEnumerator, items: object) -> Walk:
        found = history._iter_new_blobs(enumerator, items, tips.objects, ScanResult(kind="history"))  # type: ignore[arg-type]
        return [(str(ref.oid), ref.path) for ref in found], enumerator

    def by_changes() -> Walk:
        enumerator = RawTreeEnumerator(repo)
        changes = history._change_stream(git_dir, walked.walk)
        items = history._walk_changes(enumerator, changes, walked) if changes is not None else None
        if items is None:
            raise SystemExit("git could not describe every commit: the scan would walk whole trees")
        return blobs(enumerator, items)

    def whole_trees() -> Walk:
        listing = Listing(git_dir, blobs=False, trees=True)
        enumerator = RawTreeEnumerator(repo, TreeStream(git_dir, listing.iter_trees()))
        try:
            return blobs(enumerator, history._from_commits(enumerator, walked.walk.commits, walked.trees))
        finally:
            if enumerator.stream is not None:
                enumerator.stream.close()
            listing.close()

    ways: dict[str, Callable[[], Walk]] = {"by changes": by_changes, "whole trees": whole_trees}
    walls: dict[str, list[float]] = {name: [] for name in ways}
    cpus: dict[str, list[float]] = {name: [] for name in ways}
    results: dict[str, Walk] = {}
    for _ in range(args.runs):
        for name, way in ways.items():
            wall, cpu = time.perf_counter(), _cpu()
            results[name] = way()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(_cpu() - cpu)
    (a, first), (b, second) = results.values()
    same = a == b and first.submodules == second.submodules and first.seen_blobs == second.seen_blobs
    print(f"repository: {args.repo} ({len(walked.walk.commits)} commits, {len(a)} blobs walked)")
    print(f"same blobs, first paths, submodules and seen objects: {'yes' if same else 'NO'}")
    reference = statistics.median(walls["whole trees"])
    for name in ways:
        median = statistics.median(walls[name])
        print(
            f"{name:12} wall {median:6.2f} s ({min(walls[name]):.2f}-{max(walls[name]):.2f}), "
            f"CPU {statistics.median(cpus[name]):6.2f} s, {median / reference:.2f}x the whole-tree walk"
        )
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
