"""Ignore-matching benchmark (audit D-27): walking a tree with a huge .gitignore must cost about
what it costs with a few patterns, because each ignore file is compiled into one matcher.

Usage: python benchmarks/ignore.py [--files 10000] [--patterns 4000] [--runs 3]
Generates a tree of empty files under benchmarks/.work/ignore-tree, then times FileWalker over it
with a 4-pattern and an N-pattern .gitignore (plain names, *.ext, globs with folders, ? and [..]).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import WORK  # noqa: E402

from leakscan.models import Blob  # noqa: E402
from leakscan.sources.files import FileWalker  # noqa: E402


def build_tree(root: Path, files: int) -> None:
    marker = root / f".built-{files}"
    if marker.exists():
        return
    for n in range(files):
        folder = root / f"d{n % 100}" / f"s{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{n}.{('py', 'txt', 'js', 'md')[n % 4]}").touch()
    marker.touch()


def patterns(count: int) -> list[str]:
    kinds = [
        lambda n: f"name{n}",
        lambda n: f"*.e{n}",
        lambda n: f"d{n}/s9/*.tmp",
        lambda n: f"g{n}?[ab]",
    ]
    return [kinds[n % 4](n) for n in range(count)]


def walk_seconds(root: Path, lines: list[str], runs: int) -> tuple[float, int]:
    (root / ".gitignore").write_text("\n".join(lines) + "\n")
    times = []
    found = 0
    for _ in range(runs):
        start = time.perf_counter()
        found = sum(isinstance(item, Blob) for item in FileWalker([str(root)]))
        times.append(time.perf_counter() - start)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--patterns", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = WORK / "ignore-tree"
    root.mkdir(parents=True, exist_ok=True)
    build_tree(root, args.files)
    few, found_few = walk_seconds(root, ["*.log", "build/", "/dist", "*.tmp"], args.runs)
    many, found_many = walk_seconds(root, patterns(args.patterns), args.runs)
    assert found_few == found_many, (found_few, found_many)
    print(f"{args.files} files, 4 patterns:          {few:.3f} s")
    print(f"{args.files} files, {args.patterns} patterns: {many:.3f} s  (x{many / few:.2f})")


if __name__ == "__main__":
    main()
