"""The floor with delivery: every object of a store inflated once by git and read into this
process (what any scanner outside git pays on top of the decompression floor: each byte crosses
a pipe). Reads through a 1 MiB pipe into one reused buffer, so nothing here but the crossing costs.

Usage: python benchmarks/deliver.py REPO   (prints the bytes read)
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

PIPE_BYTES = 1 << 20


def main() -> None:
    read_end, write_end = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    git = ["git", "-C", sys.argv[1], "cat-file", "--batch-all-objects", "--batch", "--unordered"]
    proc = subprocess.Popen(git, stdin=subprocess.DEVNULL, stdout=write_end)
    os.close(write_end)
    buffer = memoryview(bytearray(PIPE_BYTES))
    total = 0
    while got := os.readv(read_end, [buffer]):
        total += got
    os.close(read_end)
    if proc.wait() != 0:
        sys.exit(f"git cat-file failed with exit code {proc.returncode}")
    print(total)


if __name__ == "__main__":
    main()
