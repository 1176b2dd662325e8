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
import os
import sys


def write_db(path: str) -> None:
    """Leakscan's own keyword database (rule keywords plus decode triggers), serialized."""
    import hyperscan

    from leakscan import hscache
    from leakscan.engine import Engine
    from leakscan.options import ScanOptions

    keywords = Engine(ScanOptions()).layered.detector.keywords._keywords
    db = hscache.database(hyperscan, [(literal, caseless) for literal, caseless, _ in keywords])
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


def scan(db_path: str, paths: list[str]) -> tuple[int, int]:
    """Bytes read and keyword hits over ``paths``."""
    import hyperscan

    with open(db_path, "rb") as file:
        db = hyperscan.loadb(file.read(), hyperscan.HS_MODE_BLOCK)
    scratch = hyperscan.Scratch(db)
    hits = [0]

    def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
        hits[0] += 1

    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, os.fstat(fd).st_size + 1)
        finally:
            os.close(fd)
        total += len(data)
        db.scan(data, match_event_handler=on_match, scratch=scratch)
    return total, hits[0]


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
    children = []
    for worker in range(1, args.workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            total, hits = scan(args.db, paths[worker :: args.workers])
            os.write(write, f"{total} {hits}".encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    total, hits = scan(args.db, paths[0 :: args.workers])
    for pid, read in children:
        child_total, child_hits = map(int, os.read(read, 64).split())
        os.close(read)
        os.waitpid(pid, 0)
        total, hits = total + child_total, hits + child_hits
    sys.stdout.write(f"{len(paths)} files, {total} bytes, {hits} keyword hits\n")


if __name__ == "__main__":
    main()
