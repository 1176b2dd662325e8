"""The least a Python scanner with leakscan's keyword pass pays on a tree: the interpreter, the
Hyperscan database of the keyword pass (loaded from a file), every regular file read and scanned
once, spread over forked workers like leakscan's pool. No ignore files, no rule regexes, no
decoding, no report: what is left of a run once everything leakscan adds is taken away.

Usage:
  python benchmarks/pyfloor.py --write-db DB      # leakscan's keyword database, once
  python benchmarks/pyfloor.py DB TREE [--workers 2]
Prints the files, bytes and keyword hits it saw.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any


def write_db(path: str) -> None:
    """Leakscan's own keyword database (rule keywords plus decode triggers), serialized."""
    import hyperscan

    from leakscan import hscache
    from leakscan.engine import Engine
    from leakscan.options import ScanOptions

    db = hscache.database(hyperscan, Engine(ScanOptions()).layered.detector.keywords.in_pass)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as file:
        file.write(hyperscan.dumpb(db))


def files_under(root: str) -> list[str]:
    """Every regular file below ``root`` (not in ``.git``), without following symlinks."""
    found: list[str] = []
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git":
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    found.append(entry.path)
    return found


class KeywordCount:
    """Leakscan's keyword pass (a serialized Hyperscan database) over each buffer given; the hits
    are only counted."""

    def __init__(self, db_path: str) -> None:
        import hyperscan

        with open(db_path, "rb") as file:
            self.db: Any = hyperscan.loadb(file.read(), hyperscan.HS_MODE_BLOCK)
        self.scratch = hyperscan.Scratch(self.db)
        self.hits = 0

    def _hit(self, index: int, start: int, end: int, flags: int, context: object) -> None:
        self.hits += 1

    def __call__(self, data: bytes | memoryview) -> None:
        self.db.scan(data, match_event_handler=self._hit, scratch=self.scratch)


def gather_forked(jobs: Sequence[Callable[[], tuple[int, int]]]) -> tuple[int, int]:
    """Run the first job here and each other one in a forked process, at once; the sums of what
    they return (bytes, hits). A child that fails ends the benchmark."""
    children = []
    for job in jobs[1:]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            done, hits = job()
            os.write(write, f"{done} {hits}".encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    total, hits = jobs[0]() if jobs else (0, 0)
    for pid, read in children:
        answer = os.read(read, 64).split()
        os.close(read)
        _, status = os.waitpid(pid, 0)
        if status != 0 or len(answer) != 2:
            raise SystemExit("a forked job failed")
        total, hits = total + int(answer[0]), hits + int(answer[1])
    return total, hits


def scan(db_path: str, paths: list[str]) -> tuple[int, int]:
    """Bytes read and keyword hits over ``paths``."""
    count = KeywordCount(db_path)
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, os.fstat(fd).st_size + 1)
        finally:
            os.close(fd)
        total += len(data)
        count(data)
    return total, count.hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", nargs="?")
    parser.add_argument("tree", nargs="?")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-db", metavar="DB")
    args = parser.parse_args()
    if args.write_db:
        write_db(args.write_db)
        return
    if not args.db or not args.tree:
        parser.error("DB and TREE are needed (or --write-db DB)")
    paths = files_under(args.tree)
    workers = max(1, args.workers)
    total, hits = gather_forked(
        [functools.partial(scan, args.db, paths[worker::workers]) for worker in range(workers)]
    )
    sys.stdout.write(f"{len(paths)} files, {total} bytes, {hits} keyword hits\n")


if __name__ == "__main__":
    main()
