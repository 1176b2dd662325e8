"""The floor with delivery: every object of a store inflated by git and read into this process,
what any scanner outside git pays on top of the decompression floor (each byte crosses a pipe).
Reads through 1 MiB pipes into reused buffers, so nothing here costs but the crossing.

Usage:
  python benchmarks/deliver.py REPO               # git cat-file --batch-all-objects --batch
  python benchmarks/deliver.py REPO --readers 2   # the blobs only, in pack order, in runs of 512
                                                  # dealt out to 2 git readers (as leakscan's workers)
  python benchmarks/deliver.py REPO --readers 2 --scan DB
        # the same, each reader a process that also runs leakscan's keyword pass (Hyperscan, the
        # database pyfloor.py --write-db writes) over what it reads: the Python floor of history
Prints the bytes read (and the keyword hits).
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import os
import subprocess
import tempfile
import threading

from pyfloor import KeywordCount, gather_forked

PIPE_BYTES = 1 << 20
RUN = 512  # blobs per run handed to one reader, as leakscan's chunks


def _drain(argv: list[str], ids: str | None, counts: list[int], db_path: str | None = None) -> int:
    """Run ``argv`` (its input: the file ``ids``, if any) with its output read through a wide
    pipe; add the bytes to ``counts``; with ``db_path``, scan each read with that Hyperscan
    database and return the hits."""
    on_read = KeywordCount(db_path) if db_path else None
    read_end, write_end = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    with open(ids or os.devnull, "rb") as stdin:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=write_end)
    os.close(write_end)
    buffer = memoryview(bytearray(PIPE_BYTES))
    total = 0
    while got := os.readv(read_end, [buffer]):
        total += got
        if on_read is not None:
            on_read(buffer[:got])
    os.close(read_end)
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(argv)}: exit code {proc.returncode}")
    counts.append(total)
    return on_read.hits if on_read is not None else 0


def _drained_and_scanned(argv: list[str], ids: str, db_path: str) -> tuple[int, int]:
    counts: list[int] = []
    hits = _drain(argv, ids, counts, db_path)
    return counts[0], hits


def _blobs_in_pack_order(repo: str) -> list[bytes]:
    listing = subprocess.run(
        ["git", "-C", repo, "cat-file", "--batch-all-objects", "--unordered", "--batch-check"],
        capture_output=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in listing.splitlines() if line.split()[1] == b"blob"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repo")
    parser.add_argument("--readers", type=int, default=1)
    parser.add_argument("--scan", metavar="DB", help="a Hyperscan database (pyfloor.py --write-db)")
    args = parser.parse_args()
    counts: list[int] = []
    if args.readers <= 1:
        git = ["git", "-C", args.repo, "cat-file", "--batch-all-objects", "--batch", "--unordered"]
        _drain(git, None, counts)
        print(sum(counts))
        return
    blobs = _blobs_in_pack_order(args.repo)
    with tempfile.TemporaryDirectory() as folder:
        threads = []
        jobs = []
        for reader in range(args.readers):
            mine = [
                oid
                for start in range(reader * RUN, len(blobs), args.readers * RUN)
                for oid in blobs[start : start + RUN]
            ]
            path = os.path.join(folder, f"ids-{reader}")
            with open(path, "wb") as ids:
                ids.write(b"".join(oid + b"\n" for oid in mine))
            git = ["git", "-C", args.repo, "cat-file", "--batch"]
            jobs.append((git, path))
            threads.append(threading.Thread(target=_drain, args=(git, path, counts)))
        if args.scan:  # each reader in its own process, so the scans run in parallel
            scans = [functools.partial(_drained_and_scanned, argv, ids, args.scan) for argv, ids in jobs]
            print(*gather_forked(scans))
            return
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    print(sum(counts))


if __name__ == "__main__":
    main()
